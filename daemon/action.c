/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The action core: looks actions up in the table, arms their timeout, and
 * turns every way an action can end (finished, failed to start, timed out,
 * not built in, skipped by dry run) into exactly one done callback delivered
 * from the event loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "action.h"
#include "cleanup.h"
#include "log.h"
#include "manager.h"
#include "message-ids.h"

/*
 * The one table. Actions built as separate files are referenced weakly: an
 * absent one is NULL here and reported, not a link error.
 */
extern const struct action_ops action_ops_offline_devdax __attribute__((weak));
extern const struct action_ops action_ops_offline_memory __attribute__((weak));
extern const struct action_ops action_ops_fence __attribute__((weak));
extern const struct action_ops action_ops_evidence __attribute__((weak));
extern const struct action_ops action_ops_reset __attribute__((weak));
extern const struct action_ops action_ops_reboot __attribute__((weak));

const struct action_ops *action_ops_lookup(enum action_type t)
{
        switch (t) {
        case ACTION_LOG:            return &action_ops_log;
        case ACTION_EXEC:           return &action_ops_exec;
        case ACTION_OFFLINE_DEVDAX: return &action_ops_offline_devdax;
        case ACTION_OFFLINE_MEMORY: return &action_ops_offline_memory;
        case ACTION_FENCE:          return &action_ops_fence;
        case ACTION_EVIDENCE:       return &action_ops_evidence;
        case ACTION_RESET:          return &action_ops_reset;
        case ACTION_REBOOT:         return &action_ops_reboot;
        default:                    return NULL;
        }
}

uint64_t action_timeout_for(const struct config_policy *p, enum action_type t)
{
        if (!p)
                return ACTION_TIMEOUT_DEFAULT_USEC;
        if (t >= 0 && t < _ACTION_TYPE_MAX && p->action_timeout[t] > 0)
                return p->action_timeout[t];
        if (p->timeout > 0)
                return p->timeout;
        return ACTION_TIMEOUT_DEFAULT_USEC;
}

static uint64_t now_realtime_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

static const char *run_action_name(const struct action_run *run)
{
        return action_type_to_string(run->type) ?: "unknown";
}

int action_run_log(struct action_run *run, int level, const char *message_id, const char *format, ...)
{
        _cleanup_free_ char *message = NULL, *f_id = NULL, *f_port = NULL, *f_hb = NULL, *f_policy = NULL,
                           *f_action = NULL, *f_drill = NULL;
        va_list ap;
        int k;

        va_start(ap, format);
        k = vasprintf(&message, format, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        if (asprintf(&f_id, "CXL_ISOLD_EVENT_ID=%s", run->event->id) < 0 ||
            asprintf(&f_port, "CXL_ISOLD_PORT=%s", run->event->port) < 0 ||
            asprintf(&f_hb, "CXL_ISOLD_HOST_BRIDGE=%s", run->event->host_bridge) < 0 ||
            asprintf(&f_policy, "CXL_ISOLD_POLICY=%s", run->event->plan[run->index].policy) < 0 ||
            asprintf(&f_action, "CXL_ISOLD_ACTION=%s", run_action_name(run)) < 0 ||
            (run->event->drill && !(f_drill = strdup("CXL_ISOLD_DRILL=1"))))
                return -ENOMEM;
        /* A drill's action lines say so too, so nobody filtering by action mistakes one for an isolation. */
        const char *fields[] = { f_id, f_port, f_hb, f_policy, f_action, f_drill };
        (void)log_struct_fields(level, 0, message_id, fields, ELEMENTSOF(fields), "%s%s: %s %s: %s",
                                run->event->drill ? "Drill: " : "", run->event->port,
                                run->event->plan[run->index].policy, run_action_name(run), message);
        return 0;
}

static int on_done_deferred(sd_event_source *s, void *userdata)
{
        struct action_run *run = userdata;

        /* The callback owns the run from here (it usually frees it). */
        run->done(run, run->userdata);
        return 0;
}

static int deliver_done(struct action_run *run)
{
        /* Never call back from inside start(): the caller may not even have the run pointer yet. */
        return sd_event_add_defer(run->manager->event, &run->done_source, on_done_deferred, run);
}

void action_run_set_exit(struct action_run *run, int exit_status, int signal)
{
        run->result.exit_status = exit_status;
        run->result.signal = signal;
}

void action_run_finish(struct action_run *run, enum action_outcome outcome, int error, const char *detail_format, ...)
{
        if (run->finished)
                return;
        run->finished = true;
        run->timeout_source = sd_event_source_disable_unref(run->timeout_source);

        run->result.outcome = run->timed_out ? ACTION_OUTCOME_TIMED_OUT : outcome;
        run->result.error = run->timed_out && error == 0 ? -ETIMEDOUT : -abs(error);
        run->result.finished_usec = now_realtime_usec();
        free(run->result.detail);
        run->result.detail = NULL;
        if (detail_format) {
                va_list ap;
                va_start(ap, detail_format);
                if (vasprintf(&run->result.detail, detail_format, ap) < 0)
                        run->result.detail = NULL;
                va_end(ap);
        }

        if (deliver_done(run) < 0)
                /* Without a defer source the loop is beyond saving; call back directly rather than hang the queue. */
                run->done(run, run->userdata);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct action_run *run = userdata;

        run->timeout_source = sd_event_source_disable_unref(run->timeout_source);
        if (run->finished)
                return 0;
        run->timed_out = true;
        action_run_log(run, LOG_WARNING, NULL, "timed out after %llu ms, stopping it",
                       (unsigned long long)(run->timeout_usec / 1000));
        if (run->ops && run->ops->cancel && !run->cancelled) {
                run->cancelled = true;
                run->ops->cancel(run);
        } else
                action_run_finish(run, ACTION_OUTCOME_TIMED_OUT, -ETIMEDOUT, "timed out");
        return 0;
}

int action_run_start(struct manager *m, struct isolation_event *e, size_t index, const struct config_policy *policy,
                     bool dry_run, action_done_t done, void *userdata, struct action_run **ret)
{
        struct action_run *run;
        int k;

        if (index >= e->n_plan)
                return -EINVAL;
        run = calloc(1, sizeof(*run));
        if (!run)
                return -ENOMEM;
        *run = (struct action_run) {
                .manager = m,
                .event = e,
                .index = index,
                .policy = policy,
                .type = e->plan[index].type,
                .ops = action_ops_lookup(e->plan[index].type),
                .dry_run = dry_run,
                .timeout_usec = action_timeout_for(policy, e->plan[index].type),
                .done = done,
                .userdata = userdata,
                .result = { .outcome = ACTION_OUTCOME_PENDING, .exit_status = -1,
                            .started_usec = now_realtime_usec() },
        };
        *ret = run;

        if (!run->ops) {
                action_run_finish(run, ACTION_OUTCOME_SKIPPED, -EOPNOTSUPP, "action '%s' is not available in this build",
                                  run_action_name(run));
                return 0;
        }
        if (dry_run && !run->ops->runs_in_dry_run) {
                action_run_finish(run, ACTION_OUTCOME_SKIPPED, 0, "dry run: not started");
                return 0;
        }

        k = sd_event_add_time_relative(m->event, &run->timeout_source, CLOCK_MONOTONIC, run->timeout_usec, 0,
                                       on_timeout, run);
        if (k < 0) {
                action_run_finish(run, ACTION_OUTCOME_FAILED, k, "cannot arm the action timeout");
                return 0;
        }
        (void)sd_event_source_set_description(run->timeout_source, "action-timeout");

        action_run_log(run, LOG_INFO, MESSAGE_ID_ACTION_STARTED, "started (timeout %llu ms)",
                       (unsigned long long)(run->timeout_usec / 1000));
        k = run->ops->start(run);
        if (k < 0)
                action_run_finish(run, ACTION_OUTCOME_FAILED, k, "could not start: %s", strerror(-k));
        return 0;
}

void action_run_cancel(struct action_run *run)
{
        if (run->finished || run->cancelled)
                return;
        run->cancelled = true;
        if (run->ops && run->ops->cancel)
                run->ops->cancel(run);
        else
                action_run_finish(run, ACTION_OUTCOME_FAILED, -ECANCELED, "cancelled: daemon stopping");
}

struct action_run *action_run_free(struct action_run *run)
{
        if (!run)
                return NULL;
        run->timeout_source = sd_event_source_disable_unref(run->timeout_source);
        run->done_source = sd_event_source_disable_unref(run->done_source);
        if (run->ops && run->ops->free_data)
                run->ops->free_data(run);
        action_result_done(&run->result);
        free(run);
        return NULL;
}
