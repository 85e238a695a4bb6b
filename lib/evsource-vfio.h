/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Interrupt event source for a PCI function bound to vfio-pci: the kernel
 * signals an eventfd per armed vector, which the caller adds to its event
 * loop. vfio-pci refuses non-type-0 headers, so a root port can never be
 * bound: this source applies only to a function (endpoint) that signals
 * isolation with an interrupt. Polling is the default everywhere else.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct vfio_source;
struct regwin;

enum vfio_irq_kind {
        VFIO_SOURCE_INTX,
        VFIO_SOURCE_MSI,
        VFIO_SOURCE_MSIX,
};

/*
 * Open container, group and device for a function already bound to vfio-pci.
 * -ENOENT no IOMMU group (no IOMMU, or not bound), -EPERM the container
 * refused the type-1 IOMMU (no interrupt remapping), -EBUSY group not viable
 * (another function of the group is bound to a host driver).
 */
int vfio_source_open(const char *bdf, struct vfio_source **ret);
struct vfio_source *vfio_source_free(struct vfio_source *s);

/* Config space through the VFIO config region (the kernel virtualises parts of it). */
int vfio_source_config_read(struct vfio_source *s, uint32_t offset, void *buf, size_t len);
int vfio_source_config_write(struct vfio_source *s, uint32_t offset, const void *buf, size_t len);
/* MSI/MSI-X are bus-master writes; vfio-pci leaves Bus Master Enable clear. */
int vfio_source_enable_bus_master(struct vfio_source *s);

/*
 * BAR access: mmap when the region allows it, else pread/pwrite on the
 * device fd. -ENXIO the BAR does not exist, -EINVAL out of range/misaligned.
 */
int vfio_source_bar_size(struct vfio_source *s, unsigned bar, uint64_t *ret);
int vfio_source_bar_read32(struct vfio_source *s, unsigned bar, uint64_t offset, uint32_t *ret);
int vfio_source_bar_write32(struct vfio_source *s, unsigned bar, uint64_t offset, uint32_t value);
/* 1 if the BAR is accessed through a mapping, 0 through pread/pwrite. */
int vfio_source_bar_is_mapped(struct vfio_source *s, unsigned bar);
/*
 * The whole BAR as a register window (regwin.h), from a mapping of its own on
 * a duplicate of the device fd: the window may outlive the source, and keeps
 * the VFIO device open while it lives. -EOPNOTSUPP the region cannot be mmapped.
 */
int vfio_source_bar_regwin(struct vfio_source *s, unsigned bar, struct regwin **ret);

/*
 * Arm one vector (for MSI/MSI-X: vector N = the interrupt message number,
 * e.g. T&I capability bits 31:27) with a fresh eventfd. -ENXIO the function
 * has no such vector. Re-arming first disarms.
 */
int vfio_source_arm(struct vfio_source *s, enum vfio_irq_kind kind, unsigned vector);
/*
 * Arm the vector a PCIe Interrupt Message Number field names (T&I capability
 * bits 31:27 and the like): an MSI-X table entry when the function has MSI-X
 * (the kernel then enables MSI-X, as Linux itself prefers), else an MSI
 * vector. -ENXIO the number is beyond the function's vectors. *ret_kind says
 * which was armed.
 */
int vfio_source_arm_message_number(struct vfio_source *s, unsigned msgnum, enum vfio_irq_kind *ret_kind);
/* Eventfd to poll (EPOLLIN), -EBADF if not armed. Owned by the source. */
int vfio_source_eventfd(const struct vfio_source *s);
/* Read the eventfd counter: interrupts since the last call. -EAGAIN if none. */
int vfio_source_consume(struct vfio_source *s, uint64_t *ret);
/* INTx is masked by the kernel on delivery; unmask after acknowledging the device. */
int vfio_source_unmask_intx(struct vfio_source *s);
/* Disable the armed index (DATA_NONE, count 0) and close the eventfd. Idempotent. */
int vfio_source_disarm(struct vfio_source *s);
