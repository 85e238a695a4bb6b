/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action "offline-memory": best effort for dax ranges the kernel onlined as
 * System RAM (kmem). Per block that is online, write "offline" to
 * memoryN/state, as daxctl offline-memory does; one result per block.
 *
 * Why this usually fails after isolation: offlining a block migrates every
 * page on it first, and migration reads the old copy, which lives on the
 * device that just went away. Reads return poison or all-ones, migration
 * aborts with EBUSY (or the kernel's memory_failure() handling kills the
 * readers), and any kernel allocation on the block (anything outside
 * ZONE_MOVABLE) makes it unmovable anyway. With memmap_on_memory the
 * block's own struct pages live on the dead device too. Only devdax ranges
 * can be taken away reliably; for System RAM the dependable answer is a
 * reboot, which is why this action never claims more than what each write
 * returned and re-reading the state confirmed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "action-worker.h"
#include "action.h"
#include "cleanup.h"
#include "manager.h"
#include "memblock-select.h"
#include "sysfs-attr.h"
#include "topology.h"

#define SYSFS_MEMORY "/sys/devices/system/memory"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct port_topology *, port_topology_done);

static void offline_memory_work(struct action_run *run, pid_t daemon_pid, struct worker_result *r)
{
        struct port_topology topo = {};
        _cleanup_(port_topology_donep) struct port_topology *t = NULL;
        _cleanup_free_ struct memblock_pick *picks = NULL;
        size_t n_picks = 0, n_done = 0, n_failed = 0;
        struct port *p;
        int k;

        p = manager_find_port(run->manager, run->event->port);
        if (!p) {
                r->error = -ENODEV;
                worker_detail_item(r, "port %s is no longer known, cannot find its memory blocks", run->event->port);
                return;
        }
        k = port_topology_read(p->rp.sysfs_path, &topo);
        if (k < 0) {
                r->error = k;
                worker_detail_item(r, "cannot read the topology below %s: %s", run->event->port, strerror(-k));
                return;
        }
        t = &topo;
        k = memblock_select(t, &picks, &n_picks);
        if (k < 0) {
                r->error = k;
                worker_detail_item(r, "cannot select memory blocks: %s", strerror(-k));
                return;
        }
        if (n_picks == 0) {
                worker_detail_item(r, "no memory blocks: no dax range below the port was added as System RAM");
                r->outcome = ACTION_OUTCOME_SKIPPED;
                return;
        }

        for (size_t i = 0; i < n_picks; i++) {
                const struct memblock_pick *b = &picks[i];
                const char *note = b->memmap_on_memory ? " (memmap on the block itself)" : "";
                char dir[PATH_MAX / 2], path[PATH_MAX], state[32];

                snprintf(dir, sizeof(dir), SYSFS_MEMORY "/memory%u", b->index);
                snprintf(path, sizeof(path), "%s/state", dir);
                /* Re-read: the topology is a moment old and someone (udev, an operator) may have acted. */
                k = sysfs_read_line(path, state, sizeof(state));
                if (k < 0) {
                        if (n_failed++ == 0)
                                r->error = k;
                        worker_detail_item(r, "memory%u (%s): failed: cannot read state: %s", b->index, b->dax,
                                           strerror(-k));
                        continue;
                }
                if (strcmp(state, "offline") == 0) {
                        n_done++;
                        worker_detail_item(r, "memory%u (%s): already offline", b->index, b->dax);
                        continue;
                }
                if (run->dry_run) {
                        worker_detail_item(r, "memory%u (%s): would offline (dry run, now %s)%s", b->index, b->dax,
                                           state, note);
                        continue;
                }

                /* daxctl refuses blocks the kernel marks unremovable; the attribute reads 1 on newer kernels. */
                snprintf(path, sizeof(path), "%s/removable", dir);
                char removable[8];
                if (sysfs_read_line(path, removable, sizeof(removable)) >= 0 && strcmp(removable, "0") == 0) {
                        if (n_failed++ == 0)
                                r->error = -EBUSY;
                        worker_detail_item(r, "memory%u (%s): failed: not removable%s", b->index, b->dax, note);
                        continue;
                }

                snprintf(path, sizeof(path), "%s/state", dir);
                k = sysfs_write(path, "offline");
                if (k < 0) {
                        if (n_failed++ == 0)
                                r->error = k;
                        worker_detail_item(r, "memory%u (%s): failed: %s%s", b->index, b->dax, strerror(-k), note);
                        continue;
                }
                k = sysfs_read_line(path, state, sizeof(state));
                if (k < 0 || strcmp(state, "offline") != 0) {
                        if (n_failed++ == 0)
                                r->error = k < 0 ? k : -EBUSY;
                        worker_detail_item(r, "memory%u (%s): failed: state is %s after the write%s", b->index, b->dax,
                                           k < 0 ? "unreadable" : state, note);
                        continue;
                }
                n_done++;
                worker_detail_item(r, "memory%u (%s): offlined", b->index, b->dax);
        }

        if (n_failed > 0)
                r->outcome = ACTION_OUTCOME_FAILED;
        else if (n_done == n_picks)
                r->outcome = ACTION_OUTCOME_SUCCESS;
        else
                r->outcome = ACTION_OUTCOME_SKIPPED;    /* dry run */
}

static int offline_memory_start(struct action_run *run)
{
        return action_worker_start(run, offline_memory_work);
}

const struct action_ops action_ops_offline_memory = {
        .type = ACTION_OFFLINE_MEMORY,
        .start = offline_memory_start,
        .cancel = action_worker_cancel,
        .free_data = action_worker_free_data,
        .runs_in_dry_run = true,        /* reports what it would offline, writes nothing */
};
