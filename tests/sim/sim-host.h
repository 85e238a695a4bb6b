/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated host: N CXL root ports, each under its own host bridge, with
 * a CXL memory device below (K regions, each with one dax device) and the
 * kernel's cxl/dax/memory model on top,
 * written as a sysfs tree under <testbed>/sys for umockdev's preload library.
 * The layout of port i is a pure function of i (sim_port_layout), so every
 * subcommand and test finds the same paths without asking anyone.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "sim-image.h"

/*
 * 16 ports per PCI domain (one per 16 buses, bus 0x0c + 0x10 * (i % 16)), domain i / 16:
 * ports 0..15 stay in domain 0000 where other tests expect them.
 */
#define SIM_PORTS_PER_DOMAIN    16
#define SIM_MAX_PORTS           256
#define SIM_MAX_DAX_PER_PORT    4       /* a 256-port host carries up to 1024 dax devices */
#define SIM_BLOCK_SIZE          0x8000000ull    /* memory block size: 128 MiB */
#define SIM_REGION_SIZE         0x20000000ull   /* 512 MiB per region: 4 blocks */

enum sim_mem_mode {
        SIM_MEM_NONE,           /* memdev present, no region below the port */
        SIM_MEM_DEVDAX,         /* region -> dax device bound to device_dax */
        SIM_MEM_SYSTEM_RAM,     /* region -> dax device bound to kmem, blocks online */
};

struct sim_port_spec {
        struct sim_rootport_options regs;
        bool config_truncated;  /* config reads 64 bytes, as for an unprivileged reader */
        bool resource_missing;  /* no resource<BIR> file */
        enum sim_mem_mode mem;
        bool uio;               /* a function below the port bound to uio_pci_generic (sim-uio.h) */
};

struct sim_host_spec {
        unsigned n_ports;
        unsigned dax_per_port;  /* regions (each with one dax device) per memdev with memory; 0 means 1 */
        struct sim_port_spec port[SIM_MAX_PORTS];
};

struct sim_port_layout {
        unsigned index;
        unsigned domain;                /* PCI domain (segment): index / 16 */
        uint8_t bus, secondary;
        char bdf[16], ep_bdf[16];
        char host_bridge[32];           /* "pci0000:0c" */
        char slot[16];                  /* /sys/bus/pci/slots/<slot>: the secondary bus in domain 0 */
        char sysfs[128];                /* "/sys/devices/pci0000:0c/0000:0c:00.0" */
        char ep_sysfs[160];
        /* the function that signals with an interrupt when the port has one (--port-opt I:uio): dev 0, fn 1 */
        char uio_bdf[16];
        char uio_sysfs[192];
        char uio_name[16];              /* "uio<index>": its /sys/class/uio and /dev name */
        uint64_t bar_address, ep_bar_address;
        uint64_t hpa_base;              /* start of this port's CXL window and region */
        unsigned node;                  /* NUMA node of its memory */
        /* cxl bus names */
        unsigned port_id, endpoint_id;  /* portN (host bridge), endpointN */
        char memdev[16];
        char region[16], dax_region[24], dax[16];       /* its first region: sim_region_layout(l, 0) */
};

/*
 * Region k of a port (k < SIM_MAX_DAX_PER_PORT): regionZ -> dax_regionZ -> daxZ.0 with
 * Z = index + SIM_MAX_PORTS * k, so Z = index for k = 0 (as with one region per port) and a
 * dax name alone tells port and region. Region k takes [hpa_base + k * SIM_REGION_SIZE, +SIM_REGION_SIZE)
 * of the port's window and DPA [k * SIM_REGION_SIZE, ...) of its memdev, through decoder k of the
 * host bridge port and of the endpoint.
 */
struct sim_region_layout {
        unsigned port, k, id;
        char region[16], dax_region[24], dax[16];
        uint64_t hpa, dpa;
};
void sim_region_layout(const struct sim_port_layout *l, unsigned k, struct sim_region_layout *ret);

/* Default: port i -> devdax, system-ram, devdax, none, repeating; every port with T&I; one region per port. */
void sim_host_spec_default(unsigned n_ports, struct sim_host_spec *ret);
void sim_port_layout(unsigned index, struct sim_port_layout *ret);

/* Write the whole tree below root (created if needed; must not hold a "sys" yet). */
int sim_host_create(const char *root, const struct sim_host_spec *spec);

/* Per-port facts stored at create time, read back by the injector. */
struct sim_port_record {
        unsigned index;
        uint8_t bir;
        uint64_t block_offset;
        bool config_truncated;
        char resource_path[192];        /* "/sys/.../resource0" */
        char config_path[192];
        struct sim_port_spec spec;      /* as created */
};
/* -ENOENT if the testbed has no such port. Accepts "0000:0c:00.0" or "0c:00.0". */
int sim_port_lookup(const char *root, const char *bdf, struct sim_port_record *ret);

/*
 * The port is back (after a reset, a re-enumeration): config and BAR files
 * rewritten at reset values, as new files; mappers of the old BAR must re-open.
 */
int sim_port_restore(const char *root, const struct sim_port_record *p);

/* AER counters: add `n` to a named counter line of aer_dev_<kind> and to its TOTAL_ERR_* line. */
int sim_aer_count(const char *root, const struct sim_port_record *p, const char *kind, const char *counter);

/* What a dax mode change did, so the caller can send the uevents the kernel would. */
struct sim_dax_change {
        char dax_sysfs[256];            /* "/sys/devices/.../daxX.Y" */
        char old_driver[16], new_driver[16];
        uint64_t first_block;
        unsigned n_blocks;              /* memory blocks added (to kmem) or removed (to device_dax) */
        bool blocks_added;
};
/*
 * Rebind a dax device to device_dax (SIM_MEM_DEVDAX) or kmem (SIM_MEM_SYSTEM_RAM),
 * adding its memory blocks online or removing them. -EBUSY when leaving kmem with a
 * block still online (the kernel cannot remove it); -ENOENT for an unknown device.
 */
int sim_dax_set_mode(const char *root, const char *dax, enum sim_mem_mode mode, struct sim_dax_change *ret);
/*
 * The kernel's side of writing the name to drivers/<driver>/unbind: the driver
 * lets go. kmem removes its blocks only if all are offline; otherwise they stay
 * behind (the range leaks until reboot, as with older kmem) and n_blocks is 0.
 * -ENODEV if the device is not bound to `driver` (NULL: to any).
 */
int sim_dax_unbind(const char *root, const char *dax, const char *driver, struct sim_dax_change *ret);
/* ... and to drivers/<driver>/bind: -EBUSY if bound; kmem adds the blocks online or offline. */
int sim_dax_bind(const char *root, const char *dax, const char *driver, bool online, struct sim_dax_change *ret);
/* Write memoryN/state; -ENOENT for a block that does not exist. Returns the block's sysfs path. */
int sim_memblock_set_state(const char *root, uint64_t index, bool online, char ret_sysfs[128]);
