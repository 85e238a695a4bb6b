/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Register windows: aligned 32-bit access to a device's registers, whatever
 * backs them. Backends:
 *   mmio   - mmap of a sysfs resourceN file (or a VFIO/UIO region); plain
 *            volatile loads and stores, hardware applies the semantics.
 *   model  - a simulated BAR: a plain file has no RW1C/RO semantics, so writes
 *            go through the register model (regmodel.h), which applies them.
 *            Chosen when the opened file is not on sysfs (fstatfs), i.e. only
 *            under the simulator's testbed. Reads are identical to mmio. The
 *            model covers the first 64 KiB of the window: open it at the
 *            component block's offset.
 * Every access is SIGBUS-safe: a revoked mapping (revoke_iomem) or a removed
 * device/truncated file makes the access return -ENODEV instead of killing the
 * process, and the window stays "gone" from then on. The process-wide SIGBUS
 * handler is installed by the first open (and again by a later open if someone
 * replaced it); a SIGBUS outside a register access goes to the previous handler.
 * Register values are little-endian; this code assumes a little-endian host.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct regwin;

enum regwin_backend {
        REGWIN_MMIO,
        REGWIN_MODEL,
};

#define REGWIN_WRITABLE 0x1     /* open O_RDWR / PROT_WRITE; otherwise read-only */

/*
 * Map `len` bytes at `offset` of a resource file. Errors are the kernel's, so
 * callers can name them: -EPERM (lockdown), -EINVAL (range claimed exclusive
 * by a driver under strict devmem, or beyond the BAR), -EACCES, -ENOENT.
 */
int regwin_open_resource(const char *path, uint64_t offset, size_t len, unsigned flags, struct regwin **ret);
/* Wrap an existing mapping (VFIO/UIO); the window takes ownership of fd and mapping. */
int regwin_new_mmio(void *map, size_t map_len, size_t offset, size_t len, int fd, struct regwin **ret);
struct regwin *regwin_free(struct regwin *w);

/*
 * -EINVAL misaligned or out of range; -ENODEV if the access faulted (SIGBUS) or faulted before.
 * Writes: -EBADF on a window opened without REGWIN_WRITABLE.
 */
int regwin_read32(struct regwin *w, uint32_t offset, uint32_t *ret);
int regwin_write32(struct regwin *w, uint32_t offset, uint32_t value);
/* Copy [offset, offset+len) with aligned 32-bit reads into buf. */
int regwin_copy(struct regwin *w, uint32_t offset, size_t len, void *buf);

size_t regwin_size(const struct regwin *w);
enum regwin_backend regwin_backend(const struct regwin *w);
bool regwin_is_gone(const struct regwin *w);
const char *regwin_path(const struct regwin *w);
