/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action "offline-devdax": disable every dax device below the isolated port
 * that is in devdax mode, the way daxctl disable-device does it in sysfs
 * terms: write the name to the driver's remove_id (so a dynamic id cannot
 * bind it again), then to unbind, then confirm the driver link is gone. The
 * kernel revokes every mapping of the device on unbind, which is what keeps
 * user space away from the dead range.
 *
 * Devices come from the event (captured at isolation time), so the result
 * tells the same story as the record. Per device: disabled, already
 * disabled, gone, skipped (system-ram/kmem is not devdax: offline-memory or
 * a reboot deals with it; another driver is left alone) or failed (EBUSY:
 * in use; the link still there after unbind). The run succeeds only if no
 * device failed and at least one devdax device is now disabled.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "action-worker.h"
#include "action.h"
#include "sysfs-attr.h"

#define SYSFS_DAX_DEVICES "/sys/bus/dax/devices"
#define SYSFS_DAX_DRIVERS "/sys/bus/dax/drivers"

enum devdax_result { DEVDAX_DONE, DEVDAX_SKIPPED, DEVDAX_FAILED };

static enum devdax_result disable_one(const char *name, bool dry_run, struct worker_result *r, int *ret_error)
{
        char dev[PATH_MAX / 2], path[PATH_MAX], driver[64];
        struct stat st;
        int k;

        snprintf(dev, sizeof(dev), SYSFS_DAX_DEVICES "/%s", name);
        if (lstat(dev, &st) < 0) {
                if (errno == ENOENT) {
                        worker_detail_item(r, "%s: gone (no longer in sysfs)", name);
                        return DEVDAX_DONE;
                }
                *ret_error = -errno;
                worker_detail_item(r, "%s: failed: %s", name, strerror(errno));
                return DEVDAX_FAILED;
        }

        snprintf(path, sizeof(path), "%s/driver", dev);
        k = sysfs_link_basename(path, driver, sizeof(driver));
        if (k == -ENOENT) {
                worker_detail_item(r, "%s: already disabled", name);
                return DEVDAX_DONE;
        }
        if (k < 0) {
                *ret_error = k;
                worker_detail_item(r, "%s: failed: cannot read its driver: %s", name, strerror(-k));
                return DEVDAX_FAILED;
        }
        if (strcmp(driver, "kmem") == 0) {
                worker_detail_item(r, "%s: skipped: system-ram (kmem), not devdax; offline-memory or reboot", name);
                return DEVDAX_SKIPPED;
        }
        if (strcmp(driver, "device_dax") != 0) {
                worker_detail_item(r, "%s: skipped: bound to %s, not devdax", name, driver);
                return DEVDAX_SKIPPED;
        }
        if (dry_run) {
                worker_detail_item(r, "%s: would disable (dry run)", name);
                return DEVDAX_SKIPPED;
        }

        /* Best effort like daxctl: without a dynamic id there is nothing to remove. */
        snprintf(path, sizeof(path), SYSFS_DAX_DRIVERS "/%s/remove_id", driver);
        (void)sysfs_write(path, name);

        snprintf(path, sizeof(path), SYSFS_DAX_DRIVERS "/%s/unbind", driver);
        k = sysfs_write(path, name);
        if (k < 0) {
                *ret_error = k;
                worker_detail_item(r, "%s: failed: unbind: %s%s", name, strerror(-k),
                                   k == -EBUSY ? " (device in use)" : "");
                return DEVDAX_FAILED;
        }

        /* The write returning is not the proof: the link going away is (the kernel unlinks it before returning). */
        snprintf(path, sizeof(path), "%s/driver", dev);
        if (lstat(path, &st) == 0) {
                *ret_error = -EBUSY;
                worker_detail_item(r, "%s: failed: still bound to %s after unbind (device in use?)", name, driver);
                return DEVDAX_FAILED;
        }
        if (errno != ENOENT) {
                *ret_error = -errno;
                worker_detail_item(r, "%s: failed: cannot confirm the unbind: %s", name, strerror(errno));
                return DEVDAX_FAILED;
        }
        worker_detail_item(r, "%s: disabled", name);
        return DEVDAX_DONE;
}

static void offline_devdax_work(struct action_run *run, pid_t daemon_pid, struct worker_result *r)
{
        size_t n_done = 0, n_failed = 0, n_total = 0;

        for (char **name = run->event->dax_devices; name && *name; name++) {
                int error = 0;

                n_total++;
                switch (disable_one(*name, run->dry_run, r, &error)) {
                case DEVDAX_DONE:
                        n_done++;
                        break;
                case DEVDAX_FAILED:
                        if (n_failed++ == 0)
                                r->error = error;
                        break;
                default:
                        break;
                }
        }

        if (n_total == 0) {
                worker_detail_item(r, "no dax devices below the port");
                r->outcome = ACTION_OUTCOME_SKIPPED;
        } else if (n_failed > 0)
                r->outcome = ACTION_OUTCOME_FAILED;
        else if (n_done > 0)
                r->outcome = ACTION_OUTCOME_SUCCESS;
        else
                r->outcome = ACTION_OUTCOME_SKIPPED;
}

static int offline_devdax_start(struct action_run *run)
{
        return action_worker_start(run, offline_devdax_work);
}

const struct action_ops action_ops_offline_devdax = {
        .type = ACTION_OFFLINE_DEVDAX,
        .start = offline_devdax_start,
        .cancel = action_worker_cancel,
        .free_data = action_worker_free_data,
        .runs_in_dry_run = true,        /* reports what it would disable, writes nothing */
};
