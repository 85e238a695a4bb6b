/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One CXL root port and its state machine:
 *
 *   not-watchable(reason) --(rediscovery ok)--> watching --(bit 8/12 rises)--> isolated
 *   isolated --(operator acknowledges)--> acknowledged --(status clears)--> watching
 *   isolated --(status clears: someone else cleared it)--> watching
 *   any --(all-ones / SIGBUS)--> not-watchable(device-gone)
 *
 * "armed" is orthogonal: control bit 16 (CXL.mem isolation enable) is set.
 * This file is the ONLY place that writes T&I control/status registers, and
 * only through lib/cxl-ti-ops.h; the daemon never clears isolation by itself,
 * only when an operator asks (port_clear_isolation()).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "arming-gate.h"
#include "cxl-ras.h"
#include "discover.h"
#include "transition.h"

struct manager;
struct isolation_event;

enum port_state {
        PORT_STATE_NOT_WATCHABLE,
        PORT_STATE_WATCHING,
        PORT_STATE_ISOLATED,
        PORT_STATE_ACKNOWLEDGED,
        _PORT_STATE_MAX,
        _PORT_STATE_INVALID = -22,
};
const char *port_state_to_string(enum port_state s);   /* "not-watchable", "watching", "isolated", "acknowledged" */

struct port {
        struct manager *manager;
        struct cxl_rootport rp;         /* discovery result; owns the register window */
        enum port_state state;
        bool armed;                     /* control bit 16 at the last control read */

        bool have_status;
        uint32_t status;                /* last status read */
        uint32_t control;               /* read at discovery and at events, never while idle */
        uint64_t n_polls;
        uint64_t n_read_errors;

        /* The unacknowledged (or acknowledged, while still isolated) event for the current isolation. */
        struct isolation_event *current_event;
        uint64_t n_events;              /* events detected on this port since start */

        /* The arming gate's last decision (daemon/arming.c): logged once per change, shown on D-Bus. */
        bool gate_decided;
        struct arming_decision gate;
        /* An operator disarmed the port (D-Bus Disarm): the gate does not re-arm it until Arm clears this. */
        bool operator_disarmed;

        /*
         * The dax devices below the port at the gate's last topology read (every relevant uevent,
         * at least every minute). An event is recorded with this list, so the record is durable
         * without first walking sysfs and every process's maps (milliseconds); the walk follows
         * right after and adds any device that appeared since, before the actions run.
         */
        bool have_dax_cache;
        char **dax_cache;
};

/* Take over a discovery result (moved: *rp is zeroed). */
int port_new(struct manager *m, struct cxl_rootport *rp, struct port **ret);
struct port *port_free(struct port *p);

bool port_is_watchable(const struct port *p);
const char *port_bdf(const struct port *p);

/*
 * One poll: exactly one 32-bit status read. Returns the transition seen
 * (>= 0) or a negative errno. On STATUS_DEVICE_GONE the port becomes
 * not-watchable(device-gone).
 */
int port_poll(struct port *p, enum status_transition *ret_transition);

/*
 * Registers for an event, read only at event time: status, control,
 * capability and the RAS snapshot (with its 16-dword header log).
 * Missing RAS is not an error: *ret_have_ras = false.
 */
int port_snapshot(struct port *p, uint32_t *ret_status, uint32_t *ret_control, uint32_t *ret_capability,
                  struct cxl_ras_snapshot *ret_ras, bool *ret_have_ras);

/* Operator-driven transitions (D-Bus, CLI). */
int port_acknowledge(struct port *p);
/* Clear isolation (waits for RP Busy like cxl_ti_clear_isolation); never called by the daemon on its own. */
int port_clear_isolation(struct port *p, uint32_t *ret_status_after);
int port_arm(struct port *p, const struct cxl_ti_arm_request *req);
struct port_topology;
/* Remember the dax device names of a fresh topology read (see dax_cache). Keeps the old list on -ENOMEM. */
void port_update_dax_cache(struct port *p, const struct port_topology *t);
int port_disarm(struct port *p);

void port_set_state(struct port *p, enum port_state s);
