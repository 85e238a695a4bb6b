/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Watch a child process from the event loop: through a pidfd, or through SIGCHLD where pidfds are missing. */
#pragma once

#include <sys/types.h>

#include <systemd/sd-event.h>

/*
 * Add a WEXITED watch for pid to e. A pidfd is used when the kernel (or
 * valgrind 3.19, which does not know pidfd_open) provides it; otherwise
 * sd-event's SIGCHLD-based child source, which needs SIGCHLD blocked in every
 * thread (main.c does that before the loop starts). Either way the source owns
 * what it watches and the handler sees the same siginfo.
 */
int child_watch_add(sd_event *e, sd_event_source **ret, pid_t pid, sd_event_child_handler_t handler,
                    void *userdata);
