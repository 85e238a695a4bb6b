/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Register operations on a live T&I structure: the only code that writes T&I control/status. */
#pragma once

#include <stdint.h>

#include "cxl-ti.h"
#include "regwin.h"

/*
 * Clear isolation: wait (bounded) until RP Busy reads 0, then write the RW1C
 * value for the isolation bits set. Returns 0 when status reads without
 * isolation afterwards; -ETIMEDOUT without writing anything when RP Busy stays
 * set for timeout_usec; -EALREADY if nothing was isolated; -ENODEV if the
 * device is gone (all-ones or SIGBUS); -EIO if isolation is still set after
 * the write. poll_usec is the re-read interval while busy.
 */
int cxl_ti_clear_isolation(struct regwin *w, uint32_t ti_offset, uint64_t timeout_usec, uint64_t poll_usec,
                           uint32_t *ret_status_after);

/*
 * Read-modify-write of control per cxl_ti_control_arm(); returns the value read back.
 * Errors of cxl_ti_control_arm() (-EOPNOTSUPP, -EINVAL) leave control unwritten;
 * -EIO if the value read back differs from the one written (the port dropped
 * it); -ENODEV if gone.
 */
int cxl_ti_arm(struct regwin *w, uint32_t ti_offset, const struct cxl_ti_arm_request *req, uint32_t *ret_control);
/*
 * Disarm waits for RP Busy = 0 like the clear does (the quiesce rule), then clears the enables.
 * RP Busy is waited for only while bit 8 or 12 is set: otherwise its value is undefined.
 * -ETIMEDOUT without writing; -EIO/-ENODEV as for arming.
 */
int cxl_ti_disarm(struct regwin *w, uint32_t ti_offset, uint64_t timeout_usec, uint64_t poll_usec, uint32_t *ret_control);
