/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Run an action's work in a forked child. Offlining memory migrates pages
 * (seconds to minutes), a function reset waits for the device, fsync waits
 * for the disk, and reading an isolated device's registers or a process's
 * maps can stall or raise SIGBUS: none of that may stop the event loop or
 * kill the daemon. The child writes its per-item results to a pipe and exits;
 * the parent watches it through a pidfd and finishes the run from what it
 * got. A cancel (timeout, shutdown) kills the child: sysfs writes such as
 * memoryN/state check for fatal signals and return.
 */
#pragma once

#include <stdio.h>
#include <sys/types.h>

#include "action.h"
#include "isolation-event.h"

struct worker_result {
        enum action_outcome outcome;
        int error;              /* negative errno of the first failure, 0 if none */
        FILE *detail;           /* write the one-line-per-run detail here ("dax0.0: disabled; ...") */
};

/*
 * Runs in the child. daemon_pid is the daemon's own pid (the child's parent).
 * Fill r->outcome/error and write the detail; the return value is ignored.
 */
typedef void (*action_worker_fn)(struct action_run *run, pid_t daemon_pid, struct worker_result *r);

/* Fork and run fn; the run finishes when the child exits. Takes run->data. */
int action_worker_start(struct action_run *run, action_worker_fn fn);
void action_worker_cancel(struct action_run *run);
void action_worker_free_data(struct action_run *run);

/* Append "; " between items of a detail line. */
void worker_detail_item(struct worker_result *r, const char *format, ...) __attribute__((format(printf, 2, 3)));
