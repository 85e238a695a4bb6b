/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Interrupt event source for a PCI function bound to uio_pci_generic: INTx
 * only (no MSI/MSI-X), so it cannot carry a T&I message-signalled interrupt
 * and cannot serve a root port without dropping pcieport. It applies to an
 * endpoint that signals with INTx; polling is the default everywhere else.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct uio_source;
struct regwin;

/* -ENOENT the function has no uio child (not bound to a UIO driver). */
int uio_source_open(const char *bdf, struct uio_source **ret);
struct uio_source *uio_source_free(struct uio_source *s);

/* /dev/uioN: readable (EPOLLIN) when an interrupt arrived. Owned by the source. */
int uio_source_fd(const struct uio_source *s);
/* "uio0" */
const char *uio_source_name(const struct uio_source *s);

/* Read the kernel's total interrupt count (4-byte read). -EAGAIN if none pending. */
int uio_source_consume(struct uio_source *s, uint32_t *ret);
/*
 * The kernel masks INTx (sets INTx-disable) on delivery; clear it again, after
 * acknowledging the device, or the still-asserted line fires at once.
 */
int uio_source_unmask(struct uio_source *s);

/*
 * Map a memory BAR: through the UIO map of that BAR (/sys/class/uio/uioN/maps,
 * mmap of /dev/uioN at index * page size) when the driver exported it, else
 * the function's sysfs resourceN. The mapping belongs to the source.
 * -ENXIO no such memory BAR.
 */
int uio_source_map_bar(struct uio_source *s, unsigned bar, volatile void **ret_map, size_t *ret_len);
int uio_source_bar_read32(struct uio_source *s, unsigned bar, uint64_t offset, uint32_t *ret);
int uio_source_bar_write32(struct uio_source *s, unsigned bar, uint64_t offset, uint32_t value);
/* The BAR as a register window (regwin.h) on a mapping and fd of its own, same choice of map. */
int uio_source_bar_regwin(struct uio_source *s, unsigned bar, struct regwin **ret);
/* 1 if bar was mapped through a UIO map, 0 through resourceN, -ENXIO if not mapped yet. */
int uio_source_bar_via_uio(const struct uio_source *s, unsigned bar);
