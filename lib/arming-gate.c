/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The arming gate: conditions under which CXL.mem isolation may be enabled and stay enabled. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arming-gate.h"

static const char *const gate_reason_ids[_GATE_REASON_MAX] = {
        [GATE_OK] = "ok",
        [GATE_FORCED] = "forced",
        [GATE_CONFIG_NEVER] = "config-never",
        [GATE_NO_MEM_ISOLATION] = "no-mem-isolation",
        [GATE_DAX_SYSTEM_RAM] = "dax-system-ram",
        [GATE_DAX_NOT_DEVDAX] = "dax-not-devdax",
        [GATE_MEMORY_ONLINE] = "memory-online",
        [GATE_MEMMAP_ON_MEMORY] = "memmap-on-memory",
        [GATE_TRAFFIC_ACTIVE] = "traffic-active",
        [GATE_INVALID_MODE] = "invalid-mode",
};

const char *gate_reason_to_string(enum gate_reason r)
{
        if ((unsigned)r >= _GATE_REASON_MAX)
                return NULL;
        return gate_reason_ids[r];
}

void arming_gate_request(const struct cxl_ti_capability *cap, struct cxl_ti_arm_request *ret)
{
        *ret = (struct cxl_ti_arm_request) {
                .mem_isolation = cap->mem_isolation,
                .errcor_signaling = cap->mem_isolation && cap->errcor_signaling,
        };
}

static void set_decision(struct arming_decision *d, bool arm, enum gate_reason reason, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void set_decision(struct arming_decision *d, bool arm, enum gate_reason reason, const char *fmt, ...)
{
        va_list ap;

        d->arm = arm;
        d->reason = reason;
        d->detail[0] = '\0';
        if (fmt) {
                va_start(ap, fmt);
                (void)vsnprintf(d->detail, sizeof(d->detail), fmt, ap);
                va_end(ap);
        }
}

static const char *region_label(const struct dax_device *dev)
{
        return dev->region[0] ? dev->region : "no region";
}

/*
 * The conditions that hold for a port whether or not it is armed: no memory
 * of the port's dax ranges is in the kernel's hands. Returns true if they
 * hold, otherwise fills d with the first violation (refusal).
 */
static bool kernel_keeps_off(const struct port_topology *topo, bool require_devdax, struct arming_decision *d)
{
        for (size_t i = 0; i < topo->n_dax; i++) {
                const struct dax_device *dev = &topo->dax[i];

                if (dev->mode == DAX_MODE_SYSTEM_RAM) {
                        set_decision(d, false, GATE_DAX_SYSTEM_RAM, "%s (%s) is bound to kmem (system-ram)",
                                     dev->name, region_label(dev));
                        return false;
                }
                if (dev->mode == DAX_MODE_OTHER || (require_devdax && dev->mode != DAX_MODE_DEVDAX)) {
                        set_decision(d, false, GATE_DAX_NOT_DEVDAX, "%s (%s) is %s, not devdax", dev->name,
                                     region_label(dev), dax_mode_to_string(dev->mode));
                        return false;
                }
                for (size_t b = 0; b < dev->n_blocks; b++)
                        if (dev->blocks[b].online) {
                                set_decision(d, false, GATE_MEMORY_ONLINE, "memory%u of %s is online",
                                             dev->blocks[b].index, dev->name);
                                return false;
                        }
                if (dev->memmap_on_memory > 0) {
                        set_decision(d, false, GATE_MEMMAP_ON_MEMORY, "%s has memmap_on_memory=1", dev->name);
                        return false;
                }
        }
        return true;
}

static bool region_has_dax(const struct port_topology *topo, const char *region)
{
        for (size_t i = 0; i < topo->n_dax; i++)
                if (strcmp(topo->dax[i].region, region) == 0)
                        return true;
        return false;
}

/* Traffic is quiesced when nobody maps a devdax device and no active region is used other than through devdax. */
static bool traffic_quiesced(const struct port_topology *topo, struct arming_decision *d)
{
        for (size_t i = 0; i < topo->n_dax; i++) {
                const struct dax_device *dev = &topo->dax[i];
                if (dev->users > 0) {
                        set_decision(d, false, GATE_TRAFFIC_ACTIVE, "%s is mapped by %d process%s", dev->name,
                                     dev->users, dev->users == 1 ? "" : "es");
                        return false;
                }
                if (dev->users < 0) {
                        set_decision(d, false, GATE_TRAFFIC_ACTIVE, "cannot tell whether %s is mapped", dev->name);
                        return false;
                }
        }
        for (size_t i = 0; i < topo->n_regions; i++) {
                const struct port_region *reg = topo->region_info ? &topo->region_info[i] : NULL;
                /* Without details, a listed region counts as active: refusing is the safe side. */
                bool active = reg ? port_region_is_active(reg) : true;
                if (active && !region_has_dax(topo, topo->regions[i])) {
                        set_decision(d, false, GATE_TRAFFIC_ACTIVE,
                                     "%s is active and not exposed through devdax (pmem/fsdax or raw use)",
                                     topo->regions[i]);
                        return false;
                }
        }
        return true;
}

int arming_gate_decide(const struct cxl_ti_capability *cap, enum gate_arm_mode mode, const struct port_topology *topo,
                       struct arming_decision *ret)
{
        struct arming_decision d = {};

        if (!topo || !ret)
                return -EINVAL;

        if (mode != GATE_ARM_AUTO && mode != GATE_ARM_NEVER && mode != GATE_ARM_FORCE) {
                set_decision(&d, false, GATE_INVALID_MODE, "arm mode %d", (int)mode);
                *ret = d;
                return 0;
        }
        if (mode == GATE_ARM_NEVER) {
                set_decision(&d, false, GATE_CONFIG_NEVER, "arm=never in the configuration");
                *ret = d;
                return 0;
        }
        /* Not even force: the control bit would be hard-wired 0, and setting it is forbidden. */
        if (!cap || !cap->mem_isolation) {
                set_decision(&d, false, GATE_NO_MEM_ISOLATION,
                             cap ? "capability 0x%08x lacks CXL.mem isolation (bit 16)" : "no Timeout & Isolation capability",
                             cap ? cap->raw : 0);
                *ret = d;
                return 0;
        }

        struct arming_decision refusal = {};
        bool ok = kernel_keeps_off(topo, true, &refusal) && traffic_quiesced(topo, &refusal);

        if (ok)
                set_decision(&d, true, GATE_OK, NULL);
        else if (mode == GATE_ARM_FORCE)
                set_decision(&d, true, GATE_FORCED, "arm=force; auto would refuse: %s: %s",
                             gate_reason_to_string(refusal.reason), refusal.detail);
        else
                d = refusal;

        if (d.arm)
                arming_gate_request(cap, &d.request);
        *ret = d;
        return 0;
}

int arming_gate_check_armed(const struct port_topology *topo, enum gate_arm_mode mode, struct arming_decision *ret)
{
        struct arming_decision d = {};

        if (!topo || !ret)
                return -EINVAL;

        /* An unbound device is harmless while armed (e.g. devdax disabled for recovery). */
        if (kernel_keeps_off(topo, false, &d))
                set_decision(&d, true, GATE_OK, NULL);
        else if (mode == GATE_ARM_FORCE) {
                struct arming_decision unsafe = d;
                set_decision(&d, true, GATE_FORCED, "arm=force; unsafe: %s: %s", gate_reason_to_string(unsafe.reason),
                             unsafe.detail);
        }
        *ret = d;
        return 0;
}

const char *arming_decision_to_string(const struct arming_decision *d, char *buf, size_t len)
{
        const char *id = gate_reason_to_string(d->reason);

        if (d->detail[0])
                snprintf(buf, len, "%s: %s", id ? id : "unknown", d->detail);
        else
                snprintf(buf, len, "%s", id ? id : "unknown");
        return buf;
}
