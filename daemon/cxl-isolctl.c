/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cxl-isolctl: query and control cxl-isold over the system bus. It talks
 * only D-Bus (names in bus-names.h), so it works for every user the bus
 * policy lets in and never touches registers itself. Exit codes are the
 * contract of cxl-isolctl(8): 0 ok, 1 failure, 2 usage, 3 daemon not
 * reachable, 4 access denied.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-names.h"
#include "cleanup.h"

enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,
        EXIT_USAGE = 2,
        EXIT_UNREACHABLE = 3,
        EXIT_DENIED = 4,
};

static bool arg_json;
static bool arg_since_set;
static uint64_t arg_since_usec;

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
#define _cleanup_json_ _cleanup_(json_object_putp)

/* --- errors and exit codes --- */

static int exit_status_for(const sd_bus_error *error, int k)
{
        static const char *const unreachable[] = {
                SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER, SD_BUS_ERROR_NO_REPLY,
                SD_BUS_ERROR_DISCONNECTED, SD_BUS_ERROR_NO_SERVER, SD_BUS_ERROR_TIMEOUT,
        };

        if (error && sd_bus_error_is_set(error)) {
                if (sd_bus_error_has_name(error, SD_BUS_ERROR_ACCESS_DENIED))
                        return EXIT_DENIED;
                for (size_t i = 0; i < ELEMENTSOF(unreachable); i++)
                        if (sd_bus_error_has_name(error, unreachable[i]))
                                return EXIT_UNREACHABLE;
                return EXIT_FAILED;
        }
        switch (k) {
        case -EACCES:
        case -EPERM:
                return EXIT_DENIED;
        case -ENOENT:           /* no bus socket */
        case -ECONNREFUSED:
        case -ECONNRESET:
        case -ENOTCONN:
        case -ETIMEDOUT:
        case -EHOSTDOWN:
                return EXIT_UNREACHABLE;
        default:
                return EXIT_FAILED;
        }
}

static int report_error(const char *what, const sd_bus_error *error, int k)
{
        int status = exit_status_for(error, k);

        if (error && sd_bus_error_is_set(error))
                fprintf(stderr, "%s: %s\n", what, error->message ?: error->name);
        else
                fprintf(stderr, "%s: %s\n", what, strerror(-k));
        if (status == EXIT_UNREACHABLE)
                fprintf(stderr, "Is cxl-isold running? (systemctl status cxl-isold)\n");
        else if (status == EXIT_DENIED)
                fprintf(stderr, "This command needs root.\n");
        return status;
}

/* --- reading properties into JSON --- */

/* One variant's value; types the API does not use are skipped (NULL). */
static int variant_to_json(sd_bus_message *m, json_object **ret)
{
        const char *contents;
        char type;
        int k;

        k = sd_bus_message_peek_type(m, &type, &contents);
        if (k < 0)
                return k;
        k = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents);
        if (k < 0)
                return k;

        if (strcmp(contents, "s") == 0 || strcmp(contents, "o") == 0) {
                const char *s;
                k = sd_bus_message_read_basic(m, contents[0], &s);
                if (k < 0)
                        return k;
                *ret = json_object_new_string(s);
        } else if (strcmp(contents, "b") == 0) {
                int b;
                k = sd_bus_message_read_basic(m, 'b', &b);
                if (k < 0)
                        return k;
                *ret = json_object_new_boolean(b);
        } else if (strcmp(contents, "u") == 0) {
                uint32_t u;
                k = sd_bus_message_read_basic(m, 'u', &u);
                if (k < 0)
                        return k;
                *ret = json_object_new_int64(u);
        } else if (strcmp(contents, "t") == 0) {
                uint64_t t;
                k = sd_bus_message_read_basic(m, 't', &t);
                if (k < 0)
                        return k;
                *ret = json_object_new_uint64(t);
        } else if (strcmp(contents, "as") == 0) {
                json_object *a = json_object_new_array();
                const char *s;

                k = sd_bus_message_enter_container(m, 'a', "s");
                if (k < 0) {
                        json_object_put(a);
                        return k;
                }
                while ((k = sd_bus_message_read_basic(m, 's', &s)) > 0)
                        json_object_array_add(a, json_object_new_string(s));
                if (k < 0 || (k = sd_bus_message_exit_container(m)) < 0) {
                        json_object_put(a);
                        return k;
                }
                *ret = a;
        } else {
                *ret = NULL;
                k = sd_bus_message_skip(m, contents);
                if (k < 0)
                        return k;
        }
        return sd_bus_message_exit_container(m);
}

/* a{sv} -> {"Name": value}; the message stays positioned after the array. */
static int properties_to_json(sd_bus_message *m, json_object **ret)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        int k;

        if (!o)
                return -ENOMEM;
        k = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (k < 0)
                return k;
        while ((k = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                json_object *v = NULL;
                const char *name;

                k = sd_bus_message_read(m, "s", &name);
                if (k < 0)
                        return k;
                k = variant_to_json(m, &v);
                if (k < 0)
                        return k;
                if (v)
                        json_object_object_add(o, name, v);
                k = sd_bus_message_exit_container(m);
                if (k < 0)
                        return k;
        }
        if (k < 0)
                return k;
        k = sd_bus_message_exit_container(m);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(o);
        return 0;
}

static int get_all(sd_bus *bus, const char *path, const char *interface, json_object **ret, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int k;

        k = sd_bus_call_method(bus, BUS_NAME, path, "org.freedesktop.DBus.Properties", "GetAll", error, &reply, "s",
                               interface);
        if (k < 0)
                return k;
        return properties_to_json(reply, ret);
}

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static bool jbool(json_object *o, const char *key)
{
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static uint64_t ju64(json_object *o, const char *key)
{
        json_object *v;

        return json_object_object_get_ex(o, key, &v) ? json_object_get_uint64(v) : 0;
}

static int compare_bdf(const void *a, const void *b)
{
        json_object *const *x = a, *const *y = b;

        return strcmp(jstr(*x, "Bdf"), jstr(*y, "Bdf"));
}

/* Every port object's Port properties, from GetManagedObjects, sorted by BDF. */
static int get_ports(sd_bus *bus, json_object **ret, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_json_ json_object *ports = json_object_new_array();
        int k;

        if (!ports)
                return -ENOMEM;
        k = sd_bus_call_method(bus, BUS_NAME, BUS_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                               "GetManagedObjects", error, &reply, NULL);
        if (k < 0)
                return k;
        k = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
        if (k < 0)
                return k;
        while ((k = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
                const char *path;

                k = sd_bus_message_read(reply, "o", &path);
                if (k < 0)
                        return k;
                k = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
                if (k < 0)
                        return k;
                while ((k = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
                        const char *interface;

                        k = sd_bus_message_read(reply, "s", &interface);
                        if (k < 0)
                                return k;
                        if (strcmp(interface, BUS_PORT_INTERFACE) == 0) {
                                json_object *props = NULL;

                                k = properties_to_json(reply, &props);
                                if (k < 0)
                                        return k;
                                json_object_object_add(props, "Path", json_object_new_string(path));
                                json_object_array_add(ports, props);
                        } else {
                                k = sd_bus_message_skip(reply, "a{sv}");
                                if (k < 0)
                                        return k;
                        }
                        k = sd_bus_message_exit_container(reply);
                        if (k < 0)
                                return k;
                }
                if (k < 0)
                        return k;
                if ((k = sd_bus_message_exit_container(reply)) < 0 || (k = sd_bus_message_exit_container(reply)) < 0)
                        return k;
        }
        if (k < 0)
                return k;
        json_object_array_sort(ports, compare_bdf);
        *ret = TAKE_PTR(ports);
        return 0;
}

static void print_json(json_object *o)
{
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
}

static void format_usec_duration(uint64_t usec, char *buf, size_t len)
{
        if (usec % 1000000 == 0)
                snprintf(buf, len, "%" PRIu64 "s", usec / 1000000);
        else if (usec % 1000 == 0)
                snprintf(buf, len, "%" PRIu64 "ms", usec / 1000);
        else
                snprintf(buf, len, "%" PRIu64 "us", usec);
}

static void format_realtime(uint64_t usec, char *buf, size_t len)
{
        time_t t = (time_t)(usec / 1000000);
        struct tm tm;

        if (usec == 0)
                snprintf(buf, len, "never");
        else if (!localtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, len, "@%" PRIu64, usec / 1000000);
}

/* --- verbs --- */

static int verb_status(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_json_ json_object *manager = NULL, *ports = NULL, *out = NULL;
        size_t n, watchable = 0, armed = 0, isolated = 0, open = 0;
        int k;

        k = get_all(bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, &manager, &error);
        if (k < 0)
                return report_error("Cannot read the daemon's state", &error, k);
        k = get_ports(bus, &ports, &error);
        if (k < 0)
                return report_error("Cannot list the ports", &error, k);

        n = json_object_array_length(ports);
        for (size_t i = 0; i < n; i++) {
                json_object *p = json_object_array_get_idx(ports, i);
                const char *state = jstr(p, "State");

                watchable += jbool(p, "Watchable");
                armed += jbool(p, "Armed");
                isolated += jbool(p, "Isolated");
                /* Open = detected and not yet acknowledged by an operator. */
                open += strcmp(state, "isolated") == 0;
        }

        if (arg_json) {
                out = json_object_new_object();
                json_object_object_add(out, "version", json_object_new_string(jstr(manager, "Version")));
                json_object_object_add(out, "status_text", json_object_new_string(jstr(manager, "StatusText")));
                json_object_object_add(out, "poll_interval_usec",
                                       json_object_new_uint64(ju64(manager, "PollIntervalUSec")));
                json_object_object_add(out, "queue_depth", json_object_new_uint64(ju64(manager, "QueueDepth")));
                json_object_object_add(out, "dry_run", json_object_new_boolean(jbool(manager, "DryRun")));
                json_object_object_add(out, "reload_error", json_object_new_string(jstr(manager, "ReloadError")));
                json_object_object_add(out, "previous_boot_isolation",
                                       json_object_new_string(jstr(manager, "PreviousBootIsolation")));
                json_object_object_add(out, "ports_total", json_object_new_uint64(n));
                json_object_object_add(out, "ports_watchable", json_object_new_uint64(watchable));
                json_object_object_add(out, "ports_armed", json_object_new_uint64(armed));
                json_object_object_add(out, "ports_isolated", json_object_new_uint64(isolated));
                json_object_object_add(out, "open_events", json_object_new_uint64(open));
                json_object_object_add(out, "ports", json_object_get(ports));
                print_json(out);
                return EXIT_OK;
        }

        char poll[32];
        const char *reload_error = jstr(manager, "ReloadError"), *prev = jstr(manager, "PreviousBootIsolation");

        format_usec_duration(ju64(manager, "PollIntervalUSec"), poll, sizeof(poll));
        printf("cxl-isold %s: running%s\n", jstr(manager, "Version"), jbool(manager, "DryRun") ? " (dry run)" : "");
        printf("   Ports: %zu found, %zu watchable, %zu armed, %zu isolated\n", n, watchable, armed, isolated);
        for (size_t i = 0; i < n; i++) {
                json_object *p = json_object_array_get_idx(ports, i);
                if (!jbool(p, "Watchable"))
                        printf("          %s not watchable: %s\n", jstr(p, "Bdf"), jstr(p, "NotWatchableReason"));
        }
        printf("  Events: %zu open (unacknowledged)%s\n", open, open ? ", see: cxl-isolctl history" : "");
        printf("    Poll: every %s, action queue %" PRIu64 "\n", poll, ju64(manager, "QueueDepth"));
        printf("  Config: %s\n", *reload_error ? reload_error : "loaded");
        if (*prev)
                printf("    Boot: %s\n", prev);
        return EXIT_OK;
}

static int verb_list(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_json_ json_object *ports = NULL, *out = NULL;
        size_t n;
        int k;

        k = get_ports(bus, &ports, &error);
        if (k < 0)
                return report_error("Cannot list the ports", &error, k);
        if (arg_json) {
                out = json_object_new_object();
                json_object_object_add(out, "ports", json_object_get(ports));
                print_json(out);
                return EXIT_OK;
        }
        n = json_object_array_length(ports);
        if (n == 0) {
                printf("No CXL root ports.\n");
                return EXIT_OK;
        }
        printf("%-14s %-12s %-14s %-6s %s\n", "PORT", "HOST-BRIDGE", "STATE", "ARMED", "REASON");
        for (size_t i = 0; i < n; i++) {
                json_object *p = json_object_array_get_idx(ports, i);
                const char *reason = jbool(p, "Watchable") ? jstr(p, "GateReason") :
                                                                 jstr(p, "NotWatchableReason");

                printf("%-14s %-12s %-14s %-6s %s\n", jstr(p, "Bdf"), jstr(p, "HostBridge"),
                       jstr(p, "State"), jbool(p, "Armed") ? "yes" : "no", *reason ? reason : "-");
        }
        return EXIT_OK;
}

static int verb_show(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_json_ json_object *p = NULL;
        _cleanup_free_ char *path = NULL;
        char when[64];
        json_object *dax;
        int k;

        k = sd_bus_path_encode(BUS_PORT_PREFIX, args[0], &path);
        if (k < 0)
                return report_error("Invalid port", NULL, k);
        k = get_all(bus, path, BUS_PORT_INTERFACE, &p, &error);
        if (k < 0) {
                if (sd_bus_error_has_names(&error, SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_INTERFACE)) {
                        fprintf(stderr, "No CXL root port %s (see: cxl-isolctl list)\n", args[0]);
                        return EXIT_FAILED;
                }
                return report_error("Cannot read the port", &error, k);
        }
        if (arg_json) {
                print_json(p);
                return EXIT_OK;
        }
        format_realtime(ju64(p, "LastEventTime"), when, sizeof(when));
        printf("            Port: %s (host bridge %s)\n", jstr(p, "Bdf"), jstr(p, "HostBridge"));
        printf("           State: %s%s%s\n", jstr(p, "State"), jbool(p, "Watchable") ? "" : ": ",
               jbool(p, "Watchable") ? "" : jstr(p, "NotWatchableReason"));
        printf("           Armed: %s\n", jbool(p, "Armed") ? "yes" : "no");
        printf("     Arming gate: %s\n", *jstr(p, "GateReason") ? jstr(p, "GateReason") : "-");
        printf("        Isolated: %s%s%s\n", jbool(p, "Isolated") ? "yes" : "no",
               *jstr(p, "IsolationKind") ? ", " : "", jstr(p, "IsolationKind"));
        printf("  T&I capability: 0x%08" PRIx64 "\n", ju64(p, "Capabilities"));
        printf("     T&I control: 0x%08" PRIx64 "\n", ju64(p, "ControlRegister"));
        printf("      T&I status: 0x%08" PRIx64 "\n", ju64(p, "StatusRegister"));
        printf("     Dax devices:");
        if (json_object_object_get_ex(p, "DaxDevices", &dax) && json_object_array_length(dax) > 0)
                for (size_t i = 0; i < json_object_array_length(dax); i++)
                        printf(" %s", json_object_get_string(json_object_array_get_idx(dax, i)));
        else
                printf(" none");
        printf("\n");
        printf("      Last event: %s%s%s\n", *jstr(p, "LastEventId") ? jstr(p, "LastEventId") : "none",
               *jstr(p, "LastEventId") ? " at " : "", *jstr(p, "LastEventId") ? when : "");
        printf("          Events: %" PRIu64 " since the daemon started\n", ju64(p, "EventCount"));
        return EXIT_OK;
}

static int verb_history(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_json_ json_object *events = NULL;
        const char *text;
        size_t n;
        int k;

        k = sd_bus_call_method(bus, BUS_NAME, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "GetEvents", &error, &reply,
                               "t", arg_since_set ? arg_since_usec : UINT64_C(0));
        if (k < 0)
                return report_error("Cannot read the history", &error, k);
        k = sd_bus_message_read(reply, "s", &text);
        if (k < 0)
                return report_error("Cannot read the history", NULL, k);
        events = json_tokener_parse(text);
        if (!events || !json_object_is_type(events, json_type_array)) {
                fprintf(stderr, "The daemon sent a history that is not a JSON array\n");
                return EXIT_FAILED;
        }
        if (arg_json) {
                print_json(events);
                return EXIT_OK;
        }
        n = json_object_array_length(events);
        if (n == 0) {
                printf("No recorded events%s.\n", arg_since_set ? " in that time" : "");
                return EXIT_OK;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(events, i), *plan, *dax;
                char when[64];

                format_realtime(ju64(e, "realtime_usec"), when, sizeof(when));
                printf("%s  %s  %s  event %s%s%s\n", when, jstr(e, "port"), jstr(e, "kind"),
                       jstr(e, "id"), jbool(e, "drill") ? "  (drill)" : "",
                       jbool(e, "acknowledged") ? "  acknowledged" : "");
                if (json_object_object_get_ex(e, "dax_devices", &dax) && json_object_array_length(dax) > 0) {
                        printf("    dax devices:");
                        for (size_t j = 0; j < json_object_array_length(dax); j++)
                                printf(" %s", json_object_get_string(json_object_array_get_idx(dax, j)));
                        printf("\n");
                }
                if (json_object_object_get_ex(e, "plan", &plan))
                        for (size_t j = 0; j < json_object_array_length(plan); j++) {
                                json_object *s = json_object_array_get_idx(plan, j);
                                const char *detail = jstr(s, "detail");

                                printf("    %s/%s: %s%s%s\n", jstr(s, "policy"), jstr(s, "action"),
                                       jstr(s, "result"), *detail ? ": " : "", detail);
                        }
        }
        return EXIT_OK;
}

/* A method without a useful reply: ok or the daemon's reason. */
static int call_simple(sd_bus *bus, const char *method, const char *what, const char *done, const char *signature,
                       const char *a, const char *b)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int k;

        if (!signature)
                k = sd_bus_call_method(bus, BUS_NAME, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, method, &error, &reply,
                                       NULL);
        else if (!b)
                k = sd_bus_call_method(bus, BUS_NAME, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, method, &error, &reply,
                                       signature, a);
        else
                k = sd_bus_call_method(bus, BUS_NAME, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, method, &error, &reply,
                                       signature, a, b);
        if (k < 0)
                return report_error(what, &error, k);
        if (arg_json) {
                _cleanup_json_ json_object *o = json_object_new_object();

                json_object_object_add(o, "ok", json_object_new_boolean(true));
                print_json(o);
        } else
                printf("%s\n", done);
        return EXIT_OK;
}

static int verb_ack(sd_bus *bus, char **args)
{
        _cleanup_free_ char *done = NULL;

        if (asprintf(&done, "Event %s acknowledged.", args[0]) < 0)
                return EXIT_FAILED;
        return call_simple(bus, "Acknowledge", "Cannot acknowledge", done, "s", args[0], NULL);
}

static int verb_arm(sd_bus *bus, char **args)
{
        _cleanup_free_ char *done = NULL;

        if (asprintf(&done, "%s: CXL.mem isolation enabled.", args[0]) < 0)
                return EXIT_FAILED;
        return call_simple(bus, "Arm", "Cannot arm", done, "s", args[0], NULL);
}

static int verb_disarm(sd_bus *bus, char **args)
{
        _cleanup_free_ char *done = NULL;

        if (asprintf(&done, "%s: CXL.mem isolation disabled.", args[0]) < 0)
                return EXIT_FAILED;
        return call_simple(bus, "Disarm", "Cannot disarm", done, "s", args[0], NULL);
}

static int verb_reload(sd_bus *bus, char **args)
{
        return call_simple(bus, "Reload", "Reload failed", "Configuration reloaded.", NULL, NULL, NULL);
}

static int verb_drill(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *id;
        int k;

        k = sd_bus_call_method(bus, BUS_NAME, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "Drill", &error, &reply, "ss",
                               args[0], args[1]);
        if (k < 0)
                return report_error("Drill failed", &error, k);
        k = sd_bus_message_read(reply, "s", &id);
        if (k < 0)
                return report_error("Drill failed", NULL, k);
        if (arg_json) {
                _cleanup_json_ json_object *o = json_object_new_object();

                json_object_object_add(o, "event_id", json_object_new_string(id));
                print_json(o);
        } else
                printf("Drill event %s started for %s with policy %s (see: cxl-isolctl history).\n", id, args[0],
                       args[1]);
        return EXIT_OK;
}

/* --- monitor --- */

static void print_now(void)
{
        struct timespec ts;
        char when[64];

        clock_gettime(CLOCK_REALTIME, &ts);
        format_realtime((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000, when, sizeof(when));
        printf("%s  ", when);
}

static int on_isolation_detected(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        _cleanup_free_ char *bdf = NULL;
        const char *path, *kind, *id;
        uint64_t usec;
        int k;

        k = sd_bus_message_read(m, "osst", &path, &kind, &id, &usec);
        if (k < 0) {
                fprintf(stderr, "Malformed IsolationDetected signal: %s\n", strerror(-k));
                return 0;
        }
        (void)sd_bus_path_decode(path, BUS_PORT_PREFIX, &bdf);
        if (arg_json) {
                _cleanup_json_ json_object *o = json_object_new_object();

                json_object_object_add(o, "signal", json_object_new_string("IsolationDetected"));
                json_object_object_add(o, "path", json_object_new_string(path));
                json_object_object_add(o, "port", json_object_new_string(bdf ?: ""));
                json_object_object_add(o, "kind", json_object_new_string(kind));
                json_object_object_add(o, "event_id", json_object_new_string(id));
                json_object_object_add(o, "realtime_usec", json_object_new_uint64(usec));
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        } else {
                char when[64];

                format_realtime(usec, when, sizeof(when));
                printf("%s  ISOLATION  %s  %s  event %s\n", when, bdf ?: path, kind, id);
        }
        fflush(stdout);
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        _cleanup_json_ json_object *changed = NULL;
        _cleanup_free_ char *bdf = NULL;
        const char *interface, *path = sd_bus_message_get_path(m);
        int k;

        k = sd_bus_message_read(m, "s", &interface);
        if (k >= 0)
                k = properties_to_json(m, &changed);
        if (k < 0) {
                fprintf(stderr, "Malformed PropertiesChanged signal: %s\n", strerror(-k));
                return 0;
        }
        (void)sd_bus_path_decode(path, BUS_PORT_PREFIX, &bdf);
        if (arg_json) {
                _cleanup_json_ json_object *o = json_object_new_object();

                json_object_object_add(o, "signal", json_object_new_string("PropertiesChanged"));
                json_object_object_add(o, "path", json_object_new_string(path));
                if (bdf)
                        json_object_object_add(o, "port", json_object_new_string(bdf));
                json_object_object_add(o, "interface", json_object_new_string(interface));
                json_object_object_add(o, "changed", json_object_get(changed));
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        } else {
                print_now();
                printf("%s:", bdf ? bdf : "daemon");
                json_object_object_foreach(changed, key, value)
                        printf(" %s=%s", key, json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN));
                printf("\n");
        }
        fflush(stdout);
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        return sd_event_exit(sd_event_source_get_event(s), EXIT_OK);
}

/* The bus going away ends monitoring too, but that is not the operator's Ctrl-C. */
static int on_bus_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        if (!sd_bus_message_is_signal(m, "org.freedesktop.DBus.Local", "Disconnected"))
                return 0;
        fprintf(stderr, "The system bus connection closed.\n");
        return sd_event_exit(userdata, EXIT_UNREACHABLE);
}

static int verb_monitor(sd_bus *bus, char **args)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_json_ json_object *manager = NULL;
        sigset_t mask;
        int k;

        /* Subscribe first, then check the daemon is there: nothing between the two is lost. */
        k = sd_bus_match_signal(bus, NULL, BUS_NAME, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "IsolationDetected",
                                on_isolation_detected, NULL);
        if (k >= 0)
                k = sd_bus_match_signal(bus, NULL, BUS_NAME, NULL, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_properties_changed, NULL);
        if (k < 0)
                return report_error("Cannot subscribe to the daemon's signals", NULL, k);
        k = get_all(bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, &manager, &error);
        if (k < 0)
                return report_error("Cannot reach the daemon", &error, k);

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return report_error("Cannot block signals", NULL, -errno);
        if ((k = sd_event_default(&event)) < 0 ||
            (k = sd_event_add_signal(event, NULL, SIGINT, on_signal, NULL)) < 0 ||
            (k = sd_event_add_signal(event, NULL, SIGTERM, on_signal, NULL)) < 0 ||
            (k = sd_bus_add_filter(bus, NULL, on_bus_message, event)) < 0 ||
            (k = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL)) < 0)
                return report_error("Cannot set up the event loop", NULL, k);
        fprintf(stderr, "Monitoring %s %s; press Ctrl-C to stop.\n", BUS_NAME, jstr(manager, "Version"));

        k = sd_event_loop(event);
        (void)sd_bus_detach_event(bus);
        if (k < 0)
                return report_error("Monitoring stopped", NULL, k);
        return k;
}

/* --- arguments --- */

/* --since: "-2h", "-30min", "-1d" (relative to now), "@EPOCH", "YYYY-MM-DD[ HH:MM[:SS]]" (local time). */
static int parse_since(const char *s, uint64_t *ret)
{
        static const struct { const char *suffix; uint64_t usec; } units[] = {
                { "s", 1000000ULL }, { "sec", 1000000ULL }, { "m", 60000000ULL }, { "min", 60000000ULL },
                { "h", 3600000000ULL }, { "d", 86400000000ULL }, { "w", 604800000000ULL },
        };
        struct timespec now;
        char *end;

        clock_gettime(CLOCK_REALTIME, &now);
        if (s[0] == '-') {
                uint64_t n, nowu = (uint64_t)now.tv_sec * 1000000ULL + (uint64_t)now.tv_nsec / 1000ULL;

                errno = 0;
                n = strtoull(s + 1, &end, 10);
                if (errno != 0 || end == s + 1)
                        return -EINVAL;
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (strcmp(end, units[i].suffix) == 0) {
                                if (n > UINT64_MAX / units[i].usec)
                                        return -ERANGE;
                                n *= units[i].usec;
                                *ret = n > nowu ? 0 : nowu - n;
                                return 0;
                        }
                return -EINVAL;
        }
        if (s[0] == '@') {
                uint64_t n;

                errno = 0;
                n = strtoull(s + 1, &end, 10);
                if (errno != 0 || end == s + 1 || *end || n > UINT64_MAX / 1000000ULL)
                        return -EINVAL;
                *ret = n * 1000000ULL;
                return 0;
        }
        static const char *const formats[] = { "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d" };
        for (size_t i = 0; i < ELEMENTSOF(formats); i++) {
                struct tm tm = { .tm_isdst = -1 };
                const char *rest = strptime(s, formats[i], &tm);
                time_t t;

                if (!rest || *rest)
                        continue;
                t = mktime(&tm);
                if (t == (time_t)-1 || t < 0)
                        return -EINVAL;
                *ret = (uint64_t)t * 1000000ULL;
                return 0;
        }
        return -EINVAL;
}

static void help(void)
{
        printf("Usage: cxl-isolctl [--json] COMMAND [ARGUMENTS]\n"
               "Query and control cxl-isold, the CXL isolation monitor, over the system bus.\n\n"
               "Commands:\n"
               "  status                  Daemon state, ports watched, armed and isolated, open events\n"
               "  list                    Every CXL root port with its state\n"
               "  show PORT               All properties of one port\n"
               "  history [--since TIME]  Recorded events (TIME: -2h, -1d, \"2026-11-24 10:00\", @EPOCH)\n"
               "  ack ID                  Acknowledge an event (root)\n"
               "  arm PORT                Enable CXL.mem isolation, after the safety checks (root)\n"
               "  disarm PORT             Disable CXL.mem isolation (root)\n"
               "  drill PORT POLICY       Run POLICY for PORT as a drill (root)\n"
               "  reload                  Reload the configuration (root)\n"
               "  monitor                 Print port changes and new events until interrupted\n\n"
               "Options:\n"
               "  --json                  Machine-readable output\n"
               "  -h --help               Show this help\n"
               "     --version            Show the version\n\n"
               "Exit status: 0 ok, 1 failed, 2 usage, 3 daemon not reachable, 4 access denied.\n");
}

struct verb {
        const char *name;
        size_t n_args;
        int (*run)(sd_bus *bus, char **args);
};

static const struct verb verbs[] = {
        { "status", 0, verb_status },   { "list", 0, verb_list },     { "show", 1, verb_show },
        { "history", 0, verb_history }, { "ack", 1, verb_ack },       { "arm", 1, verb_arm },
        { "disarm", 1, verb_disarm },   { "drill", 2, verb_drill },   { "reload", 0, verb_reload },
        { "monitor", 0, verb_monitor },
};

int main(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100, ARG_JSON, ARG_SINCE };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "since", required_argument, NULL, ARG_SINCE },
                {}
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        const struct verb *verb = NULL;
        int c, k;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_OK;
                case ARG_VERSION:
                        printf("cxl-isolctl %s\n", CXL_ISOLD_VERSION);
                        return EXIT_OK;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_SINCE:
                        if (parse_since(optarg, &arg_since_usec) < 0) {
                                fprintf(stderr, "Invalid --since: %s (use e.g. -2h, -1d, \"2026-11-24 10:00\")\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        arg_since_set = true;
                        break;
                default:
                        return EXIT_USAGE;
                }

        if (optind >= argc) {
                fprintf(stderr, "Missing command (see --help)\n");
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(verbs[i].name, argv[optind]) == 0)
                        verb = &verbs[i];
        if (!verb) {
                fprintf(stderr, "Unknown command: %s (see --help)\n", argv[optind]);
                return EXIT_USAGE;
        }
        if ((size_t)(argc - optind - 1) != verb->n_args) {
                fprintf(stderr, "%s takes %zu argument%s (see --help)\n", verb->name, verb->n_args,
                        verb->n_args == 1 ? "" : "s");
                return EXIT_USAGE;
        }
        if (arg_since_set && verb->run != verb_history) {
                fprintf(stderr, "--since applies to history only\n");
                return EXIT_USAGE;
        }

        k = sd_bus_open_system(&bus);
        if (k < 0) {
                fprintf(stderr, "Cannot connect to the system bus: %s\n", strerror(-k));
                return EXIT_UNREACHABLE;
        }
        return verb->run(bus, argv + optind + 1);
}
