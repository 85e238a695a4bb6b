/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Port state and register access. While idle a port costs exactly one
 * 32-bit read of T&I status per poll; control, capability and RAS are read
 * only at discovery and when an event is built.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cxl-regs.h"
#include "cxl-ti-ops.h"
#include "log.h"
#include "port.h"
#include "strv.h"
#include "topology.h"

/* How long an operator-requested clear or disarm waits for RP Busy, as the 2025 kernel series did. */
#define PORT_BUSY_TIMEOUT_USEC (2ULL * 1000000ULL)
#define PORT_BUSY_POLL_USEC (10ULL * 1000ULL)

static const char *const state_names[_PORT_STATE_MAX] = {
        [PORT_STATE_NOT_WATCHABLE] = "not-watchable",
        [PORT_STATE_WATCHING] = "watching",
        [PORT_STATE_ISOLATED] = "isolated",
        [PORT_STATE_ACKNOWLEDGED] = "acknowledged",
};

const char *port_state_to_string(enum port_state s)
{
        if ((unsigned)s >= _PORT_STATE_MAX)
                return NULL;
        return state_names[s];
}

int port_new(struct manager *m, struct cxl_rootport *rp, struct port **ret)
{
        struct port *p = calloc(1, sizeof(*p));

        if (!p)
                return -ENOMEM;
        p->manager = m;
        p->rp = *rp;
        memset(rp, 0, sizeof(*rp));
        /* The DVSEC list and capability array are for reports (--list-ports); the daemon never reads them. */
        cxl_rootport_drop_decode(&p->rp);
        p->state = p->rp.reason == PORT_WATCHABLE && p->rp.win ? PORT_STATE_WATCHING : PORT_STATE_NOT_WATCHABLE;

        if (p->state == PORT_STATE_WATCHING) {
                uint32_t control;
                /* Control once at start, for the armed flag; never again while idle. */
                if (regwin_read32(p->rp.win, p->rp.ti_offset + CXL_TI_CONTROL, &control) >= 0 &&
                    control != REG_ALL_ONES) {
                        p->control = control;
                        p->armed = (control & CXL_TI_CTL_MEM_ISOLATION_ENABLE) != 0;
                }
        }
        *ret = p;
        return 0;
}

struct port *port_free(struct port *p)
{
        if (!p)
                return NULL;
        cxl_rootport_done(&p->rp);
        strv_free(p->dax_cache);
        free(p);
        return NULL;
}

void port_update_dax_cache(struct port *p, const struct port_topology *t)
{
        _cleanup_strv_free_ char **names = NULL;

        for (size_t i = 0; i < t->n_dax; i++)
                if (strv_extend(&names, t->dax[i].name) < 0)
                        return;
        strv_free(p->dax_cache);
        p->dax_cache = TAKE_PTR(names);
        p->have_dax_cache = true;
}

bool port_is_watchable(const struct port *p)
{
        return p->state != PORT_STATE_NOT_WATCHABLE;
}

const char *port_bdf(const struct port *p)
{
        return p->rp.bdf;
}

void port_set_state(struct port *p, enum port_state s)
{
        p->state = s;
}

static void port_mark_gone(struct port *p, int error)
{
        p->rp.reason = PORT_DEVICE_GONE;
        p->rp.error = error;
        p->state = PORT_STATE_NOT_WATCHABLE;
}

int port_poll(struct port *p, enum status_transition *ret_transition)
{
        enum status_transition t;
        uint32_t status;
        int k;

        if (!port_is_watchable(p) || !p->rp.win)
                return -ENODEV;

        k = regwin_read32(p->rp.win, p->rp.ti_offset + CXL_TI_STATUS, &status);
        p->n_polls++;
        if (k == -ENODEV) {
                /* The mapping faulted (revoked or device removed): the same as reading all-ones. */
                status = REG_ALL_ONES;
        } else if (k < 0) {
                p->n_read_errors++;
                return k;
        }

        t = status_transition_detect(p->have_status, p->status, status);
        p->have_status = true;
        p->status = status;
        if (t == STATUS_DEVICE_GONE)
                port_mark_gone(p, k < 0 ? k : -ENODEV);
        *ret_transition = t;
        return 0;
}

int port_snapshot(struct port *p, uint32_t *ret_status, uint32_t *ret_control, uint32_t *ret_capability,
                  struct cxl_ras_snapshot *ret_ras, bool *ret_have_ras)
{
        uint32_t status, control, capability;
        struct cxl_ras_snapshot ras = {};
        bool have_ras = false;
        int k;

        /*
         * No T&I capability (a drill on a discovered but unwatchable port): offset 0 would read
         * whatever sits at the start of the component block and record it as T&I status.
         */
        if (!p->rp.win || p->rp.ti_offset == 0)
                return -ENODEV;
        if ((k = regwin_read32(p->rp.win, p->rp.ti_offset + CXL_TI_STATUS, &status)) < 0 ||
            (k = regwin_read32(p->rp.win, p->rp.ti_offset + CXL_TI_CONTROL, &control)) < 0 ||
            (k = regwin_read32(p->rp.win, p->rp.ti_offset + CXL_TI_CAPABILITY, &capability)) < 0)
                return k;

        if (p->rp.ras_offset != 0) {
                uint8_t raw[CXL_RAS_LENGTH];
                /* Missing or unreadable RAS does not stop an event; the record says it is absent. */
                k = regwin_copy(p->rp.win, p->rp.ras_offset, sizeof(raw), raw);
                if (k >= 0 && cxl_ras_decode(raw, sizeof(raw), &ras) >= 0)
                        have_ras = true;
                else
                        log_warning_errno(k < 0 ? k : -EBADMSG, "%s: cannot read the RAS capability at event time, "
                                          "recording the event without it: %m", p->rp.bdf);
        }

        p->control = control;
        p->armed = control != REG_ALL_ONES && (control & CXL_TI_CTL_MEM_ISOLATION_ENABLE);
        *ret_status = status;
        *ret_control = control;
        *ret_capability = capability;
        *ret_ras = ras;
        *ret_have_ras = have_ras;
        return 0;
}

int port_acknowledge(struct port *p)
{
        if (p->state != PORT_STATE_ISOLATED)
                return -ESTALE;
        p->state = PORT_STATE_ACKNOWLEDGED;
        return 0;
}

int port_clear_isolation(struct port *p, uint32_t *ret_status_after)
{
        uint32_t after;
        int k;

        if (!p->rp.win)
                return -ENODEV;
        k = cxl_ti_clear_isolation(p->rp.win, p->rp.ti_offset, PORT_BUSY_TIMEOUT_USEC, PORT_BUSY_POLL_USEC, &after);
        if (k < 0)
                return k;
        /* The next poll sees the cleared status and moves the port back to watching. */
        *ret_status_after = after;
        return 0;
}

int port_arm(struct port *p, const struct cxl_ti_arm_request *req)
{
        uint32_t control;
        int k;

        if (!p->rp.win)
                return -ENODEV;
        k = cxl_ti_arm(p->rp.win, p->rp.ti_offset, req, &control);
        if (k < 0)
                return k;
        p->control = control;
        p->armed = (control & CXL_TI_CTL_MEM_ISOLATION_ENABLE) != 0;
        return 0;
}

int port_disarm(struct port *p)
{
        uint32_t control;
        int k;

        if (!p->rp.win)
                return -ENODEV;
        k = cxl_ti_disarm(p->rp.win, p->rp.ti_offset, PORT_BUSY_TIMEOUT_USEC, PORT_BUSY_POLL_USEC, &control);
        if (k < 0)
                return k;
        p->control = control;
        p->armed = (control & CXL_TI_CTL_MEM_ISOLATION_ENABLE) != 0;
        return 0;
}
