/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulator's register images, read back through the project's own
 * decoders: if a builder and a decoder disagreed about a layout, every test
 * that runs the daemon on the simulator would be testing a fiction.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cxl-caparray.h"
#include "cxl-dvsec.h"
#include "cxl-ras.h"
#include "cxl-ti.h"
#include "pcie-caps.h"
#include "sim-image.h"

static void build_config(const struct sim_rootport_options *o, uint8_t *cfg)
{
        assert_int_equal(sim_rootport_config_build(o, 0xf0000000, 0x0c, 0x0d, 0xf0200000, 0x100000, cfg), 0);
}

static void test_rootport_config(void **state)
{
        struct sim_rootport_options o;
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct cxl_dvsec_list l;
        struct cxl_regloc loc;
        struct cxl_regblock b;
        unsigned type;
        uint16_t off;

        sim_rootport_options_default(&o);
        build_config(&o, cfg);
        assert_int_equal(pcie_port_type(cfg, sizeof(cfg), &type), 0);
        assert_int_equal(type, PCI_EXP_TYPE_ROOT_PORT);
        assert_int_equal(pcie_cap_find(cfg, sizeof(cfg), PCI_CAP_ID_MSI, &off), 0);
        assert_int_equal(off, SIM_MSI_OFFSET);
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_AER, 0, &off), 0);
        assert_int_equal(off, 0x100);

        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_int_equal(l.n, 4);
        assert_true(cxl_dvsec_list_is_cxl_port(&l));
        assert_int_equal(l.dvsec[0].id, CXL_DVSEC_PORT_EXTENSIONS);
        assert_int_equal(l.dvsec[0].offset, SIM_DVSEC_START);
        assert_non_null(cxl_dvsec_list_find(&l, CXL_DVSEC_PORT_GPF));
        assert_non_null(cxl_dvsec_list_find(&l, CXL_DVSEC_FLEXBUS_PORT));
        assert_int_equal(cxl_regloc_decode(cfg, sizeof(cfg), cxl_dvsec_list_find(&l, CXL_DVSEC_REG_LOCATOR), &loc), 0);
        assert_int_equal(loc.n, 1);
        assert_int_equal(cxl_regloc_find(&loc, CXL_REGBLOCK_COMPONENT, &b), 0);
        assert_int_equal(b.bir, 0);
        assert_int_equal(b.offset, 0);

        /* an unprivileged reader sees 64 bytes: no DVSEC can be found there */
        assert_int_equal(cxl_dvsec_list(cfg, PCI_CFG_SIZE_LEGACY, &l), -ERANGE);
}

static void test_block_in_bar1_at_offset(void **state)
{
        struct sim_rootport_options o;
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct cxl_dvsec_list l;
        struct cxl_regloc loc;
        struct cxl_regblock b;

        sim_rootport_options_default(&o);
        o.bir = 1;
        o.block_offset = 0x30000;
        assert_int_equal(sim_component_bar_size(&o), 0x40000);
        build_config(&o, cfg);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_int_equal(cxl_regloc_decode(cfg, sizeof(cfg), cxl_dvsec_list_find(&l, CXL_DVSEC_REG_LOCATOR), &loc), 0);
        assert_int_equal(cxl_regloc_find(&loc, CXL_REGBLOCK_COMPONENT, &b), 0);
        assert_int_equal(b.bir, 1);
        assert_int_equal(b.offset, 0x30000);

        /* what no root port can have */
        o.bir = 2;
        assert_int_equal(sim_rootport_config_build(&o, 0xf0000000, 0x0c, 0x0d, 0xf0200000, 0x100000, cfg), -EINVAL);
        o.bir = 0;
        o.block_offset = 0x1000;
        assert_int_equal(sim_rootport_config_build(&o, 0xf0000000, 0x0c, 0x0d, 0xf0200000, 0x100000, cfg), -EINVAL);
}

static void walk(const struct sim_rootport_options *o, struct cxl_caparray *a, uint8_t *block)
{
        assert_int_equal(sim_component_block_build(o, block), 0);
        assert_int_equal(cxl_caparray_walk(block, CXL_COMPONENT_BLOCK_SIZE, a), 0);
}

static void test_component_block(void **state)
{
        struct sim_rootport_options o;
        struct cxl_caparray *a = malloc(sizeof(*a));
        uint8_t *block = malloc(CXL_COMPONENT_BLOCK_SIZE);
        struct cxl_ti_capability c;
        struct cxl_ras_snapshot ras;
        struct cxl_cap cap;
        uint32_t raw;

        assert_non_null(a);
        assert_non_null(block);
        sim_rootport_options_default(&o);
        walk(&o, a, block);
        assert_int_equal(a->n_null, 1);
        assert_int_equal(cxl_caparray_find(a, CXL_CM_CAP_TIMEOUT_ISOLATION, &cap), 0);
        assert_int_equal(cap.offset, SIM_TI_OFFSET);
        assert_int_equal(cxl_caparray_find(a, CXL_CM_CAP_RAS, &cap), 0);
        assert_int_equal(cap.offset, SIM_RAS_OFFSET);
        assert_int_equal(cxl_caparray_find(a, CXL_CM_CAP_HDM, &cap), 0);

        memcpy(&raw, block + SIM_TI_OFFSET, 4);
        cxl_ti_capability_decode(raw, &c);
        assert_true(c.mem_isolation && c.mem_isolation_linkdown && c.mem_timeout);
        assert_true(c.interrupt);
        assert_int_equal(c.interrupt_msgnum, 1);
        assert_true(cxl_ti_timeout_ranges_legal(c.mem_timeout_ranges));
        /* isolation starts disabled, nothing isolated */
        memcpy(&raw, block + SIM_TI_OFFSET + CXL_TI_CONTROL, 4);
        assert_int_equal(raw, 0);
        memcpy(&raw, block + SIM_TI_OFFSET + CXL_TI_STATUS, 4);
        assert_int_equal(raw, 0);

        assert_int_equal(cxl_ras_decode(block + SIM_RAS_OFFSET, CXL_RAS_LENGTH, &ras), 0);
        assert_int_equal(ras.ue_status, 0);
        assert_int_equal(ras.ue_severity, CXL_RAS_UE_VALID_MASK);

        /* QEMU-like: no capability 9, one more NULL header */
        o.ti = false;
        walk(&o, a, block);
        assert_int_equal(cxl_caparray_find(a, CXL_CM_CAP_TIMEOUT_ISOLATION, &cap), -ENOENT);
        assert_int_equal(a->n_null, 2);

        /* T&I that cannot isolate CXL.mem */
        o.ti = true;
        o.mem_isolation = false;
        o.interrupt = false;
        walk(&o, a, block);
        memcpy(&raw, block + SIM_TI_OFFSET, 4);
        cxl_ti_capability_decode(raw, &c);
        assert_false(c.mem_isolation);
        assert_false(c.mem_isolation_linkdown);
        assert_false(c.interrupt);

        free(block);
        free(a);
}

static void test_memdev_config(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct cxl_dvsec_list l;
        struct cxl_regloc loc;
        struct cxl_regblock b;
        unsigned type;

        assert_int_equal(sim_memdev_config_build(0xf0200000, 42, cfg), 0);
        assert_int_equal(pcie_port_type(cfg, sizeof(cfg), &type), 0);
        assert_int_equal(type, PCI_EXP_TYPE_ENDPOINT);
        assert_int_equal(cfg[0x0b] << 16 | cfg[0x0a] << 8 | cfg[0x09], SIM_EP_CLASS);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_false(cxl_dvsec_list_is_cxl_port(&l));
        assert_non_null(cxl_dvsec_list_find(&l, CXL_DVSEC_PCIE_DEVICE));
        assert_int_equal(cxl_regloc_decode(cfg, sizeof(cfg), cxl_dvsec_list_find(&l, CXL_DVSEC_REG_LOCATOR), &loc), 0);
        assert_int_equal(cxl_regloc_find(&loc, CXL_REGBLOCK_MEMDEV, &b), 0);
        assert_int_equal(b.offset, 0x10000);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rootport_config),
                cmocka_unit_test(test_block_in_bar1_at_offset),
                cmocka_unit_test(test_component_block),
                cmocka_unit_test(test_memdev_config),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
