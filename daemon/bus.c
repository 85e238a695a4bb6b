/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The D-Bus API: org.cxlisold.CxlIsol1 on the system bus. A view on the
 * manager; see bus.h for the shape and bus-names.h for the names.
 *
 * Ports are served through a fallback vtable and a node enumerator rather
 * than one registered object each, so a port that rediscovery replaces is
 * found by its BDF on the next call, with nothing to re-register.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-id128.h>

#include "arming.h"
#include "bus-names.h"
#include "bus.h"
#include "cleanup.h"
#include "config.h"
#include "log.h"
#include "manager.h"
#include "record.h"
#include "strv.h"
#include "topology.h"

/* What the bus hands to the Port getters: enough to find the port again, never the port itself. */
struct bus_port {
        struct bus *bus;
        char bdf[16];
        struct bus_port *next;
};

/* The newest non-drill event per port, from the record and then from the observers. */
struct bus_last_event {
        char port[16];
        char id[ISOLATION_EVENT_ID_LEN + 1];
        uint64_t realtime_usec;
};

struct bus {
        struct manager *manager;
        sd_bus *bus;
        struct bus_port *ports;

        /*
         * Ports whose PropertiesChanged is still to go out. Announcing reads
         * every property, DaxDevices included (a walk over /proc), and a port
         * changes right before its event's actions are queued: so the
         * announcement waits for an idle turn of the loop, coalesced.
         */
        char **dirty_ports;
        sd_event_source *emit_source;
        /* Ports announced with InterfacesAdded: all of them on the loop's first turn, later ones when found. */
        char **announced_ports;

        /* Loaded from the record once, on first use: by then manager_startup() has set the state dir. */
        bool history_loaded;
        char *previous_boot;
        size_t n_last;
        struct bus_last_event *last;
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct bus *, bus_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* --- helpers --- */

static struct port *bus_port_resolve(const struct bus_port *bp, sd_bus_error *error)
{
        struct port *p = manager_find_port(bp->bus->manager, bp->bdf);

        if (!p)
                (void)sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PORT, "Port %s is gone", bp->bdf);
        return p;
}

static int port_path(const char *bdf, char **ret)
{
        return sd_bus_path_encode(BUS_PORT_PREFIX, bdf, ret);
}

static struct port *port_from_arg(struct bus *b, const char *bdf, sd_bus_error *error)
{
        struct port *p = manager_find_port(b->manager, bdf);

        if (!p)
                (void)sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PORT, "No CXL root port %s", bdf);
        return p;
}

static struct bus_last_event *last_event_for(struct bus *b, const char *bdf)
{
        for (size_t i = 0; i < b->n_last; i++)
                if (strcmp(b->last[i].port, bdf) == 0)
                        return &b->last[i];
        return NULL;
}

static int last_event_note(struct bus *b, const struct isolation_event *e)
{
        struct bus_last_event *l = last_event_for(b, e->port);

        if (!l) {
                struct bus_last_event *n = realloc(b->last, sizeof(*n) * (b->n_last + 1));
                if (!n)
                        return -ENOMEM;
                b->last = n;
                l = &b->last[b->n_last++];
                snprintf(l->port, sizeof(l->port), "%s", e->port);
        }
        snprintf(l->id, sizeof(l->id), "%s", e->id);
        l->realtime_usec = e->realtime_usec;
        return 0;
}

static void format_realtime(uint64_t usec, char *buf, size_t len)
{
        time_t t = (time_t)(usec / 1000000ULL);
        struct tm tm;

        if (!localtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, len, "@%" PRIu64, usec / UINT64_C(1000000));
}

/*
 * PreviousBootIsolation: the newest real (not drill) event recorded under
 * another boot id. Boots without events leave no trace in the record, so
 * "previous" means the last boot that recorded one; the core logs the same
 * finding once at startup (MESSAGE_ID_PREVIOUS_BOOT_ISOLATED).
 */
static int bus_history_load(struct bus *b)
{
        struct manager *m = b->manager;
        struct record_history h = {};
        const struct isolation_event *prev = NULL;
        int k;

        if (b->history_loaded)
                return 0;
        if (m->state_dir) {
                k = record_load(m->state_dir, &h);
                if (k < 0)
                        log_warning_errno(k, "Cannot read the record for the bus, starting without history: %m");
        }
        for (size_t i = 0; i < h.n_events; i++) {
                const struct isolation_event *e = h.events[i];

                if (!e || e->drill)
                        continue;
                if (last_event_note(b, e) < 0) {
                        record_history_done(&h);
                        return -ENOMEM;
                }
                if (strcmp(e->boot_id, m->boot_id) != 0)
                        prev = e;
        }
        if (prev) {
                char when[64];

                format_realtime(prev->realtime_usec, when, sizeof(when));
                k = asprintf(&b->previous_boot, "previous boot ended by isolation on %s at %s (event %s)",
                             prev->port, when, prev->id);
        } else
                k = (b->previous_boot = strdup("")) ? 0 : -1;
        record_history_done(&h);
        if (k < 0) {
                b->previous_boot = NULL;
                return -ENOMEM;
        }
        b->history_loaded = true;
        return 0;
}

/* Mutating methods are root only. The bus policy says so too; this holds on a bus with a looser one. */
static int bus_check_root(sd_bus_message *msg, sd_bus_error *error, char **ret_who)
{
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        const char *comm = NULL;
        pid_t pid = 0;
        uid_t uid;
        int k;

        k = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID | SD_BUS_CREDS_PID |
                                      SD_BUS_CREDS_COMM | SD_BUS_CREDS_AUGMENT, &creds);
        if (k < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Cannot determine the caller: %s",
                                         strerror(-k));
        /* The effective uid is what a process acts as; a bus gives only the uid when it cannot say more. */
        if (sd_bus_creds_get_euid(creds, &uid) < 0 && sd_bus_creds_get_uid(creds, &uid) < 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Cannot determine the caller's user");
        if (uid != 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "%s needs root (caller is uid %u)",
                                         sd_bus_message_get_member(msg), (unsigned)uid);
        if (ret_who) {
                (void)sd_bus_creds_get_pid(creds, &pid);
                (void)sd_bus_creds_get_comm(creds, &comm);
                if (asprintf(ret_who, "uid=%u pid=%d (%s) via D-Bus", (unsigned)uid, (int)pid, comm ?: "?") < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* --- Manager properties --- */

static int property_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "s", CXL_ISOLD_VERSION);
}

static int property_poll_interval(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;

        return sd_bus_message_append(reply, "t", b->manager->poll_interval_usec);
}

static int property_previous_boot(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        int k = bus_history_load(b);

        if (k < 0)
                return k;
        return sd_bus_message_append(reply, "s", b->previous_boot);
}

static int property_queue_depth(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        size_t n = manager_queue_depth(b->manager);

        return sd_bus_message_append(reply, "u", n > UINT32_MAX ? UINT32_MAX : (uint32_t)n);
}

static int property_dry_run(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;

        return sd_bus_message_append(reply, "b", b->manager->dry_run);
}

static int property_reload_error(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;

        return sd_bus_message_append(reply, "s", b->manager->last_reload_error ?: "");
}

static int property_status_text(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        _cleanup_free_ char *line = manager_status_line(b->manager);

        if (!line)
                return -ENOMEM;
        return sd_bus_message_append(reply, "s", line);
}

/* --- Manager methods --- */

static json_object *event_to_json(const struct isolation_event *e)
{
        _cleanup_free_ char *text = NULL;
        json_object *o, *plan;

        if (record_format_event(e, &text) < 0)
                return NULL;
        o = json_tokener_parse(text);
        if (!o)
                return NULL;
        /* The record's event line has the plan; the history adds how each step ended. */
        plan = json_object_new_array();
        for (size_t i = 0; i < e->n_plan; i++) {
                const struct planned_action *a = &e->plan[i];
                json_object *step = json_object_new_object();

                json_object_object_add(step, "policy", json_object_new_string(a->policy));
                json_object_object_add(step, "action", json_object_new_string(action_type_to_string(a->type) ?: "unknown"));
                json_object_object_add(step, "result",
                                       json_object_new_string(action_outcome_to_string(a->result.outcome) ?: "unknown"));
                json_object_object_add(step, "error", json_object_new_int(a->result.error));
                json_object_object_add(step, "exit_status", json_object_new_int(a->result.exit_status));
                json_object_object_add(step, "signal", json_object_new_int(a->result.signal));
                json_object_object_add(step, "started_usec", json_object_new_uint64(a->result.started_usec));
                json_object_object_add(step, "finished_usec", json_object_new_uint64(a->result.finished_usec));
                if (a->result.detail)
                        json_object_object_add(step, "detail", json_object_new_string(a->result.detail));
                json_object_array_add(plan, step);
        }
        json_object_object_add(o, "plan", plan);
        json_object_object_add(o, "acknowledged", json_object_new_boolean(e->acknowledged));
        json_object_object_del(o, "type");
        return o;
}

static int method_get_events(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        _cleanup_(json_object_putp) json_object *array = NULL;
        struct record_history h = {};
        uint64_t since;
        int k;

        k = sd_bus_message_read(msg, "t", &since);
        if (k < 0)
                return k;
        if (!b->manager->state_dir)
                return sd_bus_error_set(error, SD_BUS_ERROR_FAILED, "The daemon is still starting");
        k = record_load(b->manager->state_dir, &h);
        if (k < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot read the event record: %s", strerror(-k));

        array = json_object_new_array();
        for (size_t i = 0; array && i < h.n_events; i++) {
                json_object *o;

                if (!h.events[i] || h.events[i]->realtime_usec < since)
                        continue;
                o = event_to_json(h.events[i]);
                if (!o) {
                        record_history_done(&h);
                        return -ENOMEM;
                }
                json_object_array_add(array, o);
        }
        record_history_done(&h);
        if (!array)
                return -ENOMEM;
        return sd_bus_reply_method_return(msg, "s", json_object_to_json_string_ext(array, JSON_C_TO_STRING_PLAIN));
}

static int method_acknowledge(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        _cleanup_free_ char *who = NULL;
        const char *id;
        int k;

        k = sd_bus_message_read(msg, "s", &id);
        if (k < 0)
                return k;
        k = bus_check_root(msg, error, &who);
        if (k < 0)
                return k;
        k = manager_acknowledge(b->manager, id, who);
        if (k == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_EVENT, "No open event %s in this daemon", id);
        if (k == -EALREADY)
                return sd_bus_error_setf(error, BUS_ERROR_ALREADY_ACKNOWLEDGED, "Event %s is already acknowledged", id);
        if (k < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot acknowledge event %s: %s", id, strerror(-k));
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_arm(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        _cleanup_free_ char *who = NULL;
        const char *bdf;
        struct port *p;
        char reason[256];
        int k;

        k = sd_bus_message_read(msg, "s", &bdf);
        if (k < 0)
                return k;
        k = bus_check_root(msg, error, &who);
        if (k < 0)
                return k;
        p = port_from_arg(b, bdf, error);
        if (!p)
                return -ENOENT;
        if (!port_is_watchable(p))
                return sd_bus_error_setf(error, BUS_ERROR_ARM_REFUSED, "%s is not watchable: %s", bdf,
                                         port_reason_to_string(p->rp.reason) ?: "unknown");
        if (p->state != PORT_STATE_WATCHING)
                return sd_bus_error_setf(error, BUS_ERROR_PORT_BUSY,
                                         "%s is %s: control is not changed while a port is isolated", bdf,
                                         port_state_to_string(p->state));
        if (p->armed)
                return sd_bus_reply_method_return(msg, NULL);

        log_notice("%s: arming requested by %s", bdf, who);
        /* The same gate as automatic arming: an operator's request is no reason to arm an unsafe port. */
        k = arming_evaluate_port(b->manager, p);
        if (!p->armed) {
                if (p->gate_decided && !p->gate.arm)
                        arming_decision_to_string(&p->gate, reason, sizeof(reason));
                else
                        /* The gate did not refuse, yet nothing was armed: say that, not a stale "ok". */
                        snprintf(reason, sizeof(reason), "control was not written (%s)",
                                 k < 0 ? strerror(-k) : "register block not writable");
                return sd_bus_error_setf(error, BUS_ERROR_ARM_REFUSED, "Not arming %s: %s", bdf, reason);
        }
        manager_port_changed(b->manager, p);
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_disarm(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        _cleanup_free_ char *who = NULL;
        const char *bdf;
        struct port *p;
        int k;

        k = sd_bus_message_read(msg, "s", &bdf);
        if (k < 0)
                return k;
        k = bus_check_root(msg, error, &who);
        if (k < 0)
                return k;
        p = port_from_arg(b, bdf, error);
        if (!p)
                return -ENOENT;
        if (p->state == PORT_STATE_ISOLATED || p->state == PORT_STATE_ACKNOWLEDGED)
                return sd_bus_error_setf(error, BUS_ERROR_PORT_BUSY,
                                         "%s is %s: control is not changed while a port is isolated", bdf,
                                         port_state_to_string(p->state));
        if (!p->armed)
                return sd_bus_reply_method_return(msg, NULL);

        k = port_disarm(p);
        if (k == -ETIMEDOUT)
                return sd_bus_error_setf(error, BUS_ERROR_PORT_BUSY,
                                         "%s: RP Busy stays set, disarming now would change control with traffic in flight",
                                         bdf);
        if (k < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Cannot disarm %s: %s", bdf, strerror(-k));
        log_notice("%s: CXL.mem isolation disabled, requested by %s", bdf, who);
        manager_port_changed(b->manager, p);
        return sd_bus_reply_method_return(msg, NULL);
}

static int method_drill(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        _cleanup_free_ char *who = NULL;
        struct isolation_event *e = NULL;
        const char *bdf, *policy;
        struct port *p;
        int k;

        k = sd_bus_message_read(msg, "ss", &bdf, &policy);
        if (k < 0)
                return k;
        k = bus_check_root(msg, error, &who);
        if (k < 0)
                return k;
        p = port_from_arg(b, bdf, error);
        if (!p)
                return -ENOENT;

        log_notice("%s: drill of policy '%s' requested by %s", bdf, policy, who);
        k = manager_drill(b->manager, p, policy, &e);
        if (k == -ENOENT)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_POLICY, "No policy '%s' in the configuration", policy);
        if (k < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_FAILED, "Drill failed: %s", strerror(-k));
        return sd_bus_reply_method_return(msg, "s", e->id);
}

static void emit_manager_changed(struct bus *b)
{
        (void)sd_bus_emit_properties_changed(b->bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "PollIntervalUSec",
                                             "QueueDepth", "DryRun", "ReloadError", "StatusText", NULL);
}

static int method_reload(sd_bus_message *msg, void *userdata, sd_bus_error *error)
{
        struct bus *b = userdata;
        struct config_diags diags = {};
        struct config *c = NULL;
        _cleanup_free_ char *who = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        _cleanup_free_ char *text = NULL;
        int k;

        k = bus_check_root(msg, error, &who);
        if (k < 0)
                return k;
        log_info("Configuration reload requested by %s", who);
        k = manager_reload(b->manager);
        emit_manager_changed(b);
        if (k >= 0)
                return sd_bus_reply_method_return(msg, NULL);

        /* The manager logged the diagnostics; the caller gets them too, not just an errno. */
        (void)config_load(&b->manager->options.config_paths, &c, &diags);
        config_free(c);
        for (size_t i = 0; i < diags.n; i++)
                if (diags.diag[i].line > 0)
                        (void)strv_extendf(&lines, "%s:%u: %s", diags.diag[i].file, diags.diag[i].line,
                                           diags.diag[i].message);
                else
                        (void)strv_extendf(&lines, "%s: %s", diags.diag[i].file, diags.diag[i].message);
        config_diags_done(&diags);
        text = lines ? strv_join(lines, "; ") : NULL;
        return sd_bus_error_setf(error, BUS_ERROR_RELOAD_FAILED,
                                 "Configuration reload failed (%s), still running the previous one%s%s",
                                 strerror(-k), text && *text ? ": " : "", text && *text ? text : "");
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PollIntervalUSec", "t", property_poll_interval, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PreviousBootIsolation", "s", property_previous_boot, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("QueueDepth", "u", property_queue_depth, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DryRun", "b", property_dry_run, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ReloadError", "s", property_reload_error, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StatusText", "s", property_status_text, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        /* Everything is UNPRIVILEGED for sd-bus: bus_check_root() decides, with a message that says why. */
        SD_BUS_METHOD_WITH_ARGS("GetEvents", SD_BUS_ARGS("t", since_realtime_usec), SD_BUS_RESULT("s", events_json),
                                method_get_events, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Acknowledge", SD_BUS_ARGS("s", event_id), SD_BUS_NO_RESULT, method_acknowledge,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Arm", SD_BUS_ARGS("s", port), SD_BUS_NO_RESULT, method_arm, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Disarm", SD_BUS_ARGS("s", port), SD_BUS_NO_RESULT, method_disarm,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Drill", SD_BUS_ARGS("s", port, "s", policy), SD_BUS_RESULT("s", event_id),
                                method_drill, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("IsolationDetected",
                                SD_BUS_ARGS("o", port, "s", kind, "s", event_id, "t", realtime_usec), 0),
        SD_BUS_VTABLE_END
};

/* --- Port objects --- */

#define PORT_GETTER(name, body)                                                                             \
        static int name(sd_bus *bus, const char *path, const char *interface, const char *property,         \
                        sd_bus_message *reply, void *userdata, sd_bus_error *error)                          \
        {                                                                                                   \
                struct bus_port *bp = userdata;                                                             \
                struct port *p = bus_port_resolve(bp, error);                                               \
                if (!p)                                                                                     \
                        return -ENOENT;                                                                     \
                body                                                                                        \
        }

PORT_GETTER(port_property_bdf, return sd_bus_message_append(reply, "s", p->rp.bdf);)
PORT_GETTER(port_property_host_bridge, return sd_bus_message_append(reply, "s", p->rp.host_bridge);)
PORT_GETTER(port_property_state, return sd_bus_message_append(reply, "s", port_state_to_string(p->state) ?: "unknown");)
PORT_GETTER(port_property_watchable, return sd_bus_message_append(reply, "b", port_is_watchable(p));)
PORT_GETTER(port_property_armed, return sd_bus_message_append(reply, "b", p->armed);)
PORT_GETTER(port_property_isolated,
            return sd_bus_message_append(reply, "b", p->state == PORT_STATE_ISOLATED ||
                                                     p->state == PORT_STATE_ACKNOWLEDGED);)
PORT_GETTER(port_property_status, return sd_bus_message_append(reply, "u", p->status);)
PORT_GETTER(port_property_control, return sd_bus_message_append(reply, "u", p->control);)
PORT_GETTER(port_property_capability, return sd_bus_message_append(reply, "u", p->rp.ti_cap.raw);)
PORT_GETTER(port_property_event_count, return sd_bus_message_append(reply, "t", p->n_events);)

PORT_GETTER(port_property_not_watchable_reason, {
        const char *reason = "";

        if (!port_is_watchable(p))
                reason = p->rp.reason == PORT_WATCHABLE ? "unknown" : port_reason_to_string(p->rp.reason) ?: "unknown";
        return sd_bus_message_append(reply, "s", reason);
})

PORT_GETTER(port_property_gate_reason, {
        char text[256] = "";

        if (p->gate_decided)
                arming_decision_to_string(&p->gate, text, sizeof(text));
        return sd_bus_message_append(reply, "s", text);
})

PORT_GETTER(port_property_isolation_kind, {
        enum cxl_isolation_kind kind = p->current_event ? p->current_event->kind : cxl_ti_status_kind(p->status);

        return sd_bus_message_append(reply, "s",
                                     kind == CXL_ISOLATION_NONE ? "" : cxl_isolation_kind_to_string(kind) ?: "");
})

PORT_GETTER(port_property_dax_devices, {
        _cleanup_(port_topology_done) struct port_topology topo = {};
        int k;

        /* Read now: what is below a port changes with the operator's daxctl, not with our polls. */
        k = sd_bus_message_open_container(reply, 'a', "s");
        if (k < 0)
                return k;
        if (port_topology_read(p->rp.sysfs_path, &topo) >= 0)
                for (size_t i = 0; i < topo.n_dax; i++) {
                        k = sd_bus_message_append(reply, "s", topo.dax[i].name);
                        if (k < 0)
                                return k;
                }
        return sd_bus_message_close_container(reply);
})

PORT_GETTER(port_property_last_event_id, {
        const struct bus_last_event *l;
        int k;

        if (p->current_event)
                return sd_bus_message_append(reply, "s", p->current_event->id);
        k = bus_history_load(bp->bus);
        if (k < 0)
                return k;
        l = last_event_for(bp->bus, p->rp.bdf);
        return sd_bus_message_append(reply, "s", l ? l->id : "");
})

PORT_GETTER(port_property_last_event_time, {
        const struct bus_last_event *l;
        int k;

        if (p->current_event)
                return sd_bus_message_append(reply, "t", p->current_event->realtime_usec);
        k = bus_history_load(bp->bus);
        if (k < 0)
                return k;
        l = last_event_for(bp->bus, p->rp.bdf);
        return sd_bus_message_append(reply, "t", l ? l->realtime_usec : UINT64_C(0));
})

static const sd_bus_vtable port_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Bdf", "s", port_property_bdf, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("HostBridge", "s", port_property_host_bridge, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", port_property_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Watchable", "b", port_property_watchable, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NotWatchableReason", "s", port_property_not_watchable_reason, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Armed", "b", port_property_armed, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("GateReason", "s", port_property_gate_reason, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Isolated", "b", port_property_isolated, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("IsolationKind", "s", port_property_isolation_kind, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StatusRegister", "u", port_property_status, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ControlRegister", "u", port_property_control, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Capabilities", "u", port_property_capability, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DaxDevices", "as", port_property_dax_devices, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastEventId", "s", port_property_last_event_id, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastEventTime", "t", port_property_last_event_time, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("EventCount", "t", port_property_event_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END
};

static int port_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                            sd_bus_error *error)
{
        struct bus *b = userdata;
        _cleanup_free_ char *bdf = NULL;
        struct bus_port *bp;
        int k;

        k = sd_bus_path_decode(path, BUS_PORT_PREFIX, &bdf);
        if (k <= 0)
                return k;
        if (!manager_find_port(b->manager, bdf))
                return 0;
        for (bp = b->ports; bp; bp = bp->next)
                if (strcmp(bp->bdf, bdf) == 0)
                        break;
        if (!bp) {
                bp = calloc(1, sizeof(*bp));
                if (!bp)
                        return -ENOMEM;
                bp->bus = b;
                snprintf(bp->bdf, sizeof(bp->bdf), "%s", bdf);
                bp->next = b->ports;
                b->ports = bp;
        }
        *found = bp;
        return 1;
}

static int port_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error)
{
        struct bus *b = userdata;
        _cleanup_strv_free_ char **l = calloc(b->manager->n_ports + 1, sizeof(char *));

        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < b->manager->n_ports; i++) {
                int k = port_path(b->manager->ports[i]->rp.bdf, &l[i]);
                if (k < 0)
                        return k;
        }
        *nodes = TAKE_PTR(l);
        return 0;
}

/* --- observers: the core tells, the bus announces --- */

static void emit_port_changed(struct bus *b, const struct port *p)
{
        _cleanup_free_ char *path = NULL;

        if (port_path(p->rp.bdf, &path) < 0)
                return;
        /* NULL: every EMITS_CHANGE property; a port change can touch most of them at once. */
        (void)sd_bus_emit_properties_changed_strv(b->bus, path, BUS_PORT_INTERFACE, NULL);
}

static int on_emit_deferred(sd_event_source *s, void *userdata)
{
        struct bus *b = userdata;
        _cleanup_strv_free_ char **l = TAKE_PTR(b->dirty_ports);

        for (size_t i = 0; i < b->manager->n_ports; i++) {
                const char *bdf = b->manager->ports[i]->rp.bdf;
                _cleanup_free_ char *path = NULL;

                if (strv_contains(b->announced_ports, bdf))
                        continue;
                if (port_path(bdf, &path) < 0 || strv_extend(&b->announced_ports, bdf) < 0)
                        return log_oom();
                (void)sd_bus_emit_object_added(b->bus, path);
        }
        for (size_t i = 0; l && l[i]; i++) {
                struct port *p = manager_find_port(b->manager, l[i]);
                if (p)
                        emit_port_changed(b, p);
        }
        (void)sd_bus_emit_properties_changed(b->bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "StatusText", NULL);
        return 0;
}

static void on_port_changed(struct manager *m, struct port *p, void *userdata)
{
        struct bus *b = userdata;

        if (!strv_contains(b->dirty_ports, p->rp.bdf) && strv_extend(&b->dirty_ports, p->rp.bdf) < 0) {
                log_oom();
                return;
        }
        (void)sd_event_source_set_enabled(b->emit_source, SD_EVENT_ONESHOT);
}

static void on_event_detected(struct manager *m, struct port *p, struct isolation_event *e, void *userdata)
{
        struct bus *b = userdata;
        _cleanup_free_ char *path = NULL;
        int k;

        (void)sd_bus_emit_properties_changed(b->bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "QueueDepth", NULL);
        /* A drill is not an isolation: whoever reacts to this signal (fencing, paging) must not see one. */
        if (e->drill)
                return;
        if (b->history_loaded && last_event_note(b, e) < 0)
                log_oom();
        if (port_path(e->port, &path) < 0)
                return;
        k = sd_bus_emit_signal(b->bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "IsolationDetected", "osst", path,
                               cxl_isolation_kind_to_string(e->kind) ?: "none", e->id, e->realtime_usec);
        if (k < 0)
                log_debug_errno(k, "Cannot send IsolationDetected for event %s: %m", e->id);
}

static void on_action_finished(struct manager *m, struct isolation_event *e, size_t index, void *userdata)
{
        struct bus *b = userdata;

        (void)sd_bus_emit_properties_changed(b->bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "QueueDepth", NULL);
}

static void on_config_reloaded(struct manager *m, void *userdata)
{
        emit_manager_changed(userdata);
}

/* --- setup --- */

static int bus_add_objects(sd_bus *bus, void *userdata)
{
        int k;

        k = sd_bus_add_object_vtable(bus, NULL, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, manager_vtable, userdata);
        if (k < 0)
                return k;
        k = sd_bus_add_fallback_vtable(bus, NULL, BUS_PORT_PREFIX, BUS_PORT_INTERFACE, port_vtable, port_object_find,
                                       userdata);
        if (k < 0)
                return k;
        k = sd_bus_add_node_enumerator(bus, NULL, BUS_PORT_PREFIX, port_node_enumerator, userdata);
        if (k < 0)
                return k;
        return sd_bus_add_object_manager(bus, NULL, BUS_MANAGER_PATH);
}

int bus_new(struct manager *m, struct bus **ret)
{
        _cleanup_(bus_freep) struct bus *b = calloc(1, sizeof(*b));
        struct manager_observer o = {
                .port_changed = on_port_changed,
                .event_detected = on_event_detected,
                .action_finished = on_action_finished,
                .config_reloaded = on_config_reloaded,
        };
        int k;

        if (!b)
                return -ENOMEM;
        b->manager = m;
        o.userdata = b;

        /* Failures to reach the bus are the caller's to report: the daemon goes on without it. */
        k = sd_bus_open_system(&b->bus);
        if (k < 0)
                return log_debug_errno(k, "Cannot connect to the system bus: %m");
        (void)sd_bus_set_description(b->bus, "cxl-isold");
        k = bus_add_objects(b->bus, b);
        if (k < 0)
                return log_error_errno(k, "Cannot register the D-Bus objects: %m");
        k = sd_bus_attach_event(b->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (k < 0)
                return log_error_errno(k, "Cannot attach the bus to the event loop: %m");
        /* Synchronous: with Type=notify and BusName=, the name must be ours before READY=1. */
        k = sd_bus_request_name(b->bus, BUS_NAME, 0);
        if (k < 0)
                return log_debug_errno(k, "Cannot acquire the bus name %s: %m", BUS_NAME);
        k = sd_event_add_defer(m->event, &b->emit_source, on_emit_deferred, b);
        if (k < 0)
                return log_error_errno(k, "Cannot set up property announcements: %m");
        (void)sd_event_source_set_priority(b->emit_source, SD_EVENT_PRIORITY_IDLE);
        /* On: the first turn of the loop, after discovery, announces the ports. */
        (void)sd_event_source_set_enabled(b->emit_source, SD_EVENT_ONESHOT);
        (void)sd_event_source_set_description(b->emit_source, "bus-properties-changed");
        k = manager_add_observer(m, &o);
        if (k < 0)
                return log_error_errno(k, "Cannot observe the manager for the bus: %m");
        log_debug("Acquired the bus name %s", BUS_NAME);
        *ret = TAKE_PTR(b);
        return 0;
}

struct bus *bus_free(struct bus *b)
{
        if (!b)
                return NULL;
        sd_event_source_disable_unref(b->emit_source);
        strv_free(b->dirty_ports);
        strv_free(b->announced_ports);
        if (b->bus) {
                (void)sd_bus_flush(b->bus);
                b->bus = sd_bus_close_unref(b->bus);
        }
        while (b->ports) {
                struct bus_port *next = b->ports->next;
                free(b->ports);
                b->ports = next;
        }
        free(b->last);
        free(b->previous_boot);
        free(b);
        return NULL;
}

/* --- introspection XML without a bus: a private connection to ourselves --- */

struct introspect_reply {
        bool done;
        int error;
        char *xml;
};

static int on_introspect_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        struct introspect_reply *r = userdata;
        const char *xml;
        int k;

        r->done = true;
        if (sd_bus_message_is_method_error(reply, NULL)) {
                r->error = -sd_bus_message_get_errno(reply) ?: -EIO;
                return 0;
        }
        k = sd_bus_message_read(reply, "s", &xml);
        if (k < 0) {
                r->error = k;
                return 0;
        }
        r->xml = strdup(xml);
        if (!r->xml)
                r->error = -ENOMEM;
        return 0;
}

static int introspect_path(sd_bus *server, sd_bus *client, const char *path, char **ret)
{
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        struct introspect_reply r = {};
        int k;

        k = sd_bus_call_method_async(client, &slot, NULL, path, "org.freedesktop.DBus.Introspectable", "Introspect",
                                     on_introspect_reply, &r, NULL);
        if (k < 0)
                return k;
        /* Both ends live in this thread, so drive both until the reply is in (bounded: 500 turns of 10 ms). */
        for (unsigned turn = 0; !r.done && turn < 500; turn++) {
                struct pollfd fds[2] = {
                        { .fd = sd_bus_get_fd(server), .events = (short)sd_bus_get_events(server) },
                        { .fd = sd_bus_get_fd(client), .events = (short)sd_bus_get_events(client) },
                };
                int a, c;

                a = sd_bus_process(server, NULL);
                c = sd_bus_process(client, NULL);
                if (a < 0 || c < 0) {
                        free(r.xml);
                        return a < 0 ? a : c;
                }
                if (a == 0 && c == 0 && !r.done)
                        (void)poll(fds, 2, 10);
        }
        if (!r.done)
                return -ETIMEDOUT;
        if (r.error < 0) {
                free(r.xml);
                return r.error;
        }
        *ret = r.xml;
        return 0;
}

static int write_interface_xml(const char *dir, const char *xml, const char *interface)
{
        _cleanup_free_ char *open_tag = NULL, *path = NULL, *tmp = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        const char *start, *end;
        int k;

        if (asprintf(&open_tag, "<interface name=\"%s\">", interface) < 0)
                return -ENOMEM;
        start = strstr(xml, open_tag);
        if (!start)
                return -ENOENT;
        end = strstr(start, "</interface>");
        if (!end)
                return -EBADMSG;
        end += STRLEN("</interface>");

        if (asprintf(&path, "%s/%s%s", dir, interface, BUS_INTROSPECT_SUFFIX) < 0 ||
            asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        f = fopen(tmp, "we");
        if (!f)
                return -errno;
        fprintf(f, "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n"
                   "\"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n"
                   "<!-- SPDX-License-Identifier: LGPL-2.1-or-later -->\n"
                   "<!-- Generated from the vtables of cxl-isold (option bus-introspect); do not edit. -->\n"
                   "<node>\n %.*s\n</node>\n", (int)(end - start), start);
        k = fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
        if (k < 0) {
                (void)unlink(tmp);
                return k;
        }
        if (rename(tmp, path) < 0) {
                k = -errno;
                (void)unlink(tmp);
                return k;
        }
        return 0;
}

int bus_introspect(const char *dir)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *server = NULL, *client = NULL;
        _cleanup_free_ char *port_path_sample = NULL, *manager_xml = NULL, *port_xml = NULL;
        _cleanup_close_ int fd0 = -1, fd1 = -1;
        sd_id128_t id;
        int fds[2], k;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
                return -errno;
        fd0 = fds[0];
        fd1 = fds[1];
        k = sd_id128_randomize(&id);
        if (k < 0)
                return k;

        if ((k = sd_bus_new(&server)) < 0 || (k = sd_bus_set_fd(server, fd0, fd0)) < 0)
                return k;
        fd0 = -1;       /* the bus owns it now */
        if ((k = sd_bus_set_server(server, 1, id)) < 0 || (k = sd_bus_set_anonymous(server, 1)) < 0)
                return k;
        /* Getters never run: introspection reads only the vtables, so no manager is needed. */
        k = sd_bus_add_object_vtable(server, NULL, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, manager_vtable, NULL);
        if (k < 0)
                return k;
        k = port_path("0000:00:00.0", &port_path_sample);
        if (k < 0)
                return k;
        k = sd_bus_add_object_vtable(server, NULL, port_path_sample, BUS_PORT_INTERFACE, port_vtable, NULL);
        if (k < 0)
                return k;
        if ((k = sd_bus_start(server)) < 0)
                return k;

        if ((k = sd_bus_new(&client)) < 0 || (k = sd_bus_set_fd(client, fd1, fd1)) < 0)
                return k;
        fd1 = -1;
        if ((k = sd_bus_set_anonymous(client, 1)) < 0 || (k = sd_bus_start(client)) < 0)
                return k;

        k = introspect_path(server, client, BUS_MANAGER_PATH, &manager_xml);
        if (k < 0)
                return k;
        k = introspect_path(server, client, port_path_sample, &port_xml);
        if (k < 0)
                return k;

        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        k = write_interface_xml(dir, manager_xml, BUS_MANAGER_INTERFACE);
        if (k < 0)
                return k;
        return write_interface_xml(dir, port_xml, BUS_PORT_INTERFACE);
}
