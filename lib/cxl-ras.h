/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RAS capability structure: a snapshot with its 16-dword header log. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cxl-regs.h"

struct cxl_ras_snapshot {
        uint32_t ue_status, ue_mask, ue_severity;
        uint32_t ce_status, ce_mask;
        uint32_t cap_control;
        uint8_t first_error_pointer;
        uint32_t first_error;           /* BIT(fep) if more than one UE bit is set, else ue_status */
        uint32_t header_log[CXL_RAS_HEADER_LOG_DWORDS];
};

/* Decode from the 0x58-byte structure (little-endian dwords). -ERANGE if len < 0x58;
 * -ENODEV if UE status and capability/control both read all-ones (device gone). */
int cxl_ras_decode(const uint8_t *ras, size_t len, struct cxl_ras_snapshot *ret);
/* Name of an uncorrectable / correctable status bit, NULL for reserved bits. */
const char *cxl_ras_ue_bit_to_string(unsigned bit);
const char *cxl_ras_ce_bit_to_string(unsigned bit);

/*
 * The kernel's first-error rule over the valid UE bits: BIT(fep) if more than
 * one is set (0 if fep > 31), else the status itself.
 */
uint32_t cxl_ras_first_error(uint32_t ue_status, uint8_t first_error_pointer);
/* Space-separated bit names ("poison-received mem-data-ecc"), "reserved-bit-N" for others; "" for 0. Returns buf. */
const char *cxl_ras_ue_status_to_string(uint32_t status, char *buf, size_t len);
const char *cxl_ras_ce_status_to_string(uint32_t status, char *buf, size_t len);
