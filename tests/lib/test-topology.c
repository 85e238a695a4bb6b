/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Topology below a root port, over a umockdev testbed laid out like the
 * sysfs of a 6.12 kernel (dax_cxl places daxX.Y below regionZ), with the
 * shapes other kernels produce mixed in: a pmem namespace's dax device found
 * only by address (QEMU guest tier), a 6.1-style dax device with no region,
 * and a region that names no targets. A second root port with its own
 * memdev, region and kmem device must never leak into the first.
 *
 * The snapshot (one walk of the buses for every port) must hand each port
 * exactly what a read of that port alone finds, keep what it read, and see
 * devices that moved to another port or went away only in the next snapshot.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "arming-gate.h"
#include "cleanup.h"
#include "cxl-regs.h"
#include "sim-host.h"
#include "topology.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct topology_snapshot *, topology_snapshot_free);

#define RP0     "devices/pci0000:0c/0000:0c:00.0"
#define RP1     "devices/pci0000:0c/0000:0c:01.0"
#define CXLROOT "devices/platform/ACPI0017:00/root0"
#define MEMBLK  "devices/system/memory"

/* 128 MiB blocks, as on x86 below 64 GiB of RAM. */
#define BLOCK   0x8000000ull

/* The testbed: <root>/sys, served as /sys by umockdev's preload library through UMOCKDEV_DIR. */
static char root[256], sysdir[272];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path) < 0 ? -1 : 0;
}

static void testbed_remove(void)
{
        if (root[0])
                (void)nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        root[0] = sysdir[0] = '\0';
}

static void testbed_new(void)
{
        testbed_remove();
        snprintf(root, sizeof(root), "%s/test-topology.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        assert_non_null(mkdtemp(root));
        snprintf(sysdir, sizeof(sysdir), "%s/sys", root);
        assert_int_equal(mkdir(sysdir, 0755), 0);
        assert_int_equal(setenv("UMOCKDEV_DIR", root, 1), 0);
}

static void tb_mkdir_p(const char *rel_dir)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", sysdir, rel_dir);
        for (char *s = path + strlen(sysdir) + 1; *s; s++)
                if (*s == '/') {
                        *s = '\0';
                        (void)mkdir(path, 0755);
                        *s = '/';
                }
        (void)mkdir(path, 0755);
}

/* Write a sysfs attribute below the testbed's /sys (the relative path names it). */
static void tb_write(const char *rel, const char *fmt, ...)
{
        char path[PATH_MAX], dir[PATH_MAX];
        va_list ap;

        snprintf(dir, sizeof(dir), "%s", rel);
        *strrchr(dir, '/') = '\0';
        tb_mkdir_p(dir);

        snprintf(path, sizeof(path), "%s/%s", sysdir, rel);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
        assert_int_equal(fclose(f), 0);
}

/* A relative symlink, as sysfs has them: link and target both relative to /sys. */
static void tb_link(const char *rel_link, const char *rel_target)
{
        char path[PATH_MAX], dir[PATH_MAX], target[PATH_MAX] = "";

        snprintf(dir, sizeof(dir), "%s", rel_link);
        *strrchr(dir, '/') = '\0';
        tb_mkdir_p(dir);
        for (const char *s = rel_link; *s; s++)
                if (*s == '/')
                        strcat(target, "../");
        strcat(target, rel_target);
        snprintf(path, sizeof(path), "%s/%s", sysdir, rel_link);
        (void)unlink(path);
        assert_int_equal(symlink(target, path), 0);
}

static void tb_rm(const char *rel)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", sysdir, rel);
        assert_int_equal(unlink(path), 0);
}

static void add_memdev(const char *pci_dir, const char *mem)
{
        char rel[PATH_MAX], link[PATH_MAX];

        snprintf(rel, sizeof(rel), "%s/%s/serial", pci_dir, mem);
        tb_write(rel, "0x0");
        snprintf(rel, sizeof(rel), "%s/%s", pci_dir, mem);
        snprintf(link, sizeof(link), "bus/cxl/devices/%s", mem);
        tb_link(link, rel);
}

static void add_endpoint(const char *port_dir, const char *endpoint, const char *memdev_dir, unsigned id,
                         unsigned decoder, uint64_t start, uint64_t size)
{
        char rel[PATH_MAX], link[PATH_MAX];

        snprintf(rel, sizeof(rel), "%s/%s/decoder%u.%u/start", port_dir, endpoint, id, decoder);
        tb_write(rel, "%#llx", (unsigned long long)start);
        snprintf(rel, sizeof(rel), "%s/%s/decoder%u.%u/size", port_dir, endpoint, id, decoder);
        tb_write(rel, "%#llx", (unsigned long long)size);
        snprintf(rel, sizeof(rel), "%s/%s/uport", port_dir, endpoint);
        snprintf(link, sizeof(link), "%s", rel);
        tb_link(link, memdev_dir);
        snprintf(rel, sizeof(rel), "%s/%s", port_dir, endpoint);
        snprintf(link, sizeof(link), "bus/cxl/devices/%s", endpoint);
        tb_link(link, rel);
}

static void add_region(const char *dir, const char *name, uint64_t start, uint64_t size, const char *target0,
                       bool committed)
{
        char rel[PATH_MAX], link[PATH_MAX];

        snprintf(rel, sizeof(rel), "%s/%s/resource", dir, name);
        tb_write(rel, "%#llx", (unsigned long long)start);
        snprintf(rel, sizeof(rel), "%s/%s/size", dir, name);
        tb_write(rel, "%#llx", (unsigned long long)size);
        snprintf(rel, sizeof(rel), "%s/%s/commit", dir, name);
        tb_write(rel, "%d", committed);
        if (target0) {
                snprintf(rel, sizeof(rel), "%s/%s/target0", dir, name);
                tb_write(rel, "%s", target0);
        }
        snprintf(rel, sizeof(rel), "%s/%s", dir, name);
        snprintf(link, sizeof(link), "bus/cxl/devices/%s", name);
        tb_link(link, rel);
}

static void add_dax(const char *dir, const char *name, uint64_t start, uint64_t size, const char *driver,
                    int memmap_on_memory)
{
        char rel[PATH_MAX], link[PATH_MAX], target[PATH_MAX];

        /* Kernel formats: resource "%#llx", size "%llu". */
        snprintf(rel, sizeof(rel), "%s/%s/resource", dir, name);
        tb_write(rel, "%#llx", (unsigned long long)start);
        snprintf(rel, sizeof(rel), "%s/%s/size", dir, name);
        tb_write(rel, "%llu", (unsigned long long)size);
        snprintf(rel, sizeof(rel), "%s/%s/target_node", dir, name);
        tb_write(rel, "1");
        if (memmap_on_memory >= 0) {
                snprintf(rel, sizeof(rel), "%s/%s/memmap_on_memory", dir, name);
                tb_write(rel, "%d", memmap_on_memory);
        }
        if (driver) {
                snprintf(rel, sizeof(rel), "%s/%s/driver", dir, name);
                snprintf(target, sizeof(target), "bus/dax/drivers/%s", driver);
                tb_mkdir_p(target);
                tb_link(rel, target);
        }
        snprintf(rel, sizeof(rel), "%s/%s", dir, name);
        snprintf(link, sizeof(link), "bus/dax/devices/%s", name);
        tb_link(link, rel);
}

static void add_block(uint64_t index, const char *state)
{
        char rel[PATH_MAX];

        snprintf(rel, sizeof(rel), MEMBLK "/memory%llu/state", (unsigned long long)index);
        tb_write(rel, "%s", state);
        snprintf(rel, sizeof(rel), MEMBLK "/memory%llu/phys_index", (unsigned long long)index);
        tb_write(rel, "%08llx", (unsigned long long)index);
}

/*
 * Port 0c:00.0: mem0 (0d:00.0), endpoint2 with decoder2.0 = region0's range
 * and decoder2.1 = a second range used without a region.
 *   region0 @ 0x1000000000, 512 MiB, committed, target decoder2.0
 *     dax0.0 below region0 (devdax), first 256 MiB
 *     dax3.0 under the nvdimm bus (kmem), last 256 MiB, blocks 514 online, 515 offline; its
 *       libnvdimm region is called region1, like the other port's CXL region: only the address
 *       may decide where it belongs
 *   dax4.0 (hmem, no region) in decoder2.1's range @ 0x1100000000 (devdax, memmap_on_memory 0)
 *   region5 @ 0x1100000000 with no targets at all: matched by address
 * Port 0c:01.0: mem1, endpoint3/decoder3.0, region1 @ 0x2000000000 with dax1.0 in kmem.
 */
static int setup_testbed(void **state)
{
        testbed_new();

        tb_write(RP0 "/vendor", "0x8086");
        tb_write(RP1 "/vendor", "0x8086");
        add_memdev(RP0 "/0000:0d:00.0", "mem0");
        add_memdev(RP1 "/0000:0e:00.0", "mem1");
        add_endpoint(CXLROOT "/port1", "endpoint2", RP0 "/0000:0d:00.0/mem0", 2, 0, 0x1000000000, 0x20000000);
        add_endpoint(CXLROOT "/port1", "endpoint2", RP0 "/0000:0d:00.0/mem0", 2, 1, 0x1100000000, 0x10000000);
        add_endpoint(CXLROOT "/port4", "endpoint3", RP1 "/0000:0e:00.0/mem1", 3, 0, 0x2000000000, 0x10000000);

        add_region(CXLROOT "/decoder0.0", "region0", 0x1000000000, 0x20000000, "decoder2.0", true);
        tb_link(CXLROOT "/decoder0.0/region0/driver", "bus/cxl/drivers/cxl_region");
        add_region(CXLROOT "/decoder0.1", "region1", 0x2000000000, 0x10000000, "decoder3.0", true);
        add_region(CXLROOT "/decoder0.2", "region5", 0x1100000000, 0x10000000, NULL, false);

        add_dax(CXLROOT "/decoder0.0/region0/dax_region0", "dax0.0", 0x1000000000, 0x10000000, "device_dax", -1);
        add_dax(CXLROOT "/nvdimm-bridge0/ndbus0/region1/dax3.0", "dax3.0", 0x1010000000, 0x10000000, "kmem", 0);
        add_dax("devices/platform/hmem.0", "dax4.0", 0x1100000000, 0x8000000, "device_dax", 0);
        add_dax(CXLROOT "/decoder0.1/region1/dax_region1", "dax1.0", 0x2000000000, 0x10000000, "kmem", -1);

        tb_write(MEMBLK "/block_size_bytes", "%llx", BLOCK);
        add_block(0x1010000000 / BLOCK, "online");
        add_block(0x1010000000 / BLOCK + 1, "offline");
        add_block(0x2000000000 / BLOCK, "online");
        /* A block outside every range below the port. */
        add_block(0x10, "online");
        return 0;
}

static int teardown_testbed(void **state)
{
        testbed_remove();
        return 0;
}

static const struct dax_device *find_dax(const struct port_topology *t, const char *name)
{
        for (size_t i = 0; i < t->n_dax; i++)
                if (strcmp(t->dax[i].name, name) == 0)
                        return &t->dax[i];
        return NULL;
}

static void test_port0(void **state)
{
        _cleanup_(port_topology_done) struct port_topology t = {};
        const struct dax_device *d;

        assert_int_equal(port_topology_read("/sys/bus/../" RP0, &t), 0);

        assert_int_equal(t.n_memdevs, 1);
        assert_string_equal(t.memdevs[0], "mem0");

        /* region0 by its target, region5 by address; region1 belongs to the other port. */
        assert_int_equal(t.n_regions, 2);
        for (size_t i = 0; i < t.n_regions; i++) {
                assert_string_equal(t.regions[i], t.region_info[i].name);
                if (strcmp(t.regions[i], "region0") == 0) {
                        assert_false(t.region_info[i].matched_by_address);
                        assert_true(t.region_info[i].committed);
                        assert_true(t.region_info[i].driver_bound);
                        assert_true(port_region_is_active(&t.region_info[i]));
                        assert_int_equal(t.region_info[i].start, 0x1000000000);
                        assert_int_equal(t.region_info[i].size, 0x20000000);
                } else {
                        assert_string_equal(t.regions[i], "region5");
                        assert_true(t.region_info[i].matched_by_address);
                        assert_false(port_region_is_active(&t.region_info[i]));
                }
        }

        assert_int_equal(t.n_dax, 3);
        assert_null(find_dax(&t, "dax1.0"));

        d = find_dax(&t, "dax0.0");
        assert_non_null(d);
        assert_int_equal(d->mode, DAX_MODE_DEVDAX);
        assert_string_equal(d->region, "region0");
        assert_string_equal(d->memdev, "mem0");
        assert_int_equal(d->start, 0x1000000000);
        assert_int_equal(d->size, 0x10000000);
        assert_int_equal(d->target_node, 1);
        assert_int_equal(d->memmap_on_memory, -1);
        assert_int_equal(d->n_blocks, 0);
        /* Nobody on the test host maps /dev/dax0.0. */
        assert_int_equal(d->users, 0);

        d = find_dax(&t, "dax3.0");
        assert_non_null(d);
        assert_int_equal(d->mode, DAX_MODE_SYSTEM_RAM);
        assert_string_equal(dax_mode_to_string(d->mode), "system-ram");
        assert_string_equal(d->region, "region0");
        assert_string_equal(d->memdev, "mem0");
        assert_int_equal(d->memmap_on_memory, 0);
        assert_int_equal(d->n_blocks, 2);
        assert_int_equal(d->blocks[0].index, 0x1010000000 / BLOCK);
        assert_true(d->blocks[0].online);
        assert_int_equal(d->blocks[1].index, 0x1010000000 / BLOCK + 1);
        assert_false(d->blocks[1].online);

        /* 6.1-style: region5 (no targets) is matched by address first, the decoder range would do too. */
        d = find_dax(&t, "dax4.0");
        assert_non_null(d);
        assert_int_equal(d->mode, DAX_MODE_DEVDAX);
        assert_string_equal(d->memdev, "mem0");
        assert_string_equal(d->region, "region5");
}

static void test_port1_isolated_from_port0(void **state)
{
        _cleanup_(port_topology_done) struct port_topology t = {};

        assert_int_equal(port_topology_read("/sys/" RP1, &t), 0);
        assert_int_equal(t.n_memdevs, 1);
        assert_string_equal(t.memdevs[0], "mem1");
        assert_int_equal(t.n_regions, 1);
        assert_string_equal(t.regions[0], "region1");
        assert_int_equal(t.n_dax, 1);
        assert_string_equal(t.dax[0].name, "dax1.0");
        assert_int_equal(t.dax[0].mode, DAX_MODE_SYSTEM_RAM);
        assert_int_equal(t.dax[0].n_blocks, 1);
        assert_true(t.dax[0].blocks[0].online);
}

static void test_no_region_fallback_to_decoder(void **state)
{
        _cleanup_(port_topology_done) struct port_topology t = {};
        const struct dax_device *d;

        /* Without region5 (6.1 without auto regions), dax4.0 is still found through decoder2.1's range. */
        tb_rm("bus/cxl/devices/region5");
        assert_int_equal(port_topology_read("/sys/" RP0, &t), 0);
        assert_int_equal(t.n_regions, 1);
        d = find_dax(&t, "dax4.0");
        assert_non_null(d);
        assert_string_equal(d->region, "");
        assert_string_equal(d->memdev, "mem0");
}

static void test_gate_over_topology(void **state)
{
        _cleanup_(port_topology_done) struct port_topology t = {};
        struct arming_decision d;
        struct cxl_ti_capability cap;

        cxl_ti_capability_decode(CXL_TI_CAP_MEM_ISOLATION | CXL_TI_CAP_MEM_ISOLATION_LINKDOWN, &cap);

        assert_int_equal(port_topology_read("/sys/" RP0, &t), 0);
        assert_int_equal(arming_gate_decide(&cap, GATE_ARM_AUTO, &t, &d), 0);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_DAX_SYSTEM_RAM);
        assert_non_null(strstr(d.detail, "dax3.0"));
        port_topology_done(&t);

        /* daxctl reconfigure-device -m devdax dax3.0: blocks offlined and removed, driver rebound. */
        tb_rm(MEMBLK "/memory514/state");
        tb_rm(MEMBLK "/memory515/state");
        tb_link(CXLROOT "/nvdimm-bridge0/ndbus0/region1/dax3.0/dax3.0/driver", "bus/dax/drivers/device_dax");
        assert_int_equal(port_topology_read("/sys/" RP0, &t), 0);
        assert_int_equal(find_dax(&t, "dax3.0")->mode, DAX_MODE_DEVDAX);
        assert_int_equal(find_dax(&t, "dax3.0")->n_blocks, 0);
        assert_int_equal(arming_gate_decide(&cap, GATE_ARM_AUTO, &t, &d), 0);
        assert_true(d.arm);
        assert_int_equal(arming_gate_check_armed(&t, GATE_ARM_AUTO, &d), 0);
        assert_true(d.arm);
        port_topology_done(&t);

        /* Someone onlines a block again while armed: unsafe. */
        add_block(514, "online");
        assert_int_equal(port_topology_read("/sys/" RP0, &t), 0);
        assert_int_equal(arming_gate_check_armed(&t, GATE_ARM_AUTO, &d), 0);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_MEMORY_ONLINE);
}

static void test_missing_port_and_empty_buses(void **state)
{
        _cleanup_(port_topology_done) struct port_topology t = {};

        assert_int_equal(port_topology_read("/sys/devices/pci0000:0c/0000:0c:07.0", &t), -ENOENT);

        /* cxl and dax drivers not loaded: no bus directories, an empty topology. */
        testbed_new();
        tb_write(RP0 "/vendor", "0x8086");
        assert_int_equal(port_topology_read("/sys/" RP0, &t), 0);
        assert_int_equal(t.n_memdevs, 0);
        assert_int_equal(t.n_regions, 0);
        assert_int_equal(t.n_dax, 0);
}

/* --- the snapshot: one walk of the buses, every port's share --- */

static bool has_dax(const struct port_topology *t, const char *name)
{
        return find_dax(t, name) != NULL;
}

static bool has_region(const struct port_topology *t, const char *name)
{
        for (size_t i = 0; i < t->n_regions; i++)
                if (strcmp(t->regions[i], name) == 0)
                        return true;
        return false;
}

/* Both ports from one snapshot: the same shares as test_port0 and test_port1_isolated_from_port0. */
static void test_snapshot_both_ports(void **state)
{
        _cleanup_(topology_snapshot_freep) struct topology_snapshot *s = NULL;
        _cleanup_(port_topology_done) struct port_topology t0 = {}, t1 = {}, again = {};
        const struct dax_device *d;

        assert_int_equal(topology_snapshot_read(&s), 0);
        assert_int_equal(topology_snapshot_port(s, "/sys/" RP1, &t1), 0);
        assert_int_equal(topology_snapshot_port(s, "/sys/bus/../" RP0, &t0), 0);

        assert_int_equal(t0.n_memdevs, 1);
        assert_string_equal(t0.memdevs[0], "mem0");
        assert_int_equal(t0.n_regions, 2);
        assert_true(has_region(&t0, "region0"));
        assert_true(has_region(&t0, "region5"));
        for (size_t i = 0; i < t0.n_regions; i++) {
                assert_string_equal(t0.regions[i], t0.region_info[i].name);
                assert_int_equal(t0.region_info[i].matched_by_address, strcmp(t0.regions[i], "region5") == 0);
                assert_int_equal(port_region_is_active(&t0.region_info[i]), strcmp(t0.regions[i], "region0") == 0);
        }
        assert_int_equal(t0.n_dax, 3);
        d = find_dax(&t0, "dax0.0");
        assert_non_null(d);
        assert_int_equal(d->mode, DAX_MODE_DEVDAX);
        assert_string_equal(d->region, "region0");
        assert_string_equal(d->memdev, "mem0");
        assert_int_equal(d->users, 0);
        /* The libnvdimm "region1" on dax3.0's path is not port 1's CXL region1: by address, region0. */
        d = find_dax(&t0, "dax3.0");
        assert_non_null(d);
        assert_int_equal(d->mode, DAX_MODE_SYSTEM_RAM);
        assert_string_equal(d->region, "region0");
        assert_int_equal(d->n_blocks, 2);
        assert_true(d->blocks[0].online);
        assert_false(d->blocks[1].online);
        d = find_dax(&t0, "dax4.0");
        assert_non_null(d);
        assert_string_equal(d->region, "region5");

        assert_int_equal(t1.n_memdevs, 1);
        assert_string_equal(t1.memdevs[0], "mem1");
        assert_int_equal(t1.n_regions, 1);
        assert_string_equal(t1.regions[0], "region1");
        assert_false(t1.region_info[0].matched_by_address);
        assert_int_equal(t1.n_dax, 1);
        assert_string_equal(t1.dax[0].name, "dax1.0");
        assert_string_equal(t1.dax[0].region, "region1");
        assert_string_equal(t1.dax[0].memdev, "mem1");
        assert_int_equal(t1.dax[0].n_blocks, 1);

        /* Asking again gives the same share, with its own copy of the blocks. */
        assert_int_equal(topology_snapshot_port(s, "/sys/" RP0, &again), 0);
        assert_int_equal(again.n_dax, t0.n_dax);
        assert_ptr_not_equal(find_dax(&again, "dax3.0")->blocks, find_dax(&t0, "dax3.0")->blocks);
        assert_int_equal(find_dax(&again, "dax3.0")->n_blocks, 2);

        assert_int_equal(topology_snapshot_port(s, "/sys/devices/pci0000:0c/0000:0c:07.0", &again), -ENOENT);
}

/*
 * What a snapshot read stays as read: a rebind after the port's first query shows in the next
 * snapshot, not in this one (the gate decides every port of a round on one view).
 */
static void test_snapshot_keeps_what_it_read(void **state)
{
        _cleanup_(topology_snapshot_freep) struct topology_snapshot *s = NULL, *s2 = NULL;
        _cleanup_(port_topology_done) struct port_topology before = {}, after = {}, fresh = {};

        assert_int_equal(topology_snapshot_read(&s), 0);
        assert_int_equal(topology_snapshot_port(s, "/sys/" RP0, &before), 0);
        assert_int_equal(find_dax(&before, "dax0.0")->mode, DAX_MODE_DEVDAX);

        tb_link(CXLROOT "/decoder0.0/region0/dax_region0/dax0.0/driver", "bus/dax/drivers/kmem");
        add_block(0x1000000000 / BLOCK, "online");

        assert_int_equal(topology_snapshot_port(s, "/sys/" RP0, &after), 0);
        assert_int_equal(find_dax(&after, "dax0.0")->mode, DAX_MODE_DEVDAX);
        assert_int_equal(find_dax(&after, "dax0.0")->n_blocks, 0);

        assert_int_equal(topology_snapshot_read(&s2), 0);
        assert_int_equal(topology_snapshot_port(s2, "/sys/" RP0, &fresh), 0);
        assert_int_equal(find_dax(&fresh, "dax0.0")->mode, DAX_MODE_SYSTEM_RAM);
        assert_int_equal(find_dax(&fresh, "dax0.0")->n_blocks, 1);
        assert_true(find_dax(&fresh, "dax0.0")->blocks[0].online);
}

/* A dax device with no address yet (0/0) belongs to a region only by its sysfs path (6.3+ dax_cxl). */
static void test_snapshot_dax_by_path(void **state)
{
        _cleanup_(topology_snapshot_freep) struct topology_snapshot *s = NULL;
        _cleanup_(port_topology_done) struct port_topology t0 = {}, t1 = {};
        const struct dax_device *d;

        add_dax(CXLROOT "/decoder0.1/region1/dax_region1", "dax1.1", 0, 0, NULL, -1);
        /* Same shape of name below the nvdimm bus, but no dax_regionZ: not region1's. */
        add_dax(CXLROOT "/nvdimm-bridge0/ndbus0/region1/dax3.1", "dax3.1", 0, 0, NULL, -1);

        assert_int_equal(topology_snapshot_read(&s), 0);
        assert_int_equal(topology_snapshot_port(s, "/sys/" RP0, &t0), 0);
        assert_int_equal(topology_snapshot_port(s, "/sys/" RP1, &t1), 0);
        assert_false(has_dax(&t0, "dax1.1"));
        assert_false(has_dax(&t0, "dax3.1"));
        assert_false(has_dax(&t1, "dax3.1"));
        d = find_dax(&t1, "dax1.1");
        assert_non_null(d);
        assert_string_equal(d->region, "region1");
        assert_string_equal(d->memdev, "mem1");
        assert_int_equal(d->mode, DAX_MODE_UNBOUND);
        assert_int_equal(d->size, 0);
}

/* A region (and the dax device below it) moves from port 1 to port 0; then a dax device goes away. */
static void test_snapshot_device_moves_and_goes(void **state)
{
        _cleanup_(topology_snapshot_freep) struct topology_snapshot *s1 = NULL, *s2 = NULL, *s3 = NULL;
        struct port_topology t = {};

        assert_int_equal(topology_snapshot_read(&s1), 0);

        /* region1 is re-created over port 0's endpoint decoder (same name); port 1's decoder is reset. */
        tb_write(CXLROOT "/decoder0.1/region1/target0", "decoder2.0");
        tb_write(CXLROOT "/port4/endpoint3/decoder3.0/start", "0");
        tb_write(CXLROOT "/port4/endpoint3/decoder3.0/size", "0");
        assert_int_equal(topology_snapshot_read(&s2), 0);

        /* The first snapshot still says where things were. */
        assert_int_equal(topology_snapshot_port(s1, "/sys/" RP1, &t), 0);
        assert_true(has_region(&t, "region1"));
        assert_true(has_dax(&t, "dax1.0"));
        port_topology_done(&t);
        assert_int_equal(topology_snapshot_port(s1, "/sys/" RP0, &t), 0);
        assert_false(has_region(&t, "region1"));
        assert_false(has_dax(&t, "dax1.0"));
        port_topology_done(&t);

        /* The second one has moved them, with the memdev of the decoder that matched. */
        assert_int_equal(topology_snapshot_port(s2, "/sys/" RP1, &t), 0);
        assert_int_equal(t.n_memdevs, 1);
        assert_int_equal(t.n_regions, 0);
        assert_int_equal(t.n_dax, 0);
        port_topology_done(&t);
        assert_int_equal(topology_snapshot_port(s2, "/sys/" RP0, &t), 0);
        assert_true(has_region(&t, "region1"));
        assert_non_null(find_dax(&t, "dax1.0"));
        assert_string_equal(find_dax(&t, "dax1.0")->region, "region1");
        assert_string_equal(find_dax(&t, "dax1.0")->memdev, "mem0");
        assert_int_equal(find_dax(&t, "dax1.0")->mode, DAX_MODE_SYSTEM_RAM);
        assert_int_equal(t.n_dax, 4);
        port_topology_done(&t);

        /* daxctl destroy-device: dax0.0 leaves the bus. */
        tb_rm("bus/dax/devices/dax0.0");
        assert_int_equal(topology_snapshot_read(&s3), 0);
        assert_int_equal(topology_snapshot_port(s3, "/sys/" RP0, &t), 0);
        assert_false(has_dax(&t, "dax0.0"));
        assert_true(has_dax(&t, "dax1.0"));
        assert_int_equal(t.n_dax, 3);
        port_topology_done(&t);
        assert_int_equal(topology_snapshot_port(s2, "/sys/" RP0, &t), 0);
        assert_true(has_dax(&t, "dax0.0"));
        port_topology_done(&t);
}

static void test_snapshot_empty_buses(void **state)
{
        _cleanup_(topology_snapshot_freep) struct topology_snapshot *s = NULL;
        _cleanup_(port_topology_done) struct port_topology t = {};

        testbed_new();
        tb_write(RP0 "/vendor", "0x8086");
        assert_int_equal(topology_snapshot_read(&s), 0);
        assert_int_equal(topology_snapshot_port(s, "/sys/" RP0, &t), 0);
        assert_int_equal(t.n_memdevs, 0);
        assert_int_equal(t.n_regions, 0);
        assert_int_equal(t.n_dax, 0);
        assert_int_equal(topology_snapshot_port(NULL, "/sys/" RP0, &t), -EINVAL);
        assert_int_equal(topology_snapshot_read(NULL), -EINVAL);
}

/* --- the simulated host of tests/sim: the layout the daemon's integration tests run against --- */

static void sim_testbed_new(unsigned n_ports)
{
        struct sim_host_spec spec;

        testbed_remove();
        snprintf(root, sizeof(root), "%s/test-topology.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        assert_non_null(mkdtemp(root));
        snprintf(sysdir, sizeof(sysdir), "%s/sys", root);
        sim_host_spec_default(n_ports, &spec);
        assert_int_equal(sim_host_create(root, &spec), 0);
        assert_int_equal(setenv("UMOCKDEV_DIR", root, 1), 0);
}

static void read_sim_port(unsigned index, struct port_topology *ret)
{
        struct sim_port_layout l;

        sim_port_layout(index, &l);
        assert_int_equal(port_topology_read(l.sysfs, ret), 0);
}

static void test_sim_host_modes(void **state)
{
        struct port_topology t = {};
        struct sim_port_layout l;
        struct arming_decision d;
        struct cxl_ti_capability cap;

        cxl_ti_capability_decode(CXL_TI_CAP_MEM_ISOLATION, &cap);
        sim_testbed_new(4);

        /* Port 0: devdax, no blocks. Arms. */
        sim_port_layout(0, &l);
        read_sim_port(0, &t);
        assert_int_equal(t.n_memdevs, 1);
        assert_string_equal(t.memdevs[0], l.memdev);
        assert_int_equal(t.n_regions, 1);
        assert_string_equal(t.regions[0], l.region);
        assert_true(port_region_is_active(&t.region_info[0]));
        assert_int_equal(t.n_dax, 1);
        assert_string_equal(t.dax[0].name, l.dax);
        assert_string_equal(t.dax[0].region, l.region);
        assert_string_equal(t.dax[0].memdev, l.memdev);
        assert_int_equal(t.dax[0].mode, DAX_MODE_DEVDAX);
        assert_int_equal(t.dax[0].start, l.hpa_base);
        assert_int_equal(t.dax[0].size, SIM_REGION_SIZE);
        assert_int_equal(t.dax[0].target_node, (int)l.node);
        assert_int_equal(t.dax[0].memmap_on_memory, 0);
        assert_int_equal(t.dax[0].n_blocks, 0);
        assert_int_equal(arming_gate_decide(&cap, GATE_ARM_AUTO, &t, &d), 0);
        assert_true(d.arm);
        port_topology_done(&t);

        /* Port 1: system-ram, all four blocks online. Refused. */
        sim_port_layout(1, &l);
        read_sim_port(1, &t);
        assert_int_equal(t.n_dax, 1);
        assert_int_equal(t.dax[0].mode, DAX_MODE_SYSTEM_RAM);
        assert_int_equal(t.dax[0].n_blocks, SIM_REGION_SIZE / SIM_BLOCK_SIZE);
        for (size_t b = 0; b < t.dax[0].n_blocks; b++) {
                assert_int_equal(t.dax[0].blocks[b].index, l.hpa_base / SIM_BLOCK_SIZE + b);
                assert_true(t.dax[0].blocks[b].online);
        }
        assert_int_equal(arming_gate_decide(&cap, GATE_ARM_AUTO, &t, &d), 0);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_DAX_SYSTEM_RAM);
        port_topology_done(&t);

        /* Port 3: a memdev and nothing else. Arms: nothing to protect. */
        sim_port_layout(3, &l);
        read_sim_port(3, &t);
        assert_int_equal(t.n_memdevs, 1);
        assert_string_equal(t.memdevs[0], l.memdev);
        assert_int_equal(t.n_regions, 0);
        assert_int_equal(t.n_dax, 0);
        assert_int_equal(arming_gate_decide(&cap, GATE_ARM_AUTO, &t, &d), 0);
        assert_true(d.arm);
        port_topology_done(&t);
}

static void test_sim_mode_changes(void **state)
{
        struct port_topology t = {};
        struct sim_port_layout l;
        struct sim_dax_change c;
        struct arming_decision d;
        struct cxl_ti_capability cap;
        char sysfs[128];

        cxl_ti_capability_decode(CXL_TI_CAP_MEM_ISOLATION, &cap);
        sim_testbed_new(2);
        sim_port_layout(1, &l);

        /* daxctl offline-memory, one block at a time: still refused until the last one. */
        uint64_t first = l.hpa_base / SIM_BLOCK_SIZE;
        for (uint64_t b = 0; b < SIM_REGION_SIZE / SIM_BLOCK_SIZE; b++)
                assert_int_equal(sim_memblock_set_state(root, first + b, false, sysfs), 0);
        read_sim_port(1, &t);
        assert_int_equal(t.dax[0].mode, DAX_MODE_SYSTEM_RAM);
        for (size_t b = 0; b < t.dax[0].n_blocks; b++)
                assert_false(t.dax[0].blocks[b].online);
        assert_int_equal(arming_gate_decide(&cap, GATE_ARM_AUTO, &t, &d), 0);
        assert_int_equal(d.reason, GATE_DAX_SYSTEM_RAM);
        port_topology_done(&t);

        /* reconfigure-device -m devdax: blocks removed, device_dax bound. Arms. */
        assert_int_equal(sim_dax_set_mode(root, l.dax, SIM_MEM_DEVDAX, &c), 0);
        read_sim_port(1, &t);
        assert_int_equal(t.dax[0].mode, DAX_MODE_DEVDAX);
        assert_int_equal(t.dax[0].n_blocks, 0);
        assert_int_equal(arming_gate_decide(&cap, GATE_ARM_AUTO, &t, &d), 0);
        assert_true(d.arm);
        port_topology_done(&t);

        /* While armed, port 0's device goes to system-ram: unsafe, named. */
        sim_port_layout(0, &l);
        assert_int_equal(sim_dax_set_mode(root, l.dax, SIM_MEM_SYSTEM_RAM, &c), 0);
        read_sim_port(0, &t);
        assert_int_equal(arming_gate_check_armed(&t, GATE_ARM_AUTO, &d), 0);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_DAX_SYSTEM_RAM);
        assert_non_null(strstr(d.detail, l.dax));
        port_topology_done(&t);
}

/*
 * The discovery benchmark's host, smaller: every port with 4 regions and dax devices. One snapshot
 * gives every port exactly its own, in the modes the simulator set, and no device to two ports.
 */
static void test_sim_snapshot_every_port(void **state)
{
        enum { N = 6, K = 4 };
        _cleanup_(topology_snapshot_freep) struct topology_snapshot *s = NULL;
        struct sim_host_spec spec;
        unsigned owners[N * K] = {};

        testbed_remove();
        snprintf(root, sizeof(root), "%s/test-topology.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        assert_non_null(mkdtemp(root));
        snprintf(sysdir, sizeof(sysdir), "%s/sys", root);
        sim_host_spec_default(N, &spec);
        spec.dax_per_port = K;
        for (unsigned i = 3; i < N; i += 4)
                spec.port[i].mem = SIM_MEM_DEVDAX;      /* as the benchmark does: every port carries memory */
        assert_int_equal(sim_host_create(root, &spec), 0);
        assert_int_equal(setenv("UMOCKDEV_DIR", root, 1), 0);

        assert_int_equal(topology_snapshot_read(&s), 0);
        for (unsigned i = 0; i < N; i++) {
                _cleanup_(port_topology_done) struct port_topology t = {};
                struct sim_port_layout l;

                sim_port_layout(i, &l);
                assert_int_equal(topology_snapshot_port(s, l.sysfs, &t), 0);
                assert_int_equal(t.n_memdevs, 1);
                assert_string_equal(t.memdevs[0], l.memdev);
                assert_int_equal(t.n_regions, K);
                assert_int_equal(t.n_dax, K);
                for (unsigned k = 0; k < K; k++) {
                        struct sim_region_layout rl;
                        const struct dax_device *d;

                        sim_region_layout(&l, k, &rl);
                        assert_true(has_region(&t, rl.region));
                        d = find_dax(&t, rl.dax);
                        assert_non_null(d);
                        assert_string_equal(d->region, rl.region);
                        assert_string_equal(d->memdev, l.memdev);
                        assert_int_equal(d->start, rl.hpa);
                        assert_int_equal(d->size, SIM_REGION_SIZE);
                        if (spec.port[i].mem == SIM_MEM_SYSTEM_RAM) {
                                assert_int_equal(d->mode, DAX_MODE_SYSTEM_RAM);
                                assert_int_equal(d->n_blocks, SIM_REGION_SIZE / SIM_BLOCK_SIZE);
                                assert_int_equal(d->blocks[0].index, rl.hpa / SIM_BLOCK_SIZE);
                        } else {
                                assert_int_equal(d->mode, DAX_MODE_DEVDAX);
                                assert_int_equal(d->n_blocks, 0);
                        }
                }
                /* daxZ.0 with Z = port + 256 k names its owner. */
                for (size_t j = 0; j < t.n_dax; j++) {
                        unsigned z = (unsigned)strtoul(t.dax[j].name + STRLEN("dax"), NULL, 10);
                        assert_int_equal(z % SIM_MAX_PORTS, i);
                        owners[i * K + z / SIM_MAX_PORTS]++;
                }
        }
        for (unsigned j = 0; j < N * K; j++)
                assert_int_equal(owners[j], 1);
}

/* The simulator moves a device to system-ram: a snapshot that already read it keeps devdax, the next sees kmem. */
static void test_sim_snapshot_mode_change(void **state)
{
        _cleanup_(topology_snapshot_freep) struct topology_snapshot *s1 = NULL, *s2 = NULL;
        struct port_topology t = {};
        struct sim_port_layout l0, l2;
        struct sim_dax_change c;

        sim_testbed_new(4);
        sim_port_layout(0, &l0);
        sim_port_layout(2, &l2);
        assert_int_equal(topology_snapshot_read(&s1), 0);
        assert_int_equal(topology_snapshot_port(s1, l2.sysfs, &t), 0);
        assert_int_equal(t.dax[0].mode, DAX_MODE_DEVDAX);
        port_topology_done(&t);

        assert_int_equal(sim_dax_set_mode(root, l2.dax, SIM_MEM_SYSTEM_RAM, &c), 0);
        assert_int_equal(topology_snapshot_read(&s2), 0);

        assert_int_equal(topology_snapshot_port(s1, l2.sysfs, &t), 0);
        assert_int_equal(t.dax[0].mode, DAX_MODE_DEVDAX);
        assert_int_equal(t.dax[0].n_blocks, 0);
        port_topology_done(&t);
        assert_int_equal(topology_snapshot_port(s2, l2.sysfs, &t), 0);
        assert_int_equal(t.n_dax, 1);
        assert_int_equal(t.dax[0].mode, DAX_MODE_SYSTEM_RAM);
        assert_int_equal(t.dax[0].n_blocks, c.n_blocks);
        port_topology_done(&t);
        assert_int_equal(topology_snapshot_port(s2, l0.sysfs, &t), 0);
        assert_int_equal(t.n_dax, 1);
        assert_int_equal(t.dax[0].mode, DAX_MODE_DEVDAX);
        port_topology_done(&t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_port0, setup_testbed, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_port1_isolated_from_port0, setup_testbed, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_no_region_fallback_to_decoder, setup_testbed, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_gate_over_topology, setup_testbed, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_missing_port_and_empty_buses, setup_testbed, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_snapshot_both_ports, setup_testbed, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_snapshot_keeps_what_it_read, setup_testbed, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_snapshot_dax_by_path, setup_testbed, teardown_testbed),
                cmocka_unit_test_setup_teardown(test_snapshot_device_moves_and_goes, setup_testbed, teardown_testbed),
                cmocka_unit_test_teardown(test_snapshot_empty_buses, teardown_testbed),
                cmocka_unit_test_teardown(test_sim_host_modes, teardown_testbed),
                cmocka_unit_test_teardown(test_sim_mode_changes, teardown_testbed),
                cmocka_unit_test_teardown(test_sim_snapshot_every_port, teardown_testbed),
                cmocka_unit_test_teardown(test_sim_snapshot_mode_change, teardown_testbed),
        };

        /* umockdev_in_mock_environment() only turns true once a testbed exists; ask for the preload itself. */
        const char *preload = getenv("LD_PRELOAD");
        if (!preload || !strstr(preload, "libumockdev-preload")) {
                printf("1..0 # SKIP needs LD_PRELOAD=libumockdev-preload.so.0 (run through meson test)\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
