/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Walks of the PCI capability list and the PCIe extended capability chain over a config-space copy. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * All functions take a byte copy of config space and its length (64, 256 or
 * 4096). They never read outside [0, len). Errors:
 *   -ERANGE  the copy is too short for what was asked (e.g. a 64-byte copy
 *            read without CAP_SYS_ADMIN cannot show extended capabilities)
 *   -ELOOP   a capability chain loops or exceeds the number of possible entries
 *   -EBADMSG a pointer is misaligned or points outside config space
 *   -ENOENT  not found
 *   -ENODEV  pcie_cap_find(): the copy reads all-ones (the device was gone)
 *   -EINVAL  NULL cfg
 * Misaligned pointers are rejected, not masked: the spec requires the
 * reserved low bits to read 0, so set bits mean the copy is not config space.
 */
int pcie_cap_find(const uint8_t *cfg, size_t len, uint8_t cap_id, uint16_t *ret_offset);
/* PCIe device/port type (PCI_EXP_TYPE_*) from the PCIe capability. */
int pcie_port_type(const uint8_t *cfg, size_t len, unsigned *ret_type);
/*
 * Next extended capability with the given id after the one at offset `after`
 * in chain order (pass 0 to start at 0x100); -ENOENT if `after` is not a
 * capability of the chain. To visit every capability use pcie_ext_cap_foreach().
 */
int pcie_ext_cap_find(const uint8_t *cfg, size_t len, uint16_t cap_id, uint16_t after, uint16_t *ret_offset);

typedef int (*pcie_ext_cap_cb)(uint16_t offset, uint32_t header, void *userdata);
/*
 * Calls cb for every extended capability in chain order. A non-zero cb result
 * stops the walk and is returned (negative: an error; positive: "found, stop").
 * A chain that is empty (0 or all-ones at 0x100) calls cb never and returns 0.
 * An all-ones header past 0x100 is -EBADMSG.
 */
int pcie_ext_cap_foreach(const uint8_t *cfg, size_t len, pcie_ext_cap_cb cb, void *userdata);

/* Little-endian config reads, bounds-checked: -ERANGE if off+width > len. */
int cfg_read8(const uint8_t *cfg, size_t len, size_t off, uint8_t *ret);
int cfg_read16(const uint8_t *cfg, size_t len, size_t off, uint16_t *ret);
int cfg_read32(const uint8_t *cfg, size_t len, size_t off, uint32_t *ret);
