/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The register model: hardware semantics for a simulated component block held
 * in shared memory (a plain file mapped MAP_SHARED by the daemon, the
 * injector and tests at once). Software-side writes (regmodel_write32) obey
 * the attributes the hardware would enforce:
 *   - T&I capability: RO
 *   - T&I control: RW only where the capability bit is set (others read 0),
 *     reserved bits preserved
 *   - T&I status: RW1C for bits 0,4,8,9,12,13; bit 14 (RP Busy) RO; RsvdZ
 *     ignored; a clear of bit 8 (12) is ignored while RP Busy is set
 *   - RAS UE/CE status: RW1C; header log RO
 * Hardware-side changes (the injector) go through regmodel_hw_*(), which set
 * bits the way the port itself would. All updates are atomic
 * compare-and-swap, so several processes can share the window.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct regmodel;

/* Attach to a component block image; finds T&I and RAS through the capability array. */
int regmodel_attach(volatile uint32_t *block, size_t len, struct regmodel **ret);
struct regmodel *regmodel_free(struct regmodel *m);

int regmodel_write32(struct regmodel *m, uint32_t offset, uint32_t value);

/* Hardware-side (injector) operations. */
enum regmodel_isolation {
        REGMODEL_MEM_LINK_DOWN,
        REGMODEL_MEM_TIMEOUT,
        REGMODEL_CACHE_LINK_DOWN,
        REGMODEL_CACHE_TIMEOUT,
};
int regmodel_hw_isolate(struct regmodel *m, enum regmodel_isolation what);
int regmodel_hw_set_busy(struct regmodel *m, int busy);
/* Record an uncorrectable RAS error with a header log, as hardware would on link loss. */
int regmodel_hw_ras_error(struct regmodel *m, uint32_t ue_bits, const uint32_t header_log[16]);
/* The device is gone: every dword reads all-ones. */
int regmodel_hw_gone(struct regmodel *m);
