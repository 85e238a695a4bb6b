/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action "reset": for accelerator ports only (kind=accelerator in the port's
 * [port] section), a function reset of each PCI function directly below the
 * root port, through /sys/bus/pci/devices/<function>/reset (FLR or whatever
 * reset method the kernel picks). A memory port is refused: resetting a
 * type-3 device under live System RAM or devdax mappings turns an isolated
 * link into lost memory the kernel still thinks it owns. An unknown kind is
 * refused too; the operator states what the port is.
 *
 * The write blocks until the reset is done (100 ms and more), so it runs in a
 * worker process.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "action-worker.h"
#include "action.h"
#include "cleanup.h"
#include "manager.h"
#include "sysfs-attr.h"

static bool is_pci_function_name(const char *s)
{
        unsigned dom, bus, dev, fn;
        char tail;

        return sscanf(s, "%4x:%2x:%2x.%1u%c", &dom, &bus, &dev, &fn, &tail) == 4 && strlen(s) == 12;
}

static void reset_work(struct action_run *run, pid_t daemon_pid, struct worker_result *r)
{
        _cleanup_closedir_ DIR *d = NULL;
        const struct config_port *cp;
        struct dirent *de;
        struct port *p;
        size_t n_done = 0, n_failed = 0, n_found = 0;

        p = manager_find_port(run->manager, run->event->port);
        if (!p) {
                r->error = -ENODEV;
                worker_detail_item(r, "port %s is no longer known", run->event->port);
                return;
        }
        cp = run->manager->config ? config_port_for(run->manager->config, p->rp.bdf, p->rp.host_bridge, p->rp.serial)
                                  : NULL;
        if (!cp || cp->kind != PORT_KIND_ACCELERATOR) {
                r->error = -EPERM;
                worker_detail_item(r, "refused: %s is %s; reset is only for ports configured kind=accelerator",
                                   p->rp.bdf, cp && cp->kind == PORT_KIND_MEMORY ? "a memory port" :
                                   "not declared an accelerator port");
                return;
        }

        d = opendir(p->rp.sysfs_path);
        if (!d) {
                r->error = -errno;
                worker_detail_item(r, "cannot list %s: %s", p->rp.sysfs_path, strerror(errno));
                return;
        }
        while ((de = readdir(d))) {
                char path[PATH_MAX];
                int k;

                if (!is_pci_function_name(de->d_name))
                        continue;
                n_found++;
                snprintf(path, sizeof(path), "%s/%s/reset", p->rp.sysfs_path, de->d_name);
                if (access(path, F_OK) < 0) {
                        worker_detail_item(r, "%s: skipped: no reset method", de->d_name);
                        continue;
                }
                if (run->dry_run) {
                        worker_detail_item(r, "%s: would reset (dry run)", de->d_name);
                        continue;
                }
                k = sysfs_write(path, "1");
                if (k < 0) {
                        if (n_failed++ == 0)
                                r->error = k;
                        worker_detail_item(r, "%s: failed: %s", de->d_name, strerror(-k));
                        continue;
                }
                n_done++;
                worker_detail_item(r, "%s: reset", de->d_name);
        }

        if (n_found == 0) {
                r->error = -ENODEV;
                worker_detail_item(r, "no PCI function below %s", p->rp.bdf);
                return;
        }
        if (n_failed > 0)
                r->outcome = ACTION_OUTCOME_FAILED;
        else if (n_done > 0)
                r->outcome = ACTION_OUTCOME_SUCCESS;
        else
                r->outcome = run->dry_run ? ACTION_OUTCOME_SKIPPED : ACTION_OUTCOME_FAILED;
        if (!run->dry_run && n_done == 0 && n_failed == 0 && r->error == 0)
                r->error = -EOPNOTSUPP;
}

static int reset_start(struct action_run *run)
{
        return action_worker_start(run, reset_work);
}

const struct action_ops action_ops_reset = {
        .type = ACTION_RESET,
        .start = reset_start,
        .cancel = action_worker_cancel,
        .free_data = action_worker_free_data,
        .runs_in_dry_run = true,        /* says what it would reset */
};
