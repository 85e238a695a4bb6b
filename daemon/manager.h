/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manager: one per daemon. It owns the event loop, the configuration,
 * the ports, the record and the action queue, and runs the one-way flow
 *   poll timer -> port_poll() -> event -> record -> journal -> policies -> actions.
 * Other parts (D-Bus, metrics) learn about changes through observers, so the
 * core never depends on them.
 *
 * Once and only once: an isolation is one event. A port still (or again)
 * isolated the same way is not a new event when the daemon restarts (the
 * record's last event for the port is adopted, and its unfinished actions
 * resume, within the same boot only) or when the port vanished and came
 * back. A new event needs the isolation to clear first. The daemon never
 * clears isolation by itself.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

#include "action-queue.h"
#include "action.h"
#include "config.h"
#include "policy-throttle.h"
#include "port.h"
#include "record.h"

struct manager;
struct sources;

/* Every callback may be NULL. Called after the core has done its own work (recorded, logged). */
struct manager_observer {
        void (*port_changed)(struct manager *m, struct port *p, void *userdata);
        void (*event_detected)(struct manager *m, struct port *p, struct isolation_event *e, void *userdata);
        void (*action_finished)(struct manager *m, struct isolation_event *e, size_t index, void *userdata);
        void (*config_reloaded)(struct manager *m, void *userdata);
        /* The poll timer's interval changed (manager_reschedule_poll()), e.g. stopped because interrupts serve every port. */
        void (*polling_changed)(struct manager *m, void *userdata);
        void *userdata;
};

#define MANAGER_OBSERVERS_MAX 8

struct manager_options {
        struct config_paths config_paths;
        const char *state_dir;          /* NULL: from config */
        uint64_t poll_interval_usec;    /* 0: from config */
        bool dry_run;                   /* true forces dry run; false: from config */
        char **irq_sources;             /* --irq-source specs for source.h, NULL-terminated or NULL */
};

struct manager {
        sd_event *event;
        struct manager_options options;

        struct config *config;
        /* Configs replaced by a reload while actions still point into them; freed when idle. */
        size_t n_retired_configs;
        struct config **retired_configs;
        char *last_reload_error;        /* shown in STATUS until the next good reload */

        char *state_dir;                /* effective */
        uint64_t poll_interval_usec;    /* effective */
        bool dry_run;                   /* effective */

        size_t n_ports;
        struct port **ports;

        struct record *record;
        size_t n_record_failures;

        /* Every event this daemon handles (detected or resumed from the record); owned here. */
        size_t n_events;
        struct isolation_event **events;

        /* When each policy fired, for cooldown= and rate-limit=. */
        size_t n_policy_fires;
        struct policy_fires *policy_fires;

        struct action_queue queue;
        size_t n_runs;
        struct action_run **runs;       /* running actions, for shutdown */

        struct sources *sources;        /* event sources besides the poll timer (source.h), may be NULL */
        sd_event_source *poll_timer;
        uint64_t poll_backstop_usec;    /* effective poll-backstop= (poll-schedule.h), POLL_BACKSTOP_UNSET if unset */
        uint64_t poll_timer_usec;       /* what the poll timer runs at now: 0 = no periodic poll */
        bool poll_by_interrupts;        /* every watchable port has a working interrupt source */
        bool poll_stopped;              /* no polling at all in this run (a --drill): never rescheduled */
        uint64_t watchdog_usec;         /* WATCHDOG_USEC, 0 without a watchdog */
        uint64_t n_poll_cycles;
        uint64_t last_poll_realtime_usec;       /* CLOCK_REALTIME when the last cycle completed, for metrics */
        sd_event_source *sigterm_source, *sigint_source, *sighup_source;
        bool watchdog;                  /* WATCHDOG=1 after each poll cycle */
        bool stopping;

        char boot_id[33];

        size_t n_observers;
        struct manager_observer observers[MANAGER_OBSERVERS_MAX];
};

int manager_new(const struct manager_options *opts, struct manager **ret);
struct manager *manager_free(struct manager *m);
/* Load config, open the record, discover ports, resume unfinished events, notify READY=1. */
int manager_startup(struct manager *m);
int manager_run(struct manager *m);

int manager_add_observer(struct manager *m, const struct manager_observer *o);
/*
 * Free the oldest in-memory events nothing refers to (a port's current event, the queue, a running
 * action, an unfinished plan) until MANAGER_EVENTS_KEPT remain; the newest is always kept. Called
 * whenever an event is added; exported for its unit test.
 */
#define MANAGER_EVENTS_KEPT 256
void manager_prune_events(struct manager *m);
/* Tell observers (and STATUS) that p changed: state, armed flag, gate decision. */
void manager_port_changed(struct manager *m, struct port *p);
/*
 * Read p's status now, outside the poll cycle (a uevent, an interrupt, an AER
 * counter said something happened), and act on what changed, exactly as a
 * poll would. Returns what port_poll() returned (-ENODEV: not watchable).
 */
int manager_read_port(struct manager *m, struct port *p);
/*
 * Set the poll timer from what serves the ports now (poll-schedule.h): poll-interval= unless every
 * watchable port has a working interrupt source, then poll-backstop= (0: timer off). Called when a
 * port or an interrupt source changes and after a reload; observers hear of a change.
 */
void manager_reschedule_poll(struct manager *m);
struct port *manager_find_port(struct manager *m, const char *bdf);
/* The event with this id among the ports' current events and the queue, NULL if none. */
struct isolation_event *manager_find_event(struct manager *m, const char *id);

/* Reload config (SIGHUP, D-Bus): all or nothing; on failure the old config stays and the reason is kept. */
int manager_reload(struct manager *m);
/*
 * Handle an isolation of p: build the event, record it, log it, queue its
 * plan. drill=true for a self-test that did not come from hardware.
 */
int manager_handle_isolation(struct manager *m, struct port *p, bool drill, struct isolation_event **ret);
/* A drill of one named policy on p, matching or not (-ENOENT: no such policy, nothing recorded). */
int manager_drill(struct manager *m, struct port *p, const char *policy, struct isolation_event **ret);
/* Operator acknowledgement: recorded, port -> acknowledged. by = who asked (for the audit trail). */
int manager_acknowledge(struct manager *m, const char *event_id, const char *by);

/* "Watching 3 of 4 CXL root ports (1 isolated), poll 100ms, queue 0" (+ reload error). Caller frees. */
char *manager_status_line(const struct manager *m);
void manager_notify_status(struct manager *m);
size_t manager_queue_depth(const struct manager *m);
