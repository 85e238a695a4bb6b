/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Register windows over mmap'ed device registers. A mapping of a device's BAR
 * can fault at any access: the kernel revokes it when a driver claims the
 * range (revoke_iomem), the device is removed, or (in the simulator) the
 * backing file is truncated. A daemon watching a failing device must survive
 * that, so every load and store runs under a SIGBUS guard: a process-wide
 * handler, installed once (re-installed at the next open if someone replaced
 * it), jumps back to the access that faulted, which then
 * reports -ENODEV. Faults outside a guarded access are not ours: the handler
 * restores the previous disposition and lets the fault happen again.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "cxl-regs.h"
#include "regmodel.h"
#include "regwin.h"

struct regwin {
        enum regwin_backend backend;
        void *map;                      /* whole mapping, page aligned */
        size_t map_len;
        volatile uint32_t *base;        /* first register of the window */
        size_t len;
        int fd;
        bool writable;
        bool gone;
        struct regmodel *model;         /* REGWIN_MODEL only */
        char *path;
};

/* --- SIGBUS guard --- */

static pthread_mutex_t sigbus_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction sigbus_previous;
/* Armed only for the duration of one access, in the thread doing it. */
static _Thread_local sigjmp_buf *volatile sigbus_jump;
static _Thread_local volatile sig_atomic_t sigbus_armed;

static void sigbus_handler(int sig, siginfo_t *si, void *ucontext)
{
        if (sigbus_armed) {
                sigbus_armed = 0;
                siglongjmp(*sigbus_jump, 1);
        }
        /* Not a guarded access: hand the signal back to whoever had it before. */
        (void)sigaction(SIGBUS, &sigbus_previous, NULL);
        if (!si || si->si_code <= 0)
                (void)raise(SIGBUS);    /* sent with kill(): re-send it; a real fault recurs on return */
}

/*
 * Installed when the first window opens, and again at a later open if
 * someone replaced it meanwhile (a test framework, a library that sets its
 * own and restores the default): a window must never be opened unguarded.
 */
static int sigbus_guard_init(void)
{
        struct sigaction sa = { .sa_sigaction = sigbus_handler, .sa_flags = SA_SIGINFO }, cur;
        int r = 0;

        sigemptyset(&sa.sa_mask);
        (void)pthread_mutex_lock(&sigbus_lock);
        if (sigaction(SIGBUS, NULL, &cur) < 0)
                r = -errno;
        else if (!(cur.sa_flags & SA_SIGINFO) || cur.sa_sigaction != sigbus_handler) {
                if (sigaction(SIGBUS, &sa, &sigbus_previous) < 0)
                        r = -errno;
        }
        (void)pthread_mutex_unlock(&sigbus_lock);
        return r;
}

enum access_op {
        ACCESS_READ,
        ACCESS_WRITE,
        ACCESS_MODEL_WRITE,
};

/*
 * One guarded access. Nothing in here allocates or takes locks, so jumping
 * out of the middle of it leaves nothing behind. Returns -ENODEV if it
 * faulted and marks the window gone for good.
 */
static int guarded_access(struct regwin *w, enum access_op op, uint32_t offset, uint32_t value, uint32_t *ret)
{
        sigjmp_buf jump;
        uint32_t v = 0;
        int r = 0;

        /*
         * No signal mask saved: that would cost a syscall on every register
         * access. The fault path unblocks SIGBUS itself instead, since leaving
         * the handler by a jump leaves it blocked, and a fault with SIGBUS
         * blocked kills the process.
         */
        if (sigsetjmp(jump, 0) != 0) {
                sigset_t bus;

                __atomic_signal_fence(__ATOMIC_SEQ_CST);
                sigemptyset(&bus);
                sigaddset(&bus, SIGBUS);
                (void)pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
                w->gone = true;
                return -ENODEV;
        }
        sigbus_jump = &jump;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        sigbus_armed = 1;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);

        switch (op) {
        case ACCESS_READ:
                v = w->base[offset / 4];
                break;
        case ACCESS_WRITE:
                w->base[offset / 4] = value;
                break;
        case ACCESS_MODEL_WRITE:
                r = regmodel_write32(w->model, offset, value);
                break;
        }

        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        sigbus_armed = 0;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        sigbus_jump = NULL;

        if (ret)
                *ret = v;
        return r;
}

/* --- windows --- */

static struct regwin *regwin_alloc(const char *path)
{
        struct regwin *w = calloc(1, sizeof(*w));

        if (!w)
                return NULL;
        w->fd = -1;
        w->path = strdup(path ? path : "");
        if (!w->path) {
                free(w);
                return NULL;
        }
        return w;
}

struct regwin *regwin_free(struct regwin *w)
{
        if (!w)
                return NULL;
        regmodel_free(w->model);
        if (w->map && w->map != MAP_FAILED)
                (void)munmap(w->map, w->map_len);
        if (w->fd >= 0)
                (void)close(w->fd);
        free(w->path);
        free(w);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct regwin *, regwin_free);

int regwin_new_mmio(void *map, size_t map_len, size_t offset, size_t len, int fd, struct regwin **ret)
{
        struct regwin *w;
        int r;

        if (!map || !ret || len == 0 || len % 4 || offset % 4 || offset > map_len || len > map_len - offset)
                return -EINVAL;
        r = sigbus_guard_init();
        if (r < 0)
                return r;
        w = regwin_alloc(NULL);
        if (!w)
                return -ENOMEM;
        w->backend = REGWIN_MMIO;
        w->map = map;
        w->map_len = map_len;
        w->base = (volatile uint32_t *)((uint8_t *)map + offset);
        w->len = len;
        w->fd = fd;
        w->writable = true;     /* the caller mapped it; a store to a read-only mapping is its bug */
        *ret = w;
        return 0;
}

int regwin_open_resource(const char *path, uint64_t offset, size_t len, unsigned flags, struct regwin **ret)
{
        _cleanup_(regwin_freep) struct regwin *w = NULL;
        _cleanup_free_ uint8_t *snapshot = NULL;
        bool writable = flags & REGWIN_WRITABLE;
        struct statfs sfs;
        struct stat st;
        long page = sysconf(_SC_PAGESIZE);
        uint64_t map_offset;
        size_t delta;
        int r;

        if (!path || !ret || len == 0 || len % 4 || offset % 4 || page <= 0)
                return -EINVAL;
        r = sigbus_guard_init();
        if (r < 0)
                return r;

        w = regwin_alloc(path);
        if (!w)
                return -ENOMEM;
        w->writable = writable;
        w->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (w->fd < 0)
                return -errno;
        if (fstatfs(w->fd, &sfs) < 0 || fstat(w->fd, &st) < 0)
                return -errno;

        /*
         * sysfs resourceN: hardware applies the semantics. Any other regular
         * file is a simulated BAR: a file cannot do RW1C, the model must.
         */
        if ((unsigned long)sfs.f_type == SYSFS_MAGIC || !S_ISREG(st.st_mode))
                w->backend = REGWIN_MMIO;
        else
                w->backend = REGWIN_MODEL;

        /* Map only what exists: a mapping past the BAR is refused with EINVAL by sysfs anyway. */
        if (S_ISREG(st.st_mode)) {
                if (offset >= (uint64_t)st.st_size)
                        return -EINVAL;
                if ((uint64_t)len > (uint64_t)st.st_size - offset)
                        len = (size_t)((uint64_t)st.st_size - offset) & ~(size_t)3;
                if (len == 0)
                        return -EINVAL;
        }

        map_offset = offset & ~((uint64_t)page - 1);
        delta = (size_t)(offset - map_offset);
        w->map_len = delta + len;
        w->map = mmap(NULL, w->map_len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, w->fd,
                      (off_t)map_offset);
        if (w->map == MAP_FAILED) {
                w->map = NULL;
                return -errno;
        }
        w->base = (volatile uint32_t *)((uint8_t *)w->map + delta);
        w->len = len;

        if (w->backend == REGWIN_MODEL) {
                size_t model_len = len > CXL_COMPONENT_BLOCK_SIZE ? CXL_COMPONENT_BLOCK_SIZE : len;

                snapshot = malloc(model_len);
                if (!snapshot)
                        return -ENOMEM;
                r = regwin_copy(w, 0, model_len, snapshot);
                if (r < 0)
                        return r;
                r = regmodel_attach_snapshot(w->base, model_len, snapshot, &w->model);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(w);
        return 0;
}

static int check_access(const struct regwin *w, uint32_t offset)
{
        if (!w || offset % 4 || (size_t)offset + 4 > w->len)
                return -EINVAL;
        if (w->gone)
                return -ENODEV;
        return 0;
}

int regwin_read32(struct regwin *w, uint32_t offset, uint32_t *ret)
{
        uint32_t v;
        int r = check_access(w, offset);

        if (r < 0)
                return r;
        if (!ret)
                return -EINVAL;
        r = guarded_access(w, ACCESS_READ, offset, 0, &v);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

int regwin_write32(struct regwin *w, uint32_t offset, uint32_t value)
{
        int r = check_access(w, offset);

        if (r < 0)
                return r;
        if (!w->writable)
                return -EBADF;  /* opened read-only: the mapping has no PROT_WRITE */
        if (w->backend == REGWIN_MODEL && w->model && offset < CXL_COMPONENT_BLOCK_SIZE)
                return guarded_access(w, ACCESS_MODEL_WRITE, offset, value, NULL);
        return guarded_access(w, ACCESS_WRITE, offset, value, NULL);
}

int regwin_copy(struct regwin *w, uint32_t offset, size_t len, void *buf)
{
        uint8_t *out = buf;

        if (!w || !buf || offset % 4 || len % 4 || (size_t)offset + len > w->len)
                return -EINVAL;
        for (size_t i = 0; i < len; i += 4) {
                uint32_t v;
                int r = regwin_read32(w, offset + (uint32_t)i, &v);

                if (r < 0)
                        return r;
                /* registers are little-endian, whatever the host */
                out[i] = (uint8_t)v;
                out[i + 1] = (uint8_t)(v >> 8);
                out[i + 2] = (uint8_t)(v >> 16);
                out[i + 3] = (uint8_t)(v >> 24);
        }
        return 0;
}

size_t regwin_size(const struct regwin *w)
{
        return w ? w->len : 0;
}

enum regwin_backend regwin_backend(const struct regwin *w)
{
        return w ? w->backend : REGWIN_MMIO;
}

bool regwin_is_gone(const struct regwin *w)
{
        return !w || w->gone;
}

const char *regwin_path(const struct regwin *w)
{
        return w ? w->path : NULL;
}
