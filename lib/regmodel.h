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

/*
 * Attach to a component block image; finds T&I and RAS through the capability
 * array. A block without a valid array (or reading all-ones) attaches as plain
 * memory: no structure gets special semantics. -EINVAL for a NULL block, a
 * length that is not a multiple of 4, or one above 64 KiB.
 */
int regmodel_attach(volatile uint32_t *block, size_t len, struct regmodel **ret);
/*
 * Same, but the capability array is walked over `snapshot` (len bytes, a copy
 * of the block the caller already made), so the live block is not read here:
 * regwin copies it under its SIGBUS guard first.
 */
int regmodel_attach_snapshot(volatile uint32_t *block, size_t len, const uint8_t *snapshot, struct regmodel **ret);
struct regmodel *regmodel_free(struct regmodel *m);

/* Block offsets of the structures found, 0 if absent. */
uint32_t regmodel_ti_offset(const struct regmodel *m);
uint32_t regmodel_ras_offset(const struct regmodel *m);

/*
 * Software write with the register's attributes applied. -EINVAL if offset is
 * misaligned or outside the block. A write to a device that is gone (array
 * header reads all-ones) is dropped, as hardware drops it, and returns 0.
 * While RP Busy is set, a clear of bit 8 also leaves bit 9 set (12: 13): the
 * isolation and its cause stay together.
 */
int regmodel_write32(struct regmodel *m, uint32_t offset, uint32_t value);
int regmodel_read32(struct regmodel *m, uint32_t offset, uint32_t *ret);

/* Hardware-side (injector) operations. */
enum regmodel_isolation {
        REGMODEL_MEM_LINK_DOWN,
        REGMODEL_MEM_TIMEOUT,
        REGMODEL_CACHE_LINK_DOWN,
        REGMODEL_CACHE_TIMEOUT,
};
/*
 * The port detects a link down / a transaction timeout. As the spec has it,
 * this enters isolation only where software enabled it: link down isolates
 * when Isolation Enable is set (status 8, plus 9 if link-down isolation is
 * supported); a timeout is only detected with Timeout Enable (status 0) and
 * isolates when Isolation Enable is set too. Returns 1 if isolation was
 * entered, 0 if the event left isolation off; -EOPNOTSUPP if the capability
 * lacks the isolation kind (or there is no T&I); -ENODEV if gone.
 */
int regmodel_hw_isolate(struct regmodel *m, enum regmodel_isolation what);
/* Set or clear RP Busy (status bit 14). -EOPNOTSUPP without T&I. */
int regmodel_hw_set_busy(struct regmodel *m, int busy);
/*
 * Record an uncorrectable RAS error with a header log, as hardware would on
 * link loss. The header log and First Error Pointer are written only when no
 * UE was pending (no multiple header recording). -EINVAL for no valid bit;
 * -EOPNOTSUPP without RAS.
 */
int regmodel_hw_ras_error(struct regmodel *m, uint32_t ue_bits, const uint32_t header_log[16]);
/* The device is gone: every dword reads all-ones. */
int regmodel_hw_gone(struct regmodel *m);
