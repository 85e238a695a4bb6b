/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cleanup.h"
#include "evsource-vfio.h"
#include "regwin.h"

#define N_BARS 6

struct vfio_bar {
        bool present;
        uint32_t flags;
        uint64_t size;
        uint64_t offset;        /* of the region in the device fd */
        void *map;              /* NULL: pread/pwrite */
};

struct vfio_source {
        int container_fd;
        int group_fd;
        int device_fd;
        uint64_t config_offset;
        struct vfio_bar bars[N_BARS];

        int event_fd;           /* -1 when not armed */
        int armed_index;        /* VFIO_PCI_*_IRQ_INDEX, -1 when not armed */
};

static int read_group_number(const char *bdf, int *ret)
{
        char path[PATH_MAX], link[PATH_MAX];
        ssize_t n;
        const char *base;
        char *end;
        long v;

        if (snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        n = readlink(path, link, sizeof(link) - 1);
        if (n < 0)
                return -errno;
        link[n] = '\0';
        base = strrchr(link, '/');
        base = base ? base + 1 : link;
        errno = 0;
        v = strtol(base, &end, 10);
        if (errno || *end || end == base || v < 0 || v > INT_MAX)
                return -EINVAL;
        *ret = (int)v;
        return 0;
}

static int region_info(int device_fd, unsigned index, struct vfio_region_info *ret)
{
        struct vfio_region_info info = { .argsz = sizeof(info), .index = index };

        if (ioctl(device_fd, VFIO_DEVICE_GET_REGION_INFO, &info) < 0)
                return -errno;
        *ret = info;
        return 0;
}

static void source_close(struct vfio_source *s)
{
        for (unsigned i = 0; i < N_BARS; i++)
                if (s->bars[i].map)
                        (void)munmap(s->bars[i].map, s->bars[i].size);
        if (s->device_fd >= 0)
                (void)close(s->device_fd);
        if (s->group_fd >= 0)
                (void)close(s->group_fd);
        if (s->container_fd >= 0)
                (void)close(s->container_fd);
        free(s);
}

struct vfio_source *vfio_source_free(struct vfio_source *s)
{
        if (!s)
                return NULL;
        (void)vfio_source_disarm(s);
        source_close(s);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct vfio_source *, source_close);

static int setup_bars(struct vfio_source *s)
{
        for (unsigned i = 0; i < N_BARS; i++) {
                struct vfio_region_info info = {};
                struct vfio_bar *b = &s->bars[i];
                int r;

                r = region_info(s->device_fd, VFIO_PCI_BAR0_REGION_INDEX + i, &info);
                if (r < 0)
                        return r;
                if (info.size == 0)
                        continue;
                b->present = true;
                b->flags = info.flags;
                b->size = info.size;
                b->offset = info.offset;
                if (info.flags & VFIO_REGION_INFO_FLAG_MMAP) {
                        int prot = (info.flags & VFIO_REGION_INFO_FLAG_READ ? PROT_READ : 0) |
                                   (info.flags & VFIO_REGION_INFO_FLAG_WRITE ? PROT_WRITE : 0);
                        void *m = mmap(NULL, info.size, prot, MAP_SHARED, s->device_fd, (off_t)info.offset);
                        /* An I/O BAR or a sparse (MSI-X table) region may refuse; fall back to pread/pwrite. */
                        if (m != MAP_FAILED)
                                b->map = m;
                }
        }
        return 0;
}

int vfio_source_open(const char *bdf, struct vfio_source **ret)
{
        _cleanup_(source_closep) struct vfio_source *s = NULL;
        struct vfio_group_status status = { .argsz = sizeof(status) };
        struct vfio_region_info cfg = {};
        char path[64];
        int group, r;

        if (!bdf || !ret)
                return -EINVAL;
        r = read_group_number(bdf, &group);
        if (r < 0)
                return r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->container_fd = s->group_fd = s->device_fd = s->event_fd = -1;
        s->armed_index = -1;

        s->container_fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
        if (s->container_fd < 0)
                return -errno;
        if (ioctl(s->container_fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
                return -EPROTO;
        if (ioctl(s->container_fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) <= 0)
                return -EOPNOTSUPP;

        (void)snprintf(path, sizeof(path), "/dev/vfio/%d", group);
        s->group_fd = open(path, O_RDWR | O_CLOEXEC);
        if (s->group_fd < 0)
                return -errno;
        if (ioctl(s->group_fd, VFIO_GROUP_GET_STATUS, &status) < 0)
                return -errno;
        if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
                return -EBUSY;
        if (ioctl(s->group_fd, VFIO_GROUP_SET_CONTAINER, &s->container_fd) < 0)
                return -errno;
        /* EPERM here means no interrupt remapping: the kernel will not let MSIs through unchecked. */
        if (ioctl(s->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0)
                return -errno;

        s->device_fd = ioctl(s->group_fd, VFIO_GROUP_GET_DEVICE_FD, bdf);
        if (s->device_fd < 0)
                return -errno;

        r = region_info(s->device_fd, VFIO_PCI_CONFIG_REGION_INDEX, &cfg);
        if (r < 0)
                return r;
        s->config_offset = cfg.offset;

        r = setup_bars(s);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

int vfio_source_config_read(struct vfio_source *s, uint32_t offset, void *buf, size_t len)
{
        ssize_t n = pread(s->device_fd, buf, len, (off_t)(s->config_offset + offset));

        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EIO;
}

int vfio_source_config_write(struct vfio_source *s, uint32_t offset, const void *buf, size_t len)
{
        ssize_t n = pwrite(s->device_fd, buf, len, (off_t)(s->config_offset + offset));

        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EIO;
}

int vfio_source_enable_bus_master(struct vfio_source *s)
{
        uint16_t cmd;
        int r;

        r = vfio_source_config_read(s, PCI_COMMAND, &cmd, sizeof(cmd));
        if (r < 0)
                return r;
        if (cmd & PCI_COMMAND_MASTER)
                return 0;
        cmd |= PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY;
        r = vfio_source_config_write(s, PCI_COMMAND, &cmd, sizeof(cmd));
        if (r < 0)
                return r;
        /* Read back: the bit is virtualised by vfio-pci and must stick, or MSIs are silently dropped. */
        r = vfio_source_config_read(s, PCI_COMMAND, &cmd, sizeof(cmd));
        if (r < 0)
                return r;
        return cmd & PCI_COMMAND_MASTER ? 0 : -EIO;
}

static int bar_check(struct vfio_source *s, unsigned bar, uint64_t offset, struct vfio_bar **ret)
{
        if (bar >= N_BARS || !s->bars[bar].present)
                return -ENXIO;
        if (offset % 4 || offset > s->bars[bar].size || s->bars[bar].size - offset < 4)
                return -EINVAL;
        *ret = &s->bars[bar];
        return 0;
}

int vfio_source_bar_size(struct vfio_source *s, unsigned bar, uint64_t *ret)
{
        if (bar >= N_BARS || !s->bars[bar].present)
                return -ENXIO;
        *ret = s->bars[bar].size;
        return 0;
}

int vfio_source_bar_is_mapped(struct vfio_source *s, unsigned bar)
{
        if (bar >= N_BARS || !s->bars[bar].present)
                return -ENXIO;
        return !!s->bars[bar].map;
}

int vfio_source_bar_regwin(struct vfio_source *s, unsigned bar, struct regwin **ret)
{
        _cleanup_close_ int fd = -1;
        struct vfio_bar *b;
        void *map;
        int r;

        if (bar >= N_BARS || !s->bars[bar].present)
                return -ENXIO;
        b = &s->bars[bar];
        if (!(b->flags & VFIO_REGION_INFO_FLAG_MMAP) ||
            (b->flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)) !=
            (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE))
                return -EOPNOTSUPP;
        fd = fcntl(s->device_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        map = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)b->offset);
        if (map == MAP_FAILED)
                return -errno;
        r = regwin_new_mmio(map, b->size, 0, b->size, fd, ret);
        if (r < 0) {
                (void)munmap(map, b->size);
                return r;
        }
        (void)TAKE_FD(fd);
        return 0;
}

int vfio_source_bar_read32(struct vfio_source *s, unsigned bar, uint64_t offset, uint32_t *ret)
{
        struct vfio_bar *b;
        uint32_t v;
        int r;

        r = bar_check(s, bar, offset, &b);
        if (r < 0)
                return r;
        if (!(b->flags & VFIO_REGION_INFO_FLAG_READ))
                return -EACCES;
        if (b->map)
                v = *(volatile uint32_t *)((uint8_t *)b->map + offset);
        else {
                ssize_t n = pread(s->device_fd, &v, sizeof(v), (off_t)(b->offset + offset));
                if (n < 0)
                        return -errno;
                if (n != sizeof(v))
                        return -EIO;
        }
        *ret = v;
        return 0;
}

int vfio_source_bar_write32(struct vfio_source *s, unsigned bar, uint64_t offset, uint32_t value)
{
        struct vfio_bar *b;
        int r;

        r = bar_check(s, bar, offset, &b);
        if (r < 0)
                return r;
        if (!(b->flags & VFIO_REGION_INFO_FLAG_WRITE))
                return -EACCES;
        if (b->map) {
                *(volatile uint32_t *)((uint8_t *)b->map + offset) = value;
                return 0;
        }
        ssize_t n = pwrite(s->device_fd, &value, sizeof(value), (off_t)(b->offset + offset));
        if (n < 0)
                return -errno;
        return n == sizeof(value) ? 0 : -EIO;
}

static int kind_to_index(enum vfio_irq_kind kind)
{
        switch (kind) {
        case VFIO_SOURCE_INTX:
                return VFIO_PCI_INTX_IRQ_INDEX;
        case VFIO_SOURCE_MSI:
                return VFIO_PCI_MSI_IRQ_INDEX;
        case VFIO_SOURCE_MSIX:
                return VFIO_PCI_MSIX_IRQ_INDEX;
        }
        return -EINVAL;
}

/* SET_IRQS with no data: for TRIGGER and count 0 it disables the index, for UNMASK it unmasks. */
static int set_irqs_none(int device_fd, unsigned index, uint32_t action, uint32_t start, uint32_t count)
{
        struct vfio_irq_set set = {
                .argsz = sizeof(set),
                .flags = VFIO_IRQ_SET_DATA_NONE | action,
                .index = index,
                .start = start,
                .count = count,
        };

        if (ioctl(device_fd, VFIO_DEVICE_SET_IRQS, &set) < 0)
                return -errno;
        return 0;
}

int vfio_source_arm(struct vfio_source *s, enum vfio_irq_kind kind, unsigned vector)
{
        struct vfio_irq_info info;
        _cleanup_free_ struct vfio_irq_set *set = NULL;
        _cleanup_close_ int efd = -1;
        int index, r;

        index = kind_to_index(kind);
        if (index < 0)
                return index;
        info = (struct vfio_irq_info) { .argsz = sizeof(info), .index = (uint32_t)index };
        if (ioctl(s->device_fd, VFIO_DEVICE_GET_IRQ_INFO, &info) < 0)
                return -errno;
        if (vector >= info.count || !(info.flags & VFIO_IRQ_INFO_EVENTFD))
                return -ENXIO;

        r = vfio_source_disarm(s);
        if (r < 0)
                return r;

        efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (efd < 0)
                return -errno;

        set = calloc(1, sizeof(*set) + sizeof(int32_t));
        if (!set)
                return -ENOMEM;
        set->argsz = sizeof(*set) + sizeof(int32_t);
        set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
        set->index = (uint32_t)index;
        /* vfio-pci enables start+count vectors and attaches the fd to vector `start` only. */
        set->start = vector;
        set->count = 1;
        memcpy(set->data, &(int32_t){ efd }, sizeof(int32_t));
        if (ioctl(s->device_fd, VFIO_DEVICE_SET_IRQS, set) < 0)
                return -errno;

        s->event_fd = TAKE_FD(efd);
        s->armed_index = index;
        return 0;
}

int vfio_source_arm_message_number(struct vfio_source *s, unsigned msgnum, enum vfio_irq_kind *ret_kind)
{
        struct vfio_irq_info info = { .argsz = sizeof(info), .index = VFIO_PCI_MSIX_IRQ_INDEX };
        enum vfio_irq_kind kind;
        int r;

        if (ioctl(s->device_fd, VFIO_DEVICE_GET_IRQ_INFO, &info) < 0)
                return -errno;
        /* With MSI-X present the message number indexes its table, not an MSI vector. */
        kind = info.count > 0 ? VFIO_SOURCE_MSIX : VFIO_SOURCE_MSI;
        r = vfio_source_arm(s, kind, msgnum);
        if (r < 0)
                return r;
        *ret_kind = kind;
        return 0;
}

int vfio_source_eventfd(const struct vfio_source *s)
{
        return s->event_fd >= 0 ? s->event_fd : -EBADF;
}

int vfio_source_consume(struct vfio_source *s, uint64_t *ret)
{
        uint64_t v;
        ssize_t n;

        if (s->event_fd < 0)
                return -EBADF;
        n = read(s->event_fd, &v, sizeof(v));
        if (n < 0)
                return -errno;
        if (n != sizeof(v))
                return -EIO;
        *ret = v;
        return 0;
}

int vfio_source_unmask_intx(struct vfio_source *s)
{
        if (s->armed_index != VFIO_PCI_INTX_IRQ_INDEX)
                return -EBADF;
        return set_irqs_none(s->device_fd, VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1);
}

int vfio_source_disarm(struct vfio_source *s)
{
        int r = 0;

        if (s->armed_index >= 0) {
                r = set_irqs_none(s->device_fd, (unsigned)s->armed_index, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0);
                s->armed_index = -1;
        }
        if (s->event_fd >= 0) {
                (void)close(s->event_fd);
                s->event_fd = -1;
        }
        return r;
}
