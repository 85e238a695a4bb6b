/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Gate integration: the pure decision comes from lib/arming-gate.c; this file
 * reads the inputs (config, topology, capability), writes control through
 * port_arm()/port_disarm() and tells the journal, once per change.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arming.h"
#include "cleanup.h"
#include "config.h"
#include "cxl-regs.h"
#include "log.h"
#include "manager.h"
#include "message-ids.h"
#include "source.h"
#include "strv.h"
#include "topology.h"

_Static_assert((int)GATE_ARM_AUTO == (int)ARM_AUTO && (int)GATE_ARM_NEVER == (int)ARM_NEVER &&
               (int)GATE_ARM_FORCE == (int)ARM_FORCE, "arm modes of config.h and arming-gate.h must match");

static bool decision_equal(const struct arming_decision *a, const struct arming_decision *b)
{
        return a->arm == b->arm && a->reason == b->reason && strcmp(a->detail, b->detail) == 0;
}

static void log_decision(const struct port *p, int level, const char *message_id, const char *reaction,
                         const char *format_prefix)
{
        _cleanup_strv_free_ char **f = calloc(1, sizeof(char *));
        char text[256];

        if (!f) {
                log_oom();
                return;
        }
        arming_decision_to_string(&p->gate, text, sizeof(text));
        (void)strv_extendf(&f, "CXL_ISOLD_PORT=%s", p->rp.bdf);
        (void)strv_extendf(&f, "CXL_ISOLD_HOST_BRIDGE=%s", p->rp.host_bridge);
        (void)strv_extendf(&f, "CXL_ISOLD_GATE_REASON=%s", gate_reason_to_string(p->gate.reason) ?: "unknown");
        (void)strv_extendf(&f, "CXL_ISOLD_GATE_DETAIL=%s", p->gate.detail);
        (void)strv_extendf(&f, "CXL_ISOLD_ARMED=%d", p->armed ? 1 : 0);
        (void)strv_extendf(&f, "CXL_ISOLD_CONTROL=0x%08" PRIx32, p->control);
        if (reaction)
                (void)strv_extendf(&f, "CXL_ISOLD_UNSAFE_REACTION=%s", reaction);
        log_struct_fields(level, 0, message_id, (const char *const *)f, strv_length(f),
                          "%s: %s: %s, control 0x%08" PRIx32, p->rp.bdf, format_prefix, text, p->control);
}

/* Remember d as p's decision; log it only when it differs from the last one. */
static void set_gate(struct port *p, const struct arming_decision *d, int level, const char *what)
{
        if (p->gate_decided && decision_equal(&p->gate, d))
                return;
        p->gate = *d;
        p->gate_decided = true;
        log_decision(p, level, MESSAGE_ID_ARMING_DECISION, NULL, what);
        manager_port_changed(p->manager, p);
}

/*
 * The request the gate recommends, plus what only the daemon knows: an
 * interrupt source for this port (bit 26 is useless, and its MSI unserviced,
 * without one) and the operator's [port] timeout=.
 */
static void build_request(struct manager *m, const struct port *p, const struct config_port *cp,
                          struct cxl_ti_arm_request *req)
{
        const struct cxl_ti_capability *cap = &p->rp.ti_cap;

        if (cap->interrupt && sources_serve_interrupt(m, p))
                req->interrupt = true;
        if (cp && cp->timeout_value >= 0) {
                uint8_t value = (uint8_t)cp->timeout_value;

                if (cap->mem_timeout && cxl_ti_timeout_value_supported(cap->mem_timeout_ranges, value)) {
                        req->mem_timeout = true;
                        req->mem_timeout_value = value;
                } else
                        log_warning("%s: timeout=0x%x is not supported by capability 0x%08" PRIx32
                                    " (ranges 0x%x), arming without the CXL.mem timeout",
                                    p->rp.bdf, (unsigned)cp->timeout_value, cap->raw, cap->mem_timeout_ranges);
        }
}

static int react_unsafe(struct manager *m, struct port *p, const struct config_port *cp,
                        const struct arming_decision *d)
{
        enum unsafe_reaction reaction = cp ? cp->on_unsafe : UNSAFE_DISARM;
        int k;

        if (p->gate_decided && decision_equal(&p->gate, d))
                return 0;       /* already reacted to exactly this */
        p->gate = *d;
        p->gate_decided = true;

        if (reaction == UNSAFE_ALERT) {
                log_decision(p, LOG_WARNING, MESSAGE_ID_ARMED_PORT_UNSAFE, "alert",
                             "armed port became unsafe, left armed (on-unsafe=alert)");
                manager_port_changed(m, p);
                return 0;
        }

        k = port_disarm(p);
        if (k < 0) {
                /* -ETIMEDOUT: RP Busy stayed set; writing control now would break the quiesce rule. */
                log_decision(p, LOG_ERR, MESSAGE_ID_ARMED_PORT_UNSAFE, "disarm",
                             k == -ETIMEDOUT ? "armed port became unsafe, cannot disarm: RP Busy stays set" :
                                               "armed port became unsafe, disarming failed");
                log_error_errno(k, "%s: disarming failed, will retry on the next change: %m", p->rp.bdf);
                /* Remember it as a different decision, so the next look tries again. */
                (void)snprintf(p->gate.detail, sizeof(p->gate.detail), "disarming failed: %s", strerror(-k));
                return k;
        }
        log_decision(p, LOG_WARNING, MESSAGE_ID_ARMED_PORT_UNSAFE, "disarm",
                     "armed port became unsafe, CXL.mem isolation disabled");
        manager_port_changed(m, p);
        return 0;
}

/*
 * The topology for one round of decisions: one walk of the buses (topology_snapshot), taken when the first
 * port of the round needs it, so a round over every port costs one walk, not one per port.
 */
struct gate_round {
        struct topology_snapshot *snapshot;
        int error;                      /* of taking the snapshot; 0 until tried */
};

static void gate_round_done(struct gate_round *g)
{
        topology_snapshot_free(g->snapshot);
}

static int gate_round_port(struct gate_round *g, const struct port *p, struct port_topology *ret)
{
        if (!g->snapshot && g->error == 0) {
                int k = topology_snapshot_read(&g->snapshot);
                if (k < 0)
                        g->error = k;
        }
        if (g->error < 0)
                return g->error;
        return topology_snapshot_port(g->snapshot, p->rp.sysfs_path, ret);
}

static int evaluate_port(struct manager *m, struct port *p, struct gate_round *round)
{
        _cleanup_(port_topology_done) struct port_topology topo = {};
        const struct config_port *cp;
        enum arm_mode mode;
        struct arming_decision d = {};
        int k;

        /* Without the capability there is nothing to decide; kept for D-Bus, the not-watchable message said it. */
        if (p->rp.reason == PORT_NO_TI_CAPABILITY || p->rp.reason == PORT_NO_MEM_ISOLATION) {
                struct arming_decision none = {};
                (void)arming_gate_decide(p->rp.reason == PORT_NO_MEM_ISOLATION ? &p->rp.ti_cap : NULL,
                                         GATE_ARM_AUTO, &(struct port_topology) {}, &none);
                p->gate = none;
                p->gate_decided = true;
                return 0;
        }
        /* Control is not touched while isolated: the operator's recovery owns the port then. */
        if (p->state != PORT_STATE_WATCHING || !p->rp.win)
                return 0;

        cp = m->config ? config_port_for(m->config, p->rp.bdf, p->rp.host_bridge, p->rp.serial) : NULL;
        mode = cp ? cp->arm : ARM_AUTO;

        /* Never trust the uevent that brought us here: the topology is read now (once per round). */
        k = gate_round_port(round, p, &topo);
        if (k < 0) {
                log_warning_errno(k, "%s: cannot read what is below the port, leaving arming as it is: %m", p->rp.bdf);
                return 0;
        }
        port_update_dax_cache(p, &topo);

        if (p->armed) {
                k = arming_gate_check_armed(&topo, (enum gate_arm_mode)mode, &d);
                if (k < 0)
                        return k;
                if (!d.arm && !p->gate_decided) {
                        /*
                         * Armed before we first looked (firmware, an operator, a previous run) and unsafe
                         * already: somebody chose this; say so loudly, but react only to changes seen
                         * while watching, which is what on-unsafe= is about.
                         */
                        p->gate = d;
                        p->gate_decided = true;
                        log_decision(p, LOG_WARNING, MESSAGE_ID_ARMED_PORT_UNSAFE, "alert",
                                     "found armed and unsafe, left armed (armed before cxl-isold looked)");
                        manager_port_changed(m, p);
                        return 0;
                }
                if (!d.arm)
                        return react_unsafe(m, p, cp, &d);
                if (d.reason == GATE_FORCED) {
                        /* Forced into exactly this (or already alerted on it): nothing new to say. */
                        if (!p->gate_decided || p->gate.reason != GATE_FORCED) {
                                p->gate = d;
                                p->gate_decided = true;
                                log_decision(p, LOG_WARNING, MESSAGE_ID_ARMED_PORT_UNSAFE, "alert",
                                             "armed port is unsafe, left armed (arm=force)");
                                manager_port_changed(m, p);
                        }
                        return 0;
                }
                /* Armed and safe: the gate's verdict for an armed port, logged once. */
                if (!p->gate_decided)
                        set_gate(p, &d, LOG_INFO, "CXL.mem isolation already enabled, safe");
                else if (!p->gate.arm || p->gate.reason != GATE_OK)
                        set_gate(p, &d, LOG_INFO, "CXL.mem isolation enabled, safe again");
                return 0;
        }

        /* An operator's Disarm stands until their Arm: neither a reload nor a uevent overrides it. */
        if (p->operator_disarmed)
                return 0;

        k = arming_gate_decide(p->rp.ti_offset ? &p->rp.ti_cap : NULL, (enum gate_arm_mode)mode, &topo, &d);
        if (k < 0)
                return k;
        if (!d.arm) {
                set_gate(p, &d, LOG_NOTICE, "not arming CXL.mem isolation");
                return 0;
        }

        build_request(m, p, cp, &d.request);
        k = port_arm(p, &d.request);
        if (k < 0) {
                struct arming_decision failed = d;

                failed.arm = false;
                /* The gate's own detail is for an arm that did not happen; the error says more. */
                (void)snprintf(failed.detail, sizeof(failed.detail), "writing control failed: %s", strerror(-k));
                set_gate(p, &failed, LOG_ERR, "cannot arm CXL.mem isolation");
                return k;
        }
        if (!p->armed) {
                /* Read back without bit 16: the hardware did not take it. Say so rather than pretend. */
                struct arming_decision failed = d;

                failed.arm = false;
                (void)snprintf(failed.detail, sizeof(failed.detail), "control reads back 0x%08" PRIx32
                               " without CXL.mem isolation enable", p->control);
                set_gate(p, &failed, LOG_ERR, "cannot arm CXL.mem isolation");
                return -EIO;
        }
        set_gate(p, &d, d.reason == GATE_FORCED ? LOG_WARNING : LOG_INFO, "CXL.mem isolation armed");
        return 0;
}

int arming_evaluate_port(struct manager *m, struct port *p)
{
        _cleanup_(gate_round_done) struct gate_round round = {};

        return evaluate_port(m, p, &round);
}

void arming_evaluate_ports(struct manager *m, size_t first, size_t n)
{
        _cleanup_(gate_round_done) struct gate_round round = {};

        for (size_t i = first; i < first + n && i < m->n_ports; i++)
                (void)evaluate_port(m, m->ports[i], &round);
}

void arming_evaluate_all(struct manager *m)
{
        arming_evaluate_ports(m, 0, m->n_ports);
}
