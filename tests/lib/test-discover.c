/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Root port discovery over the simulated host (tests/sim): libpci lists the
 * testbed's PCI functions through umockdev's /sys redirection, the component
 * blocks are mapped from the testbed's resource files. Every broken port
 * must come back with its own reason while the good ones stay watchable.
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
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "cxl-dvsec.h"
#include "cxl-regs.h"
#include "discover.h"
#include "regwin.h"
#include "sim-host.h"
#include "sim-sysfs.h"

static char root[PATH_MAX];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path) < 0 ? -1 : 0;
}

static void testbed_remove(void)
{
        if (root[0])
                (void)nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        root[0] = '\0';
}

/* Create the simulated host and point umockdev's preload at it. */
static void testbed_create(const struct sim_host_spec *spec)
{
        testbed_remove();
        snprintf(root, sizeof(root), "%s/test-discover.XXXXXX", getenv("TMPDIR") ?: "/tmp");
        assert_non_null(mkdtemp(root));
        assert_int_equal(sim_host_create(root, spec), 0);
        assert_int_equal(setenv("UMOCKDEV_DIR", root, 1), 0);
}

static int teardown(void **state)
{
        testbed_remove();
        return 0;
}

struct found {
        struct cxl_rootport *ports;
        size_t n;
};

static void found_done(struct found *f)
{
        cxl_rootports_free(f->ports, f->n);
        *f = (struct found) {};
}

static void discover(const struct discover_options *opts, struct found *ret)
{
        assert_int_equal(cxl_discover_rootports(opts, &ret->ports, &ret->n), 0);
}

static const struct cxl_rootport *port_by_index(const struct found *f, unsigned index)
{
        struct sim_port_layout l;

        sim_port_layout(index, &l);
        for (size_t i = 0; i < f->n; i++)
                if (strcmp(f->ports[i].bdf, l.bdf) == 0)
                        return &f->ports[i];
        return NULL;
}

/* What a watchable simulated port must look like, down to the offsets the daemon will poll. */
static void assert_watchable(const struct found *f, unsigned index, const struct sim_host_spec *spec)
{
        const struct cxl_rootport *p = port_by_index(f, index);
        struct sim_port_layout l;
        uint32_t v;

        sim_port_layout(index, &l);
        assert_non_null(p);
        if (p->reason != PORT_WATCHABLE)
                fail_msg("%s: %s (%d)", p->bdf, port_reason_to_string(p->reason), p->error);
        assert_int_equal(p->error, 0);
        assert_string_equal(p->sysfs_path, l.sysfs);
        assert_string_equal(p->host_bridge, l.host_bridge);
        assert_int_equal(p->vendor, SIM_RP_VENDOR);
        assert_int_equal(p->device, SIM_RP_DEVICE);
        assert_int_equal(p->serial, spec->port[index].regs.serial);
        assert_int_equal(p->component.bir, spec->port[index].regs.bir);
        assert_int_equal(p->component.offset, spec->port[index].regs.block_offset);
        assert_int_equal(p->ti_offset, SIM_TI_OFFSET);
        assert_int_equal(p->ras_offset, SIM_RAS_OFFSET);
        assert_true(p->ti_cap.mem_isolation);
        assert_non_null(p->win);

        /* The window really is the component block: the T&I capability reads back through it. */
        assert_int_equal(regwin_read32(p->win, p->ti_offset + CXL_TI_CAPABILITY, &v), 0);
        assert_int_equal(v, p->ti_cap.raw);
        assert_int_equal(regwin_read32(p->win, CXL_CM_OFFSET, &v), 0);
        assert_int_equal(CXL_CM_CAP_ID(v), CXL_CM_CAP_ARRAY);
}

static void test_four_good_ports(void **state)
{
        _cleanup_(found_done) struct found f = {};
        struct sim_host_spec spec;

        sim_host_spec_default(4, &spec);
        testbed_create(&spec);
        discover(NULL, &f);

        /* Only the root ports: the memory devices below them (class 0502) are not ports. */
        assert_int_equal(f.n, 4);
        for (unsigned i = 0; i < 4; i++)
                assert_watchable(&f, i, &spec);
        /* Sorted by BDF. */
        for (size_t i = 1; i < f.n; i++)
                assert_true(strcmp(f.ports[i - 1].bdf, f.ports[i].bdf) < 0);
}

static void test_decode_kept_apart_and_dropped(void **state)
{
        _cleanup_(found_done) struct found f = {};
        struct sim_host_spec spec;
        struct cxl_cap cap;
        uint32_t status;

        sim_host_spec_default(4, &spec);
        testbed_create(&spec);
        discover(NULL, &f);
        assert_int_equal(f.n, 4);

        /* What discovery walked is in the decode, for reports: the locator DVSEC, the T&I and RAS capabilities. */
        struct cxl_rootport *p = &f.ports[0];
        assert_non_null(p->decode);
        assert_non_null(cxl_dvsec_list_find(&p->decode->dvsecs, CXL_DVSEC_REG_LOCATOR));
        assert_int_equal(cxl_caparray_find(&p->decode->caps, CXL_CM_CAP_TIMEOUT_ISOLATION, &cap), 0);
        assert_int_equal(cap.offset, SIM_TI_OFFSET);
        assert_int_equal(cxl_caparray_find(&p->decode->caps, CXL_CM_CAP_RAS, &cap), 0);

        /* A watcher drops it and keeps everything it reads the port with. */
        cxl_rootport_drop_decode(p);
        assert_null(p->decode);
        cxl_rootport_drop_decode(p);
        assert_int_equal(p->reason, PORT_WATCHABLE);
        assert_int_equal(p->ti_offset, SIM_TI_OFFSET);
        assert_int_equal(p->ras_offset, SIM_RAS_OFFSET);
        assert_int_equal(regwin_read32(p->win, p->ti_offset + CXL_TI_STATUS, &status), 0);

        /* A rediscovered port comes with a decode of its own. */
        struct cxl_rootport again;
        assert_int_equal(cxl_rootport_rediscover(f.ports[1].bdf, NULL, &again), 0);
        assert_non_null(again.decode);
        assert_int_equal(cxl_caparray_find(&again.decode->caps, CXL_CM_CAP_TIMEOUT_ISOLATION, &cap), 0);
        cxl_rootport_done(&again);
        assert_null(again.decode);
}

static void test_qemu_like_port_without_ti(void **state)
{
        _cleanup_(found_done) struct found f = {};
        struct sim_host_spec spec;

        sim_host_spec_default(4, &spec);
        spec.port[1].regs.ti = false;
        testbed_create(&spec);
        discover(NULL, &f);

        assert_int_equal(f.n, 4);
        const struct cxl_rootport *p = port_by_index(&f, 1);
        assert_non_null(p);
        assert_int_equal(p->reason, PORT_NO_TI_CAPABILITY);
        assert_string_equal(port_reason_to_string(p->reason), "no-ti-capability");
        /* Missing hardware is no errno: nothing like "No such file or directory" may reach the operator. */
        assert_int_equal(p->error, 0);
        assert_int_equal(p->ti_offset, 0);
        /* RAS is still there to read, and so is the mapping. */
        assert_int_equal(p->ras_offset, SIM_RAS_OFFSET);
        assert_non_null(p->win);
        for (unsigned i = 0; i < 4; i++)
                if (i != 1)
                        assert_watchable(&f, i, &spec);
}

static void test_config_truncated(void **state)
{
        _cleanup_(found_done) struct found f = {};
        struct sim_host_spec spec;

        sim_host_spec_default(4, &spec);
        spec.port[2].config_truncated = true;
        testbed_create(&spec);
        discover(NULL, &f);

        assert_int_equal(f.n, 4);
        const struct cxl_rootport *p = port_by_index(&f, 2);
        assert_non_null(p);
        assert_int_equal(p->reason, PORT_CONFIG_TRUNCATED);
        assert_null(p->win);
        assert_non_null(strstr(port_reason_hint(p->reason), "CAP_SYS_ADMIN"));
        for (unsigned i = 0; i < 4; i++)
                if (i != 2)
                        assert_watchable(&f, i, &spec);
}

/* A plain PCIe root port (no CXL) as an unprivileged reader sees it: 64 bytes of config. */
static void add_plain_bridge_truncated(const char *bdf)
{
        char dev[128], path[192], link[128];
        uint8_t cfg[PCI_CFG_SIZE_LEGACY] = {};

        snprintf(dev, sizeof(dev), "/sys/devices/pci0000:00/%s", bdf);
        cfg[0x00] = 0x86, cfg[0x01] = 0x80;             /* 8086:a110 */
        cfg[0x02] = 0x10, cfg[0x03] = 0xa1;
        cfg[0x0a] = 0x04, cfg[0x0b] = 0x06;             /* class 0604: PCI bridge */
        cfg[PCI_CFG_HEADER_TYPE] = 0x01;
        snprintf(path, sizeof(path), "%s/config", dev);
        assert_int_equal(sim_write_file(root, path, cfg, sizeof(cfg)), 0);
        static const char *const attrs[][2] = {
                { "vendor", "0x8086\n" }, { "device", "0xa110\n" }, { "class", "0x060400\n" }, { "irq", "0\n" },
        };
        for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
                snprintf(path, sizeof(path), "%s/%s", dev, attrs[i][0]);
                assert_int_equal(sim_write_text(root, path, "%s", attrs[i][1]), 0);
        }
        snprintf(path, sizeof(path), "%s/resource", dev);
        assert_int_equal(sim_write_text(root, path, "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"), 0);
        snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s", bdf);
        assert_int_equal(sim_symlink(root, link, dev), 0);
}

static void test_config_truncated_narrowed_by_cxl_dports(void **state)
{
        _cleanup_(found_done) struct found f = {};
        struct sim_host_spec spec;

        /* Everything read without CAP_SYS_ADMIN, plus a non-CXL bridge. */
        sim_host_spec_default(2, &spec);
        spec.port[0].config_truncated = spec.port[1].config_truncated = true;
        testbed_create(&spec);
        add_plain_bridge_truncated("0000:00:1c.0");

        /* The CXL driver names its dports: only those are reported, the plain bridge is not a CXL port. */
        discover(NULL, &f);
        assert_int_equal(f.n, 2);
        for (unsigned i = 0; i < 2; i++) {
                assert_non_null(port_by_index(&f, i));
                assert_int_equal(port_by_index(&f, i)->reason, PORT_CONFIG_TRUNCATED);
        }
        found_done(&f);

        /* Without the CXL driver nothing narrows the list: every bridge is reported, blind. */
        assert_int_equal(sim_rm_rf(root, "/sys/bus/cxl"), 0);
        discover(NULL, &f);
        assert_int_equal(f.n, 3);
        assert_string_equal(f.ports[0].bdf, "0000:00:1c.0");
        assert_string_equal(f.ports[0].host_bridge, "pci0000:00");
        for (size_t i = 0; i < f.n; i++)
                assert_int_equal(f.ports[i].reason, PORT_CONFIG_TRUNCATED);
}

static void test_resource_missing(void **state)
{
        _cleanup_(found_done) struct found f = {};
        struct sim_host_spec spec;

        sim_host_spec_default(4, &spec);
        spec.port[3].resource_missing = true;
        testbed_create(&spec);
        discover(NULL, &f);

        assert_int_equal(f.n, 4);
        const struct cxl_rootport *p = port_by_index(&f, 3);
        assert_non_null(p);
        assert_int_equal(p->reason, PORT_RESOURCE_MISSING);
        assert_int_equal(p->error, -ENOENT);
        assert_null(p->win);
        for (unsigned i = 0; i < 3; i++)
                assert_watchable(&f, i, &spec);
}

static void test_device_gone(void **state)
{
        _cleanup_(found_done) struct found f = {};
        _cleanup_free_ uint8_t *ones = NULL;
        struct sim_host_spec spec;
        struct sim_port_record rec;

        sim_host_spec_default(4, &spec);
        testbed_create(&spec);

        /* The link dropped: every read of port 0's BAR returns all-ones. */
        uint64_t size = sim_component_bar_size(&spec.port[0].regs);
        ones = malloc(size);
        assert_non_null(ones);
        memset(ones, 0xff, size);
        struct sim_port_layout l;
        sim_port_layout(0, &l);
        assert_int_equal(sim_port_lookup(root, l.bdf, &rec), 0);
        assert_int_equal(sim_write_file(root, rec.resource_path, ones, size), 0);

        discover(NULL, &f);
        assert_int_equal(f.n, 4);
        const struct cxl_rootport *p = port_by_index(&f, 0);
        assert_non_null(p);
        assert_int_equal(p->reason, PORT_DEVICE_GONE);
        assert_int_equal(p->error, -ENODEV);
        assert_null(p->win);
        for (unsigned i = 1; i < 4; i++)
                assert_watchable(&f, i, &spec);
}

static void test_no_mem_isolation_and_other_bar(void **state)
{
        _cleanup_(found_done) struct found f = {};
        struct sim_host_spec spec;

        sim_host_spec_default(4, &spec);
        spec.port[0].regs.mem_isolation = false;
        /* Port 3's block sits in a 32-bit BAR1 at offset 64 KiB: the locator, not habit, must find it. */
        spec.port[3].regs.bir = 1;
        spec.port[3].regs.block_offset = 0x10000;
        testbed_create(&spec);
        discover(NULL, &f);

        assert_int_equal(f.n, 4);
        const struct cxl_rootport *p = port_by_index(&f, 0);
        assert_int_equal(p->reason, PORT_NO_MEM_ISOLATION);
        assert_int_equal(p->error, 0);
        assert_int_equal(p->ti_offset, SIM_TI_OFFSET);
        assert_false(p->ti_cap.mem_isolation);
        for (unsigned i = 1; i < 4; i++)
                assert_watchable(&f, i, &spec);
}

/* Read a whole testbed file (config space, a BAR) into buf; returns its length. */
static size_t read_testbed_file(const char *path, uint8_t *buf, size_t size)
{
        char full[PATH_MAX];

        assert_int_equal(sim_path(root, path, full, sizeof(full)), 0);
        FILE *f = fopen(full, "re");
        assert_non_null(f);
        size_t n = fread(buf, 1, size, f);
        fclose(f);
        return n;
}

/* Patch port i's config space through a callback that gets the Register Locator's offset. */
static void patch_config(unsigned index, void (*patch)(uint8_t *cfg, uint16_t locator))
{
        struct sim_port_layout l;
        struct sim_port_record rec;
        struct cxl_dvsec_list list;
        uint8_t cfg[PCI_CFG_SIZE_PCIE];

        sim_port_layout(index, &l);
        assert_int_equal(sim_port_lookup(root, l.bdf, &rec), 0);
        assert_int_equal(read_testbed_file(rec.config_path, cfg, sizeof(cfg)), sizeof(cfg));
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &list), 0);
        const struct cxl_dvsec *loc = cxl_dvsec_list_find(&list, CXL_DVSEC_REG_LOCATOR);
        assert_non_null(loc);
        patch(cfg, loc->offset);
        assert_int_equal(sim_write_file(root, rec.config_path, cfg, sizeof(cfg)), 0);
}

static void locator_renamed(uint8_t *cfg, uint16_t loc)
{
        cfg[loc + PCI_DVSEC_HEADER2] = CXL_DVSEC_TEST;          /* DVSEC 8 becomes DVSEC 0xA */
}

static void locator_entry_empty(uint8_t *cfg, uint16_t loc)
{
        cfg[loc + CXL_REGLOC_ENTRIES_OFFSET + 1] = CXL_REGBLOCK_EMPTY;  /* entry 0's block id */
}

static void locator_bad_bir(uint8_t *cfg, uint16_t loc)
{
        cfg[loc + CXL_REGLOC_ENTRIES_OFFSET] |= CXL_REGLOC_BIR_MASK;    /* BIR 7: no such BAR */
}

static void test_malformed_ports_do_not_stop_the_others(void **state)
{
        _cleanup_(found_done) struct found f = {};
        _cleanup_free_ uint8_t *bar = NULL;
        struct sim_host_spec spec;
        struct sim_port_layout l;
        struct sim_port_record rec;

        sim_host_spec_default(5, &spec);
        testbed_create(&spec);
        patch_config(0, locator_renamed);
        patch_config(1, locator_entry_empty);
        patch_config(2, locator_bad_bir);

        /* Port 3: the component block holds no capability array (header id 0 at 0x1000). */
        uint64_t size = sim_component_bar_size(&spec.port[3].regs);
        bar = malloc(size);
        assert_non_null(bar);
        sim_port_layout(3, &l);
        assert_int_equal(sim_port_lookup(root, l.bdf, &rec), 0);
        assert_int_equal(read_testbed_file(rec.resource_path, bar, size), size);
        memset(bar + CXL_CM_OFFSET, 0, 4);
        assert_int_equal(sim_write_file(root, rec.resource_path, bar, size), 0);

        discover(NULL, &f);
        assert_int_equal(f.n, 5);
        assert_int_equal(port_by_index(&f, 0)->reason, PORT_NO_REGISTER_LOCATOR);
        assert_int_equal(port_by_index(&f, 1)->reason, PORT_NO_COMPONENT_BLOCK);
        assert_int_equal(port_by_index(&f, 2)->reason, PORT_BAD_CONFIG);
        assert_int_equal(port_by_index(&f, 2)->error, -EBADMSG);
        assert_int_equal(port_by_index(&f, 3)->reason, PORT_BAD_CAPARRAY);
        for (unsigned i = 0; i < 4; i++) {
                /* Identity is still known for the operator, whatever went wrong later. */
                sim_port_layout(i, &l);
                assert_string_equal(port_by_index(&f, i)->host_bridge, l.host_bridge);
                assert_int_equal(port_by_index(&f, i)->serial, spec.port[i].regs.serial);
                assert_null(port_by_index(&f, i)->win);
        }
        assert_watchable(&f, 4, &spec);
}

static void test_only_bdf_and_rediscover(void **state)
{
        _cleanup_(found_done) struct found f = {};
        struct sim_host_spec spec;
        struct sim_port_layout l;
        struct cxl_rootport p;

        sim_host_spec_default(4, &spec);
        testbed_create(&spec);
        sim_port_layout(2, &l);

        struct discover_options o = { .only_bdf = l.bdf };
        discover(&o, &f);
        assert_int_equal(f.n, 1);
        assert_string_equal(f.ports[0].bdf, l.bdf);

        /* The port goes away (resource file gone), then comes back. */
        struct sim_port_record rec;
        assert_int_equal(sim_port_lookup(root, l.bdf, &rec), 0);
        _cleanup_free_ uint8_t *saved = malloc(sim_component_bar_size(&spec.port[2].regs));
        assert_non_null(saved);
        char path[PATH_MAX];
        assert_int_equal(sim_path(root, rec.resource_path, path, sizeof(path)), 0);
        FILE *in = fopen(path, "re");
        assert_non_null(in);
        size_t size = fread(saved, 1, sim_component_bar_size(&spec.port[2].regs), in);
        fclose(in);
        assert_int_equal(sim_unlink(root, rec.resource_path), 0);

        assert_int_equal(cxl_rootport_rediscover(l.bdf, NULL, &p), 0);
        assert_int_equal(p.reason, PORT_RESOURCE_MISSING);
        cxl_rootport_done(&p);

        assert_int_equal(sim_write_file(root, rec.resource_path, saved, size), 0);
        struct discover_options w = { .writable = true };
        assert_int_equal(cxl_rootport_rediscover(l.bdf, &w, &p), 0);
        assert_int_equal(p.reason, PORT_WATCHABLE);
        assert_int_equal(p.ti_offset, SIM_TI_OFFSET);
        /* Writable: a control write reaches the block (the sim's model keeps what the capability allows). */
        uint32_t ctl;
        assert_int_equal(regwin_write32(p.win, p.ti_offset + CXL_TI_CONTROL, CXL_TI_CTL_MEM_ISOLATION_ENABLE), 0);
        assert_int_equal(regwin_read32(p.win, p.ti_offset + CXL_TI_CONTROL, &ctl), 0);
        assert_true(ctl & CXL_TI_CTL_MEM_ISOLATION_ENABLE);
        cxl_rootport_done(&p);

        assert_int_equal(cxl_rootport_rediscover("0000:7f:1f.7", NULL, &p), -ENODEV);
}

static void test_map_errors(void **state)
{
        /* What regwin_open_resource() returns when the kernel refuses the mmap (platform-notes 1.1). */
        assert_int_equal(port_reason_from_map_error(-EPERM), PORT_MMAP_LOCKDOWN);
        assert_int_equal(port_reason_from_map_error(-EINVAL), PORT_MMAP_CLAIMED);
        assert_int_equal(port_reason_from_map_error(-ENODEV), PORT_DEVICE_GONE);
        assert_int_equal(port_reason_from_map_error(-ENOENT), PORT_RESOURCE_MISSING);
        assert_int_equal(port_reason_from_map_error(-EACCES), PORT_MMAP_FAILED);
        assert_int_equal(port_reason_from_map_error(-EIO), PORT_MMAP_FAILED);
}

static void test_reason_strings(void **state)
{
        for (int r = 0; r < _PORT_REASON_MAX; r++) {
                assert_non_null(port_reason_to_string((enum port_reason)r));
                assert_non_null(port_reason_description((enum port_reason)r));
                assert_non_null(port_reason_hint((enum port_reason)r));
                for (int o = 0; o < r; o++)
                        assert_string_not_equal(port_reason_to_string((enum port_reason)r),
                                                port_reason_to_string((enum port_reason)o));
        }
        assert_null(port_reason_to_string(_PORT_REASON_MAX));
        /* The hints name the knobs the platform notes give. */
        assert_non_null(strstr(port_reason_hint(PORT_MMAP_LOCKDOWN), "/sys/kernel/security/lockdown"));
        assert_non_null(strstr(port_reason_hint(PORT_MMAP_CLAIMED), "iomem=relaxed"));
        assert_non_null(strstr(port_reason_hint(PORT_MMAP_CLAIMED), "/proc/iomem"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_four_good_ports, teardown),
                cmocka_unit_test_teardown(test_decode_kept_apart_and_dropped, teardown),
                cmocka_unit_test_teardown(test_qemu_like_port_without_ti, teardown),
                cmocka_unit_test_teardown(test_config_truncated, teardown),
                cmocka_unit_test_teardown(test_config_truncated_narrowed_by_cxl_dports, teardown),
                cmocka_unit_test_teardown(test_resource_missing, teardown),
                cmocka_unit_test_teardown(test_device_gone, teardown),
                cmocka_unit_test_teardown(test_no_mem_isolation_and_other_bar, teardown),
                cmocka_unit_test_teardown(test_malformed_ports_do_not_stop_the_others, teardown),
                cmocka_unit_test_teardown(test_only_bdf_and_rediscover, teardown),
                cmocka_unit_test(test_map_errors),
                cmocka_unit_test(test_reason_strings),
        };

        const char *preload = getenv("LD_PRELOAD");
        if (!preload || !strstr(preload, "libumockdev-preload")) {
                printf("1..0 # SKIP needs LD_PRELOAD=libumockdev-preload.so.0 (run through meson test)\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
