/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libcxlisolsim-kernel.so: the kernel's side of sysfs writes, synchronous,
 * for processes running in a testbed (cxl-isol-sim run puts it in
 * LD_PRELOAD ahead of umockdev's library).
 *
 * In a testbed, sysfs control files are plain files. A real kernel acts on a
 * write before write() returns, and can fail it (EBUSY for a block that will
 * not go offline). Code under test (the daemon's offline actions) relies on
 * both, so an asynchronous watcher is not enough: here write() on a control
 * file does what the kernel would, in the writer's own call, and returns its
 * result. Everything else passes through untouched.
 *
 * Handled files (any path that resolves to them, links included):
 *   /sys/bus/dax/drivers/{device_dax,kmem}/{bind,unbind,new_id,remove_id}
 *   /sys/devices/system/memory/memoryN/state
 * and one device node: opening /dev/uioN opens the FIFO that stands for it
 * (sim-uio.h), so UIO interrupts reach the program without umockdev's ioctl
 * server.
 * Refusals come from $CXL_ISOL_SIM_REFUSE, a comma-separated list of
 * "unbind:daxX.Y" (EBUSY, stays bound) and "offline:N" (EBUSY, stays online).
 *
 * Programs writing through stdio (a shell's echo) reach the kernel through
 * libc-internal calls nobody can wrap: their bytes land in the file as is.
 */

/* open and open64 must both be defined here: no header may rename one into the other. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim-host.h"
#include "sim-kernel.h"
#include "sim-uevent.h"
#include "sim-uio.h"

#define MAX_TRACKED 64

enum control {
        CONTROL_NONE,
        CONTROL_DAX_DRIVER,     /* drivers/<driver>/<file> */
        CONTROL_MEMORY_STATE,
};

struct tracked {
        int fd;
        enum control kind;
        char driver[16], file[16];
        uint64_t block;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tracked table[MAX_TRACKED];

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_close)(int);

static void resolve(void)
{
        if (!real_write) {
                real_open = dlsym(RTLD_NEXT, "open");
                real_open64 = dlsym(RTLD_NEXT, "open64");
                real_openat = dlsym(RTLD_NEXT, "openat");
                real_openat64 = dlsym(RTLD_NEXT, "openat64");
                real_close = dlsym(RTLD_NEXT, "close");
                real_write = dlsym(RTLD_NEXT, "write");
        }
}

static const char *testbed_root(void)
{
        const char *r = getenv("UMOCKDEV_DIR");

        return r && *r ? r : NULL;
}

/* Which control file an fd opened for writing is, from where it really lives. */
static void classify(int fd, struct tracked *t)
{
        char link[64], real[PATH_MAX];
        const char *root = testbed_root(), *p;
        size_t rlen;
        ssize_t n;

        t->kind = CONTROL_NONE;
        if (!root)
                return;
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        n = readlink(link, real, sizeof(real) - 1);
        if (n < 0)
                return;
        real[n] = '\0';
        rlen = strlen(root);
        if (strncmp(real, root, rlen) != 0)
                return;
        p = real + rlen;

        if (sscanf(p, "/sys/bus/dax/drivers/%15[^/]/%15s", t->driver, t->file) == 2 &&
            (strcmp(t->driver, "device_dax") == 0 || strcmp(t->driver, "kmem") == 0) &&
            (strcmp(t->file, "bind") == 0 || strcmp(t->file, "unbind") == 0 || strcmp(t->file, "new_id") == 0 ||
             strcmp(t->file, "remove_id") == 0))
                t->kind = CONTROL_DAX_DRIVER;
        else if (sscanf(p, "/sys/devices/system/memory/memory%" SCNu64 "/%15s", &t->block, t->file) == 2 &&
                 strcmp(t->file, "state") == 0)
                t->kind = CONTROL_MEMORY_STATE;
}

static void track(int fd, int flags)
{
        struct tracked t = { .fd = fd };

        if (fd < 0 || (flags & O_ACCMODE) == O_RDONLY)
                return;
        classify(fd, &t);
        if (t.kind == CONTROL_NONE)
                return;
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < MAX_TRACKED; i++)
                if (table[i].kind == CONTROL_NONE) {
                        table[i] = t;
                        break;
                }
        pthread_mutex_unlock(&lock);
}

static bool lookup(int fd, struct tracked *ret)
{
        bool found = false;

        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < MAX_TRACKED && !found; i++)
                if (table[i].kind != CONTROL_NONE && table[i].fd == fd) {
                        *ret = table[i];
                        found = true;
                }
        pthread_mutex_unlock(&lock);
        return found;
}

static void untrack(int fd)
{
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < MAX_TRACKED; i++)
                if (table[i].kind != CONTROL_NONE && table[i].fd == fd)
                        table[i].kind = CONTROL_NONE;
        pthread_mutex_unlock(&lock);
}

static bool refused(const char *what, const char *name)
{
        const char *list = getenv("CXL_ISOL_SIM_REFUSE");
        char item[64];
        size_t wlen = strlen(what);

        while (list && *list) {
                size_t n = strcspn(list, ",");
                if (n < sizeof(item)) {
                        memcpy(item, list, n);
                        item[n] = '\0';
                        if (strncmp(item, what, wlen) == 0 && item[wlen] == ':' && strcmp(item + wlen + 1, name) == 0)
                                return true;
                }
                list += n + (list[n] == ',');
        }
        return false;
}

/* The first word of what was written, as the kernel's sysfs_streq() compares it. */
static void first_word(const void *buf, size_t len, char *out, size_t size)
{
        size_t n = 0;
        const char *b = buf;

        while (len > 0 && (*b == ' ' || *b == '\t')) {
                b++;
                len--;
        }
        while (n < len && n + 1 < size && b[n] != '\n' && b[n] != ' ' && b[n] != '\0')
                n++;
        memcpy(out, b, n);
        out[n] = '\0';
}

static int dax_driver_write(const char *root, const struct tracked *t, const char *dev)
{
        struct sim_dax_change c;
        int r;

        if (strcmp(t->file, "new_id") == 0 || strcmp(t->file, "remove_id") == 0)
                return 0;       /* dynamic ids are not modelled: accepted */
        if (strcmp(t->file, "unbind") == 0) {
                if (refused("unbind", dev))
                        return -EBUSY;
                r = sim_dax_unbind(root, dev, t->driver, &c);
                if (r < 0)
                        return r;
                return sim_kernel_emit_dax_change(root, &c, true, false);
        }
        r = sim_dax_bind(root, dev, t->driver, false, &c);
        if (r < 0)
                return r;
        return sim_kernel_emit_dax_change(root, &c, false, true);
}

static int memory_state_write(const char *root, const struct tracked *t, const char *word)
{
        char name[24], sysfs[128];
        bool online;
        int r;

        if (strcmp(word, "offline") == 0)
                online = false;
        else if (strcmp(word, "online") == 0 || strcmp(word, "online_movable") == 0 ||
                 strcmp(word, "online_kernel") == 0)
                online = true;
        else
                return -EINVAL;
        snprintf(name, sizeof(name), "%" PRIu64, t->block);
        if (!online && refused("offline", name))
                return -EBUSY;
        r = sim_memblock_set_state(root, t->block, online, sysfs);
        if (r < 0)
                return r;
        r = sim_uevent_send(root, sysfs, online ? "online" : "offline", "memory", NULL, 0);
        return r < 0 ? r : 0;
}

/*
 * "/dev/uioN" -> the testbed's FIFO for it, if the testbed has one. Only the
 * exact absolute name: that is what a UIO user builds from /sys/class/uio.
 */
static const char *uio_node(const char *path, char *buf, size_t len)
{
        const char *root = testbed_root(), *p;
        char name[16];
        struct stat st;

        if (!root || !path || strncmp(path, "/dev/uio", 8) != 0 || !path[8])
                return path;
        for (p = path + 8; *p; p++)
                if (*p < '0' || *p > '9' || p - path >= 12)
                        return path;
        snprintf(name, sizeof(name), "%s", path + 5);
        if (sim_uio_fifo_path(root, name, buf, len) < 0 || stat(buf, &st) < 0 || !S_ISFIFO(st.st_mode))
                return path;
        return buf;
}

/* O_CREAT and O_TMPFILE carry a mode argument; nothing else does. */
#define TAKE_MODE(flags, mode)                                  \
        do {                                                    \
                if ((flags) & (O_CREAT | O_TMPFILE)) {          \
                        va_list ap;                             \
                        va_start(ap, flags);                    \
                        mode = va_arg(ap, mode_t);              \
                        va_end(ap);                             \
                }                                               \
        } while (0)

/* Only "/sys/..." paths can name a control file; relative ones are checked by where they land. */
static void after_open(int fd, const char *path, int flags, bool relative_ok)
{
        if (fd >= 0 && path && (strncmp(path, "/sys/", 5) == 0 || (relative_ok && path[0] != '/')))
                track(fd, flags);
}

int open(const char *path, int flags, ...)
{
        char node[PATH_MAX];
        mode_t mode = 0;
        int fd;

        resolve();
        TAKE_MODE(flags, mode);
        path = uio_node(path, node, sizeof(node));
        fd = real_open(path, flags, mode);
        after_open(fd, path, flags, false);
        return fd;
}

int open64(const char *path, int flags, ...)
{
        char node[PATH_MAX];
        mode_t mode = 0;
        int fd;

        resolve();
        TAKE_MODE(flags, mode);
        path = uio_node(path, node, sizeof(node));
        fd = real_open64(path, flags, mode);
        after_open(fd, path, flags, false);
        return fd;
}

int openat(int dirfd, const char *path, int flags, ...)
{
        char node[PATH_MAX];
        mode_t mode = 0;
        int fd;

        resolve();
        TAKE_MODE(flags, mode);
        path = uio_node(path, node, sizeof(node));
        fd = real_openat(dirfd, path, flags, mode);
        after_open(fd, path, flags, true);
        return fd;
}

int openat64(int dirfd, const char *path, int flags, ...)
{
        char node[PATH_MAX];
        mode_t mode = 0;
        int fd;

        resolve();
        TAKE_MODE(flags, mode);
        path = uio_node(path, node, sizeof(node));
        fd = real_openat64(dirfd, path, flags, mode);
        after_open(fd, path, flags, true);
        return fd;
}

ssize_t write(int fd, const void *buf, size_t len)
{
        struct tracked t;
        const char *root;
        char word[64];
        int r;

        resolve();
        if (!lookup(fd, &t) || !(root = testbed_root()))
                return real_write(fd, buf, len);

        first_word(buf, len, word, sizeof(word));
        r = t.kind == CONTROL_DAX_DRIVER ? dax_driver_write(root, &t, word) : memory_state_write(root, &t, word);
        if (r < 0) {
                errno = -r;
                return -1;
        }
        /* the whole write is consumed, as a sysfs store of one value */
        return (ssize_t)len;
}

int close(int fd)
{
        resolve();
        untrack(fd);
        return real_close(fd);
}
