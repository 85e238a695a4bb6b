/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Configuration: /etc/cxl-isold/cxl-isold.conf + /etc/cxl-isold/policy.d/NAME.conf,
 * vendor defaults in VENDOR_CONFDIR (same names: /etc wins, systemd style).
 * INI parsed with libinih; every problem is reported as "file:line: what, and
 * what to do". Loading builds a complete new struct config or nothing, which
 * is what makes SIGHUP reload all-or-nothing.
 *
 *   [daemon]  poll-interval= poll-backstop= state-dir= metrics-dir= dry-run= reboot-on-record-failure=
 *            record-max-size=
 *   [port "<match>"]  match: BDF ("0000:0c:00.0", globs allowed), "host-bridge:<name>",
 *             "serial:<hex>"; arm=auto|never|force; timeout=<value or range name>;
 *             on-unsafe=disarm|alert; kind=memory|accelerator
 *   [policy "<name>"]  match-port= (list of port matches, default *)
 *             match-reason= (mem-link-down mem-timeout cache-link-down cache-timeout, default all)
 *             action= ordered list of log offline-devdax offline-memory fence exec evidence reset reboot
 *             exec= absolute path of an operator script (needed by "exec")
 *             timeout= per-action default; <action>-timeout= overrides
 *             fence-signal= (default SIGBUS), reboot-delay=, reboot-window=HH:MM-HH:MM,
 *             cooldown=, rate-limit=N/interval
 *   [policy] (unnamed) is the walking-skeleton shorthand: name "default", and
 *             with exec= but no action= the actions are "log exec".
 *
 * Syntax: "#" or ";" starts a comment line, " ;" an inline comment; leading
 * whitespace means nothing (no continuation lines); lists are separated by
 * spaces or commas; an empty value ("key=") restores the default. A key may
 * appear once per section; [daemon] may repeat (the later value wins, so a
 * drop-in overrides the main file); [port "X"] and [policy "X"] may not.
 * Drop-ins may hold any section. Policy names: 1-64 of [A-Za-z0-9_.-].
 * Durations: see config_parse_duration() (a bare number is seconds).
 * Refused at load, besides bad syntax and values: exec= not absolute, missing,
 * not a regular executable file, or writable by group/other or owned by
 * someone else than root; exec listed without exec= (and exec=, fence-signal=,
 * reboot-delay=, reboot-window=, ACTION-timeout= for an action not listed);
 * an action after reboot or listed twice; more than POLICY_MAX_ACTIONS; reset
 * for a kind=memory [port] or offline-devdax for a kind=accelerator [port]
 * that the policy's match-port= covers.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef uint64_t usec_t;

enum arm_mode { ARM_AUTO, ARM_NEVER, ARM_FORCE, _ARM_MODE_MAX, _ARM_MODE_INVALID = -22 };
enum unsafe_reaction { UNSAFE_DISARM, UNSAFE_ALERT, _UNSAFE_REACTION_MAX, _UNSAFE_REACTION_INVALID = -22 };
enum port_kind { PORT_KIND_ANY, PORT_KIND_MEMORY, PORT_KIND_ACCELERATOR, _PORT_KIND_MAX, _PORT_KIND_INVALID = -22 };

enum action_type {
        ACTION_LOG,
        ACTION_OFFLINE_DEVDAX,
        ACTION_OFFLINE_MEMORY,
        ACTION_FENCE,
        ACTION_EXEC,
        ACTION_EVIDENCE,
        ACTION_RESET,
        ACTION_REBOOT,
        _ACTION_TYPE_MAX,
        _ACTION_TYPE_INVALID = -22,
};
const char *action_type_to_string(enum action_type a);
enum action_type action_type_from_string(const char *s);
const char *arm_mode_to_string(enum arm_mode m);
enum arm_mode arm_mode_from_string(const char *s);
const char *port_kind_to_string(enum port_kind k);
enum port_kind port_kind_from_string(const char *s);
const char *unsafe_reaction_to_string(enum unsafe_reaction r);
enum unsafe_reaction unsafe_reaction_from_string(const char *s);

/*
 * Bounds that keep a broken or hostile file from costing unbounded memory or
 * time: a longer line, one section too many or one problem too many ends the
 * load with a diagnostic saying so.
 */
#define CONFIG_LINE_MAX 4096            /* bytes per line, without the newline */
#define CONFIG_SECTIONS_MAX 4096        /* sections over all files of one load */
#define CONFIG_DROPINS_MAX 1024         /* policy.d files over both directories */
#define CONFIG_DIAGS_MAX 100            /* problems reported before giving up */

#define CONFIG_DEFAULT_POLL_INTERVAL_USEC 100000ULL     /* 100ms */
#define CONFIG_DEFAULT_RECORD_MAX_SIZE (UINT64_C(4) << 20)
#define CONFIG_RECORD_MAX_SIZE_MIN (UINT64_C(64) << 10)
#define CONFIG_RECORD_MAX_SIZE_MAX (UINT64_C(1) << 30)
#define CONFIG_POLL_BACKSTOP_UNSET UINT64_MAX           /* poll-backstop= not set: same as poll-interval= */
#define CONFIG_DEFAULT_STATE_DIR "/var/lib/cxl-isold"
#define CONFIG_DEFAULT_ACTION_TIMEOUT_USEC 30000000ULL  /* 30s */

struct config_source {          /* where a section came from, for diagnostics */
        char *file;
        unsigned line;
};

struct config_port {
        char *match;
        struct config_source src;
        enum arm_mode arm;
        int timeout_value;              /* control 3:0 encoding, -1 = leave as is */
        enum unsafe_reaction on_unsafe;
        enum port_kind kind;
};

#define POLICY_MAX_ACTIONS 16

struct config_policy {
        char *name;
        struct config_source src;
        char **match_ports;             /* NULL-terminated; NULL = all ports */
        unsigned match_reasons;         /* bitmask of 1u << enum cxl_isolation_kind; 0 = all */
        size_t n_actions;
        enum action_type actions[POLICY_MAX_ACTIONS];
        char *exec;
        usec_t timeout;                 /* default per-action timeout */
        usec_t action_timeout[_ACTION_TYPE_MAX];    /* 0 = use timeout */
        int fence_signal;
        usec_t reboot_delay;
        int reboot_window_start_min, reboot_window_end_min;  /* -1 = no window */
        usec_t cooldown;
        unsigned rate_limit_burst;      /* 0 = unlimited */
        usec_t rate_limit_interval;
};

struct config {
        usec_t poll_interval;           /* default 100 ms */
        usec_t poll_backstop;           /* with an interrupt for every port; 0 = off, CONFIG_POLL_BACKSTOP_UNSET */
        char *state_dir;                /* default /var/lib/cxl-isold */
        char *metrics_dir;              /* NULL = no metrics */
        bool dry_run;
        bool reboot_on_record_failure;  /* default true: a failed record must not stop a configured reboot */
        uint64_t record_max_size;       /* bytes; events.jsonl rotates beyond it; 0 = never */
        size_t n_ports;
        struct config_port *ports;
        size_t n_policies;
        struct config_policy *policies;
        size_t n_files;
        char **files;                   /* every file read, in order (for evidence and --check-config) */
};

struct config_diag {
        char *file;
        unsigned line;                  /* 0 when the problem is the file as a whole */
        char *message;                  /* "what, and what to do" */
};

struct config_diags {
        size_t n;
        struct config_diag *diag;
};

struct config_paths {
        const char *main_file;          /* NULL = SYSCONFDIR/cxl-isold/cxl-isold.conf (or vendor) */
        const char *dropin_dir;         /* NULL = SYSCONFDIR/cxl-isold/policy.d */
        const char *vendor_dir;         /* NULL = VENDOR_CONFDIR (main file and policy.d/ below it) */
        bool require_main_file;         /* an explicit --config file that is missing is an error */
};

/*
 * Load and validate. On any error: returns -EINVAL (or -ENOMEM, -EIO),
 * *ret untouched, every problem appended to diags. Missing files are not
 * errors (built-in defaults apply); a missing or non-executable exec= script
 * is.
 */
int config_load(const struct config_paths *paths, struct config **ret, struct config_diags *diags);
/* Not thread-safe: Debian's libinih keeps its parser settings in globals, set around each parse. */
/* Parse one file's text (for tests and fuzzing): same rules, no drop-ins. */
int config_load_string(const char *name, const char *text, size_t len, struct config **ret, struct config_diags *diags);
struct config *config_free(struct config *c);
void config_diags_done(struct config_diags *d);

/* Per-port settings: the last [port] section whose match applies, or defaults. */
const struct config_port *config_port_for(const struct config *c, const char *bdf, const char *host_bridge,
                                          uint64_t serial);
/* Policies matching this port and isolation kind, in file order. Returns count written to out (<= max). */
size_t config_policies_for(const struct config *c, const char *bdf, const char *host_bridge, uint64_t serial,
                           int isolation_kind, const struct config_policy **out, size_t max);
bool config_policy_has_action(const struct config_policy *p, enum action_type a);
/*
 * Minutes from minute_of_day (0..1439, local time) until the policy's
 * reboot-window= opens; 0 when there is no window or we are inside it. The
 * window is [start, end) and may wrap past midnight. -EINVAL for a bad minute.
 */
int config_policy_reboot_wait_min(const struct config_policy *p, int minute_of_day);
/* Does one match string ("0000:0c:*", "host-bridge:ACPI0016:00", "serial:1a2b") apply to this port? */
bool config_match(const char *pattern, const char *bdf, const char *host_bridge, uint64_t serial);

/*
 * At load, a [port] section with kind= is checked against every policy whose
 * match-port= can be compared with its match (same form: BDF/glob, host-bridge
 * or serial). Mixed forms can only be judged once ports are discovered, hence:
 *
 * A discovered port, for config_check_port_kinds(). kind is what discovery
 * found (PORT_KIND_ANY = unknown); a kind= in the port's [port] section wins.
 */
struct config_port_info {
        const char *bdf;
        const char *host_bridge;        /* may be NULL */
        uint64_t serial;                /* 0 = none */
        enum port_kind kind;
};
/*
 * Once ports are known: refuse a policy that would reset a memory port or
 * offline-devdax an accelerator port. 0 when every pairing is sane, -EINVAL
 * with one diagnostic (at the policy's section) per bad pairing.
 */
int config_check_port_kinds(const struct config *c, const struct config_port_info *ports, size_t n_ports,
                            struct config_diags *diags);

/* "file:line: message" (or "file: message" for line 0), one per line. */
void config_diags_print(FILE *f, const struct config_diags *d);
/* The effective configuration as INI that config_load_string() reads back unchanged. -EIO on a write error. */
int config_dump(FILE *f, const struct config *c);

/*
 * Durations the systemd way: "100ms", "5s", "2min", "1h 30min"; a number
 * without unit is seconds. Units: us usec ms msec s sec second(s) m min
 * minute(s) h hr hour(s) d day(s) w week(s). Integers only.
 */
int config_parse_duration(const char *s, usec_t *ret);
#define CONFIG_DURATION_STRING_MAX 32
/* The shortest exact form ("0", "100ms", "90s", "2min", "1h"). Returns buf. */
const char *config_format_duration(usec_t u, char buf[static CONFIG_DURATION_STRING_MAX]);
/*
 * A port timeout= value: "keep" (-1: leave the register alone), "default"
 * (0h), the PCIe sub-range names A1 A2 B1 B2 C1 C2 D1 D2, or the encoding in
 * hex ("0xa"). Reserved encodings are -EINVAL.
 */
int config_parse_timeout_value(const char *s, int *ret);
