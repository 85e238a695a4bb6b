/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

#include "child-watch.h"
#include "cleanup.h"

int child_watch_add(sd_event *e, sd_event_source **ret, pid_t pid, sd_event_child_handler_t handler,
                    void *userdata)
{
        _cleanup_close_ int pidfd = pidfd_open(pid, 0);
        sd_event_source *s = NULL;
        int k;

        if (pidfd < 0) {
                if (errno != ENOSYS)
                        return -errno;
                /* A pid cannot be reused before we reap it, so watching by pid is just as exact. */
                k = sd_event_add_child(e, &s, pid, WEXITED, handler, userdata);
                if (k < 0)
                        return k;
                *ret = s;
                return 0;
        }
        k = sd_event_add_child_pidfd(e, &s, pidfd, WEXITED, handler, userdata);
        if (k < 0)
                return k;
        (void)sd_event_source_set_child_pidfd_own(s, true);
        TAKE_FD(pidfd);
        *ret = s;
        return 0;
}
