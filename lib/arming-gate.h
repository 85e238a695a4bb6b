/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The arming gate: whether a port's CXL.mem isolation may be enabled, given
 * its T&I capability, the configured arm mode and what sits below it, and
 * whether an armed port has since become unsafe. Pure logic: no I/O.
 *
 * Why a gate at all: isolation turns every later access to the device into a
 * synchronous error. Memory the kernel owns (System RAM via kmem, struct
 * pages placed on the device by memmap_on_memory) turns that into machine
 * checks and panics; only devdax with owners that can take a signal can
 * survive it. And the spec makes changing control bit 16 with CXL.mem
 * traffic in flight undefined, so traffic must be quiesced first.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cxl-ti.h"
#include "topology.h"

/*
 * The config's arm=auto|never|force. Same values as daemon/config.h's enum
 * arm_mode (ARM_AUTO, ARM_NEVER, ARM_FORCE), so the daemon may cast; lib/
 * does not include daemon headers.
 */
enum gate_arm_mode {
        GATE_ARM_AUTO = 0,
        GATE_ARM_NEVER = 1,
        GATE_ARM_FORCE = 2,
};

enum gate_reason {
        GATE_OK,                        /* "ok": every condition holds */
        GATE_FORCED,                    /* "forced": arm=force overrode what auto would refuse */
        GATE_CONFIG_NEVER,              /* "config-never": arm=never */
        GATE_NO_MEM_ISOLATION,          /* "no-mem-isolation": capability bit 16 is 0 (never arms, not even forced) */
        GATE_DAX_SYSTEM_RAM,            /* "dax-system-ram": a dax device is bound to kmem */
        GATE_DAX_NOT_DEVDAX,            /* "dax-not-devdax": a dax device is unbound or bound to another driver */
        GATE_MEMORY_ONLINE,             /* "memory-online": a memory block of a dax range is online */
        GATE_MEMMAP_ON_MEMORY,          /* "memmap-on-memory": struct pages would live on the device */
        GATE_TRAFFIC_ACTIVE,            /* "traffic-active": a region is in use (devdax mapped, or no devdax at all) */
        GATE_INVALID_MODE,              /* "invalid-mode" */
        _GATE_REASON_MAX,
};

struct arming_decision {
        bool arm;                       /* decide: arm now; check: still safe */
        enum gate_reason reason;
        char detail[160];               /* names the device/block/region, e.g. "dax0.0 (region0) is bound to kmem" */
        struct cxl_ti_arm_request request;      /* what to pass to cxl_ti_arm(); valid when arm */
};

const char *gate_reason_to_string(enum gate_reason r);

/*
 * The arm request the gate recommends for a capability: CXL.mem isolation,
 * plus ERR_COR signalling where supported (an AER event is the only isolation
 * signal userspace can observe besides polling). Never a bit whose
 * capability is absent; no interrupt (userspace cannot service the port's
 * MSI) and no timeout trigger (that needs an operator-chosen value).
 */
void arming_gate_request(const struct cxl_ti_capability *cap, struct cxl_ti_arm_request *ret);

/*
 * Decide whether to arm. cap NULL means the port has no T&I capability.
 * auto arms only when every dax device below is devdax, no memory block of
 * their ranges is online, memmap_on_memory is off, and CXL.mem traffic is
 * quiesced: every committed region is exposed only through devdax devices
 * nobody maps. force arms whenever the capability allows (reason "forced",
 * detail saying what auto would have refused); never never arms.
 * -EINVAL for a NULL topology or ret.
 */
int arming_gate_decide(const struct cxl_ti_capability *cap, enum gate_arm_mode mode, const struct port_topology *topo,
                       struct arming_decision *ret);

/*
 * For an armed port: is it still safe? ret->arm false with the reason when a
 * dax device went to kmem (or another driver), a memory block came online,
 * or memmap_on_memory was switched on. Traffic on devdax is what arming is
 * for, so it is not a reason here. The daemon disarms or alerts per config.
 * Under arm=force the operator took these risks on: ret->arm stays true and
 * the reason is "forced" with the condition in the detail (for an alert),
 * so a forced port is not disarmed by the very state it was forced into.
 */
int arming_gate_check_armed(const struct port_topology *topo, enum gate_arm_mode mode, struct arming_decision *ret);

/* "reason: detail" (or just "reason"), the GateReason string for logs and D-Bus. Returns buf. */
const char *arming_decision_to_string(const struct arming_decision *d, char *buf, size_t len);
