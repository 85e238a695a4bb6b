/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What sits below the root ports, read straight from sysfs.
 *
 * Why not libcxl/libdaxctl: ndctl 76's libcxl has no accessor from an
 * endpoint to the dport above it (parent_dport is 6.3+ anyway), libdaxctl
 * only reports memory blocks for devices already in system-ram mode, and both
 * contexts insist on kmod and walk every bus on creation. The sysfs files
 * they read are the same ones read here, so one small walker covers 6.1 and
 * 6.12 alike, and works unchanged on a umockdev testbed.
 *
 * The chain followed: memN whose realpath lies below the root port ->
 * endpointE whose uport is that memdev -> its decoders E.D (and their HPA
 * ranges) -> regions naming such a decoder as a target (or overlapping its
 * range) -> dax devices below such a region (or overlapping it) -> the memory
 * blocks of the dax range.
 *
 * Why a snapshot: which port a region or dax device belongs to is only known
 * by looking at all of them, so reading one port costs a walk of the whole
 * cxl and dax buses. Reading every port that way costs ports x devices
 * (minutes at 256 ports with 1024 dax devices). The snapshot walks the buses
 * once and hands each port its share; what only some ports need (a device's
 * driver and memory blocks, a region's commit state, the scan of every
 * process's maps) is read on the first query that needs it, once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "topology.h"

#define SYSFS_CXL_DEVICES       "/sys/bus/cxl/devices"
#define SYSFS_DAX_DEVICES       "/sys/bus/dax/devices"
#define SYSFS_MEMORY            "/sys/devices/system/memory"

/* A cxl memN and where its PCI function sits, which decides the root port above it. */
struct snap_memdev {
        char name[32];
        char *path;                     /* realpath of /sys/bus/cxl/devices/memN */
};

/* An endpoint's decoders bound the HPA ranges its memdev can serve. */
struct snap_decoder {
        char name[32];
        size_t memdev;                  /* index into memdevs */
        uint64_t start, size;
};

struct snap_region {
        struct port_region info;        /* matched_by_address is per port; committed, driver_bound once details_read */
        bool any_target;                /* some targetN names a decoder (ours or not) */
        size_t n_targets;
        size_t *targets;                /* decoders named by target0..N that are endpoint decoders, in that order */
        bool details_read;
};

struct snap_dax {
        struct dax_device dev;          /* name, start, size; region and memdev are per port; the rest once details_read */
        char *path;                     /* /sys/bus/dax/devices/daxX.Y, the link its attributes are read through */
        char path_region[32];           /* Z of a ".../regionZ/dax_regionZ/daxX.Y" path (6.3+ dax_cxl), "" otherwise */
        bool details_read;
};

struct topology_snapshot {
        size_t n_memdevs;
        struct snap_memdev *memdevs;
        size_t n_decoders;
        struct snap_decoder *decoders;
        struct snap_decoder **decoders_by_name; /* into decoders, sorted by name, for targetN lookups */
        size_t n_regions;
        struct snap_region *regions;
        size_t n_dax;
        struct snap_dax *dax;
        uint64_t block_size;            /* 0 without memory hotplug */
        bool users_counted;             /* dev.users of every dax device and unreadable_processes are valid */
        unsigned unreadable_processes;
};

const char *dax_mode_to_string(enum dax_mode m)
{
        switch (m) {
        case DAX_MODE_DEVDAX:
                return "devdax";
        case DAX_MODE_SYSTEM_RAM:
                return "system-ram";
        case DAX_MODE_UNBOUND:
                return "unbound";
        case DAX_MODE_OTHER:
                return "other";
        }
        return NULL;
}

bool port_region_is_active(const struct port_region *r)
{
        return r->committed || r->driver_bound;
}

/*
 * Read a sysfs attribute's first line, newline stripped. open/read/close rather than stdio: a snapshot reads
 * thousands of attributes, and fopen's buffer setup costs an fstat each.
 */
static int read_attr(const char *dir, const char *attr, char *buf, size_t size)
{
        char path[PATH_MAX];
        _cleanup_close_ int fd = -1;
        ssize_t n;

        if (size < 2)
                return -EINVAL;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, attr) >= sizeof(path))
                return -ENAMETOOLONG;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        if (n == 0)
                return -ENODATA;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}

static int read_attr_u64(const char *dir, const char *attr, int base, uint64_t *ret)
{
        char buf[64], *end;
        int r;

        r = read_attr(dir, attr, buf, sizeof(buf));
        if (r < 0)
                return r;
        errno = 0;
        unsigned long long v = strtoull(buf, &end, base);
        if (errno || end == buf)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int read_attr_int(const char *dir, const char *attr, int *ret)
{
        char buf[32], *end;
        int r;

        r = read_attr(dir, attr, buf, sizeof(buf));
        if (r < 0)
                return r;
        errno = 0;
        long v = strtol(buf, &end, 0);
        if (errno || end == buf || v < INT_MIN || v > INT_MAX)
                return -EBADMSG;
        *ret = (int)v;
        return 0;
}

/* Basename of a symlink's target (a driver's name), "" when the link is absent. */
static int read_link_basename(const char *dir, const char *link, char *buf, size_t size)
{
        char path[PATH_MAX], target[PATH_MAX];
        ssize_t n;

        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, link) >= sizeof(path))
                return -ENAMETOOLONG;
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0) {
                if (errno != ENOENT)
                        return -errno;
                buf[0] = '\0';
                return 0;
        }
        target[n] = '\0';
        const char *b = strrchr(target, '/');
        b = b ? b + 1 : target;
        if (strlen(b) >= size)
                return -ENAMETOOLONG;
        strcpy(buf, b);
        return 0;
}

static bool path_is_below(const char *path, const char *dir)
{
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
        if (alen == 0 || blen == 0)
                return false;
        return a < b + blen && b < a + alen;
}

/* Names in a directory matching "<prefix><digits>[.<digits>]", the rest skipped. */
static bool name_has_prefix_number(const char *name, const char *prefix)
{
        size_t n = strlen(prefix);
        if (strncmp(name, prefix, n) != 0)
                return false;
        const char *s = name + n;
        if (*s < '0' || *s > '9')
                return false;
        return strspn(s, "0123456789.") == strlen(s);
}

#define GROW(array, n, extra)                                                   \
        ({                                                                      \
                __typeof__(array) _p = reallocarray((array), (n) + (extra), sizeof(*(array))); \
                if (_p)                                                         \
                        (array) = _p;                                           \
                _p ? 0 : -ENOMEM;                                               \
        })

void topology_snapshot_free(struct topology_snapshot *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->n_memdevs; i++)
                free(s->memdevs[i].path);
        free(s->memdevs);
        free(s->decoders);
        free(s->decoders_by_name);
        for (size_t i = 0; i < s->n_regions; i++)
                free(s->regions[i].targets);
        free(s->regions);
        for (size_t i = 0; i < s->n_dax; i++) {
                free(s->dax[i].dev.blocks);
                free(s->dax[i].path);
        }
        free(s->dax);
        free(s);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct topology_snapshot *, topology_snapshot_free);

/* A list of directory entry names, kept for a second pass once the first one is complete. */
struct names {
        size_t n;
        char (*name)[32];
};

static int names_add(struct names *l, const char *name)
{
        if (GROW(l->name, l->n, 1) < 0)
                return -ENOMEM;
        strcpy(l->name[l->n++], name);
        return 0;
}

static void names_done(struct names *l)
{
        free(l->name);
        *l = (struct names) {};
}

static int add_memdev(struct topology_snapshot *s, const char *name)
{
        char link[PATH_MAX], real[PATH_MAX];
        char *path;

        snprintf(link, sizeof(link), SYSFS_CXL_DEVICES "/%s", name);
        if (!realpath(link, real))
                return 0;       /* gone meanwhile */
        path = strdup(real);
        if (!path || GROW(s->memdevs, s->n_memdevs, 1) < 0) {
                free(path);
                return -ENOMEM;
        }
        s->memdevs[s->n_memdevs] = (struct snap_memdev) { .path = path };
        strcpy(s->memdevs[s->n_memdevs++].name, name);
        return 0;
}

static int add_endpoint_decoders(struct topology_snapshot *s, const char *endpoint, size_t memdev)
{
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), SYSFS_CXL_DEVICES "/%s", endpoint);

        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        if (!d)
                return errno == ENOENT ? 0 : -errno;

        while ((de = readdir(d))) {
                char ddir[PATH_MAX];

                if (!name_has_prefix_number(de->d_name, "decoder") || strlen(de->d_name) >= 32)
                        continue;
                if ((size_t)snprintf(ddir, sizeof(ddir), "%s/%s", dir, de->d_name) >= sizeof(ddir))
                        continue;
                if (GROW(s->decoders, s->n_decoders, 1) < 0)
                        return -ENOMEM;
                struct snap_decoder *dec = &s->decoders[s->n_decoders++];
                *dec = (struct snap_decoder) { .memdev = memdev };
                strcpy(dec->name, de->d_name);
                /* Uncommitted decoders read start/size 0 and match nothing by address. */
                if (read_attr_u64(ddir, "start", 0, &dec->start) < 0 ||
                    read_attr_u64(ddir, "size", 0, &dec->size) < 0)
                        dec->start = dec->size = 0;
        }
        return 0;
}

static int add_endpoint(struct topology_snapshot *s, const char *endpoint)
{
        char link[PATH_MAX], real[PATH_MAX];

        snprintf(link, sizeof(link), SYSFS_CXL_DEVICES "/%s/uport", endpoint);
        if (!realpath(link, real))
                return 0;
        for (size_t i = 0; i < s->n_memdevs; i++)
                if (strcmp(s->memdevs[i].path, real) == 0)
                        return add_endpoint_decoders(s, endpoint, i);
        return 0;       /* not a memdev's endpoint: nothing below any root port serves through it */
}

static int cmp_decoder_name(const void *a, const void *b)
{
        return strcmp((*(const struct snap_decoder *const *)a)->name, (*(const struct snap_decoder *const *)b)->name);
}

/* Called once every decoder is in: the index points into s->decoders. */
static int index_decoders(struct topology_snapshot *s)
{
        s->decoders_by_name = calloc(s->n_decoders ? s->n_decoders : 1, sizeof(*s->decoders_by_name));
        if (!s->decoders_by_name)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_decoders; i++)
                s->decoders_by_name[i] = &s->decoders[i];
        qsort(s->decoders_by_name, s->n_decoders, sizeof(*s->decoders_by_name), cmp_decoder_name);
        return 0;
}

/* The endpoint decoder called name (the kernel's decoderE.D names are unique), SIZE_MAX if none. */
static size_t decoder_by_name(const struct topology_snapshot *s, const char *name)
{
        size_t lo = 0, hi = s->n_decoders;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(name, s->decoders_by_name[mid]->name);
                if (c == 0)
                        return (size_t)(s->decoders_by_name[mid] - s->decoders);
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return SIZE_MAX;
}

static int add_region(struct topology_snapshot *s, const char *name)
{
        char dir[PATH_MAX], buf[64];
        struct snap_region reg = {};

        snprintf(dir, sizeof(dir), SYSFS_CXL_DEVICES "/%s", name);
        strcpy(reg.info.name, name);

        if (read_attr_u64(dir, "resource", 0, &reg.info.start) < 0 || read_attr_u64(dir, "size", 0, &reg.info.size) < 0)
                reg.info.start = reg.info.size = 0;

        /* target0..N (N < 16 interleave ways) name endpoint decoders; an unset slot reads empty. */
        for (unsigned i = 0; i < 16; i++) {
                char attr[32];
                snprintf(attr, sizeof(attr), "target%u", i);
                int k = read_attr(dir, attr, buf, sizeof(buf));
                if (k == -ENOENT)
                        break;
                if (k < 0 || buf[0] == '\0')
                        continue;
                reg.any_target = true;
                size_t dec = decoder_by_name(s, buf);
                if (dec == SIZE_MAX)
                        continue;
                if (GROW(reg.targets, reg.n_targets, 1) < 0) {
                        free(reg.targets);
                        return -ENOMEM;
                }
                reg.targets[reg.n_targets++] = dec;
        }
        if (GROW(s->regions, s->n_regions, 1) < 0) {
                free(reg.targets);
                return -ENOMEM;
        }
        s->regions[s->n_regions++] = reg;
        return 0;
}

static int read_cxl_bus(struct topology_snapshot *s)
{
        _cleanup_(names_done) struct names endpoints = {}, regions = {};
        _cleanup_closedir_ DIR *d = opendir(SYSFS_CXL_DEVICES);
        struct dirent *de;
        int r;

        if (!d)
                return errno == ENOENT ? 0 : -errno;

        /* Memdevs first: endpoints are matched to them, regions to the endpoints' decoders. */
        while ((de = readdir(d))) {
                if (strlen(de->d_name) >= 32)
                        continue;
                if (name_has_prefix_number(de->d_name, "mem"))
                        r = add_memdev(s, de->d_name);
                else if (name_has_prefix_number(de->d_name, "endpoint"))
                        r = names_add(&endpoints, de->d_name);
                else if (name_has_prefix_number(de->d_name, "region"))
                        r = names_add(&regions, de->d_name);
                else
                        r = 0;
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < endpoints.n; i++) {
                r = add_endpoint(s, endpoints.name[i]);
                if (r < 0)
                        return r;
        }
        r = index_decoders(s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < regions.n; i++) {
                r = add_region(s, regions.name[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * 6.3+ dax_cxl places the device below its region: .../regionZ/dax_regionZ/daxX.Y.
 * Only that whole shape names the region: a libnvdimm region on the same path may share the name.
 */
static void path_region(const char *path, char *buf, size_t size)
{
        buf[0] = '\0';
        for (const char *s = strstr(path, "/dax_"); s; s = strstr(s + 1, "/dax_")) {
                const char *name = s + STRLEN("/dax_");
                size_t n = strcspn(name, "/");

                if (n == 0 || n >= size || name[n] != '/' || (size_t)(s - path) < n)
                        continue;
                /* regionZ is a whole component: after a '/' or at the start of a relative path. */
                if ((s - n != path && s[-(ptrdiff_t)n - 1] != '/') || strncmp(s - n, name, n) != 0)
                        continue;
                memcpy(buf, name, n);
                buf[n] = '\0';
                return;
        }
}

static int read_dax_bus(struct topology_snapshot *s)
{
        _cleanup_closedir_ DIR *d = opendir(SYSFS_DAX_DEVICES);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : -errno;

        /* Absent without memory hotplug: then there are no blocks to find either. */
        (void)read_attr_u64(SYSFS_MEMORY, "block_size_bytes", 16, &s->block_size);

        while ((de = readdir(d))) {
                char link[PATH_MAX], target[PATH_MAX];
                ssize_t n;
                struct snap_dax x = {
                        .dev = {
                                .target_node = -1,
                                .memmap_on_memory = -1,
                        },
                };

                if (!name_has_prefix_number(de->d_name, "dax") || strlen(de->d_name) >= sizeof(x.dev.name))
                        continue;
                snprintf(link, sizeof(link), SYSFS_DAX_DEVICES "/%s", de->d_name);
                /*
                 * The bus entry links to the device's directory below /sys/devices, and that target's
                 * components name the region above it: one readlink, where realpath() costs one per
                 * component (a thousand devices nine levels deep). Attributes are read through the link.
                 */
                n = readlink(link, target, sizeof(target) - 1);
                if (n < 0 && errno != EINVAL)
                        continue;       /* gone meanwhile */
                if (n < 0)
                        snprintf(target, sizeof(target), "%s", link);   /* a directory, not a link: its own path */
                else
                        target[n] = '\0';
                strcpy(x.dev.name, de->d_name);

                if (read_attr_u64(link, "resource", 0, &x.dev.start) < 0)
                        x.dev.start = 0;
                if (read_attr_u64(link, "size", 0, &x.dev.size) < 0)
                        x.dev.size = 0;
                path_region(target, x.path_region, sizeof(x.path_region));

                x.path = strdup(link);
                if (!x.path || GROW(s->dax, s->n_dax, 1) < 0) {
                        free(x.path);
                        return -ENOMEM;
                }
                s->dax[s->n_dax++] = x;
        }
        return 0;
}

int topology_snapshot_read(struct topology_snapshot **ret)
{
        _cleanup_(topology_snapshot_freep) struct topology_snapshot *s = calloc(1, sizeof(*s));
        int r;

        if (!ret)
                return -EINVAL;
        if (!s)
                return -ENOMEM;
        r = read_cxl_bus(s);
        if (r < 0)
                return r;
        r = read_dax_bus(s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

/* What only a port's own regions need: is the region committed, is a driver bound. */
static void region_details(struct snap_region *reg)
{
        char dir[PATH_MAX], driver[64];
        uint64_t commit;

        if (reg->details_read)
                return;
        snprintf(dir, sizeof(dir), SYSFS_CXL_DEVICES "/%s", reg->info.name);
        reg->info.committed = read_attr_u64(dir, "commit", 0, &commit) >= 0 && commit != 0;
        reg->info.driver_bound = read_link_basename(dir, "driver", driver, sizeof(driver)) >= 0 && driver[0];
        reg->details_read = true;
}

static int collect_blocks(struct dax_device *dev, uint64_t block_size)
{
        if (dev->size == 0 || block_size == 0)
                return 0;

        uint64_t first = dev->start / block_size, last = (dev->start + dev->size - 1) / block_size;
        for (uint64_t idx = first; idx <= last; idx++) {
                char dir[PATH_MAX], state[32];
                uint64_t phys;

                snprintf(dir, sizeof(dir), SYSFS_MEMORY "/memory%" PRIu64, idx);
                /* No block means this part of the range was never added as System RAM. */
                if (read_attr(dir, "state", state, sizeof(state)) < 0)
                        continue;
                /* memoryN is named after phys_index; a mismatch means this is not the block we computed. */
                if (read_attr_u64(dir, "phys_index", 16, &phys) >= 0 && phys != idx)
                        continue;

                if (GROW(dev->blocks, dev->n_blocks, 1) < 0)
                        return -ENOMEM;
                /* Anything but "offline" ("online", "going-offline") still holds pages in use. */
                dev->blocks[dev->n_blocks++] = (struct mem_block) {
                        .index = (unsigned)idx,
                        .online = strcmp(state, "offline") != 0,
                };
        }
        return 0;
}

static enum dax_mode dax_mode_from_driver(const char *driver)
{
        if (driver[0] == '\0')
                return DAX_MODE_UNBOUND;
        if (strcmp(driver, "device_dax") == 0)
                return DAX_MODE_DEVDAX;
        if (strcmp(driver, "kmem") == 0)
                return DAX_MODE_SYSTEM_RAM;
        return DAX_MODE_OTHER;
}

/* What only a port's own dax devices need: driver, node, memmap_on_memory, memory blocks. */
static int dax_details(const struct topology_snapshot *s, struct snap_dax *x)
{
        char driver[64];
        int r;

        if (x->details_read)
                return 0;
        r = read_link_basename(x->path, "driver", driver, sizeof(driver));
        if (r < 0)
                return r;
        x->dev.mode = dax_mode_from_driver(driver);
        (void)read_attr_int(x->path, "target_node", &x->dev.target_node);
        (void)read_attr_int(x->path, "memmap_on_memory", &x->dev.memmap_on_memory);
        r = collect_blocks(&x->dev, s->block_size);
        if (r < 0) {
                free(x->dev.blocks);
                x->dev.blocks = NULL;
                x->dev.n_blocks = 0;
                return r;
        }
        x->details_read = true;
        return 0;
}

/*
 * Count the processes mapping each devdax character device: a devdax range
 * carries CXL.mem traffic only while someone has it mapped, which is what
 * "quiesced" means for it. /proc/<pid>/maps names the device file. A
 * process whose maps we may not read (another user namespace, no
 * CAP_SYS_PTRACE) is counted in unreadable_processes instead of poisoning
 * every count: the caller decides how much that matters. One scan counts
 * every dax device of the snapshot, whichever port asks first.
 */
static int count_dax_users(struct topology_snapshot *s)
{
        _cleanup_closedir_ DIR *proc = NULL;
        _cleanup_free_ bool *seen = NULL;
        struct dirent *de;

        if (s->users_counted)
                return 0;
        proc = opendir("/proc");
        if (!proc) {
                for (size_t i = 0; i < s->n_dax; i++)
                        s->dax[i].dev.users = -1;
                s->users_counted = true;
                return 0;
        }
        seen = calloc(s->n_dax ? s->n_dax : 1, sizeof(bool));
        if (!seen)
                return -ENOMEM;

        while ((de = readdir(proc))) {
                char path[64], line[PATH_MAX + 128];
                _cleanup_fclose_ FILE *f = NULL;

                if (de->d_name[0] < '1' || de->d_name[0] > '9' || strspn(de->d_name, "0123456789") != strlen(de->d_name))
                        continue;
                snprintf(path, sizeof(path), "/proc/%.20s/maps", de->d_name);
                f = fopen(path, "re");
                if (!f) {
                        if (errno == EACCES || errno == EPERM)
                                s->unreadable_processes++;
                        continue;       /* or it exited meanwhile */
                }
                memset(seen, 0, s->n_dax * sizeof(bool));
                while (fgets(line, sizeof(line), f)) {
                        const char *dev = strstr(line, " /dev/");
                        if (!dev)
                                continue;
                        dev += STRLEN(" /dev/");
                        size_t n = strcspn(dev, " \n");
                        for (size_t i = 0; i < s->n_dax; i++)
                                if (strlen(s->dax[i].dev.name) == n && strncmp(dev, s->dax[i].dev.name, n) == 0)
                                        seen[i] = true;
                }
                for (size_t i = 0; i < s->n_dax; i++)
                        s->dax[i].dev.users += seen[i];
        }
        s->users_counted = true;
        return 0;
}

void port_topology_done(struct port_topology *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n_dax; i++)
                free(t->dax[i].blocks);
        free(t->dax);
        free(t->regions);
        free(t->region_info);
        free(t->memdevs);
        *t = (struct port_topology) {};
}

/* The port's share, built while matching: which snapshot entries are its own. */
struct share {
        bool *memdev;                   /* per snapshot memdev: below the port */
        size_t n_decoders;
        size_t *decoders;               /* the port's endpoint decoders, in snapshot order */
        size_t *region_memdev;          /* parallel to t->regions: memdev of the decoder that matched */
        size_t *dax;                    /* parallel to t->dax: index into the snapshot's dax devices */
};

static void share_done(struct share *sh)
{
        free(sh->memdev);
        free(sh->decoders);
        free(sh->region_memdev);
        free(sh->dax);
}

/* First of the port's decoders whose range overlaps, SIZE_MAX if none. */
static size_t share_decoder_by_range(const struct topology_snapshot *s, const struct share *sh, uint64_t start,
                                     uint64_t size)
{
        for (size_t i = 0; i < sh->n_decoders; i++)
                if (ranges_overlap(s->decoders[sh->decoders[i]].start, s->decoders[sh->decoders[i]].size, start, size))
                        return sh->decoders[i];
        return SIZE_MAX;
}

static int share_memdevs(const struct topology_snapshot *s, const char *rp, struct share *sh, struct port_topology *t)
{
        sh->memdev = calloc(s->n_memdevs ? s->n_memdevs : 1, sizeof(bool));
        if (!sh->memdev)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_memdevs; i++) {
                if (!path_is_below(s->memdevs[i].path, rp))
                        continue;
                if (GROW(t->memdevs, t->n_memdevs, 1) < 0)
                        return -ENOMEM;
                strcpy(t->memdevs[t->n_memdevs++], s->memdevs[i].name);
                sh->memdev[i] = true;
        }
        for (size_t i = 0; i < s->n_decoders; i++) {
                if (!sh->memdev[s->decoders[i].memdev])
                        continue;
                if (GROW(sh->decoders, sh->n_decoders, 1) < 0)
                        return -ENOMEM;
                sh->decoders[sh->n_decoders++] = i;
        }
        return 0;
}

static int share_regions(struct topology_snapshot *s, struct share *sh, struct port_topology *t)
{
        for (size_t i = 0; i < s->n_regions; i++) {
                struct snap_region *reg = &s->regions[i];
                struct port_region info = reg->info;
                size_t hit = SIZE_MAX;

                /* The first target that is one of the port's decoders. */
                for (size_t j = 0; j < reg->n_targets && hit == SIZE_MAX; j++)
                        if (sh->memdev[s->decoders[reg->targets[j]].memdev])
                                hit = reg->targets[j];
                /* Kernels or setups that name no targets: fall back to the address range. */
                if (hit == SIZE_MAX && !reg->any_target) {
                        hit = share_decoder_by_range(s, sh, info.start, info.size);
                        info.matched_by_address = hit != SIZE_MAX;
                }
                if (hit == SIZE_MAX)
                        continue;

                region_details(reg);
                info.committed = reg->info.committed;
                info.driver_bound = reg->info.driver_bound;

                if (GROW(t->regions, t->n_regions, 1) < 0 || GROW(t->region_info, t->n_regions, 1) < 0 ||
                    GROW(sh->region_memdev, t->n_regions, 1) < 0)
                        return -ENOMEM;
                strcpy(t->regions[t->n_regions], info.name);
                sh->region_memdev[t->n_regions] = s->decoders[hit].memdev;
                t->region_info[t->n_regions] = info;
                t->n_regions++;
        }
        return 0;
}

static int share_dax(struct topology_snapshot *s, struct share *sh, struct port_topology *t)
{
        for (size_t i = 0; i < s->n_dax; i++) {
                struct snap_dax *x = &s->dax[i];
                const char *region = NULL;
                size_t memdev = SIZE_MAX;
                int r;

                /* Below one of the port's regions by path; else (pmem namespaces below the nvdimm bus, 6.1) by address. */
                for (size_t j = 0; j < t->n_regions && !region && x->path_region[0]; j++)
                        if (strcmp(t->regions[j], x->path_region) == 0) {
                                region = t->regions[j];
                                memdev = sh->region_memdev[j];
                        }
                for (size_t j = 0; j < t->n_regions && !region; j++)
                        if (ranges_overlap(t->region_info[j].start, t->region_info[j].size, x->dev.start, x->dev.size)) {
                                region = t->regions[j];
                                memdev = sh->region_memdev[j];
                        }
                if (!region) {
                        size_t dec = share_decoder_by_range(s, sh, x->dev.start, x->dev.size);
                        if (dec == SIZE_MAX)
                                continue;
                        region = "";
                        memdev = s->decoders[dec].memdev;
                }

                r = dax_details(s, x);
                if (r < 0)
                        return r;
                if (GROW(t->dax, t->n_dax, 1) < 0 || GROW(sh->dax, t->n_dax, 1) < 0)
                        return -ENOMEM;
                sh->dax[t->n_dax] = i;
                struct dax_device *dev = &t->dax[t->n_dax];
                *dev = x->dev;
                dev->blocks = NULL;
                dev->users = 0;
                snprintf(dev->region, sizeof(dev->region), "%s", region);
                snprintf(dev->memdev, sizeof(dev->memdev), "%s", s->memdevs[memdev].name);
                if (x->dev.n_blocks > 0) {
                        dev->blocks = reallocarray(NULL, x->dev.n_blocks, sizeof(struct mem_block));
                        if (!dev->blocks)
                                return -ENOMEM;
                        memcpy(dev->blocks, x->dev.blocks, x->dev.n_blocks * sizeof(struct mem_block));
                }
                t->n_dax++;
        }
        return 0;
}

/* Users are counted only when some device of the port is devdax (only devdax carries user traffic). */
static int share_users(struct topology_snapshot *s, const struct share *sh, struct port_topology *t)
{
        bool any_devdax = false;
        int r;

        for (size_t i = 0; i < t->n_dax; i++)
                any_devdax |= t->dax[i].mode == DAX_MODE_DEVDAX;
        if (!any_devdax)
                return 0;
        r = count_dax_users(s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < t->n_dax; i++)
                t->dax[i].users = s->dax[sh->dax[i]].dev.users;
        t->unreadable_processes = s->unreadable_processes;
        return 0;
}

int topology_snapshot_port(struct topology_snapshot *s, const char *rootport_sysfs_path, struct port_topology *ret)
{
        _cleanup_(share_done) struct share sh = {};
        _cleanup_(port_topology_done) struct port_topology t = {};
        char rp[PATH_MAX];
        int r;

        if (!s || !rootport_sysfs_path || !ret)
                return -EINVAL;
        if (!realpath(rootport_sysfs_path, rp))
                return -errno;

        r = share_memdevs(s, rp, &sh, &t);
        if (r < 0)
                return r;
        r = share_regions(s, &sh, &t);
        if (r < 0)
                return r;
        r = share_dax(s, &sh, &t);
        if (r < 0)
                return r;
        r = share_users(s, &sh, &t);
        if (r < 0)
                return r;

        *ret = t;
        t = (struct port_topology) {};
        return 0;
}

int port_topology_read(const char *rootport_sysfs_path, struct port_topology *ret)
{
        _cleanup_(topology_snapshot_freep) struct topology_snapshot *s = NULL;
        char rp[PATH_MAX];
        int r;

        if (!rootport_sysfs_path || !ret)
                return -EINVAL;
        /* A port that is gone needs no walk of the buses. */
        if (!realpath(rootport_sysfs_path, rp))
                return -errno;
        r = topology_snapshot_read(&s);
        if (r < 0)
                return r;
        return topology_snapshot_port(s, rp, ret);
}
