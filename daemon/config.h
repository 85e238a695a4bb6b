/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Configuration: /etc/cxl-isold/cxl-isold.conf + /etc/cxl-isold/policy.d/*.conf,
 * vendor defaults in VENDOR_CONFDIR (same names: /etc wins, systemd style).
 * INI parsed with libinih; every problem is reported as "file:line: what, and
 * what to do". Loading builds a complete new struct config or nothing, which
 * is what makes SIGHUP reload all-or-nothing.
 *
 *   [daemon]  poll-interval= state-dir= metrics-dir= dry-run= reboot-on-record-failure=
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
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
const char *port_kind_to_string(enum port_kind k);

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
        char *state_dir;                /* default /var/lib/cxl-isold */
        char *metrics_dir;              /* NULL = no metrics */
        bool dry_run;
        bool reboot_on_record_failure;  /* default true: a failed record must not stop a configured reboot */
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
        const char *vendor_dir;         /* NULL = VENDOR_CONFDIR */
};

/*
 * Load and validate. On any error: returns -EINVAL (or -ENOMEM, -EIO),
 * *ret untouched, every problem appended to diags. Missing files are not
 * errors (built-in defaults apply); a missing or non-executable exec= script
 * is.
 */
int config_load(const struct config_paths *paths, struct config **ret, struct config_diags *diags);
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
