/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cleanup.h"
#include "sim-kernel.h"
#include "sim-sysfs.h"
#include "sim-uevent.h"

#define MEMORY_DIR      "/sys/devices/system/memory"
#define DAX_DRIVERS     "/sys/bus/dax/drivers"

static const char *const dax_drivers[] = { "device_dax", "kmem" };

struct watch {
        int wd;
        char path[96];          /* "/sys/..." */
};

struct kernel {
        const char *root;
        const struct sim_kernel_options *o;
        int fd;
        size_t n, allocated;
        struct watch *w;        /* one per memory block: 8 + 4 per kmem dax device, up to 4096 of those */
};

static int block_state_uevent(const char *root, uint64_t index, bool added)
{
        char dev[96], path[128], state[32];
        int r;

        snprintf(dev, sizeof(dev), MEMORY_DIR "/memory%" PRIu64, index);
        if (!added)
                return sim_uevent_send(root, dev, "remove", "memory", NULL, 0);
        r = sim_uevent_send(root, dev, "add", "memory", NULL, 0);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/state", dev);
        if (sim_read_text(root, path, state, sizeof(state)) == 0 && strcmp(state, "online") == 0)
                r = sim_uevent_send(root, dev, "online", "memory", NULL, 0);
        return r;
}

int sim_kernel_emit_dax_change(const char *root, const struct sim_dax_change *c, bool unbound, bool bound)
{
        int r;

        if (unbound) {
                char drv[40];
                char *kv[] = { drv };

                for (unsigned i = 0; !c->blocks_added && i < c->n_blocks; i++)
                        if ((r = block_state_uevent(root, c->first_block + i, false)) < 0)
                                return r;
                snprintf(drv, sizeof(drv), "DRIVER=%s", c->old_driver);
                if ((r = sim_uevent_send(root, c->dax_sysfs, "unbind", "dax", kv, 1)) < 0)
                        return r;
        }
        if (bound) {
                if ((r = sim_uevent_send(root, c->dax_sysfs, "bind", "dax", NULL, 0)) < 0)
                        return r;
                for (unsigned i = 0; c->blocks_added && i < c->n_blocks; i++)
                        if ((r = block_state_uevent(root, c->first_block + i, true)) < 0)
                                return r;
        }
        return 0;
}

static int watch_dir(struct kernel *k, const char *path)
{
        char full[PATH_MAX];
        int wd, r;

        r = sim_path(k->root, path, full, sizeof(full));
        if (r < 0)
                return r;
        wd = inotify_add_watch(k->fd, full, IN_CLOSE_WRITE | IN_ONLYDIR);
        if (wd < 0)
                return errno == ENOENT ? 0 : -errno;
        for (size_t i = 0; i < k->n; i++)
                if (k->w[i].wd == wd)
                        return 0;
        if (k->n == k->allocated) {
                size_t more = k->allocated ? 2 * k->allocated : 64;
                struct watch *w = reallocarray(k->w, more, sizeof(*w));
                if (!w)
                        return -ENOMEM;
                k->w = w;
                k->allocated = more;
        }
        k->w[k->n].wd = wd;
        snprintf(k->w[k->n].path, sizeof(k->w[k->n].path), "%s", path);
        k->n++;
        return 0;
}

/* Memory blocks come and go with kmem: watch whichever exist now. */
static int watch_all(struct kernel *k)
{
        char full[PATH_MAX], path[96];
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(dax_drivers); i++) {
                snprintf(path, sizeof(path), DAX_DRIVERS "/%s", dax_drivers[i]);
                if ((r = watch_dir(k, path)) < 0)
                        return r;
        }
        r = sim_path(k->root, MEMORY_DIR, full, sizeof(full));
        if (r < 0)
                return r;
        d = opendir(full);
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, "memory", 6) == 0 && strlen(de->d_name) < 40) {
                        snprintf(path, sizeof(path), MEMORY_DIR "/%s", de->d_name);
                        if ((r = watch_dir(k, path)) < 0)
                                return r;
                }
        return 0;
}

/* First whitespace-separated word of a control file, and the file emptied again. */
static int take_word(struct kernel *k, const char *path, char *buf, size_t len)
{
        char text[128], word[64];
        int r = sim_read_text(k->root, path, text, sizeof(text));

        if (r < 0)
                return r;
        /* Scan into our own buffer: the caller's may be shorter than the 63 bytes %63s may write. */
        if (sscanf(text, "%63s", word) != 1 || strlen(word) >= len)
                buf[0] = '\0';
        else
                memcpy(buf, word, strlen(word) + 1);
        return 0;
}

static bool refused(const struct sim_kernel_options *o, const char *dax)
{
        for (size_t i = 0; i < o->n_refuse_unbind; i++)
                if (strcmp(o->refuse_unbind[i], dax) == 0)
                        return true;
        return false;
}

static int handle_driver_file(struct kernel *k, const char *dir, const char *name)
{
        const char *driver = strrchr(dir, '/') + 1;
        struct sim_dax_change c;
        char path[160], dev[64];
        int r;

        if (strcmp(name, "bind") != 0 && strcmp(name, "unbind") != 0 &&
            strcmp(name, "new_id") != 0 && strcmp(name, "remove_id") != 0)
                return 0;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        r = take_word(k, path, dev, sizeof(dev));
        if (r < 0 || !dev[0])
                return r;
        /* the kernel keeps nothing in these files */
        (void)sim_write_file(k->root, path, "", 0);

        if (strcmp(name, "unbind") == 0) {
                if (refused(k->o, dev)) {
                        fprintf(stderr, "sim kernel: %s: unbind from %s refused\n", dev, driver);
                        return 1;
                }
                r = sim_dax_unbind(k->root, dev, driver, &c);
                if (r < 0) {
                        fprintf(stderr, "sim kernel: %s: unbind from %s: %s\n", dev, driver, strerror(-r));
                        return 1;
                }
                fprintf(stderr, "sim kernel: %s: unbound from %s\n", dev, driver);
                r = sim_kernel_emit_dax_change(k->root, &c, true, false);
        } else if (strcmp(name, "bind") == 0) {
                /* with auto_online_blocks=offline, kmem adds its blocks offline */
                r = sim_dax_bind(k->root, dev, driver, false, &c);
                if (r < 0) {
                        fprintf(stderr, "sim kernel: %s: bind to %s: %s\n", dev, driver, strerror(-r));
                        return 1;
                }
                fprintf(stderr, "sim kernel: %s: bound to %s\n", dev, driver);
                r = sim_kernel_emit_dax_change(k->root, &c, false, true);
        }
        /* new_id/remove_id: dynamic ids are not modelled, the write is accepted */
        if (r >= 0)
                r = watch_all(k);
        return r < 0 ? r : 1;
}

static int handle_state(struct kernel *k, const char *dir, const char *name)
{
        char path[128], word[32], sysfs[128];
        uint64_t index;
        bool online;
        int r;

        if (strcmp(name, "state") != 0 || sscanf(dir, MEMORY_DIR "/memory%" SCNu64, &index) != 1)
                return 0;
        snprintf(path, sizeof(path), "%s/state", dir);
        r = take_word(k, path, word, sizeof(word));
        if (r < 0)
                return r;
        /*
         * A writer that does not truncate leaves the tail of the old value
         * ("online" over "offline\n" reads "onlinee"): match by prefix, the
         * longer word first.
         */
        if (strncmp(word, "offline", 7) == 0)
                online = false;
        else if (strncmp(word, "online", 6) == 0)       /* online, online_movable, online_kernel */
                online = true;
        else
                return 0;       /* what the kernel would refuse with EINVAL: nothing changes but the file */

        /* any close of a writer fires, written or not: a block already in that state has no news */
        snprintf(path, sizeof(path), "%s/online", dir);
        if (sim_read_text(k->root, path, word, sizeof(word)) == 0 && strcmp(word, online ? "1" : "0") == 0) {
                snprintf(path, sizeof(path), "%s/state", dir);
                return sim_write_text(k->root, path, "%s\n", online ? "online" : "offline") < 0 ? -EIO : 0;
        }

        /* the file now reads what was written; make it read what the kernel shows */
        r = sim_memblock_set_state(k->root, index, online, sysfs);
        if (r < 0)
                return r;
        fprintf(stderr, "sim kernel: memory%" PRIu64 ": %s\n", index, online ? "online" : "offline");
        r = sim_uevent_send(k->root, sysfs, online ? "online" : "offline", "memory", NULL, 0);
        return r < 0 ? r : 1;
}

static void kernel_free(struct kernel *k)
{
        free(k->w);
        free(k);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct kernel *, kernel_free);

int sim_kernel_run(const char *root, const struct sim_kernel_options *o)
{
        _cleanup_(kernel_freep) struct kernel *k = calloc(1, sizeof(*k));
        _cleanup_close_ int fd = -1;
        unsigned handled = 0;
        int r;

        if (!k)
                return -ENOMEM;
        fd = inotify_init1(IN_CLOEXEC);
        if (fd < 0)
                return -errno;
        k->root = root;
        k->o = o;
        k->fd = fd;
        r = watch_all(k);
        if (r < 0)
                return r;
        if (o->ready)
                o->ready(o->userdata);

        for (;;) {
                char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
                ssize_t len = read(fd, buf, sizeof(buf));

                if (len < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (char *p = buf; p < buf + len;) {
                        const struct inotify_event *e = (const struct inotify_event *)p;
                        const char *dir = NULL;

                        p += sizeof(*e) + e->len;
                        /* our own replacements are written as "<name>.tmp.<pid>" and renamed */
                        if (!(e->mask & IN_CLOSE_WRITE) || e->len == 0 || strstr(e->name, ".tmp."))
                                continue;
                        for (size_t i = 0; i < k->n; i++)
                                if (k->w[i].wd == e->wd)
                                        dir = k->w[i].path;
                        if (!dir)
                                continue;
                        r = strncmp(dir, DAX_DRIVERS, strlen(DAX_DRIVERS)) == 0 ? handle_driver_file(k, dir, e->name)
                                                                                : handle_state(k, dir, e->name);
                        if (r < 0)
                                fprintf(stderr, "sim kernel: %s/%s: %s\n", dir, e->name, strerror(-r));
                        if (r > 0 && o->max_events && ++handled >= o->max_events)
                                return 0;
                }
        }
}
