/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manager runs the one-way flow: poll -> transition -> event -> record
 * (durable first) -> journal -> policies -> queued actions. Everything runs
 * on one sd-event loop; nothing here blocks on an action.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-id128.h>

#include "cleanup.h"
#include "cxl-regs.h"
#include "log.h"
#include "manager.h"
#include "message-ids.h"
#include "poll-schedule.h"
#include "strv.h"
#include "topology.h"

/*
 * Event sources besides the poll timer and the arming gate (source.c,
 * arming.c) are optional parts of the binary: referenced weakly, started when
 * built in. The core works (polls, detects, acts) without them.
 */
extern int sources_start(struct manager *m) __attribute__((weak));
extern void sources_free(struct manager *m) __attribute__((weak));
extern bool sources_serve_interrupt(struct manager *m, const struct port *p) __attribute__((weak));

#define DISCOVERY_EXTEND_TIMEOUT_USEC (60ULL * 1000000ULL)
#define POLICIES_MAX 64

DEFINE_TRIVIAL_CLEANUP_FUNC(struct isolation_event *, isolation_event_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct topology_snapshot *, topology_snapshot_free);

static uint64_t now_usec(clockid_t clock)
{
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

/* --- observers --- */

int manager_add_observer(struct manager *m, const struct manager_observer *o)
{
        if (m->n_observers >= MANAGER_OBSERVERS_MAX)
                return -ENOSPC;
        m->observers[m->n_observers++] = *o;
        return 0;
}

void manager_port_changed(struct manager *m, struct port *p)
{
        for (size_t i = 0; i < m->n_observers; i++)
                if (m->observers[i].port_changed)
                        m->observers[i].port_changed(m, p, m->observers[i].userdata);
        /* A port that became (un)watchable, or a new one, may change whether interrupts serve every port. */
        manager_reschedule_poll(m);
        manager_notify_status(m);
}

static void notify_event_detected(struct manager *m, struct port *p, struct isolation_event *e)
{
        for (size_t i = 0; i < m->n_observers; i++)
                if (m->observers[i].event_detected)
                        m->observers[i].event_detected(m, p, e, m->observers[i].userdata);
}

static void notify_action_finished(struct manager *m, struct isolation_event *e, size_t index)
{
        for (size_t i = 0; i < m->n_observers; i++)
                if (m->observers[i].action_finished)
                        m->observers[i].action_finished(m, e, index, m->observers[i].userdata);
}

static void notify_config_reloaded(struct manager *m)
{
        for (size_t i = 0; i < m->n_observers; i++)
                if (m->observers[i].config_reloaded)
                        m->observers[i].config_reloaded(m, m->observers[i].userdata);
}

/* --- status --- */

size_t manager_queue_depth(const struct manager *m)
{
        return action_queue_depth(&m->queue);
}

char *manager_status_line(const struct manager *m)
{
        size_t watchable = 0, isolated = 0;
        char d[CONFIG_DURATION_STRING_MAX], poll[CONFIG_DURATION_STRING_MAX + 32];
        char *s;
        int k;

        for (size_t i = 0; i < m->n_ports; i++) {
                if (port_is_watchable(m->ports[i]))
                        watchable++;
                if (m->ports[i]->state == PORT_STATE_ISOLATED || m->ports[i]->state == PORT_STATE_ACKNOWLEDGED)
                        isolated++;
        }
        if (!m->poll_by_interrupts)
                (void)snprintf(poll, sizeof(poll), "poll %s", config_format_duration(m->poll_interval_usec, d));
        else if (m->poll_timer_usec == 0)
                (void)snprintf(poll, sizeof(poll), "interrupts, no poll");
        else
                (void)snprintf(poll, sizeof(poll), "interrupts, poll %s backstop",
                               config_format_duration(m->poll_timer_usec, d));

        if (m->n_ports == 0)
                k = asprintf(&s, "No CXL root ports found, nothing to watch; queue %zu%s%s",
                             manager_queue_depth(m), m->last_reload_error ? "; " : "",
                             m->last_reload_error ?: "");
        else
                k = asprintf(&s, "Watching %zu of %zu CXL root ports (%zu isolated), %s, queue %zu%s%s%s",
                             watchable, m->n_ports, isolated, poll, manager_queue_depth(m),
                             watchable == 0 ? "; no port is watchable, see the journal" : "",
                             m->last_reload_error ? "; " : "", m->last_reload_error ?: "");
        return k < 0 ? NULL : s;
}

void manager_notify_status(struct manager *m)
{
        _cleanup_free_ char *line = manager_status_line(m);

        if (line)
                (void)sd_notifyf(false, "STATUS=%s", line);
}

/* --- lookups --- */

struct port *manager_find_port(struct manager *m, const char *bdf)
{
        for (size_t i = 0; i < m->n_ports; i++)
                if (strcmp(m->ports[i]->rp.bdf, bdf) == 0)
                        return m->ports[i];
        return NULL;
}

struct isolation_event *manager_find_event(struct manager *m, const char *id)
{
        for (size_t i = 0; i < m->n_events; i++)
                if (strcmp(m->events[i]->id, id) == 0)
                        return m->events[i];
        return NULL;
}

static const struct config_policy *policy_by_name(const struct config *c, const char *name)
{
        for (size_t i = 0; c && i < c->n_policies; i++)
                if (strcmp(c->policies[i].name, name) == 0)
                        return &c->policies[i];
        return NULL;
}

/*
 * Events kept in memory: every one something still refers to, plus the newest finished ones up to
 * MANAGER_EVENTS_KEPT (for Acknowledge and D-Bus). The record keeps all of them; memory must not grow
 * with a link that keeps flapping for days.
 */

static bool manager_event_in_use(const struct manager *m, const struct isolation_event *e)
{
        if (isolation_event_next_step(e) < e->n_plan)
                return true;
        for (size_t i = 0; i < m->n_ports; i++)
                if (m->ports[i]->current_event == e)
                        return true;
        for (const struct action_job *j = m->queue.head; j; j = j->next)
                if (j->data == e)
                        return true;
        for (size_t i = 0; i < m->n_runs; i++)
                if (m->runs[i]->event == e)
                        return true;
        return false;
}

void manager_prune_events(struct manager *m)
{
        size_t excess, kept = 0;

        if (m->n_events <= MANAGER_EVENTS_KEPT)
                return;
        excess = m->n_events - MANAGER_EVENTS_KEPT;
        for (size_t i = 0; i < m->n_events; i++) {
                struct isolation_event *e = m->events[i];

                if (excess > 0 && i + 1 < m->n_events && !manager_event_in_use(m, e)) {
                        isolation_event_free(e);
                        excess--;
                        continue;
                }
                m->events[kept++] = e;
        }
        m->n_events = kept;
}

static int manager_own_event(struct manager *m, struct isolation_event *e)
{
        struct isolation_event **l = realloc(m->events, sizeof(*l) * (m->n_events + 1));

        if (!l)
                return -ENOMEM;
        m->events = l;
        m->events[m->n_events++] = e;
        manager_prune_events(m);
        return 0;
}

/* --- record --- */

static void record_failed(struct manager *m, const struct isolation_event *e, int error, const char *what)
{
        _cleanup_free_ char *f_id = NULL, *f_port = NULL;

        m->n_record_failures++;
        if (asprintf(&f_id, "CXL_ISOLD_EVENT_ID=%s", e->id) < 0)
                f_id = NULL;
        if (asprintf(&f_port, "CXL_ISOLD_PORT=%s", e->port) < 0)
                f_port = NULL;
        const char *fields[] = { f_id, f_port };
        /* The event itself is not lost: it is in this message, and the policy still runs. */
        log_struct_fields(LOG_ERR, error, MESSAGE_ID_RECORD_WRITE_FAILED, fields, ELEMENTSOF(fields),
                          "Cannot write %s of event %s on %s to %s/%s: %s; continuing with the policy",
                          what, e->id, e->port, m->state_dir, RECORD_FILE_NAME, strerror(abs(error)));
        log_kmsg(LOG_ERR, "cannot record %s of CXL isolation event %s on %s: %s", what, e->id, e->port,
                 strerror(abs(error)));
}

/* The record, opened again if it could not be at start (say, the state directory's file system came back rw). */
static struct record *manager_record(struct manager *m)
{
        if (!m->record && record_open(m->state_dir, &m->record) >= 0)
                log_notice("Event record %s/%s is writable again", m->state_dir, RECORD_FILE_NAME);
        /* Here, not at start: a reload may have changed record-max-size=. */
        if (m->record && m->config)
                record_set_rotate_size(m->record, m->config->record_max_size);
        return m->record;
}

static int manager_record_event(struct manager *m, const struct isolation_event *e)
{
        int k = manager_record(m) ? record_append_event(m->record, e) : -EROFS;

        if (k < 0) {
                record_failed(m, e, k, "the event");
                return k;
        }
        k = record_take_rotate_error(m->record);
        if (k < 0)
                /* The event is recorded; only the file grows past record-max-size= until a rotation works. */
                log_warning_errno(k, "Cannot rotate %s/%s to %s (record-max-size=): %m; it keeps growing, "
                                  "retried at the next event", m->state_dir, RECORD_FILE_NAME, RECORD_PREVIOUS_FILE_NAME);
        return 0;
}

static void manager_record_action(struct manager *m, const struct isolation_event *e, size_t index)
{
        int k = manager_record(m) ? record_append_action(m->record, e, index) : -EROFS;

        if (k < 0)
                record_failed(m, e, k, "an action result");
}

/* --- actions and the queue --- */

static void manager_dispatch_queue(struct manager *m);

static void manager_forget_run(struct manager *m, struct action_run *run)
{
        for (size_t i = 0; i < m->n_runs; i++)
                if (m->runs[i] == run) {
                        m->runs[i] = m->runs[--m->n_runs];
                        break;
                }
        /* Old configs were kept only for runs that point into them. */
        if (m->n_runs == 0) {
                for (size_t i = 0; i < m->n_retired_configs; i++)
                        config_free(m->retired_configs[i]);
                free(m->retired_configs);
                m->retired_configs = NULL;
                m->n_retired_configs = 0;
        }
}

static void on_action_done(struct action_run *run, void *userdata);

/* Start the job's next step, or finish the job. Returns true if a step is now running. */
static bool manager_advance_job(struct manager *m, struct action_job *job)
{
        struct isolation_event *e = job->data;

        for (;;) {
                struct action_run *run, **l;
                size_t i = isolation_event_next_step(e);
                int k;

                if (i >= e->n_plan) {
                        action_queue_remove(&m->queue, job);
                        manager_notify_status(m);
                        return false;
                }
                l = realloc(m->runs, sizeof(*l) * (m->n_runs + 1));
                if (!l) {
                        log_oom();
                        return false;
                }
                m->runs = l;
                k = action_run_start(m, e, i, policy_by_name(m->config, e->plan[i].policy), m->dry_run,
                                     on_action_done, job, &run);
                if (k < 0) {
                        /* Could not even allocate: mark the step failed so the plan moves on. */
                        e->plan[i].result.outcome = ACTION_OUTCOME_FAILED;
                        e->plan[i].result.error = k;
                        manager_record_action(m, e, i);
                        continue;
                }
                m->runs[m->n_runs++] = run;
                return true;
        }
}

static void on_action_done(struct action_run *run, void *userdata)
{
        struct manager *m = run->manager;
        struct action_job *job = userdata;
        struct isolation_event *e = run->event;
        struct action_result *r = &e->plan[run->index].result;
        size_t index = run->index;

        if (m->stopping) {
                /* Cut short by shutdown: left pending, so the next start resumes it. */
                manager_forget_run(m, run);
                action_run_free(run);
                return;
        }

        action_result_done(r);
        *r = run->result;
        run->result.detail = NULL;      /* moved */

        manager_record_action(m, e, index);

        switch (r->outcome) {
        case ACTION_OUTCOME_SUCCESS:
                action_run_log(run, LOG_INFO, MESSAGE_ID_ACTION_FINISHED, "finished: %s", r->detail ?: "ok");
                break;
        case ACTION_OUTCOME_TIMED_OUT:
                action_run_log(run, LOG_ERR, MESSAGE_ID_ACTION_TIMED_OUT, "timed out after %llu ms: %s",
                               (unsigned long long)(run->timeout_usec / 1000), r->detail ?: "stopped");
                break;
        case ACTION_OUTCOME_SKIPPED:
                action_run_log(run, LOG_NOTICE, MESSAGE_ID_ACTION_FINISHED, "skipped: %s", r->detail ?: "");
                break;
        default:
                action_run_log(run, LOG_ERR, MESSAGE_ID_ACTION_FAILED, "failed: %s", r->detail ?: strerror(-r->error));
                break;
        }

        manager_forget_run(m, run);
        action_run_free(run);
        notify_action_finished(m, e, index);

        (void)manager_advance_job(m, job);
        manager_dispatch_queue(m);
}

static void manager_dispatch_queue(struct manager *m)
{
        struct action_job *job;

        if (m->stopping)
                return;
        while ((job = action_queue_next_runnable(&m->queue)))
                (void)manager_advance_job(m, job);
        manager_notify_status(m);
}

static int manager_enqueue(struct manager *m, struct isolation_event *e)
{
        int k;

        if (isolation_event_next_step(e) >= e->n_plan)
                return 0;
        k = action_queue_push(&m->queue, e->port, e, NULL);
        if (k < 0)
                return log_error_errno(k, "Cannot queue the actions of event %s: %m", e->id);
        if (action_queue_key_busy(&m->queue, e->port))
                log_notice("%s: event %s waits for the previous event's actions on this port (queue %zu)",
                           e->port, e->id, action_queue_depth(&m->queue));
        manager_dispatch_queue(m);
        return 0;
}

/* --- events --- */

/*
 * Add the dax devices below p that e does not list yet, from a fresh topology read. Returns how many
 * were added. Reading walks sysfs and every process's maps, which takes milliseconds.
 */
static int event_add_topology(struct isolation_event *e, struct port *p)
{
        struct port_topology topo = {};
        int k, added = 0;

        k = port_topology_read(p->rp.sysfs_path, &topo);
        if (k < 0)
                return k;
        port_update_dax_cache(p, &topo);
        for (size_t i = 0; i < topo.n_dax; i++) {
                if (strv_contains(e->dax_devices, topo.dax[i].name))
                        continue;
                if (strv_extend(&e->dax_devices, topo.dax[i].name) < 0) {
                        port_topology_done(&topo);
                        return -ENOMEM;
                }
                added++;
        }
        port_topology_done(&topo);
        return added;
}

/*
 * The dax devices for the record: the gate's cached list when there is one (the record must be
 * durable first), otherwise a fresh read. event_complete_topology() then catches up before actions.
 */
static int event_fill_topology(struct isolation_event *e, struct port *p)
{
        if (p->have_dax_cache) {
                for (char **n = p->dax_cache; n && *n; n++)
                        if (strv_extend(&e->dax_devices, *n) < 0)
                                return -ENOMEM;
                return 0;
        }
        return event_add_topology(e, p);
}

/* After the record: a device that appeared since the cached read must not escape the actions. */
static void event_complete_topology(struct isolation_event *e, struct port *p, bool used_cache)
{
        int k;

        if (!used_cache)
                return;
        k = event_add_topology(e, p);
        if (k == -ENOMEM)
                (void)log_oom();
        else if (k < 0)
                log_warning_errno(k, "%s: cannot re-read the dax devices below the port, acting on the %s: %m",
                                  p->rp.bdf, "recorded list");
        else if (k > 0)
                log_notice("%s: event %s: %d dax device(s) appeared after the gate's last look; the actions "
                           "include them (the event record lists the earlier set)", p->rp.bdf, e->id, k);
}

static struct policy_fires *manager_policy_fires(struct manager *m, const char *policy)
{
        struct policy_fires *l;

        for (size_t i = 0; i < m->n_policy_fires; i++)
                if (strcmp(m->policy_fires[i].policy, policy) == 0)
                        return &m->policy_fires[i];
        l = realloc(m->policy_fires, sizeof(*l) * (m->n_policy_fires + 1));
        if (!l)
                return NULL;
        m->policy_fires = l;
        l[m->n_policy_fires] = (struct policy_fires) { .policy = strdup(policy) };
        if (!l[m->n_policy_fires].policy)
                return NULL;
        return &l[m->n_policy_fires++];
}

/* A policy whose actions an event skips: said in the journal once the event itself is recorded and logged. */
struct throttled_policy {
        const struct config_policy *policy;
        enum throttle_verdict verdict;
};

static int event_plan(struct manager *m, struct isolation_event *e, const struct port *p, const char *drill_policy,
                      struct throttled_policy throttled[static POLICIES_MAX], size_t *ret_n_throttled)
{
        const struct config_policy *policies[POLICIES_MAX];
        size_t n, n_throttled = 0;

        /* A drill names its policy (D-Bus Drill): exactly that one, unthrottled, and it fires no cooldown. */
        if (drill_policy) {
                const struct config_policy *c = policy_by_name(m->config, drill_policy);
                if (!c)
                        return -ENOENT;
                for (size_t j = 0; j < c->n_actions; j++) {
                        int k = isolation_event_plan_add(e, c->name, c->actions[j]);
                        if (k < 0)
                                return k;
                }
                *ret_n_throttled = 0;
                return 0;
        }

        n = config_policies_for(m->config, p->rp.bdf, p->rp.host_bridge, p->rp.serial, (int)e->kind, policies,
                                ELEMENTSOF(policies));
        for (size_t i = 0; i < n; i++) {
                const struct config_policy *c = policies[i];
                struct policy_fires *fires = manager_policy_fires(m, c->name);
                enum throttle_verdict v;
                uint64_t wait = 0;

                if (!fires)
                        return -ENOMEM;
                v = policy_throttle_check(fires, e->monotonic_usec, c->cooldown, c->rate_limit_burst,
                                          c->rate_limit_interval, &wait);
                if (v == THROTTLE_ALLOW) {
                        uint64_t keep = c->cooldown > c->rate_limit_interval ? c->cooldown : c->rate_limit_interval;
                        if (policy_fires_add(fires, e->monotonic_usec, keep) < 0)
                                return -ENOMEM;
                }
                for (size_t j = 0; j < c->n_actions; j++) {
                        struct action_result *r;
                        int k = isolation_event_plan_add(e, c->name, c->actions[j]);
                        if (k < 0)
                                return k;
                        if (v == THROTTLE_ALLOW)
                                continue;
                        /* Throttled steps stay in the plan, done as skipped with the reason, so the record tells. */
                        r = &e->plan[e->n_plan - 1].result;
                        r->outcome = ACTION_OUTCOME_SKIPPED;
                        r->started_usec = r->finished_usec = e->realtime_usec;
                        if (asprintf(&r->detail, "policy '%s' %s: may fire again in %llu ms", c->name,
                                     v == THROTTLE_COOLDOWN ? "is cooling down" : "hit its rate limit",
                                     (unsigned long long)(wait / 1000)) < 0)
                                r->detail = NULL;
                }
                if (v != THROTTLE_ALLOW)
                        throttled[n_throttled++] = (struct throttled_policy) { .policy = c, .verdict = v };
        }
        *ret_n_throttled = n_throttled;
        return 0;
}

static void event_log_throttled(const struct isolation_event *e, const struct port *p,
                                const struct throttled_policy *throttled, size_t n)
{
        for (size_t i = 0; i < n; i++)
                log_notice("%s: policy '%s' %s, its %zu action(s) are skipped for event %s", p->rp.bdf,
                           throttled[i].policy->name,
                           throttled[i].verdict == THROTTLE_COOLDOWN ? "is cooling down" : "hit its rate limit",
                           throttled[i].policy->n_actions, e->id);
}

static char *event_policy_names(const struct isolation_event *e)
{
        _cleanup_strv_free_ char **names = calloc(1, sizeof(char *));

        if (!names)
                return NULL;
        for (size_t i = 0; i < e->n_plan; i++)
                if (!strv_contains(names, e->plan[i].policy) && strv_extend(&names, e->plan[i].policy) < 0)
                        return NULL;
        return strv_join(names, " ");
}

static char *event_action_names(const struct isolation_event *e)
{
        _cleanup_strv_free_ char **names = calloc(1, sizeof(char *));

        if (!names)
                return NULL;
        for (size_t i = 0; i < e->n_plan; i++)
                if (strv_extend(&names, action_type_to_string(e->plan[i].type) ?: "unknown") < 0)
                        return NULL;
        return strv_join(names, " ");
}

/* durable_usec: CLOCK_MONOTONIC when the record's fsync returned, 0 when the event could not be recorded. */
static void event_log(struct manager *m, const struct isolation_event *e, uint64_t durable_usec)
{
        _cleanup_strv_free_ char **f = calloc(1, sizeof(char *));
        _cleanup_free_ char *dax = isolation_event_dax_list(e), *policies = event_policy_names(e),
                           *actions = event_action_names(e);
        char status_text[128], ue_names[512], header[16 * 11 + 1] = "";
        const char *kind = cxl_isolation_kind_to_string(e->kind) ?: "none";

        if (!f || !dax || !policies || !actions) {
                log_oom();
                return;
        }
        cxl_ti_status_to_string(e->status, status_text, sizeof(status_text));
        (void)strv_extendf(&f, "CXL_ISOLD_EVENT_ID=%s", e->id);
        (void)strv_extendf(&f, "CXL_ISOLD_PORT=%s", e->port);
        (void)strv_extendf(&f, "CXL_ISOLD_HOST_BRIDGE=%s", e->host_bridge);
        (void)strv_extendf(&f, "CXL_ISOLD_REASON=%s", kind);
        (void)strv_extendf(&f, "CXL_ISOLD_STATUS=0x%08" PRIx32, e->status);
        (void)strv_extendf(&f, "CXL_ISOLD_STATUS_DECODED=%s", status_text);
        (void)strv_extendf(&f, "CXL_ISOLD_CONTROL=0x%08" PRIx32, e->control);
        (void)strv_extendf(&f, "CXL_ISOLD_CAPABILITY=0x%08" PRIx32, e->capability);
        if (e->have_ras) {
                size_t len = 0;
                for (size_t i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++)
                        len += (size_t)snprintf(header + len, sizeof(header) - len, "%s%08" PRIx32, i ? " " : "",
                                                e->ras.header_log[i]);
                (void)strv_extendf(&f, "CXL_ISOLD_RAS_UE_STATUS=0x%08" PRIx32, e->ras.ue_status);
                (void)strv_extendf(&f, "CXL_ISOLD_RAS_UE_STATUS_NAMES=%s",
                                   cxl_ras_ue_status_to_string(e->ras.ue_status, ue_names, sizeof(ue_names)));
                (void)strv_extendf(&f, "CXL_ISOLD_RAS_FIRST_ERROR=0x%08" PRIx32, e->ras.first_error);
                (void)strv_extendf(&f, "CXL_ISOLD_RAS_HEADER_LOG=%s", header);
        }
        (void)strv_extendf(&f, "CXL_ISOLD_DAX_DEVICES=%s", dax);
        (void)strv_extendf(&f, "CXL_ISOLD_POLICY=%s", policies);
        (void)strv_extendf(&f, "CXL_ISOLD_ACTION=%s", actions);
        (void)strv_extendf(&f, "CXL_ISOLD_DRILL=%d", e->drill ? 1 : 0);
        (void)strv_extendf(&f, "CXL_ISOLD_BOOT_ID=%s", e->boot_id);
        (void)strv_extendf(&f, "CXL_ISOLD_TIMESTAMP_USEC=%" PRIu64, e->realtime_usec);
        /*
         * Detection and "record durable" on one clock (the record keeps the first as monotonic_usec): the
         * entry itself says how long making the record durable took, and its absence that it failed.
         */
        (void)strv_extendf(&f, "CXL_ISOLD_DETECTED_MONOTONIC_USEC=%" PRIu64, e->monotonic_usec);
        if (durable_usec > 0)
                (void)strv_extendf(&f, "CXL_ISOLD_DURABLE_MONOTONIC_USEC=%" PRIu64, durable_usec);
        (void)strv_extendf(&f, "CXL_ISOLD_STATE_DIR=%s", m->state_dir);

        log_struct_fields(e->drill ? LOG_NOTICE : LOG_CRIT, 0, MESSAGE_ID_ISOLATION_DETECTED,
                          (const char *const *)f, strv_length(f),
                          "%sCXL.mem isolation on %s (host bridge %s): %s, status %s, dax devices: %s; "
                          "event %s, policies: %s, actions: %s",
                          e->drill ? "Drill: " : "", e->port, e->host_bridge, kind, status_text,
                          *dax ? dax : "none", e->id, *policies ? policies : "none", *actions ? actions : "none");
}

static int handle_isolation(struct manager *m, struct port *p, bool drill, const char *drill_policy,
                            struct isolation_event **ret)
{
        _cleanup_(isolation_event_freep) struct isolation_event *e = isolation_event_new();
        struct isolation_event *owned;
        struct throttled_policy throttled[POLICIES_MAX];
        size_t n_throttled = 0;
        uint64_t durable_usec = 0;
        bool used_dax_cache;
        int k;

        if (!e)
                return log_oom();

        /* Capture first, while the registers still say what happened. */
        e->realtime_usec = now_usec(CLOCK_REALTIME);
        e->monotonic_usec = now_usec(CLOCK_MONOTONIC);
        k = isolation_event_id_generate(e->id);
        if (k < 0)
                return log_error_errno(k, "Cannot generate an event id: %m");
        snprintf(e->port, sizeof(e->port), "%s", p->rp.bdf);
        snprintf(e->host_bridge, sizeof(e->host_bridge), "%s", p->rp.host_bridge);
        snprintf(e->boot_id, sizeof(e->boot_id), "%s", m->boot_id);
        e->drill = drill;

        k = port_snapshot(p, &e->status, &e->control, &e->capability, &e->ras, &e->have_ras);
        if (k < 0 && drill && p->rp.ti_offset == 0)
                /* A drill may run on a port without T&I (cxl-isold --drill): nothing to capture, nothing lost. */
                log_debug("%s: no T&I capability, the drill event records no registers", p->rp.bdf);
        else if (k < 0) {
                /* The poll saw the isolation; keep what it read rather than lose the event. */
                log_warning_errno(k, "%s: cannot read the registers at event time, recording the polled status: %m",
                                  p->rp.bdf);
                e->status = p->status;
                e->control = p->control;
                e->capability = p->rp.ti_cap.raw;
        }
        e->kind = cxl_ti_status_kind(e->status);
        if (drill && e->kind == CXL_ISOLATION_NONE)
                e->kind = CXL_ISOLATION_MEM_LINK_DOWN;

        used_dax_cache = p->have_dax_cache;
        k = event_fill_topology(e, p);
        if (k == -ENOMEM)
                return log_oom();
        if (k < 0)
                log_warning_errno(k, "%s: cannot read the dax devices below the port, recording none: %m", p->rp.bdf);

        k = event_plan(m, e, p, drill_policy, throttled, &n_throttled);
        if (k == -ENOENT)
                return k;       /* the drill's policy does not exist: nothing recorded */
        if (k < 0)
                return log_oom();

        /* Durable before anyone hears of it: the record is what survives a reboot. */
        if (manager_record_event(m, e) >= 0)
                durable_usec = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < e->n_plan; i++)
                if (e->plan[i].result.outcome == ACTION_OUTCOME_SKIPPED)
                        manager_record_action(m, e, i);
        event_log(m, e, durable_usec);

        k = manager_own_event(m, e);
        if (k < 0)
                return log_oom();
        owned = TAKE_PTR(e);

        if (!drill) {
                p->current_event = owned;
                p->state = PORT_STATE_ISOLATED;
                p->n_events++;
        }
        /*
         * Observers (the D-Bus IsolationDetected signal) hear of it as the journal did, before the topology
         * walk below, which takes milliseconds and only matters to the actions.
         */
        notify_event_detected(m, p, owned);
        manager_port_changed(m, p);
        /* Not before the record: the notice names the event, and nobody may hear of it before it is durable. */
        event_log_throttled(owned, p, throttled, n_throttled);
        event_complete_topology(owned, p, used_dax_cache);
        (void)manager_enqueue(m, owned);
        if (ret)
                *ret = owned;
        return 0;
}

int manager_handle_isolation(struct manager *m, struct port *p, bool drill, struct isolation_event **ret)
{
        return handle_isolation(m, p, drill, NULL, ret);
}

int manager_drill(struct manager *m, struct port *p, const char *policy, struct isolation_event **ret)
{
        return handle_isolation(m, p, true, policy, ret);
}

int manager_acknowledge(struct manager *m, const char *event_id, const char *by)
{
        struct isolation_event *e = manager_find_event(m, event_id);
        struct port *p;
        int k;

        if (!e)
                return -ENOENT;
        if (e->acknowledged)
                return -EALREADY;
        k = manager_record(m) ? record_append_ack(m->record, e->id, now_usec(CLOCK_REALTIME), by) : -EROFS;
        if (k < 0)
                return log_error_errno(k, "Cannot record the acknowledgement of event %s: %m", e->id);
        e->acknowledged = true;
        p = manager_find_port(m, e->port);
        if (p && p->current_event == e && port_acknowledge(p) >= 0)
                manager_port_changed(m, p);
        log_notice("%s: event %s acknowledged by %s", e->port, e->id, by ?: "unknown");
        return 0;
}

/* --- polling --- */

static void port_log_watchability(const struct port *p)
{
        _cleanup_free_ char *f_port = NULL, *f_hb = NULL, *f_reason = NULL;

        if (asprintf(&f_port, "CXL_ISOLD_PORT=%s", p->rp.bdf) < 0 ||
            asprintf(&f_hb, "CXL_ISOLD_HOST_BRIDGE=%s", p->rp.host_bridge) < 0 ||
            asprintf(&f_reason, "CXL_ISOLD_REASON=%s", port_reason_to_string(p->rp.reason) ?: "unknown") < 0) {
                log_oom();
                return;
        }
        const char *fields[] = { f_port, f_hb, f_reason };

        if (p->state != PORT_STATE_NOT_WATCHABLE)
                log_struct_fields(LOG_INFO, 0, MESSAGE_ID_PORT_WATCHABLE, fields, ELEMENTSOF(fields),
                                  "%s (host bridge %s): watchable, CXL.mem isolation %s",
                                  p->rp.bdf, p->rp.host_bridge, p->armed ? "enabled" : "not enabled");
        else {
                /* The errno adds to reasons that came from a syscall; for the others it is the reason again. */
                bool show = p->rp.error != 0 && p->rp.error != -ENOENT && p->rp.error != -EBADMSG;
                log_struct_fields(LOG_WARNING, p->rp.error, MESSAGE_ID_PORT_NOT_WATCHABLE, fields, ELEMENTSOF(fields),
                                  "%s (host bridge %s): not watchable: %s (%s)%s%s",
                                  p->rp.bdf, p->rp.host_bridge, port_reason_description(p->rp.reason),
                                  port_reason_hint(p->rp.reason), show ? ": " : "",
                                  show ? strerror(abs(p->rp.error)) : "");
        }
}

static void manager_on_transition(struct manager *m, struct port *p, enum status_transition t)
{
        char text[128];

        switch (t) {
        case STATUS_ISOLATION_RAISED:
                /*
                 * The port went away (all-ones) while isolated and came back still
                 * isolated the same way: the same incident, already handled. A link
                 * that flaps must not run the policy (say, a reboot) twice.
                 */
                if (p->current_event && !p->current_event->drill &&
                    p->current_event->kind == cxl_ti_status_kind(p->status)) {
                        p->state = p->current_event->acknowledged ? PORT_STATE_ACKNOWLEDGED : PORT_STATE_ISOLATED;
                        log_notice("%s: back, still isolated (%s) since event %s", p->rp.bdf,
                                   cxl_isolation_kind_to_string(p->current_event->kind) ?: "none",
                                   p->current_event->id);
                        manager_port_changed(m, p);
                        break;
                }
                (void)manager_handle_isolation(m, p, false, NULL);
                break;
        case STATUS_ISOLATION_CLEARED:
                log_notice("%s: isolation cleared (status %s)%s%s", p->rp.bdf,
                           cxl_ti_status_to_string(p->status, text, sizeof(text)),
                           p->current_event ? ", event " : "", p->current_event ? p->current_event->id : "");
                p->current_event = NULL;
                p->state = PORT_STATE_WATCHING;
                manager_port_changed(m, p);
                break;
        case STATUS_ISOLATION_CHANGED:
                /* Same isolation, more detail (e.g. CXL.cache joined CXL.mem): logged, not a second event. */
                log_notice("%s: isolation status changed to %s%s%s", p->rp.bdf,
                           cxl_ti_status_to_string(p->status, text, sizeof(text)),
                           p->current_event ? ", still event " : "", p->current_event ? p->current_event->id : "");
                break;
        case STATUS_DEVICE_GONE:
                /* current_event is kept: if the port comes back still isolated, that is not a new event. */
                port_log_watchability(p);
                manager_port_changed(m, p);
                break;
        default:
                /* Back (rediscovered) and not isolated: whatever was isolated ended while it was away. */
                if (p->current_event && p->status != REG_ALL_ONES && !status_is_isolated(p->status)) {
                        log_notice("%s: isolation of event %s ended while the port was away", p->rp.bdf,
                                   p->current_event->id);
                        p->current_event = NULL;
                        manager_port_changed(m, p);
                }
                break;
        }
}

int manager_read_port(struct manager *m, struct port *p)
{
        enum status_transition t;
        int k;

        if (!port_is_watchable(p))
                return -ENODEV;
        k = port_poll(p, &t);
        if (k < 0)
                return k;
        manager_on_transition(m, p, t);
        return 0;
}

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct manager *m = userdata;

        for (size_t i = 0; i < m->n_ports; i++) {
                struct port *p = m->ports[i];
                enum status_transition t;
                int k;

                if (!port_is_watchable(p))
                        continue;
                k = port_poll(p, &t);
                if (k < 0) {
                        /* Rate-limited by nature: only the first failure and then every 1000th is logged. */
                        if (p->n_read_errors == 1 || p->n_read_errors % 1000 == 0)
                                log_warning_errno(k, "%s: status read failed (%" PRIu64 " times), retrying: %m",
                                                  p->rp.bdf, p->n_read_errors);
                        continue;
                }
                manager_on_transition(m, p, t);
        }
        m->n_poll_cycles++;
        m->last_poll_realtime_usec = now_usec(CLOCK_REALTIME);
        /* Only a completed cycle proves the watcher works, not merely that the loop turns. */
        if (m->watchdog)
                (void)sd_notify(false, "WATCHDOG=1");

        /* The source stays on (see manager_startup()): moving its time is all a new cycle needs. */
        if (m->poll_timer_usec > 0)
                (void)sd_event_source_set_time_relative(s, m->poll_timer_usec);
        return 0;
}

/*
 * Accuracy 0 would mean sd-event's default slack of 250 ms, which turns a 10 ms poll into
 * "sometime within 260 ms". Allow 1% of the interval (at most 0.5 ms) so detection stays within
 * interval + 1 ms while wake-ups can still coalesce.
 */
static uint64_t poll_accuracy_usec(uint64_t interval_usec)
{
        uint64_t a = interval_usec / 100;

        return a > 500 ? 500 : a == 0 ? 1 : a;
}

void manager_reschedule_poll(struct manager *m)
{
        char d[CONFIG_DURATION_STRING_MAX];
        size_t n_watchable = 0, n_served = 0;
        uint64_t interval;
        bool by_interrupts;

        if (!m->poll_timer || m->poll_stopped)
                return;         /* startup calls again once the timer exists */
        for (size_t i = 0; i < m->n_ports; i++) {
                if (!port_is_watchable(m->ports[i]))
                        continue;
                n_watchable++;
                if (sources_serve_interrupt && sources_serve_interrupt(m, m->ports[i]))
                        n_served++;
        }
        by_interrupts = n_watchable > 0 && n_served >= n_watchable;
        interval = poll_schedule_interval(m->poll_interval_usec, m->poll_backstop_usec, n_watchable, n_served,
                                          m->watchdog_usec);
        if (interval == m->poll_timer_usec && by_interrupts == m->poll_by_interrupts)
                return;

        if (by_interrupts && interval == 0)
                log_info("Every watchable port has a working interrupt source: no periodic poll (poll-backstop=0)");
        else if (by_interrupts)
                log_info("Every watchable port has a working interrupt source: polling every %s as a backstop",
                         config_format_duration(interval, d));
        else if (m->poll_by_interrupts)
                log_notice("%zu of %zu watchable ports have no working interrupt source: polling every %s again",
                           n_watchable - n_served, n_watchable, config_format_duration(interval, d));
        m->poll_by_interrupts = by_interrupts;

        if (interval == 0)
                (void)sd_event_source_set_enabled(m->poll_timer, SD_EVENT_OFF);
        else if (interval != m->poll_timer_usec) {
                /* From now: a shorter interval starts at once rather than after the longer one ran out. */
                (void)sd_event_source_set_time_accuracy(m->poll_timer, poll_accuracy_usec(interval));
                (void)sd_event_source_set_time_relative(m->poll_timer, interval);
                (void)sd_event_source_set_enabled(m->poll_timer, SD_EVENT_ON);
        }
        m->poll_timer_usec = interval;
        for (size_t i = 0; i < m->n_observers; i++)
                if (m->observers[i].polling_changed)
                        m->observers[i].polling_changed(m, m->observers[i].userdata);
        manager_notify_status(m);
}

/* --- startup: discovery, resuming the record --- */

static int manager_discover(struct manager *m)
{
        struct discover_options opts = { .writable = true };
        struct cxl_rootport *found = NULL;
        size_t n = 0;
        int k;

        (void)sd_notifyf(false, "EXTEND_TIMEOUT_USEC=%llu\nSTATUS=Discovering CXL root ports",
                         (unsigned long long)DISCOVERY_EXTEND_TIMEOUT_USEC);
        k = cxl_discover_rootports(&opts, &found, &n);
        if (k < 0)
                return log_error_errno(k, "CXL root port discovery failed: %m");

        m->ports = calloc(n ? n : 1, sizeof(struct port *));
        if (!m->ports) {
                cxl_rootports_free(found, n);
                return log_oom();
        }
        for (size_t i = 0; i < n; i++) {
                struct port *p;

                /* Writable mapping refused (read-only sysfs, no permission)? Watching needs only reads. */
                if (found[i].reason == PORT_MMAP_FAILED &&
                    (found[i].error == -EACCES || found[i].error == -EROFS || found[i].error == -EPERM)) {
                        struct discover_options ro = { .writable = false };
                        struct cxl_rootport again;
                        if (cxl_rootport_rediscover(found[i].bdf, &ro, &again) >= 0) {
                                cxl_rootport_done(&found[i]);
                                found[i] = again;
                                log_notice("%s: register block mapped read-only; clearing and arming unavailable",
                                           found[i].bdf);
                        }
                }
                k = port_new(m, &found[i], &p);
                if (k < 0) {
                        cxl_rootports_free(found, n);
                        return log_oom();
                }
                m->ports[m->n_ports++] = p;
                port_log_watchability(p);
        }
        cxl_rootports_free(found, n);   /* entries were moved out; frees the array */
        return 0;
}

/*
 * Policies that do not fit what sits below a port (reset on a memory port,
 * offline-devdax on an accelerator) are refused by the actions at run time;
 * say so now, when the operator can still fix the configuration. A port with
 * CXL memory devices below it counts as a memory port unless kind= says.
 */
static void manager_check_port_kinds(struct manager *m, const struct config *c)
{
        _cleanup_free_ struct config_port_info *info = calloc(m->n_ports ? m->n_ports : 1, sizeof(*info));
        _cleanup_(topology_snapshot_freep) struct topology_snapshot *snapshot = NULL;
        struct config_diags diags = {};
        bool any_reset = false, snapshot_tried = false;

        /* Only reset needs to know what is below a port; skip the topology walks (sysfs, /proc) otherwise. */
        for (size_t i = 0; i < c->n_policies && !any_reset; i++)
                for (size_t j = 0; j < c->policies[i].n_actions; j++)
                        if (c->policies[i].actions[j] == ACTION_RESET)
                                any_reset = true;

        if (!info) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < m->n_ports; i++) {
                struct port *p = m->ports[i];
                struct port_topology topo = {};

                info[i] = (struct config_port_info) {
                        .bdf = p->rp.bdf, .host_bridge = p->rp.host_bridge, .serial = p->rp.serial,
                        .kind = PORT_KIND_ANY,
                };
                if (!any_reset || !port_is_watchable(p))
                        continue;
                /* One walk of the buses for all ports; unreadable, every port stays "any". */
                if (!snapshot_tried) {
                        snapshot_tried = true;
                        (void)topology_snapshot_read(&snapshot);
                }
                if (snapshot && topology_snapshot_port(snapshot, p->rp.sysfs_path, &topo) >= 0) {
                        if (topo.n_memdevs > 0 || topo.n_dax > 0)
                                info[i].kind = PORT_KIND_MEMORY;
                        port_topology_done(&topo);
                }
        }
        if (config_check_port_kinds(c, info, m->n_ports, &diags) < 0)
                for (size_t i = 0; i < diags.n; i++)
                        log_warning("%s:%u: %s; the action will be refused when it runs", diags.diag[i].file,
                                    diags.diag[i].line, diags.diag[i].message);
        config_diags_done(&diags);
}

static void manager_previous_boot(struct manager *m, const struct record_history *h)
{
        const struct isolation_event *last = h->n_events ? h->events[h->n_events - 1] : NULL;
        _cleanup_free_ char *f_id = NULL, *f_port = NULL, *f_reason = NULL;

        if (!last || last->drill || strcmp(last->boot_id, m->boot_id) == 0)
                return;
        if (asprintf(&f_id, "CXL_ISOLD_EVENT_ID=%s", last->id) < 0 ||
            asprintf(&f_port, "CXL_ISOLD_PORT=%s", last->port) < 0 ||
            asprintf(&f_reason, "CXL_ISOLD_REASON=%s", cxl_isolation_kind_to_string(last->kind) ?: "none") < 0)
                return;
        const char *fields[] = { f_id, f_port, f_reason };
        log_struct_fields(LOG_NOTICE, 0, MESSAGE_ID_PREVIOUS_BOOT_ISOLATED, fields, ELEMENTSOF(fields),
                          "The previous boot (%s) recorded CXL.mem isolation event %s on %s (%s)%s",
                          last->boot_id, last->id, last->port, cxl_isolation_kind_to_string(last->kind) ?: "none",
                          last->acknowledged ? ", acknowledged" : ", not acknowledged");
}

/*
 * First read of each port. An isolation found now is either one the record
 * already holds (the daemon restarted while the port stayed isolated: adopt
 * it, resume its unfinished actions, never handle it twice) or a new one.
 */
static void manager_first_poll(struct manager *m, struct record_history *h)
{
        /*
         * An unfinished event whose port is no longer isolated (cleared while we
         * were down, or the port is gone) is not resumed: its actions were for an
         * isolation that has ended. Say so, once, rather than drop it silently.
         */
        for (size_t i = 0; i < h->n_events; i++) {
                struct isolation_event *e = h->events[i];
                struct port *p;

                if (e->acknowledged || e->drill || isolation_event_next_step(e) >= e->n_plan ||
                    record_history_last_for_port(h, e->port) != e)
                        continue;
                p = manager_find_port(m, e->port);
                if (p && port_is_watchable(p)) {
                        uint32_t status;
                        if (regwin_read32(p->rp.win, p->rp.ti_offset + CXL_TI_STATUS, &status) >= 0 &&
                            status_is_isolated(status) && cxl_ti_status_kind(status) == e->kind)
                                continue;       /* adopted and resumed below */
                }
                log_notice("%s: event %s has %zu unfinished action(s), but the port is %s; not resuming them",
                           e->port, e->id, e->n_plan - isolation_event_next_step(e),
                           p ? "no longer isolated" : "no longer present");
        }

        for (size_t i = 0; i < m->n_ports; i++) {
                struct port *p = m->ports[i];
                struct isolation_event *last;
                enum status_transition t;

                if (!port_is_watchable(p) || port_poll(p, &t) < 0)
                        continue;
                if (t != STATUS_ISOLATION_RAISED) {
                        manager_on_transition(m, p, t);
                        continue;
                }

                last = record_history_last_for_port(h, p->rp.bdf);
                if (!last || last->drill || last->kind != cxl_ti_status_kind(p->status)) {
                        manager_on_transition(m, p, t);
                        continue;
                }

                /* Move the event from the history into the manager. */
                for (size_t j = 0; j < h->n_events; j++)
                        if (h->events[j] == last)
                                h->events[j] = NULL;
                if (manager_own_event(m, last) < 0) {
                        isolation_event_free(last);
                        log_oom();
                        continue;
                }
                p->current_event = last;
                p->state = last->acknowledged ? PORT_STATE_ACKNOWLEDGED : PORT_STATE_ISOLATED;
                /*
                 * Resume only within the boot that recorded the event. After a
                 * reboot, sticky status bits can still show the old isolation;
                 * its actions belonged to the previous boot (re-running a
                 * half-recorded reboot would loop), and the event is not new.
                 */
                bool same_boot = strcmp(last->boot_id, m->boot_id) == 0;
                bool pending = isolation_event_next_step(last) < last->n_plan;
                log_notice("%s: still isolated (%s) since event %s%s; %s", p->rp.bdf,
                           cxl_isolation_kind_to_string(last->kind) ?: "none", last->id,
                           same_boot ? "" : " of a previous boot",
                           last->acknowledged ? "acknowledged, nothing to resume" :
                           !pending ? "its actions are done" :
                           same_boot ? "resuming its unfinished actions" :
                           "its unfinished actions are not resumed after a reboot");
                manager_port_changed(m, p);
                if (!last->acknowledged && same_boot)
                        (void)manager_enqueue(m, last);
        }
}

static int manager_load_config(struct manager *m, struct config **ret)
{
        struct config_diags diags = {};
        struct config *c = NULL;
        int k;

        k = config_load(&m->options.config_paths, &c, &diags);
        for (size_t i = 0; i < diags.n; i++)
                log_full(k < 0 ? LOG_ERR : LOG_WARNING, "%s%s%.0u: %s", diags.diag[i].file,
                         diags.diag[i].line ? ":" : "", diags.diag[i].line, diags.diag[i].message);
        if (k < 0) {
                config_diags_done(&diags);
                return k;
        }
        config_diags_done(&diags);
        *ret = c;
        return 0;
}

static void manager_apply_config(struct manager *m)
{
        m->poll_interval_usec = m->options.poll_interval_usec ?: m->config->poll_interval;
        if (m->poll_interval_usec == 0)
                m->poll_interval_usec = 100 * 1000;
        m->poll_backstop_usec = m->config->poll_backstop == CONFIG_POLL_BACKSTOP_UNSET ? POLL_BACKSTOP_UNSET :
                                                                                      m->config->poll_backstop;
        m->dry_run = m->options.dry_run || m->config->dry_run;
}

int manager_startup(struct manager *m)
{
        struct record_history h = {};
        int k;

        k = manager_load_config(m, &m->config);
        if (k < 0) {
                (void)sd_notifyf(false, "STATUS=Configuration is invalid, see the journal");
                return log_error_errno(k, "Configuration is invalid, not starting: %m");
        }
        manager_apply_config(m);
        m->state_dir = strdup(m->options.state_dir ?: m->config->state_dir ?: "/var/lib/cxl-isold");
        if (!m->state_dir)
                return log_oom();

        k = record_open(m->state_dir, &m->record);
        if (k < 0)
                /* Keep watching: events still reach the journal and actions still run. */
                log_error_errno(k, "Cannot open the event record in %s, events will only be logged: %m", m->state_dir);

        k = record_load(m->state_dir, &h);
        if (k < 0)
                log_error_errno(k, "Cannot read the event record in %s, starting without history: %m", m->state_dir);
        else if (h.n_damaged > 0)
                log_warning("%s/%s: %zu damaged line(s) skipped", m->state_dir, RECORD_FILE_NAME, h.n_damaged);
        if (k >= 0 && h.n_orphaned > 0)
                log_info("%s: %zu result line(s) of events no longer in the record skipped (rotated away, or the "
                         "event's own line could not be written)", m->state_dir, h.n_orphaned);
        manager_previous_boot(m, &h);

        k = manager_discover(m);
        if (k < 0) {
                record_history_done(&h);
                return k;
        }

        manager_first_poll(m, &h);
        record_history_done(&h);
        manager_check_port_kinds(m, m->config);

        if (sources_start) {
                k = sources_start(m);
                if (k < 0)
                        /* Polling alone still detects everything, only later. */
                        log_warning_errno(k, "Cannot start the event sources, relying on polling: %m");
        }

        uint64_t watchdog_usec = 0;
        m->watchdog = sd_watchdog_enabled(false, &watchdog_usec) > 0;
        m->watchdog_usec = m->watchdog ? watchdog_usec : 0;
        /* Pings come only after a poll cycle: a cycle slower than half the watchdog gets us killed. */
        if (m->watchdog && m->poll_interval_usec >= watchdog_usec / 2)
                log_warning("Poll interval %llu ms is not below half of WatchdogSec= (%llu ms): the service manager "
                            "may kill the daemon between two polls; lower poll-interval= or raise WatchdogSec=",
                            (unsigned long long)(m->poll_interval_usec / 1000),
                            (unsigned long long)(watchdog_usec / 1000));

        k = sd_event_add_time_relative(m->event, &m->poll_timer, CLOCK_MONOTONIC, m->poll_interval_usec,
                                       poll_accuracy_usec(m->poll_interval_usec), on_poll, m);
        if (k < 0)
                return log_error_errno(k, "Cannot start the poll timer: %m");
        (void)sd_event_source_set_description(m->poll_timer, "poll");
        /*
         * On, not one-shot: on_poll() only moves the time. A one-shot source is switched off before
         * every dispatch and on again after it, each time reordering sd-event's timer queues (about a
         * fifth of the instructions of an idle tick, bench/bench.py idle's callgrind figures).
         */
        (void)sd_event_source_set_enabled(m->poll_timer, SD_EVENT_ON);
        m->poll_timer_usec = m->poll_interval_usec;
        /* The interrupt sources started above: with one for every port, poll-backstop= applies from now. */
        manager_reschedule_poll(m);

        {
                _cleanup_free_ char *line = manager_status_line(m);
                log_info("%s%s", line ?: "Started", m->dry_run ? " (dry run)" : "");
                (void)sd_notifyf(false, "READY=1\nSTATUS=%s", line ?: "");
        }
        return 0;
}

/* --- reload and signals --- */

int manager_reload(struct manager *m)
{
        struct config *c = NULL;
        int k;

        (void)sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=Reloading configuration",
                         now_usec(CLOCK_MONOTONIC));
        k = manager_load_config(m, &c);
        if (k < 0) {
                free(m->last_reload_error);
                if (asprintf(&m->last_reload_error, "configuration reload failed (%s), still running the previous one",
                             strerror(-k)) < 0)
                        m->last_reload_error = NULL;
                log_struct_fields(LOG_ERR, k, MESSAGE_ID_CONFIG_RELOAD_FAILED, NULL, 0,
                                  "Configuration reload failed, keeping the previous configuration: %s", strerror(-k));
        } else {
                /* Running actions point into the old config: keep it until they are done. */
                if (m->n_runs > 0) {
                        struct config **l = realloc(m->retired_configs, sizeof(*l) * (m->n_retired_configs + 1));
                        if (!l) {
                                config_free(c);
                                (void)sd_notify(false, "READY=1");
                                return log_oom();
                        }
                        m->retired_configs = l;
                        m->retired_configs[m->n_retired_configs++] = m->config;
                } else
                        config_free(m->config);
                m->config = c;
                if (m->config->state_dir && !m->options.state_dir && strcmp(m->config->state_dir, m->state_dir) != 0)
                        log_warning("state-dir changed to %s: takes effect at the next start, ignoring for now",
                                    m->config->state_dir);
                manager_apply_config(m);
                manager_reschedule_poll(m);
                manager_check_port_kinds(m, m->config);
                free(m->last_reload_error);
                m->last_reload_error = NULL;
                log_struct_fields(LOG_INFO, 0, MESSAGE_ID_CONFIG_RELOADED, NULL, 0,
                                  "Configuration reloaded: %zu polic%s, poll %llu ms", m->config->n_policies,
                                  m->config->n_policies == 1 ? "y" : "ies",
                                  (unsigned long long)(m->poll_interval_usec / 1000));
                notify_config_reloaded(m);
        }
        (void)sd_notify(false, "READY=1");
        manager_notify_status(m);
        return k;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)manager_reload(userdata);
        return 0;
}

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        struct manager *m = userdata;

        log_info("Received %s, stopping", sigabbrev_np((int)si->ssi_signo) ?: "signal");
        m->stopping = true;
        (void)sd_notify(false, "STOPPING=1\nSTATUS=Stopping");
        /* Unfinished actions stay pending in the record and resume at the next start. */
        for (size_t i = 0; i < m->n_runs; i++)
                action_run_cancel(m->runs[i]);
        return sd_event_exit(m->event, 0);
}

int manager_new(const struct manager_options *opts, struct manager **ret)
{
        _cleanup_(manager_freep) struct manager *m = calloc(1, sizeof(*m));
        sd_id128_t boot;
        int k;

        if (!m)
                return -ENOMEM;
        m->options = *opts;
        /*
         * Not sd_event_default(): a default loop checks on every iteration that it runs in its own
         * thread, with a gettid() system call each time; we have one loop and one thread.
         */
        k = sd_event_new(&m->event);
        if (k < 0)
                return k;
        if ((k = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM, on_terminate, m)) < 0 ||
            (k = sd_event_add_signal(m->event, &m->sigint_source, SIGINT, on_terminate, m)) < 0 ||
            (k = sd_event_add_signal(m->event, &m->sighup_source, SIGHUP, on_sighup, m)) < 0)
                return k;
        if (sd_id128_get_boot(&boot) >= 0)
                sd_id128_to_string(boot, m->boot_id);
        *ret = TAKE_PTR(m);
        return 0;
}

int manager_run(struct manager *m)
{
        return sd_event_loop(m->event);
}

struct manager *manager_free(struct manager *m)
{
        if (!m)
                return NULL;
        m->stopping = true;
        if (sources_free)
                sources_free(m);
        for (size_t i = 0; i < m->n_runs; i++)
                action_run_free(m->runs[i]);
        free(m->runs);
        action_queue_done(&m->queue);
        for (size_t i = 0; i < m->n_events; i++)
                isolation_event_free(m->events[i]);
        free(m->events);
        for (size_t i = 0; i < m->n_policy_fires; i++)
                policy_fires_done(&m->policy_fires[i]);
        free(m->policy_fires);
        for (size_t i = 0; i < m->n_ports; i++)
                port_free(m->ports[i]);
        free(m->ports);
        record_free(m->record);
        config_free(m->config);
        for (size_t i = 0; i < m->n_retired_configs; i++)
                config_free(m->retired_configs[i]);
        free(m->retired_configs);
        free(m->last_reload_error);
        free(m->state_dir);
        sd_event_source_disable_unref(m->poll_timer);
        sd_event_source_disable_unref(m->sigterm_source);
        sd_event_source_disable_unref(m->sigint_source);
        sd_event_source_disable_unref(m->sighup_source);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}
