/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What sits below a root port in the kernel's CXL/dax model: regions, memdevs, dax devices, memory blocks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dax_mode {
        DAX_MODE_DEVDAX,        /* bound to device_dax */
        DAX_MODE_SYSTEM_RAM,    /* bound to kmem */
        DAX_MODE_UNBOUND,       /* no driver */
        DAX_MODE_OTHER,
};

struct mem_block {
        unsigned index;         /* memoryN */
        bool online;
};

struct dax_device {
        char name[32];          /* "dax0.0" */
        char region[32];        /* "region0", "" if unknown (6.1: matched by address) */
        char memdev[32];        /* "mem0" */
        enum dax_mode mode;
        uint64_t start, size;
        int target_node;
        int memmap_on_memory;   /* -1 if the attribute is absent */
        size_t n_blocks;
        struct mem_block *blocks;   /* blocks of this range, with their state */
        /* Added: processes with /dev/<name> mapped (CXL.mem traffic through devdax), -1 if /proc is
         * unreadable; counted only when some device of the port is devdax, 0 otherwise. */
        int users;
};

struct port_region {
        char name[32];                  /* "region0" */
        uint64_t start, size;           /* host physical range, 0/0 if not yet set up */
        bool committed;                 /* regionZ/commit reads 1: its decoders route CXL.mem */
        bool driver_bound;              /* regionZ/driver exists */
        bool matched_by_address;        /* no target named one of our endpoint decoders */
};

struct port_topology {
        size_t n_dax;
        struct dax_device *dax;
        size_t n_regions;
        char (*regions)[32];
        size_t n_memdevs;
        char (*memdevs)[32];
        /* Added after the first interface: details of regions[i], same order, n_regions entries. */
        struct port_region *region_info;
        /* Processes whose /proc/<pid>/maps could not be read: dax users among them are not counted. */
        unsigned unreadable_processes;
};

/* A region carries CXL.mem traffic (is not quiesced) when it is committed or a driver drives it. */
bool port_region_is_active(const struct port_region *r);

const char *dax_mode_to_string(enum dax_mode m);   /* "devdax", "system-ram", "unbound", "other" */

/*
 * Topology below the root port whose sysfs path is given. Missing CXL or dax
 * buses (drivers not loaded) give an empty topology, not an error. -ENOENT if
 * the root port itself is gone. Memdevs are the cxl memN whose PCI function
 * sits below the port; regions are the CXL regions with a target decoder of
 * such an endpoint (or, where a region names no targets, whose range overlaps
 * an endpoint decoder's); dax devices are those inside such a region (sysfs
 * path, else address range) or inside an endpoint decoder's range (kernel
 * 6.1, where firmware-set-up memory has no region).
 *
 * Each call walks the whole cxl and dax buses: to read several ports, take a
 * topology_snapshot and ask it for each port.
 */
int port_topology_read(const char *rootport_sysfs_path, struct port_topology *ret);
void port_topology_done(struct port_topology *t);

/*
 * The cxl and dax buses as one walk found them, to hand every root port its
 * share without walking them again. Reading the snapshot lists memdevs,
 * endpoint decoders, regions (with their targets) and dax devices (with
 * their ranges); a device's driver, node and memory blocks, a region's commit
 * state and the devdax users (one scan of every /proc/<pid>/maps, for every
 * dax device at once) are read on the first topology_snapshot_port() that
 * needs them and kept: nothing is read twice, so a change after that is seen
 * by the next snapshot only. Not for concurrent use.
 */
struct topology_snapshot;

int topology_snapshot_read(struct topology_snapshot **ret);
void topology_snapshot_free(struct topology_snapshot *s);

/*
 * The topology below one root port, as port_topology_read() defines it, from
 * the snapshot s (and the details it reads on demand). -ENOENT if the root
 * port is gone.
 */
int topology_snapshot_port(struct topology_snapshot *s, const char *rootport_sysfs_path, struct port_topology *ret);
