/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* _cleanup_ helpers: every resource in this project is released by scope, never by hand. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                (void)close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) { if (*f) (void)fclose(*f); }
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d) { if (*d) (void)closedir(*d); }
#define _cleanup_closedir_ _cleanup_(closedirp)

/* DEFINE_TRIVIAL_CLEANUP_FUNC(struct foo *, foo_free) defines foo_freep() for _cleanup_(foo_freep). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                 \
        static inline void func##p(type *p)                     \
        {                                                       \
                if (*p)                                         \
                        func(*p);                               \
        }

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                             \
        ({                                      \
                __typeof__(p) _taken_ = (p);    \
                (p) = NULL;                     \
                _taken_;                        \
        })
#define TAKE_FD(fd)                             \
        ({                                      \
                int _taken_fd_ = (fd);          \
                (fd) = -1;                      \
                _taken_fd_;                     \
        })

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define STRLEN(s) (sizeof("" s "") - 1)
