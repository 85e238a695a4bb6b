/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated host's sysfs as files: what other tests and the daemon will
 * read must follow the kernel's formats, and the kernel-side operations
 * (rebinding dax devices, memory block state, AER counters, a port coming
 * back) must leave the tree the way the kernel would.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "sim-host.h"
#include "sim-sysfs.h"

struct fixture {
        char root[64];
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct sim_host_spec spec;

        assert_non_null(f);
        strcpy(f->root, "/tmp/test-sim-host.XXXXXX");
        assert_non_null(mkdtemp(f->root));
        sim_host_spec_default(4, &spec);
        spec.port[2].config_truncated = true;
        spec.port[3].regs.ti = false;
        assert_int_equal(sim_host_create(f->root, &spec), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static off_t file_size(struct fixture *f, const char *path)
{
        char full[512];
        struct stat st;

        assert_int_equal(sim_path(f->root, path, full, sizeof(full)), 0);
        if (stat(full, &st) < 0)
                return -1;
        return st.st_size;
}

static void read_attr(struct fixture *f, const char *path, char *buf, size_t len)
{
        assert_int_equal(sim_read_text(f->root, path, buf, len), 0);
}

static void test_pci_functions(void **state)
{
        struct fixture *f = *state;
        struct sim_port_layout l;
        char buf[2048];
        unsigned long long start, end, flags;

        sim_port_layout(0, &l);
        assert_string_equal(l.bdf, "0000:0c:00.0");
        assert_int_equal(file_size(f, "/sys/bus/pci/devices/0000:0c:00.0/config"), 4096);
        assert_int_equal(file_size(f, "/sys/bus/pci/devices/0000:0c:00.0/resource0"), 65536);
        read_attr(f, "/sys/bus/pci/devices/0000:0c:00.0/class", buf, sizeof(buf));
        assert_string_equal(buf, "0x060400");
        read_attr(f, "/sys/bus/pci/devices/0000:0d:00.0/class", buf, sizeof(buf));
        assert_string_equal(buf, "0x050210");
        /* resource: "start end flags" lines; BAR0 is the 64 KiB 64-bit memory BAR */
        read_attr(f, "/sys/bus/pci/devices/0000:0c:00.0/resource", buf, sizeof(buf));
        assert_int_equal(sscanf(buf, "%llx %llx %llx", &start, &end, &flags), 3);
        assert_int_equal(start, l.bar_address);
        assert_int_equal(end - start + 1, 65536);
        assert_int_equal(flags & 0x00100200, 0x00100200);
        /* an unprivileged reader's view, and a QEMU-like port */
        assert_int_equal(file_size(f, "/sys/bus/pci/devices/0000:2c:00.0/config"), 64);
        read_attr(f, "/sys/bus/pci/devices/0000:0c:00.0/aer_rootport_total_err_cor", buf, sizeof(buf));
        assert_string_equal(buf, "0");
}

static void test_port_records_and_aer(void **state)
{
        struct fixture *f = *state;
        struct sim_port_record p;
        char buf[2048];

        assert_int_equal(sim_port_lookup(f->root, "1c:00.0", &p), 0);
        assert_int_equal(p.index, 1);
        assert_string_equal(p.resource_path, "/sys/devices/pci0000:1c/0000:1c:00.0/resource0");
        assert_true(p.spec.regs.ti);
        assert_int_equal(sim_port_lookup(f->root, "0000:3c:00.0", &p), 0);
        assert_false(p.spec.regs.ti);
        assert_int_equal(sim_port_lookup(f->root, "0000:7c:00.0", &p), -ENOENT);
        assert_int_equal(sim_port_lookup(f->root, "../../etc", &p), -EINVAL);

        assert_int_equal(sim_port_lookup(f->root, "0000:0c:00.0", &p), 0);
        assert_int_equal(sim_aer_count(f->root, &p, "fatal", "SDES"), 0);
        assert_int_equal(sim_aer_count(f->root, &p, "fatal", "SDES"), 0);
        read_attr(f, "/sys/devices/pci0000:0c/0000:0c:00.0/aer_dev_fatal", buf, sizeof(buf));
        assert_non_null(strstr(buf, "\nSDES 2\n"));
        assert_non_null(strstr(buf, "\nTOTAL_ERR_FATAL 2"));
        assert_non_null(strstr(buf, "\nDLP 0\n"));
        read_attr(f, "/sys/devices/pci0000:0c/0000:0c:00.0/aer_rootport_total_err_fatal", buf, sizeof(buf));
        assert_string_equal(buf, "2");
        assert_int_equal(sim_aer_count(f->root, &p, "fatal", "NoSuchCounter"), -ENOENT);
}

static void test_restore(void **state)
{
        struct fixture *f = *state;
        struct sim_port_record p;
        char full[512];
        FILE *fp;
        uint32_t id = 0;

        assert_int_equal(sim_port_lookup(f->root, "0000:1c:00.0", &p), 0);
        assert_int_equal(sim_path(f->root, p.resource_path, full, sizeof(full)), 0);
        assert_int_equal(truncate(full, 0), 0);
        assert_int_equal(sim_port_restore(f->root, &p), 0);
        assert_int_equal(file_size(f, p.resource_path), 65536);
        fp = fopen(full, "re");
        assert_non_null(fp);
        assert_int_equal(fseek(fp, 0x1000, SEEK_SET), 0);
        assert_int_equal(fread(&id, 4, 1, fp), 1);
        fclose(fp);
        assert_int_equal(id & 0xffff, 1);       /* the capability array header is back */
}

static const char *driver_of(struct fixture *f, const char *dax, char *buf, size_t len)
{
        char path[512];
        ssize_t n;

        snprintf(path, sizeof(path), "%s/sys/bus/dax/devices/%s/driver", f->root, dax);
        n = readlink(path, buf, len - 1);
        if (n < 0)
                return "";
        buf[n] = '\0';
        return strrchr(buf, '/') + 1;
}

static void test_dax_modes(void **state)
{
        struct fixture *f = *state;
        struct sim_dax_change c;
        uint64_t first = 0x1100000000ull / SIM_BLOCK_SIZE;
        char buf[256], sysfs[128], path[192];

        /* port 1: system-ram, blocks online */
        assert_string_equal(driver_of(f, "dax1.0", buf, sizeof(buf)), "kmem");
        snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%" PRIu64 "/state", first);
        read_attr(f, path, buf, sizeof(buf));
        assert_string_equal(buf, "online");
        read_attr(f, "/sys/devices/system/memory/block_size_bytes", buf, sizeof(buf));
        assert_string_equal(buf, "8000000");

        /* daxctl's rule: no reconfigure while memory is online */
        assert_int_equal(sim_dax_set_mode(f->root, "dax1.0", SIM_MEM_DEVDAX, &c), -EBUSY);
        assert_string_equal(driver_of(f, "dax1.0", buf, sizeof(buf)), "kmem");

        /* the kernel's rule: unbinding kmem with a block online leaks the blocks */
        assert_int_equal(sim_dax_unbind(f->root, "dax1.0", "device_dax", &c), -ENODEV);
        assert_int_equal(sim_dax_unbind(f->root, "dax1.0", "kmem", &c), 0);
        assert_int_equal(c.n_blocks, 0);
        assert_string_equal(driver_of(f, "dax1.0", buf, sizeof(buf)), "");
        assert_true(file_size(f, path) > 0);

        /* bind again: the blocks that stayed are reused, nothing duplicated */
        assert_int_equal(sim_dax_bind(f->root, "dax1.0", "kmem", false, &c), 0);
        assert_int_equal(c.n_blocks, 0);
        assert_int_equal(sim_dax_bind(f->root, "dax1.0", "kmem", false, &c), -EBUSY);

        /* offline everything, then devdax: the blocks go away with kmem */
        for (uint64_t b = 0; b < SIM_REGION_SIZE / SIM_BLOCK_SIZE; b++) {
                assert_int_equal(sim_memblock_set_state(f->root, first + b, false, sysfs), 0);
                snprintf(path, sizeof(path), "%s/online", sysfs);
                read_attr(f, path, buf, sizeof(buf));
                assert_string_equal(buf, "0");
        }
        assert_int_equal(sim_dax_set_mode(f->root, "dax1.0", SIM_MEM_DEVDAX, &c), 0);
        assert_false(c.blocks_added);
        assert_int_equal(c.n_blocks, 4);
        assert_string_equal(driver_of(f, "dax1.0", buf, sizeof(buf)), "device_dax");
        snprintf(path, sizeof(path), "/sys/devices/system/memory/memory%" PRIu64 "/state", first);
        assert_int_equal(file_size(f, path), -1);

        /* and back to system-ram, online as daxctl leaves it */
        assert_int_equal(sim_dax_set_mode(f->root, "dax1.0", SIM_MEM_SYSTEM_RAM, &c), 0);
        assert_true(c.blocks_added);
        read_attr(f, path, buf, sizeof(buf));
        assert_string_equal(buf, "online");

        /* port 3 has no region, so no dax device */
        assert_int_equal(sim_dax_set_mode(f->root, "dax3.0", SIM_MEM_DEVDAX, &c), -ENOENT);
        assert_int_equal(sim_memblock_set_state(f->root, 999999, false, sysfs), -ENOENT);
}

/* Beyond 16 ports: more PCI domains, ports 0..15 as before; several regions per port. */
static void test_domains_and_regions(void **state)
{
        struct fixture f = { .root = "/tmp/test-sim-host.XXXXXX" };
        struct sim_host_spec spec;
        struct sim_port_layout l, l0;
        struct sim_region_layout r;
        struct sim_port_record p;
        struct sim_dax_change c;
        char buf[256], path[320];
        (void)state;

        sim_port_layout(0, &l0);
        assert_string_equal(l0.bdf, "0000:0c:00.0");
        assert_string_equal(l0.host_bridge, "pci0000:0c");
        assert_int_equal(l0.port_id, 1);
        assert_int_equal(l0.endpoint_id, 17);
        assert_string_equal(l0.dax, "dax0.0");
        sim_port_layout(15, &l);
        assert_string_equal(l.bdf, "0000:fc:00.0");
        assert_int_equal(l.endpoint_id, 32);
        sim_port_layout(255, &l);
        assert_string_equal(l.bdf, "000f:fc:00.0");
        assert_true(l.bar_address + 0x400000 <= l0.bar_address);      /* below ports 0..15, below 4 GiB */
        sim_region_layout(&l, 3, &r);
        assert_string_equal(r.dax, "dax1023.0");
        assert_int_equal(r.hpa, l.hpa_base + 3 * SIM_REGION_SIZE);

        assert_non_null(mkdtemp(f.root));
        sim_host_spec_default(18, &spec);
        spec.dax_per_port = 2;
        assert_int_equal(sim_host_create(f.root, &spec), 0);
        sim_port_layout(17, &l);
        assert_string_equal(l.bdf, "0001:1c:00.0");
        assert_string_equal(l.sysfs, "/sys/devices/pci0001:1c/0001:1c:00.0");
        assert_int_equal(file_size(&f, "/sys/bus/pci/devices/0001:1c:00.0/config"), 4096);
        read_attr(&f, "/sys/bus/pci/devices/0001:1d:00.0/class", buf, sizeof(buf));
        assert_string_equal(buf, "0x050210");
        read_attr(&f, "/sys/bus/pci/slots/285/address", buf, sizeof(buf));
        assert_string_equal(buf, "0001:1d:00");
        assert_int_equal(sim_port_lookup(f.root, "0001:1c:00.0", &p), 0);
        assert_int_equal(p.index, 17);
        assert_int_equal(sim_port_lookup(f.root, "1c:00.0", &p), 0);
        assert_int_equal(p.index, 1);

        /* port 17 (system-ram): two regions, each with its dax device, decoders and blocks */
        snprintf(path, sizeof(path), "/sys/bus/cxl/devices/endpoint%u/decoder%u.1/dpa_resource", l.endpoint_id,
                 l.endpoint_id);
        read_attr(&f, path, buf, sizeof(buf));
        assert_string_equal(buf, "0x20000000");
        read_attr(&f, "/sys/bus/cxl/devices/region273/target0", buf, sizeof(buf));
        snprintf(path, sizeof(path), "decoder%u.1", l.endpoint_id);
        assert_string_equal(buf, path);
        snprintf(path, sizeof(path), "/sys/bus/memory/devices/memory%" PRIu64 "/state",
                 (uint64_t)((l.hpa_base + SIM_REGION_SIZE) / SIM_BLOCK_SIZE));
        read_attr(&f, path, buf, sizeof(buf));
        assert_string_equal(buf, "online");
        for (uint64_t b = 0; b < SIM_REGION_SIZE / SIM_BLOCK_SIZE; b++)
                assert_int_equal(sim_memblock_set_state(f.root, (l.hpa_base + SIM_REGION_SIZE) / SIM_BLOCK_SIZE + b,
                                                        false, buf), 0);
        assert_int_equal(sim_dax_set_mode(f.root, "dax273.0", SIM_MEM_DEVDAX, &c), 0);
        assert_int_equal(c.first_block, (l.hpa_base + SIM_REGION_SIZE) / SIM_BLOCK_SIZE);
        assert_int_equal(c.n_blocks, 4);
        assert_string_equal(driver_of(&f, "dax273.0", buf, sizeof(buf)), "device_dax");
        assert_string_equal(driver_of(&f, "dax17.0", buf, sizeof(buf)), "kmem");
        /* no third region, no port 18 (0..17), no region 4 */
        assert_int_equal(sim_dax_set_mode(f.root, "dax529.0", SIM_MEM_DEVDAX, &c), -ENOENT);
        assert_int_equal(sim_dax_set_mode(f.root, "dax18.0", SIM_MEM_DEVDAX, &c), -ENOENT);
        assert_int_equal(sim_dax_set_mode(f.root, "dax1024.0", SIM_MEM_DEVDAX, &c), -ENOENT);

        snprintf(buf, sizeof(buf), "rm -rf '%s'", f.root);
        assert_int_equal(system(buf), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_pci_functions, setup, teardown),
                cmocka_unit_test_setup_teardown(test_port_records_and_aer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dax_modes, setup, teardown),
                cmocka_unit_test(test_domains_and_regions),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
