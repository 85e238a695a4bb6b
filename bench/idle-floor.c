/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * idle-floor: the physical floor of an idle poller, for bench/bench.py idle. It does nothing but wake
 * on a CLOCK_MONOTONIC timerfd every INTERVAL_MS, so its CPU time is what waking a process costs on
 * this machine, with no work done. The daemon's idle CPU is reported as a ratio to it.
 *
 *   idle-floor read  INTERVAL_MS   periodic timerfd, one blocking read() per tick (1 system call)
 *   idle-floor epoll INTERVAL_MS   the shape of an sd-event tick: epoll_wait, read, one-shot re-arm
 *                                  with timerfd_settime at an absolute time (3 system calls)
 *
 * Runs until killed. Not a test and not installed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

static struct timespec ms_to_timespec(long ms)
{
        return (struct timespec) { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
}

/* Not inlined: bench.py counts its calls in callgrind dumps, one per tick. */
static __attribute__((noinline)) int read_expirations(int fd)
{
        uint64_t n;

        if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
                return -errno;
        return 0;
}

static int run_read(long interval_ms)
{
        _cleanup_close_ int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
        struct itimerspec its = { .it_value = ms_to_timespec(interval_ms), .it_interval = ms_to_timespec(interval_ms) };

        if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) < 0)
                return -errno;
        for (;;) {
                int k = read_expirations(fd);
                if (k < 0 && k != -EINTR)
                        return k;
        }
}

static int arm_at(int fd, const struct timespec *t)
{
        struct itimerspec its = { .it_value = *t };

        return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0 ? -errno : 0;
}

static void timespec_add_ms(struct timespec *t, long ms)
{
        t->tv_nsec += (ms % 1000) * 1000000L;
        t->tv_sec += ms / 1000 + t->tv_nsec / 1000000000L;
        t->tv_nsec %= 1000000000L;
}

static int run_epoll(long interval_ms)
{
        _cleanup_close_ int ep = epoll_create1(EPOLL_CLOEXEC);
        _cleanup_close_ int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        struct epoll_event ev = { .events = EPOLLIN };
        struct timespec next;
        int k;

        if (ep < 0 || fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                return -errno;
        /* Like sd-event's re-arm: the next expiry counted from the wake-up, not from the previous expiry. */
        if (clock_gettime(CLOCK_MONOTONIC, &next) < 0)
                return -errno;
        timespec_add_ms(&next, interval_ms);
        k = arm_at(fd, &next);
        if (k < 0)
                return k;
        for (;;) {
                struct epoll_event got;
                int n = epoll_wait(ep, &got, 1, -1);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                k = read_expirations(fd);
                if (k < 0 && k != -EAGAIN)
                        return k;
                if (clock_gettime(CLOCK_MONOTONIC, &next) < 0)
                        return -errno;
                timespec_add_ms(&next, interval_ms);
                k = arm_at(fd, &next);
                if (k < 0)
                        return k;
        }
}

int main(int argc, char *argv[])
{
        char *end;
        long ms;
        int k;

        if (argc != 3 || (strcmp(argv[1], "read") != 0 && strcmp(argv[1], "epoll") != 0)) {
                fprintf(stderr, "usage: idle-floor read|epoll INTERVAL_MS\n");
                return EXIT_FAILURE;
        }
        ms = strtol(argv[2], &end, 10);
        if (*argv[2] == '\0' || *end != '\0' || ms <= 0 || ms > 3600 * 1000) {
                fprintf(stderr, "idle-floor: invalid interval: %s\n", argv[2]);
                return EXIT_FAILURE;
        }
        k = strcmp(argv[1], "read") == 0 ? run_read(ms) : run_epoll(ms);
        fprintf(stderr, "idle-floor: %s\n", strerror(-k));
        return EXIT_FAILURE;
}
