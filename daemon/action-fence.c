/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action "fence": signal every process that maps one of the isolated port's
 * devdax devices (fence-signal=, default SIGBUS: what the process would get
 * on its next access to the dead range anyway, now at a moment of our
 * choosing and with the event logged). Processes are found by scanning
 * /proc/<pid>/maps for the device node (its dev:inode, or its path).
 *
 * Each candidate is pinned with a pidfd and its maps are read again through
 * that pid before signalling, so a pid reused between the scan and the
 * signal is not hit: pidfd_send_signal() fails on a process that has gone.
 * pid 1 and the daemon itself are never signalled, whatever they map.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "action-worker.h"
#include "action.h"
#include "cleanup.h"
#include "proc-maps.h"

#define PROC_ROOT "/proc"

static void fence_work(struct action_run *run, pid_t daemon_pid, struct worker_result *r)
{
        _cleanup_free_ struct maps_target *targets = NULL;
        _cleanup_free_ struct proc_mapper *mappers = NULL;
        _cleanup_free_ char *paths = NULL;
        size_t n_targets = 0, n_mappers = 0, n_signalled = 0, n_failed = 0;
        int sig = run->policy && run->policy->fence_signal > 0 ? run->policy->fence_signal : SIGBUS;
        char signame[16];
        unsigned unreadable = 0;
        int k;

        snprintf(signame, sizeof(signame), "SIG%s", sigabbrev_np(sig) ?: "?");
        for (char **name = run->event->dax_devices; name && *name; name++)
                n_targets++;
        if (n_targets == 0) {
                worker_detail_item(r, "no dax devices below the port");
                r->outcome = ACTION_OUTCOME_SKIPPED;
                return;
        }
        targets = calloc(n_targets, sizeof(*targets));
        paths = calloc(n_targets, PATH_MAX);
        if (!targets || !paths) {
                r->error = -ENOMEM;
                worker_detail_item(r, "out of memory");
                return;
        }
        for (size_t i = 0; i < n_targets; i++) {
                char *path = paths + i * PATH_MAX;
                struct stat st;

                snprintf(path, PATH_MAX, "/dev/%s", run->event->dax_devices[i]);
                targets[i].path = path;
                /* Without the node (already disabled) only a mapping that names the path is found. */
                if (stat(path, &st) >= 0) {
                        targets[i].have_id = true;
                        targets[i].major = major(st.st_dev);
                        targets[i].minor = minor(st.st_dev);
                        targets[i].inode = (uint64_t)st.st_ino;
                }
        }

        k = proc_maps_scan(PROC_ROOT, targets, n_targets, &mappers, &n_mappers, &unreadable);
        if (k < 0) {
                r->error = k;
                worker_detail_item(r, "cannot scan " PROC_ROOT ": %s", strerror(-k));
                return;
        }

        for (size_t i = 0; i < n_mappers; i++) {
                const struct proc_mapper *m = &mappers[i];
                const char *dax = run->event->dax_devices[m->target];
                _cleanup_close_ int pidfd = -1;
                size_t which;

                if (m->pid == 1 || m->pid == daemon_pid || m->pid == getpid()) {
                        worker_detail_item(r, "pid %d (%s) maps %s: not signalled (%s)", (int)m->pid, m->comm, dax,
                                           m->pid == 1 ? "init" : "the daemon itself");
                        continue;
                }
                if (run->dry_run) {
                        worker_detail_item(r, "pid %d (%s) maps %s: would send %s (dry run)", (int)m->pid, m->comm,
                                           dax, signame);
                        continue;
                }
                /*
                 * Pin the process, so the signal cannot hit a new process reusing the pid. Where pidfds
                 * do not exist (valgrind 3.19 lacks pidfd_open) the re-check below narrows that window
                 * but plain kill() cannot close it.
                 */
                pidfd = pidfd_open(m->pid, 0);
                if (pidfd < 0 && errno != ENOSYS) {
                        worker_detail_item(r, "pid %d (%s) maps %s: exited before the signal", (int)m->pid, m->comm,
                                           dax);
                        continue;
                }
                k = proc_maps_pid_matches(PROC_ROOT, m->pid, targets, n_targets, &which);
                if (k <= 0) {
                        worker_detail_item(r, "pid %d (%s): no longer maps %s, not signalled", (int)m->pid, m->comm,
                                           dax);
                        continue;
                }
                if ((pidfd >= 0 ? pidfd_send_signal(pidfd, sig, NULL, 0) : kill(m->pid, sig)) < 0) {
                        if (errno == ESRCH) {
                                worker_detail_item(r, "pid %d (%s) maps %s: exited before the signal", (int)m->pid,
                                                   m->comm, dax);
                                continue;
                        }
                        if (n_failed++ == 0)
                                r->error = -errno;
                        worker_detail_item(r, "pid %d (%s) maps %s: failed to send %s: %s", (int)m->pid, m->comm,
                                           dax, signame, strerror(errno));
                        continue;
                }
                n_signalled++;
                worker_detail_item(r, "pid %d (%s) maps %s: sent %s", (int)m->pid, m->comm,
                                   run->event->dax_devices[which], signame);
        }

        if (n_mappers == 0)
                worker_detail_item(r, "no process maps the port's dax devices");
        if (unreadable > 0)
                worker_detail_item(r, "%u process(es) whose maps could not be read were not checked", unreadable);

        if (n_failed > 0)
                r->outcome = ACTION_OUTCOME_FAILED;
        else if (run->dry_run && n_mappers > 0)
                r->outcome = ACTION_OUTCOME_SKIPPED;
        else
                r->outcome = ACTION_OUTCOME_SUCCESS;
}

static int fence_start(struct action_run *run)
{
        return action_worker_start(run, fence_work);
}

const struct action_ops action_ops_fence = {
        .type = ACTION_FENCE,
        .start = fence_start,
        .cancel = action_worker_cancel,
        .free_data = action_worker_free_data,
        .runs_in_dry_run = true,        /* lists whom it would signal, signals nobody */
};
