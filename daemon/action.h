/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The action interface. An action is started for one step of an event's plan
 * and finishes asynchronously; it must never block the event loop. The core
 * (action.c) arms the per-action timeout, records when it started and
 * finished, and calls the done callback exactly once.
 *
 * Adding an action: write daemon/action-<name>.c defining
 *     const struct action_ops action_ops_<name> = { .type = ACTION_..., .start = ..., };
 * (name as in config, '-' -> '_': action_ops_offline_devdax, action_ops_reboot, ...)
 * and list the file in the actions block of daemon/meson.build. The table in
 * action.c refers to each one weakly, so an action that is not built in is
 * reported as "not available" (outcome skipped) instead of breaking the build.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "isolation-event.h"

struct manager;
struct action_run;

struct action_ops {
        enum action_type type;
        /*
         * Begin the work. Return < 0 if it could not start: the core finishes
         * the run as failed with that error. Otherwise the action calls
         * action_run_finish() once, later or from within start() itself.
         */
        int (*start)(struct action_run *run);
        /*
         * The timeout fired or the daemon is stopping: stop now. The action
         * still calls action_run_finish() (for example once its process is
         * reaped). NULL: the core finishes the run at once.
         */
        void (*cancel)(struct action_run *run);
        /* Release run->data. Called once, after finish. May be NULL. */
        void (*free_data)(struct action_run *run);
        /* Under --dry-run: true = still started (it must honour run->dry_run itself), false = skipped. */
        bool runs_in_dry_run;
};

typedef void (*action_done_t)(struct action_run *run, void *userdata);

struct action_run {
        struct manager *manager;
        struct isolation_event *event;
        size_t index;                           /* step in event->plan */
        const struct config_policy *policy;     /* NULL when the policy is no longer configured */
        const struct action_ops *ops;
        enum action_type type;
        bool dry_run;
        uint64_t timeout_usec;
        sd_event_source *timeout_source;
        sd_event_source *done_source;           /* delivers done from the loop */
        bool cancelled, timed_out, finished;
        struct action_result result;            /* outcome filled by action_run_finish() */
        void *data;                             /* the action's own state */
        action_done_t done;
        void *userdata;
};

/* NULL when the action is not built into this binary. */
const struct action_ops *action_ops_lookup(enum action_type t);

/* Per-action timeout from the policy: <action>-timeout=, else timeout=, else the built-in default. */
uint64_t action_timeout_for(const struct config_policy *p, enum action_type t);
#define ACTION_TIMEOUT_DEFAULT_USEC (60ULL * 1000000ULL)

/*
 * Start step `index` of e's plan. The done callback runs exactly once (also
 * when start fails, from a deferred event source, never from inside this call).
 */
int action_run_start(struct manager *m, struct isolation_event *e, size_t index,
                     const struct config_policy *policy, bool dry_run,
                     action_done_t done, void *userdata, struct action_run **ret);
/* Called by the action. outcome is replaced by TIMED_OUT when the timeout fired first. */
void action_run_finish(struct action_run *run, enum action_outcome outcome, int error,
                       const char *detail_format, ...) __attribute__((format(printf, 4, 5)));
void action_run_set_exit(struct action_run *run, int exit_status, int signal);
/* Daemon shutdown: ask the action to stop (ops->cancel). */
void action_run_cancel(struct action_run *run);
struct action_run *action_run_free(struct action_run *run);

/* Journal fields common to every action message: event id, port, policy, action. */
int action_run_log(struct action_run *run, int level, const char *message_id, const char *format, ...)
        __attribute__((format(printf, 4, 5)));

extern const struct action_ops action_ops_log;
extern const struct action_ops action_ops_exec;
