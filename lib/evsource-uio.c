/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/pci_regs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cleanup.h"
#include "evsource-uio.h"
#include "regwin.h"

#define N_BARS 6
#define MAX_UIO_MAPS 5          /* the kernel's MAX_UIO_MAPS */

struct uio_bar {
        void *map;              /* page-aligned mapping, NULL if not mapped */
        size_t map_len;
        size_t offs;            /* BAR start within the mapping */
        size_t len;             /* BAR length */
        bool via_uio;
};

struct uio_source {
        char bdf[32];
        char name[16];          /* "uio0" */
        int dev_fd;             /* /dev/uioN */
        int config_fd;          /* sysfs config, for the INTx-disable bit */
        struct uio_bar bars[N_BARS];
};

static void source_close(struct uio_source *s)
{
        for (unsigned i = 0; i < N_BARS; i++)
                if (s->bars[i].map)
                        (void)munmap(s->bars[i].map, s->bars[i].map_len);
        if (s->dev_fd >= 0)
                (void)close(s->dev_fd);
        if (s->config_fd >= 0)
                (void)close(s->config_fd);
        free(s);
}

struct uio_source *uio_source_free(struct uio_source *s)
{
        if (s)
                source_close(s);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct uio_source *, source_close);

static int find_uio_name(const char *bdf, char *name, size_t size)
{
        _cleanup_closedir_ DIR *d = NULL;
        char path[PATH_MAX];
        struct dirent *de;

        if (snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/uio", bdf) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        d = opendir(path);
        if (!d)
                return -errno;
        while ((errno = 0, de = readdir(d))) {
                if (strncmp(de->d_name, "uio", 3) != 0 || !de->d_name[3])
                        continue;
                if (strlen(de->d_name) >= size)
                        return -ENAMETOOLONG;
                strcpy(name, de->d_name);
                return 0;
        }
        return errno ? -errno : -ENOENT;
}

int uio_source_open(const char *bdf, struct uio_source **ret)
{
        _cleanup_(source_closep) struct uio_source *s = NULL;
        char path[PATH_MAX];
        int r;

        if (!bdf || !ret || strlen(bdf) >= sizeof(s->bdf))
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->dev_fd = s->config_fd = -1;
        strcpy(s->bdf, bdf);

        r = find_uio_name(bdf, s->name, sizeof(s->name));
        if (r < 0)
                return r;
        (void)snprintf(path, sizeof(path), "/dev/%s", s->name);
        s->dev_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (s->dev_fd < 0)
                return -errno;
        (void)snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
        s->config_fd = open(path, O_RDWR | O_CLOEXEC);
        if (s->config_fd < 0)
                return -errno;

        *ret = TAKE_PTR(s);
        return 0;
}

int uio_source_fd(const struct uio_source *s)
{
        return s->dev_fd;
}

const char *uio_source_name(const struct uio_source *s)
{
        return s->name;
}

int uio_source_consume(struct uio_source *s, uint32_t *ret)
{
        uint32_t count;
        ssize_t n;

        /* UIO insists on exactly 4 bytes: the kernel's running interrupt count. */
        n = read(s->dev_fd, &count, sizeof(count));
        if (n < 0)
                return -errno;
        if (n != sizeof(count))
                return -EIO;
        *ret = count;
        return 0;
}

int uio_source_unmask(struct uio_source *s)
{
        uint16_t cmd;
        ssize_t n;

        n = pread(s->config_fd, &cmd, sizeof(cmd), PCI_COMMAND);
        if (n < 0)
                return -errno;
        if (n != sizeof(cmd))
                return -EIO;
        if (!(cmd & PCI_COMMAND_INTX_DISABLE))
                return 0;
        cmd &= (uint16_t)~PCI_COMMAND_INTX_DISABLE;
        n = pwrite(s->config_fd, &cmd, sizeof(cmd), PCI_COMMAND);
        if (n < 0)
                return -errno;
        return n == sizeof(cmd) ? 0 : -EIO;
}

static int read_u64_file(const char *path, uint64_t *ret)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        uint64_t v;

        if (!f)
                return -errno;
        if (fscanf(f, "%" SCNx64, &v) != 1)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Physical start, length and flags of a BAR, from the function's sysfs "resource" table. */
static int bar_resource(const char *bdf, unsigned bar, uint64_t *ret_start, uint64_t *ret_len)
{
        _cleanup_fclose_ FILE *f = NULL;
        char path[PATH_MAX];
        uint64_t start = 0, end = 0, flags = 0;

        (void)snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        for (unsigned i = 0; i <= bar; i++)
                if (fscanf(f, "%" SCNx64 " %" SCNx64 " %" SCNx64, &start, &end, &flags) != 3)
                        return -ENXIO;
        /* 0x200 = IORESOURCE_MEM; an I/O or absent BAR cannot be mapped. */
        if (!(flags & 0x200) || end <= start)
                return -ENXIO;
        *ret_start = start;
        *ret_len = end - start + 1;
        return 0;
}

/* Index of the UIO map covering [start, start+len), -ENOENT if the driver exported none. */
static int find_uio_map(const struct uio_source *s, uint64_t start, uint64_t len,
                        size_t *ret_offs, size_t *ret_size)
{
        for (unsigned m = 0; m < MAX_UIO_MAPS; m++) {
                char path[PATH_MAX];
                uint64_t addr, size, offs = 0;
                int r;

                (void)snprintf(path, sizeof(path), "/sys/class/uio/%s/maps/map%u/addr", s->name, m);
                r = read_u64_file(path, &addr);
                if (r == -ENOENT)
                        break;
                if (r < 0)
                        return r;
                (void)snprintf(path, sizeof(path), "/sys/class/uio/%s/maps/map%u/size", s->name, m);
                r = read_u64_file(path, &size);
                if (r < 0)
                        return r;
                (void)snprintf(path, sizeof(path), "/sys/class/uio/%s/maps/map%u/offset", s->name, m);
                (void)read_u64_file(path, &offs);
                /* uio_pci_generic names maps after the device, not the BAR: match by address. */
                if (addr + offs == start && size >= offs + len) {
                        *ret_offs = offs;
                        *ret_size = size;
                        return (int)m;
                }
        }
        return -ENOENT;
}

/*
 * A fresh mapping of a BAR and the fd behind it (a duplicate of /dev/uioN, or
 * the opened resourceN), for the source's own accessors or a register window.
 */
static int map_bar_fresh(struct uio_source *s, unsigned bar, struct uio_bar *ret, int *ret_fd)
{
        _cleanup_close_ int fd = -1;
        uint64_t start = 0, len = 0;
        size_t offs = 0, size = 0;
        long page = sysconf(_SC_PAGESIZE);
        void *p;
        int m, r;

        r = bar_resource(s->bdf, bar, &start, &len);
        if (r < 0)
                return r;
        m = find_uio_map(s, start, len, &offs, &size);
        if (m >= 0) {
                fd = fcntl(s->dev_fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return -errno;
                p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)m * page);
                if (p == MAP_FAILED)
                        return -errno;
                *ret = (struct uio_bar) { .map = p, .map_len = size, .offs = offs, .len = len, .via_uio = true };
        } else if (m == -ENOENT) {
                char path[PATH_MAX];

                (void)snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%u", s->bdf, bar);
                fd = open(path, O_RDWR | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (p == MAP_FAILED)
                        return -errno;
                *ret = (struct uio_bar) { .map = p, .map_len = len, .offs = 0, .len = len, .via_uio = false };
        } else
                return m;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int uio_source_map_bar(struct uio_source *s, unsigned bar, volatile void **ret_map, size_t *ret_len)
{
        struct uio_bar *b;
        int fd, r;

        if (bar >= N_BARS)
                return -ENXIO;
        b = &s->bars[bar];
        if (!b->map) {
                r = map_bar_fresh(s, bar, b, &fd);
                if (r < 0)
                        return r;
                /* The mapping stays valid without the fd. */
                (void)close(fd);
        }
        *ret_map = (volatile uint8_t *)b->map + b->offs;
        *ret_len = b->len;
        return 0;
}

int uio_source_bar_regwin(struct uio_source *s, unsigned bar, struct regwin **ret)
{
        struct uio_bar b;
        int fd, r;

        if (bar >= N_BARS)
                return -ENXIO;
        r = map_bar_fresh(s, bar, &b, &fd);
        if (r < 0)
                return r;
        /* A BAR is a whole number of dwords; the window covers it, not the page rounding. */
        r = regwin_new_mmio(b.map, b.map_len, b.offs, b.len, fd, ret);
        if (r < 0) {
                (void)munmap(b.map, b.map_len);
                (void)close(fd);
        }
        return r;
}

int uio_source_bar_via_uio(const struct uio_source *s, unsigned bar)
{
        if (bar >= N_BARS || !s->bars[bar].map)
                return -ENXIO;
        return s->bars[bar].via_uio;
}

static int bar_ptr(struct uio_source *s, unsigned bar, uint64_t offset, volatile uint32_t **ret)
{
        volatile void *map;
        size_t len;
        int r;

        r = uio_source_map_bar(s, bar, &map, &len);
        if (r < 0)
                return r;
        if (offset % 4 || offset > len || len - offset < 4)
                return -EINVAL;
        *ret = (volatile uint32_t *)((volatile uint8_t *)map + offset);
        return 0;
}

int uio_source_bar_read32(struct uio_source *s, unsigned bar, uint64_t offset, uint32_t *ret)
{
        volatile uint32_t *p;
        int r = bar_ptr(s, bar, offset, &p);

        if (r < 0)
                return r;
        *ret = *p;
        return 0;
}

int uio_source_bar_write32(struct uio_source *s, unsigned bar, uint64_t offset, uint32_t value)
{
        volatile uint32_t *p;
        int r = bar_ptr(s, bar, offset, &p);

        if (r < 0)
                return r;
        *p = value;
        return 0;
}
