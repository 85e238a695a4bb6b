/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What sits below a root port, read straight from sysfs.
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
 */
#include <dirent.h>
#include <errno.h>
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

/* An endpoint's decoders bound the HPA ranges its memdev can serve. */
struct ep_decoder {
        char name[32];
        char memdev[32];
        uint64_t start, size;
};

struct walk {
        char rp[PATH_MAX];                      /* realpath of the root port, no trailing slash */
        size_t n_memdev_paths;
        char (*memdev_paths)[PATH_MAX];         /* parallel to t->memdevs */
        size_t n_decoders;
        struct ep_decoder *decoders;
        char (*region_memdev)[32];              /* parallel to t->regions: first memdev found */
};

static void walk_done(struct walk *w)
{
        free(w->memdev_paths);
        free(w->decoders);
        free(w->region_memdev);
}

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

/* Read a sysfs attribute's first line, newline stripped. */
static int read_attr(const char *dir, const char *attr, char *buf, size_t size)
{
        char path[PATH_MAX];
        _cleanup_fclose_ FILE *f = NULL;

        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, attr) >= sizeof(path))
                return -ENAMETOOLONG;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        if (!fgets(buf, (int)size, f))
                return ferror(f) ? -EIO : -ENODATA;
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

static int collect_memdevs(struct walk *w, struct port_topology *t)
{
        _cleanup_closedir_ DIR *d = opendir(SYSFS_CXL_DEVICES);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : -errno;

        while ((de = readdir(d))) {
                char link[PATH_MAX], real[PATH_MAX];

                if (!name_has_prefix_number(de->d_name, "mem") || strlen(de->d_name) >= 32)
                        continue;
                snprintf(link, sizeof(link), SYSFS_CXL_DEVICES "/%s", de->d_name);
                if (!realpath(link, real) || !path_is_below(real, w->rp))
                        continue;

                if (GROW(t->memdevs, t->n_memdevs, 1) < 0 || GROW(w->memdev_paths, w->n_memdev_paths, 1) < 0)
                        return -ENOMEM;
                strcpy(t->memdevs[t->n_memdevs++], de->d_name);
                strcpy(w->memdev_paths[w->n_memdev_paths++], real);
        }
        return 0;
}

static const char *memdev_of_path(const struct walk *w, const struct port_topology *t, const char *real)
{
        for (size_t i = 0; i < w->n_memdev_paths; i++)
                if (strcmp(w->memdev_paths[i], real) == 0)
                        return t->memdevs[i];
        return NULL;
}

static int collect_endpoint_decoders(struct walk *w, const char *endpoint, const char *memdev)
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
                if (GROW(w->decoders, w->n_decoders, 1) < 0)
                        return -ENOMEM;
                struct ep_decoder *dec = &w->decoders[w->n_decoders++];
                *dec = (struct ep_decoder) {};
                strcpy(dec->name, de->d_name);
                strcpy(dec->memdev, memdev);
                /* Uncommitted decoders read start/size 0 and match nothing by address. */
                if (read_attr_u64(ddir, "start", 0, &dec->start) < 0 ||
                    read_attr_u64(ddir, "size", 0, &dec->size) < 0)
                        dec->start = dec->size = 0;
        }
        return 0;
}

static int collect_endpoints(struct walk *w, const struct port_topology *t)
{
        _cleanup_closedir_ DIR *d = opendir(SYSFS_CXL_DEVICES);
        struct dirent *de;
        int r;

        if (!d)
                return errno == ENOENT ? 0 : -errno;

        while ((de = readdir(d))) {
                char link[PATH_MAX], real[PATH_MAX];

                if (!name_has_prefix_number(de->d_name, "endpoint"))
                        continue;
                snprintf(link, sizeof(link), SYSFS_CXL_DEVICES "/%s/uport", de->d_name);
                if (!realpath(link, real))
                        continue;
                const char *memdev = memdev_of_path(w, t, real);
                if (!memdev)
                        continue;
                r = collect_endpoint_decoders(w, de->d_name, memdev);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const struct ep_decoder *decoder_by_name(const struct walk *w, const char *name)
{
        for (size_t i = 0; i < w->n_decoders; i++)
                if (strcmp(w->decoders[i].name, name) == 0)
                        return &w->decoders[i];
        return NULL;
}

static const struct ep_decoder *decoder_by_range(const struct walk *w, uint64_t start, uint64_t size)
{
        for (size_t i = 0; i < w->n_decoders; i++)
                if (ranges_overlap(w->decoders[i].start, w->decoders[i].size, start, size))
                        return &w->decoders[i];
        return NULL;
}

static int collect_regions(struct walk *w, struct port_topology *t)
{
        _cleanup_closedir_ DIR *d = opendir(SYSFS_CXL_DEVICES);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : -errno;

        while ((de = readdir(d))) {
                char dir[PATH_MAX], buf[64];
                const struct ep_decoder *hit = NULL;
                bool any_target = false;
                struct port_region reg = {};

                if (!name_has_prefix_number(de->d_name, "region") || strlen(de->d_name) >= sizeof(reg.name))
                        continue;
                snprintf(dir, sizeof(dir), SYSFS_CXL_DEVICES "/%s", de->d_name);
                strcpy(reg.name, de->d_name);

                if (read_attr_u64(dir, "resource", 0, &reg.start) < 0 || read_attr_u64(dir, "size", 0, &reg.size) < 0)
                        reg.start = reg.size = 0;

                /* target0..N (N < 16 interleave ways) name endpoint decoders; an unset slot reads empty. */
                for (unsigned i = 0; i < 16; i++) {
                        char attr[32];
                        snprintf(attr, sizeof(attr), "target%u", i);
                        int k = read_attr(dir, attr, buf, sizeof(buf));
                        if (k == -ENOENT)
                                break;
                        if (k < 0 || buf[0] == '\0')
                                continue;
                        any_target = true;
                        if (!hit)
                                hit = decoder_by_name(w, buf);
                }
                /* Kernels or setups that name no targets: fall back to the address range. */
                if (!hit && !any_target) {
                        hit = decoder_by_range(w, reg.start, reg.size);
                        reg.matched_by_address = hit != NULL;
                }
                if (!hit)
                        continue;

                uint64_t commit;
                reg.committed = read_attr_u64(dir, "commit", 0, &commit) >= 0 && commit != 0;
                char driver[64];
                reg.driver_bound = read_link_basename(dir, "driver", driver, sizeof(driver)) >= 0 && driver[0];

                if (GROW(t->regions, t->n_regions, 1) < 0 || GROW(t->region_info, t->n_regions, 1) < 0 ||
                    GROW(w->region_memdev, t->n_regions, 1) < 0)
                        return -ENOMEM;
                strcpy(t->regions[t->n_regions], reg.name);
                strcpy(w->region_memdev[t->n_regions], hit->memdev);
                t->region_info[t->n_regions] = reg;
                t->n_regions++;
        }
        return 0;
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

static int collect_dax(struct walk *w, struct port_topology *t)
{
        _cleanup_closedir_ DIR *d = opendir(SYSFS_DAX_DEVICES);
        struct dirent *de;
        uint64_t block_size = 0;
        int r;

        if (!d)
                return errno == ENOENT ? 0 : -errno;

        /* Absent without memory hotplug: then there are no blocks to find either. */
        (void)read_attr_u64(SYSFS_MEMORY, "block_size_bytes", 16, &block_size);

        while ((de = readdir(d))) {
                char link[PATH_MAX], real[PATH_MAX], driver[64];
                struct dax_device dev = {
                        .target_node = -1,
                        .memmap_on_memory = -1,
                };
                const char *region = NULL, *memdev = NULL;

                if (!name_has_prefix_number(de->d_name, "dax") || strlen(de->d_name) >= sizeof(dev.name))
                        continue;
                snprintf(link, sizeof(link), SYSFS_DAX_DEVICES "/%s", de->d_name);
                if (!realpath(link, real))
                        continue;
                strcpy(dev.name, de->d_name);

                if (read_attr_u64(real, "resource", 0, &dev.start) < 0)
                        dev.start = 0;
                if (read_attr_u64(real, "size", 0, &dev.size) < 0)
                        dev.size = 0;

                /*
                 * 6.3+ dax_cxl places the device below its region:
                 * .../regionZ/dax_regionZ/daxX.Y. Match that whole shape: a
                 * libnvdimm region on the same path may share the name.
                 */
                for (size_t i = 0; i < t->n_regions && !region; i++) {
                        char needle[80];
                        snprintf(needle, sizeof(needle), "/%s/dax_%s/", t->regions[i], t->regions[i]);
                        if (strstr(real, needle)) {
                                region = t->regions[i];
                                memdev = w->region_memdev[i];
                        }
                }
                /* pmem namespaces (ndbus below the nvdimm bridge) and 6.1: by address. */
                for (size_t i = 0; i < t->n_regions && !region; i++)
                        if (ranges_overlap(t->region_info[i].start, t->region_info[i].size, dev.start, dev.size)) {
                                region = t->regions[i];
                                memdev = w->region_memdev[i];
                        }
                if (!region) {
                        const struct ep_decoder *dec = decoder_by_range(w, dev.start, dev.size);
                        if (!dec)
                                continue;
                        region = "";
                        memdev = dec->memdev;
                }
                snprintf(dev.region, sizeof(dev.region), "%s", region);
                snprintf(dev.memdev, sizeof(dev.memdev), "%s", memdev);

                r = read_link_basename(real, "driver", driver, sizeof(driver));
                if (r < 0)
                        return r;
                dev.mode = dax_mode_from_driver(driver);
                (void)read_attr_int(real, "target_node", &dev.target_node);
                (void)read_attr_int(real, "memmap_on_memory", &dev.memmap_on_memory);

                r = collect_blocks(&dev, block_size);
                if (r < 0 || GROW(t->dax, t->n_dax, 1) < 0) {
                        free(dev.blocks);
                        return r < 0 ? r : -ENOMEM;
                }
                t->dax[t->n_dax++] = dev;
        }
        return 0;
}

/*
 * Count the processes mapping each devdax character device: a devdax range
 * carries CXL.mem traffic only while someone has it mapped, which is what
 * "quiesced" means for it. /proc/<pid>/maps names the device file. A
 * process whose maps we may not read (another user namespace, no
 * CAP_SYS_PTRACE) is counted in unreadable_processes instead of poisoning
 * every count: the caller decides how much that matters.
 */
static int count_dax_users(struct port_topology *t)
{
        _cleanup_closedir_ DIR *proc = NULL;
        _cleanup_free_ bool *seen = NULL;
        struct dirent *de;

        /* Only devdax carries user traffic; skip the walk over every process when there is none. */
        bool any_devdax = false;
        for (size_t i = 0; i < t->n_dax; i++)
                any_devdax |= t->dax[i].mode == DAX_MODE_DEVDAX;
        if (!any_devdax)
                return 0;

        proc = opendir("/proc");
        if (!proc) {
                for (size_t i = 0; i < t->n_dax; i++)
                        t->dax[i].users = -1;
                return 0;
        }
        seen = calloc(t->n_dax, sizeof(bool));
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
                                t->unreadable_processes++;
                        continue;       /* or it exited meanwhile */
                }
                memset(seen, 0, t->n_dax * sizeof(bool));
                while (fgets(line, sizeof(line), f)) {
                        const char *dev = strstr(line, " /dev/");
                        if (!dev)
                                continue;
                        dev += STRLEN(" /dev/");
                        size_t n = strcspn(dev, " \n");
                        for (size_t i = 0; i < t->n_dax; i++)
                                if (strlen(t->dax[i].name) == n && strncmp(dev, t->dax[i].name, n) == 0)
                                        seen[i] = true;
                }
                for (size_t i = 0; i < t->n_dax; i++)
                        t->dax[i].users += seen[i];
        }
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

int port_topology_read(const char *rootport_sysfs_path, struct port_topology *ret)
{
        _cleanup_(walk_done) struct walk w = {};
        _cleanup_(port_topology_done) struct port_topology t = {};
        int r;

        if (!rootport_sysfs_path)
                return -EINVAL;
        if (!realpath(rootport_sysfs_path, w.rp))
                return -errno;

        r = collect_memdevs(&w, &t);
        if (r < 0)
                return r;
        r = collect_endpoints(&w, &t);
        if (r < 0)
                return r;
        r = collect_regions(&w, &t);
        if (r < 0)
                return r;
        r = collect_dax(&w, &t);
        if (r < 0)
                return r;
        r = count_dax_users(&t);
        if (r < 0)
                return r;

        *ret = t;
        t = (struct port_topology) {};
        return 0;
}
