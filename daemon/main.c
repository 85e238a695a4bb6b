/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cxl-isold: watch CXL root ports' Timeout & Isolation registers and act when a CXL.mem link is isolated. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "cleanup.h"
#include "config.h"
#include "list-ports.h"
#include "log.h"
#include "manager.h"
#include "metrics-export.h"
#include "strv.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct metrics_export *, metrics_export_free);

/*
 * The D-Bus API (bus.c) is an optional part of the binary: referenced weakly,
 * so the core builds, runs and is tested without it, and uses it when linked.
 */
struct bus;
extern int bus_new(struct manager *m, struct bus **ret) __attribute__((weak));
extern struct bus *bus_free(struct bus *b) __attribute__((weak));
extern int bus_introspect(const char *dir) __attribute__((weak));

static void bus_freep(struct bus **b)
{
        if (*b && bus_free)
                bus_free(*b);
}

enum mode { MODE_DAEMON, MODE_LIST_PORTS, MODE_CHECK_CONFIG, MODE_BUS_INTROSPECT, MODE_DRILL };

static void help(void)
{
        printf("Usage: cxl-isold [OPTIONS]\n"
               "Watch CXL root ports' Timeout & Isolation registers and act on CXL.mem isolation.\n\n"
               "  -h --help                  Show this help\n"
               "     --version               Show the version\n"
               "     --list-ports            Report discovered CXL root ports and exit\n"
               "     --json                  With --list-ports: JSON output\n"
               "     --check-config          Validate the configuration and exit (1 if it has problems)\n"
               "     --config FILE           Main configuration file\n"
               "     --config-dir DIR        Policy drop-in directory\n"
               "     --state-dir DIR         Where events.jsonl is kept\n"
               "     --poll-interval TIME    Status poll interval (e.g. 100ms)\n"
               "     --dry-run               Detect, record and log, but run no action that changes anything\n"
               "     --log-target TARGET     auto, journal or console\n"
               "     --log-level LEVEL       0-7 or debug/info/notice/warning/err\n"
               "     --bus-introspect DIR    Write the D-Bus interface XML into DIR and exit\n"
               "     --drill PORT POLICY     Run POLICY's actions on PORT as a drill, print each result,\n"
               "                             exit (0 only if every action succeeded)\n"
               "     --irq-source PORT=vfio:BDF|PORT=uio:BDF\n"
               "                             Also read PORT when BDF signals an interrupt (repeatable)\n");
}

static void drill_action_finished(struct manager *m, struct isolation_event *e, size_t index, void *userdata)
{
        if (e == *(struct isolation_event **)userdata && isolation_event_next_step(e) >= e->n_plan)
                (void)sd_event_exit(m->event, 0);
}

/*
 * --drill: one drill event of POLICY on PORT, its plan run to the end, one line per step:
 * "ACTION RESULT DETAIL". Success only when every step succeeded: a drill is there to
 * prove that the actions work on this machine, and a skipped step proves nothing.
 */
static int run_drill(struct manager *m, const char *bdf, const char *policy)
{
        struct isolation_event *e = NULL;
        const struct manager_observer o = { .action_finished = drill_action_finished, .userdata = &e };
        struct port *p = manager_find_port(m, bdf);
        bool ok;
        int k;

        if (!p) {
                log_error("No CXL root port %s was discovered (see --list-ports)", bdf);
                return EXIT_FAILURE;
        }
        /*
         * A drill reads no T&I register to decide anything and writes none, so a port without the
         * capability (or that cannot be mapped) is fair game: its dax devices are what the actions act on.
         */
        if (!port_is_watchable(p))
                log_notice("%s is not watchable (%s), drilling it anyway", bdf,
                           port_reason_description(p->rp.reason) ?: "unknown reason");
        /* This run exists for the drill: it must not go on polling and act on a real isolation meanwhile. */
        m->poll_stopped = true;
        (void)sd_event_source_set_enabled(m->poll_timer, SD_EVENT_OFF);

        k = manager_add_observer(m, &o);
        if (k < 0) {
                log_error_errno(k, "Cannot follow the drill's actions: %m");
                return EXIT_FAILURE;
        }
        k = manager_drill(m, p, policy, &e);
        if (k == -ENOENT) {
                log_error("No policy '%s' in the configuration", policy);
                return EXIT_FAILURE;
        }
        if (k < 0) {
                log_error_errno(k, "Drill of policy '%s' on %s failed: %m", policy, bdf);
                return EXIT_FAILURE;
        }
        if (isolation_event_next_step(e) < e->n_plan) {
                k = manager_run(m);
                if (k < 0) {
                        log_error_errno(k, "Event loop failed: %m");
                        return EXIT_FAILURE;
                }
        }

        printf("Drill event %s: policy '%s' on %s, %zu action(s)\n", e->id, policy, bdf, e->n_plan);
        ok = e->n_plan > 0;
        for (size_t i = 0; i < e->n_plan; i++) {
                const struct action_result *r = &e->plan[i].result;

                /* A step still pending here was cut short by SIGTERM/SIGINT. */
                printf("%s %s %s\n", action_type_to_string(e->plan[i].type) ?: "unknown",
                       action_outcome_to_string(r->outcome) ?: "unknown",
                       r->detail ?: (r->error < 0 ? strerror(-r->error) : "-"));
                ok = ok && r->outcome == ACTION_OUTCOME_SUCCESS;
        }
        return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int parse_log_level(const char *s)
{
        static const char *const names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };
        char *end;
        long v = strtol(s, &end, 10);

        if (*s && *end == '\0' && v >= 0 && v <= 7)
                return (int)v;
        for (int i = 0; i < 8; i++)
                if (strcmp(names[i], s) == 0)
                        return i;
        return -EINVAL;
}

int main(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100, ARG_LIST_PORTS, ARG_JSON, ARG_CHECK_CONFIG, ARG_CONFIG, ARG_CONFIG_DIR,
               ARG_STATE_DIR, ARG_POLL_INTERVAL, ARG_DRY_RUN, ARG_LOG_TARGET, ARG_LOG_LEVEL, ARG_IRQ_SOURCE,
               ARG_BUS_INTROSPECT, ARG_DRILL };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "list-ports", no_argument, NULL, ARG_LIST_PORTS },
                { "json", no_argument, NULL, ARG_JSON },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "config-dir", required_argument, NULL, ARG_CONFIG_DIR },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "poll-interval", required_argument, NULL, ARG_POLL_INTERVAL },
                { "dry-run", no_argument, NULL, ARG_DRY_RUN },
                { "log-target", required_argument, NULL, ARG_LOG_TARGET },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "irq-source", required_argument, NULL, ARG_IRQ_SOURCE },
                { "bus-introspect", required_argument, NULL, ARG_BUS_INTROSPECT },
                { "drill", required_argument, NULL, ARG_DRILL },
                {}
        };
        _cleanup_(metrics_export_freep) struct metrics_export *metrics = NULL;  /* declared before m: released after it */
        _cleanup_(manager_freep) struct manager *m = NULL;
        _cleanup_(bus_freep) struct bus *bus = NULL;    /* declared after m: released before it */
        const char *introspect_dir = NULL, *drill_port = NULL, *drill_policy = NULL;
        _cleanup_strv_free_ char **irq_sources = NULL;
        struct manager_options opts = {};
        enum log_target target = LOG_TARGET_AUTO;
        enum mode mode = MODE_DAEMON;
        bool json = false;
        sigset_t mask;
        int c, k;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("cxl-isold %s\n", CXL_ISOLD_VERSION);
                        return EXIT_SUCCESS;
                case ARG_LIST_PORTS:
                        mode = MODE_LIST_PORTS;
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                case ARG_CHECK_CONFIG:
                        mode = MODE_CHECK_CONFIG;
                        break;
                case ARG_CONFIG:
                        opts.config_paths.main_file = optarg;
                        break;
                case ARG_CONFIG_DIR:
                        opts.config_paths.dropin_dir = optarg;
                        break;
                case ARG_STATE_DIR:
                        opts.state_dir = optarg;
                        break;
                case ARG_POLL_INTERVAL: {
                        usec_t u;
                        if (config_parse_duration(optarg, &u) < 0 || u == 0) {
                                fprintf(stderr, "Invalid --poll-interval: %s (use e.g. 100ms, 1s)\n", optarg);
                                return EXIT_FAILURE;
                        }
                        opts.poll_interval_usec = u;
                        break;
                }
                case ARG_DRY_RUN:
                        opts.dry_run = true;
                        break;
                case ARG_LOG_TARGET:
                        target = log_target_from_string(optarg);
                        if (target < 0) {
                                fprintf(stderr, "Invalid --log-target: %s (auto, journal or console)\n", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case ARG_LOG_LEVEL:
                        k = parse_log_level(optarg);
                        if (k < 0) {
                                fprintf(stderr, "Invalid --log-level: %s\n", optarg);
                                return EXIT_FAILURE;
                        }
                        log_set_max_level(k);
                        break;
                case ARG_BUS_INTROSPECT:
                        mode = MODE_BUS_INTROSPECT;
                        introspect_dir = optarg;
                        break;
                case ARG_DRILL:
                        mode = MODE_DRILL;
                        drill_port = optarg;
                        break;
                case ARG_IRQ_SOURCE:
                        if (strv_extend(&irq_sources, optarg) < 0) {
                                log_oom();
                                return EXIT_FAILURE;
                        }
                        opts.irq_sources = irq_sources;
                        break;
                default:
                        return EXIT_FAILURE;
                }
        /* The policy is --drill's second argument: getopt has moved it behind the options. */
        if (mode == MODE_DRILL) {
                if (optind >= argc) {
                        fprintf(stderr, "--drill needs a port and a policy: --drill PORT POLICY\n");
                        return EXIT_FAILURE;
                }
                drill_policy = argv[optind++];
        }
        if (optind < argc) {
                fprintf(stderr, "Unexpected argument: %s (see --help)\n", argv[optind]);
                return EXIT_FAILURE;
        }

        if (mode == MODE_LIST_PORTS) {
                k = list_ports(stdout, json);
                if (k < 0) {
                        fprintf(stderr, "Discovery failed: %s\n", strerror(-k));
                        return EXIT_FAILURE;
                }
                return EXIT_SUCCESS;
        }
        if (mode == MODE_BUS_INTROSPECT) {
                if (!bus_introspect) {
                        fprintf(stderr, "This build has no D-Bus API.\n");
                        return EXIT_FAILURE;
                }
                k = bus_introspect(introspect_dir);
                if (k < 0) {
                        fprintf(stderr, "Cannot write the D-Bus introspection to %s: %s\n", introspect_dir, strerror(-k));
                        return EXIT_FAILURE;
                }
                return EXIT_SUCCESS;
        }
        if (mode == MODE_CHECK_CONFIG) {
                struct config_diags diags = {};
                struct config *cfg = NULL;

                k = config_load(&opts.config_paths, &cfg, &diags);
                config_diags_print(stdout, &diags);
                bool bad = k < 0 || diags.n > 0;
                if (!bad)
                        printf("Configuration OK: %zu file(s), %zu polic%s\n", cfg->n_files, cfg->n_policies,
                               cfg->n_policies == 1 ? "y" : "ies");
                config_diags_done(&diags);
                config_free(cfg);
                return bad ? EXIT_FAILURE : EXIT_SUCCESS;
        }

        log_set_target(target);

        /* sd-event takes these as signalfd/child sources; they must not be delivered the classic way. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                log_error_errno(errno, "Cannot block signals: %m");
                return EXIT_FAILURE;
        }
        /* A reader of an action's output pipe going away must not kill the daemon. */
        signal(SIGPIPE, SIG_IGN);

        k = manager_new(&opts, &m);
        if (k < 0) {
                log_error_errno(k, "Cannot set up the event loop: %m");
                return EXIT_FAILURE;
        }
        if (mode == MODE_DRILL) {
                /* No bus name and no metrics file: those belong to the service, which may be running. */
                if (manager_startup(m) < 0)
                        return EXIT_FAILURE;
                return run_drill(m, drill_port, drill_policy);
        }
        /* Before startup, so the ports found at startup are in the first file. */
        k = metrics_export_new(m, &metrics);
        if (k < 0)
                log_warning_errno(k, "Metrics export unavailable, watching and acting without it: %m");
        if (bus_new) {
                /* Before startup, so the name is owned when READY=1 goes out. Without a bus we still watch. */
                k = bus_new(m, &bus);
                if (k < 0)
                        log_notice_errno(k, "D-Bus API unavailable, watching and acting without it: %m");
        }
        k = manager_startup(m);
        if (k < 0) {
                (void)sd_notifyf(false, "STATUS=Failed to start: %s\nERRNO=%d", strerror(-k), -k);
                return EXIT_FAILURE;
        }
        /*
         * Start-up (discovery's decodes, the record's history, topology walks) frees more than the idle
         * daemon ever holds again, in holes glibc does not return to the kernel by itself (only a free top
         * of the heap is). Give the free pages back once, now: at 64 ports the heap's RSS halves.
         */
        (void)malloc_trim(0);
        k = manager_run(m);
        if (k < 0) {
                log_error_errno(k, "Event loop failed: %m");
                return EXIT_FAILURE;
        }
        log_info("Stopped");
        return EXIT_SUCCESS;
}
