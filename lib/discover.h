/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Discovery of CXL root ports through libpci: PCIe port type 4 with CXL DVSECs
 * -> Register Locator -> resource<BIR> -> component block -> capability array
 * -> T&I and RAS. Every port found ends up watchable, or not watchable with a
 * named reason and a hint; one bad port never stops the others.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cxl-caparray.h"
#include "cxl-dvsec.h"
#include "cxl-ti.h"
#include "regwin.h"

enum port_reason {
        PORT_WATCHABLE,
        PORT_CONFIG_TRUNCATED,          /* config read returned 64 bytes: needs CAP_SYS_ADMIN */
        PORT_NO_REGISTER_LOCATOR,       /* CXL port without DVSEC 8 */
        PORT_NO_COMPONENT_BLOCK,        /* locator has no component register block */
        PORT_BAD_CONFIG,                /* malformed capability chain / DVSEC */
        PORT_RESOURCE_MISSING,          /* resource<BIR> absent or not a memory BAR */
        PORT_MMAP_LOCKDOWN,             /* mmap EPERM: kernel lockdown */
        PORT_MMAP_CLAIMED,              /* mmap EINVAL: range claimed, strict devmem */
        PORT_MMAP_FAILED,               /* any other mapping error */
        PORT_DEVICE_GONE,               /* registers read all-ones / SIGBUS */
        PORT_BAD_CAPARRAY,              /* capability array malformed */
        PORT_NO_TI_CAPABILITY,          /* no capability ID 9 */
        PORT_NO_MEM_ISOLATION,          /* T&I present, CXL.mem isolation not supported */
        _PORT_REASON_MAX,
};

const char *port_reason_to_string(enum port_reason r);     /* stable id, e.g. "no-ti-capability" */
const char *port_reason_description(enum port_reason r);   /* "no Timeout & Isolation capability" */
const char *port_reason_hint(enum port_reason r);          /* what the operator can do */
/*
 * The reason behind a failed regwin_open_resource(): -EPERM lockdown, -EINVAL
 * a driver's claim under strict devmem (or a range past the BAR), -ENODEV /
 * -ENXIO device gone, -ENOENT resource file missing, anything else
 * PORT_MMAP_FAILED. For callers re-mapping a port after SIGBUS.
 */
enum port_reason port_reason_from_map_error(int error);

/*
 * What discovery decoded on its way to the registers: every CXL DVSEC and the
 * whole capability array, for reports (--list-ports). Kept apart (2.3 KiB a
 * port) so that a caller that only watches the port can drop it.
 */
struct cxl_rootport_decode {
        struct cxl_dvsec_list dvsecs;
        struct cxl_caparray caps;       /* valid when the walk succeeded */
};

struct cxl_rootport {
        char bdf[16];                   /* "0000:0c:00.0" */
        char sysfs_path[256];           /* realpath of /sys/bus/pci/devices/<bdf> */
        char host_bridge[64];           /* parent of the port in sysfs, e.g. "pci0000:0c" */
        uint16_t vendor, device;
        uint64_t serial;                /* PCIe DSN if present, else 0 */

        enum port_reason reason;
        int error;                      /* negative errno behind the reason; 0 if none, and for what the
                                           hardware lacks (no locator, block, T&I, mem isolation) */

        struct cxl_rootport_decode *decode;     /* NULL after cxl_rootport_drop_decode() */
        struct cxl_regblock component;  /* valid when reason > PORT_NO_COMPONENT_BLOCK */
        uint32_t ti_offset;             /* from block start, 0 if none */
        uint32_t ras_offset;            /* 0 if none */
        struct cxl_ti_capability ti_cap;

        struct regwin *win;             /* mapped component block, NULL if not mapped */
};

struct discover_options {
        bool writable;                  /* map O_RDWR (arming, clearing) instead of read-only */
        const char *only_bdf;           /* rediscover a single port, NULL for all */
};

/* Never fails because of one port; fails only for -ENOMEM or when libpci cannot start. */
int cxl_discover_rootports(const struct discover_options *opts, struct cxl_rootport **ret_ports, size_t *ret_n);
/*
 * Rediscover one port by BDF (after it went away, a link came back, a driver
 * changed): same rules as a full scan. -ENODEV if the function is no longer
 * listed. *ret is written only on success and owns its window; the caller
 * releases the old struct with cxl_rootport_done().
 */
int cxl_rootport_rediscover(const char *bdf, const struct discover_options *opts, struct cxl_rootport *ret);
void cxl_rootport_done(struct cxl_rootport *p);
/* Free the decode (DVSEC list, capability array); everything else stays valid. */
void cxl_rootport_drop_decode(struct cxl_rootport *p);
void cxl_rootports_free(struct cxl_rootport *ports, size_t n);
