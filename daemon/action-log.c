/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action "log": one alert-level journal entry carrying the whole event, for
 * operators whose alerting watches the journal. The detection itself is
 * always logged by the manager; this action is the policy's explicit alarm.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "action.h"
#include "cleanup.h"
#include "log.h"

static int log_action_start(struct action_run *run)
{
        const struct isolation_event *e = run->event;
        _cleanup_free_ char *dax = isolation_event_dax_list(e);

        action_run_log(run, LOG_ALERT, NULL,
                       "CXL.mem isolation %s on %s (host bridge %s): status 0x%08" PRIx32 ", dax devices: %s%s",
                       cxl_isolation_kind_to_string(e->kind) ?: "none", e->port, e->host_bridge, e->status,
                       dax && *dax ? dax : "none", e->drill ? " (drill)" : "");
        action_run_finish(run, ACTION_OUTCOME_SUCCESS, 0, NULL);
        return 0;
}

const struct action_ops action_ops_log = {
        .type = ACTION_LOG,
        .start = log_action_start,
        .runs_in_dry_run = true,        /* logging changes nothing */
};
