/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "log.h"
#include "manager.h"
#include "metrics-export.h"
#include "metrics.h"

struct metrics_export {
        struct manager *manager;
        sd_event_source *timer;
        struct metrics_counters counters;

        bool dirty;                     /* something changed since the last write */
        uint64_t last_write_usec;       /* CLOCK_MONOTONIC of the last attempt, 0 = none yet */
        uint64_t written_poll_cycles;   /* m->n_poll_cycles at the last write */
        int last_error;                 /* of the last write, so a failing directory is logged once, not every time */
};

static const char *metrics_dir(const struct metrics_export *x)
{
        const struct config *c = x->manager->config;

        return c && c->metrics_dir && *c->metrics_dir ? c->metrics_dir : NULL;
}

static uint64_t now_monotonic(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

/* Point the one timer at the next write that is due: soon after a change, else the periodic refresh. */
static void metrics_export_schedule(struct metrics_export *x)
{
        uint64_t due;

        if (!x->timer)
                return;
        if (!metrics_dir(x)) {
                (void)sd_event_source_set_enabled(x->timer, SD_EVENT_OFF);
                return;
        }
        if (x->last_write_usec == 0)
                due = 0;        /* nothing written yet: at the loop's next turn */
        else if (x->dirty)
                due = x->last_write_usec + METRICS_EXPORT_MIN_GAP_USEC;
        else if (x->manager->poll_timer_usec == 0 && x->manager->poll_timer) {
                /* No periodic poll (interrupts serve every port): no stamp to advance, no refresh until a change. */
                (void)sd_event_source_set_enabled(x->timer, SD_EVENT_OFF);
                return;
        } else
                due = x->last_write_usec + METRICS_EXPORT_REFRESH_USEC;
        (void)sd_event_source_set_time(x->timer, due);
        (void)sd_event_source_set_enabled(x->timer, SD_EVENT_ONESHOT);
}

static void metrics_export_changed(struct metrics_export *x)
{
        if (x->dirty)
                return;         /* already due soon */
        x->dirty = true;
        metrics_export_schedule(x);
}

static int metrics_export_write(struct metrics_export *x, const char *dir)
{
        struct manager *m = x->manager;
        _cleanup_free_ struct metrics_port *ports = calloc(m->n_ports ? m->n_ports : 1, sizeof(*ports));
        struct metrics_snapshot s = {
                .version = CXL_ISOLD_VERSION,
                .last_poll_realtime_usec = m->last_poll_realtime_usec,
                .n_ports = m->n_ports,
                .ports = ports,
                .n_events = x->counters.n_events,
                .events = x->counters.events,
                .n_action_results = x->counters.n_action_results,
                .action_results = x->counters.action_results,
        };

        if (!ports)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_ports; i++) {
                const struct port *p = m->ports[i];

                ports[i] = (struct metrics_port) {
                        .port = p->rp.bdf,
                        .isolated = p->state == PORT_STATE_ISOLATED || p->state == PORT_STATE_ACKNOWLEDGED,
                        .watchable = port_is_watchable(p),
                        .armed = p->armed,
                };
        }
        return metrics_write(dir, &s);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct metrics_export *x = userdata;
        const char *dir = metrics_dir(x);
        int k;

        if (!dir)
                return 0;       /* metrics-dir went away with a reload: stay off */
        /* A refresh with no poll since the last write would say nothing new; a stale stamp is the signal. */
        if (!x->dirty && x->last_write_usec != 0 && x->written_poll_cycles == x->manager->n_poll_cycles) {
                x->last_write_usec = now_monotonic();
                metrics_export_schedule(x);
                return 0;
        }

        x->written_poll_cycles = x->manager->n_poll_cycles;
        k = metrics_export_write(x, dir);
        if (k < 0 && k != x->last_error)
                log_warning_errno(k, "Cannot write metrics to %s/%s, will retry: %m", dir, METRICS_FILE_NAME);
        else if (k >= 0 && x->last_error < 0)
                log_info("Metrics written to %s/%s again", dir, METRICS_FILE_NAME);
        x->last_error = k < 0 ? k : 0;
        /* A failed write is retried at the refresh interval, not at once: the directory will not heal in 250 ms. */
        x->dirty = false;
        x->last_write_usec = now_monotonic();
        metrics_export_schedule(x);
        return 0;
}

static void on_port_changed(struct manager *m, struct port *p, void *userdata)
{
        metrics_export_changed(userdata);
}

static void on_polling_changed(struct manager *m, void *userdata)
{
        metrics_export_schedule(userdata);
}

static void count_action(struct metrics_export *x, const struct isolation_event *e, size_t index)
{
        const struct planned_action *a = e->plan + index;
        int k;

        k = metrics_counters_add_action_result(&x->counters, a->policy, action_type_to_string(a->type) ?: "unknown",
                                               action_outcome_to_string(a->result.outcome) ?: "unknown");
        if (k < 0)
                log_debug_errno(k, "Action result of event %s not counted in the metrics: %m", e->id);
}

static void on_event_detected(struct manager *m, struct port *p, struct isolation_event *e, void *userdata)
{
        struct metrics_export *x = userdata;
        int k;

        /* A drill is a self-test, not an isolation the hardware reported: alerts must not fire on it. */
        if (!e->drill) {
                k = metrics_counters_add_event(&x->counters, e->port,
                                               cxl_isolation_kind_to_string(e->kind) ?: "none");
                if (k < 0)
                        log_debug_errno(k, "Event %s not counted in the metrics: %m", e->id);
        }
        /* Throttled steps are final at detection and never reach action_finished. */
        for (size_t i = 0; i < e->n_plan; i++)
                if (e->plan[i].result.outcome == ACTION_OUTCOME_SKIPPED)
                        count_action(x, e, i);
        metrics_export_changed(x);
}

static void on_action_finished(struct manager *m, struct isolation_event *e, size_t index, void *userdata)
{
        count_action(userdata, e, index);
        metrics_export_changed(userdata);
}

static void on_config_reloaded(struct manager *m, void *userdata)
{
        struct metrics_export *x = userdata;

        /* metrics-dir may have been set, changed or removed: write now (or stop). */
        x->dirty = true;
        x->last_write_usec = 0;
        metrics_export_schedule(x);
}

int metrics_export_new(struct manager *m, struct metrics_export **ret)
{
        struct metrics_export *x = calloc(1, sizeof(*x));
        struct manager_observer o = {
                .port_changed = on_port_changed,
                .event_detected = on_event_detected,
                .action_finished = on_action_finished,
                .config_reloaded = on_config_reloaded,
                .polling_changed = on_polling_changed,
        };
        int k;

        if (!x)
                return -ENOMEM;
        x->manager = m;
        /* Time 0: the first write happens at the loop's first turn, after startup loaded the config. */
        k = sd_event_add_time(m->event, &x->timer, CLOCK_MONOTONIC, 0, METRICS_EXPORT_ACCURACY_USEC, on_timer, x);
        if (k >= 0) {
                (void)sd_event_source_set_description(x->timer, "metrics");
                o.userdata = x;
                k = manager_add_observer(m, &o);
        }
        if (k < 0) {
                metrics_export_free(x);
                return k;
        }
        *ret = x;
        return 0;
}

struct metrics_export *metrics_export_free(struct metrics_export *x)
{
        if (!x)
                return NULL;
        sd_event_source_disable_unref(x->timer);
        metrics_counters_done(&x->counters);
        free(x);
        return NULL;
}
