/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capability list and extended capability chain walks, on a QEMU cxl-rp shaped config space and broken ones. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cleanup.h"
#include "cxl-regs.h"
#include "pcie-caps.h"

static void put16(uint8_t *cfg, size_t off, uint16_t v)
{
        cfg[off] = v & 0xff;
        cfg[off + 1] = v >> 8;
}

static void put32(uint8_t *cfg, size_t off, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                cfg[off + i] = (v >> (8 * i)) & 0xff;
}

static uint32_t ext_header(uint16_t id, unsigned ver, uint16_t next)
{
        return (uint32_t)next << 20 | (uint32_t)ver << 16 | id;
}

static void put_dvsec(uint8_t *cfg, uint16_t off, uint16_t next, uint16_t vendor, uint16_t len, uint16_t id)
{
        put32(cfg, off, ext_header(PCI_EXT_CAP_ID_DVSEC, 1, next));
        put32(cfg, off + 4u, (uint32_t)len << 20 | vendor);
        put16(cfg, off + 8u, id);
}

/*
 * Config space shaped like QEMU's cxl-rp (hw/pci-bridge/cxl_root_port.c, as
 * `lspci -vvv` shows it in the guest): 8086:7075, MSI at 0x60, a PCIe Root
 * Port capability, AER at 0x100, ACS, then DVSECs 3, 4, 7 and the Register
 * Locator at 0x19c.
 */
static void build_qemu_cxl_rp(uint8_t cfg[PCI_CFG_SIZE_PCIE])
{
        memset(cfg, 0, PCI_CFG_SIZE_PCIE);
        put16(cfg, 0x00, 0x8086);
        put16(cfg, 0x02, 0x7075);
        put16(cfg, PCI_CFG_STATUS, PCI_CFG_STATUS_CAP_LIST);
        cfg[PCI_CFG_HEADER_TYPE] = 0x01;
        put32(cfg, PCI_CFG_BAR0, 0x4);          /* 64-bit memory BAR */
        cfg[PCI_CFG_CAP_PTR] = 0x60;
        cfg[0x60] = PCI_CAP_ID_MSI;  cfg[0x61] = 0x80;
        cfg[0x80] = 0x0d;            cfg[0x81] = 0x90;  /* bridge subsystem vendor ID */
        cfg[0x90] = PCI_CAP_ID_EXP;  cfg[0x91] = 0x00;
        put16(cfg, 0x90 + PCI_EXP_FLAGS, PCI_EXP_TYPE_ROOT_PORT << PCI_EXP_FLAGS_TYPE_SHIFT | 0x2);

        put32(cfg, 0x100, ext_header(PCI_EXT_CAP_ID_AER, 2, 0x148));
        put32(cfg, 0x148, ext_header(PCI_EXT_CAP_ID_ACS, 1, 0x150));
        put_dvsec(cfg, 0x150, 0x178, CXL_DVSEC_VENDOR_ID, 0x28, CXL_DVSEC_PORT_EXTENSIONS);
        put_dvsec(cfg, 0x178, 0x188, CXL_DVSEC_VENDOR_ID, 0x10, CXL_DVSEC_PORT_GPF);
        put_dvsec(cfg, 0x188, 0x19c, CXL_DVSEC_VENDOR_ID, 0x14, CXL_DVSEC_FLEXBUS_PORT);
        put_dvsec(cfg, 0x19c, 0x000, CXL_DVSEC_VENDOR_ID, 0x24, CXL_DVSEC_REG_LOCATOR);
        put32(cfg, 0x19c + 0xc, CXL_REGBLOCK_COMPONENT << 8);   /* BIR 0, offset 0 */
}

/* An exact-size heap copy, so a read one byte past `len` is a real overflow (ASan sees it). */
static uint8_t *copy_of(const uint8_t *cfg, size_t len)
{
        uint8_t *c = malloc(len);

        assert_non_null(c);
        memcpy(c, cfg, len);
        return c;
}

static void test_cfg_reads_are_bounded(void **state)
{
        uint8_t cfg[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
        uint32_t v32 = 0xdeadbeef;
        uint16_t v16;
        uint8_t v8;

        assert_int_equal(cfg_read32(cfg, sizeof(cfg), 4, &v32), 0);
        assert_int_equal(v32, 0x88776655);
        assert_int_equal(cfg_read16(cfg, sizeof(cfg), 6, &v16), 0);
        assert_int_equal(v16, 0x8877);
        assert_int_equal(cfg_read8(cfg, sizeof(cfg), 7, &v8), 0);
        assert_int_equal(v8, 0x88);

        v32 = 0xdeadbeef;
        assert_int_equal(cfg_read32(cfg, sizeof(cfg), 5, &v32), -ERANGE);
        assert_int_equal(v32, 0xdeadbeef);      /* untouched on error */
        assert_int_equal(cfg_read16(cfg, sizeof(cfg), 7, &v16), -ERANGE);
        assert_int_equal(cfg_read8(cfg, sizeof(cfg), 8, &v8), -ERANGE);
        /* An offset near SIZE_MAX must not wrap around into the buffer. */
        assert_int_equal(cfg_read32(cfg, sizeof(cfg), SIZE_MAX - 1, &v32), -ERANGE);
        assert_int_equal(cfg_read32(cfg, 2, 0, &v32), -ERANGE);
}

static void test_qemu_rp_capability_list(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        uint16_t off = 0;
        unsigned type = 99;

        build_qemu_cxl_rp(cfg);
        assert_int_equal(pcie_cap_find(cfg, sizeof(cfg), PCI_CAP_ID_MSI, &off), 0);
        assert_int_equal(off, 0x60);
        assert_int_equal(pcie_cap_find(cfg, sizeof(cfg), PCI_CAP_ID_EXP, &off), 0);
        assert_int_equal(off, 0x90);
        assert_int_equal(pcie_cap_find(cfg, sizeof(cfg), PCI_CAP_ID_MSIX, &off), -ENOENT);
        assert_int_equal(pcie_port_type(cfg, sizeof(cfg), &type), 0);
        assert_int_equal(type, PCI_EXP_TYPE_ROOT_PORT);
}

struct collected {
        size_t n;
        uint16_t offset[16];
        uint16_t id[16];
        int stop_at;            /* index at which the callback returns `stop_value` */
        int stop_value;
};

static int collect_cb(uint16_t offset, uint32_t header, void *userdata)
{
        struct collected *c = userdata;

        if (c->n < ELEMENTSOF(c->offset)) {
                c->offset[c->n] = offset;
                c->id[c->n] = (uint16_t)PCI_EXT_CAP_ID(header);
        }
        if ((int)c->n++ == c->stop_at)
                return c->stop_value;
        return 0;
}

static void test_qemu_rp_extended_chain(void **state)
{
        static const uint16_t offsets[] = { 0x100, 0x148, 0x150, 0x178, 0x188, 0x19c };
        static const uint16_t ids[] = { PCI_EXT_CAP_ID_AER, PCI_EXT_CAP_ID_ACS, 0x23, 0x23, 0x23, 0x23 };
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct collected c = { .stop_at = -1 };
        uint16_t off = 0;

        build_qemu_cxl_rp(cfg);
        assert_int_equal(pcie_ext_cap_foreach(cfg, sizeof(cfg), collect_cb, &c), 0);
        assert_int_equal(c.n, ELEMENTSOF(offsets));
        for (size_t i = 0; i < ELEMENTSOF(offsets); i++) {
                assert_int_equal(c.offset[i], offsets[i]);
                assert_int_equal(c.id[i], ids[i]);
        }

        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_AER, 0, &off), 0);
        assert_int_equal(off, 0x100);
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_ACS, 0, &off), 0);
        assert_int_equal(off, 0x148);
        /* Iterating DVSECs one after the other. */
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_DVSEC, 0, &off), 0);
        assert_int_equal(off, 0x150);
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_DVSEC, off, &off), 0);
        assert_int_equal(off, 0x178);
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_DVSEC, off, &off), 0);
        assert_int_equal(off, 0x188);
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_DVSEC, off, &off), 0);
        assert_int_equal(off, 0x19c);
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_DVSEC, off, &off), -ENOENT);
        /* `after` that is no capability of the chain finds nothing rather than guessing. */
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_DVSEC, 0x154, &off), -ENOENT);
}

static void test_callback_result_stops_walk(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct collected c = { .stop_at = 1, .stop_value = -EIO };

        build_qemu_cxl_rp(cfg);
        assert_int_equal(pcie_ext_cap_foreach(cfg, sizeof(cfg), collect_cb, &c), -EIO);
        assert_int_equal(c.n, 2);

        c = (struct collected) { .stop_at = 2, .stop_value = 1 };
        assert_int_equal(pcie_ext_cap_foreach(cfg, sizeof(cfg), collect_cb, &c), 1);
        assert_int_equal(c.n, 3);
}

/* What an unprivileged read of sysfs `config` gives: the first 64 bytes. */
static void test_short_copies(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        _cleanup_free_ uint8_t *c64 = NULL, *c256 = NULL;
        struct collected c = { .stop_at = -1 };
        uint16_t off;
        unsigned type;

        build_qemu_cxl_rp(cfg);
        c64 = copy_of(cfg, PCI_CFG_SIZE_LEGACY);
        c256 = copy_of(cfg, PCI_CFG_SIZE_PCI);

        /* The list starts at 0x60: inside config space, outside the copy. */
        assert_int_equal(pcie_cap_find(c64, PCI_CFG_SIZE_LEGACY, PCI_CAP_ID_MSI, &off), -ERANGE);
        assert_int_equal(pcie_port_type(c64, PCI_CFG_SIZE_LEGACY, &type), -ERANGE);
        assert_int_equal(pcie_ext_cap_foreach(c64, PCI_CFG_SIZE_LEGACY, collect_cb, &c), -ERANGE);
        assert_int_equal(pcie_cap_find(c64, 32, PCI_CAP_ID_MSI, &off), -ERANGE);

        assert_int_equal(pcie_port_type(c256, PCI_CFG_SIZE_PCI, &type), 0);
        assert_int_equal(type, PCI_EXP_TYPE_ROOT_PORT);
        assert_int_equal(pcie_ext_cap_foreach(c256, PCI_CFG_SIZE_PCI, collect_cb, &c), -ERANGE);
        assert_int_equal(pcie_ext_cap_find(c256, PCI_CFG_SIZE_PCI, PCI_EXT_CAP_ID_DVSEC, 0, &off), -ERANGE);
        assert_int_equal(c.n, 0);

        /* A chain pointer past an odd-sized copy is "too short", not "malformed". */
        assert_int_equal(pcie_ext_cap_foreach(cfg, 0x180, collect_cb, &c), -ERANGE);
}

static void test_no_capabilities(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct collected c = { .stop_at = -1 };
        uint16_t off;

        build_qemu_cxl_rp(cfg);
        put16(cfg, PCI_CFG_STATUS, 0);
        assert_int_equal(pcie_cap_find(cfg, sizeof(cfg), PCI_CAP_ID_EXP, &off), -ENOENT);

        /* Empty extended space, as 0 or as all-ones (conventional PCI behind a bridge). */
        put32(cfg, 0x100, 0);
        assert_int_equal(pcie_ext_cap_foreach(cfg, sizeof(cfg), collect_cb, &c), 0);
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_DVSEC, 0, &off), -ENOENT);
        put32(cfg, 0x100, 0xffffffff);
        assert_int_equal(pcie_ext_cap_foreach(cfg, sizeof(cfg), collect_cb, &c), 0);
        assert_int_equal(c.n, 0);

        /* A device that vanished reads all-ones everywhere. */
        memset(cfg, 0xff, sizeof(cfg));
        assert_int_equal(pcie_cap_find(cfg, sizeof(cfg), PCI_CAP_ID_EXP, &off), -ENODEV);
}

static void test_legacy_list_malformed(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        uint16_t off = 0x1234;

        /* 0x90 points back to 0x60: a loop. */
        build_qemu_cxl_rp(cfg);
        cfg[0x91] = 0x60;
        assert_int_equal(pcie_cap_find(cfg, sizeof(cfg), PCI_CAP_ID_MSIX, &off), -ELOOP);
        assert_int_equal(off, 0x1234);

        /* A capability pointing at itself. */
        build_qemu_cxl_rp(cfg);
        cfg[0x61] = 0x60;
        assert_int_equal(pcie_cap_find(cfg, sizeof(cfg), PCI_CAP_ID_EXP, &off), -ELOOP);

        /* Reserved low bits set. */
        build_qemu_cxl_rp(cfg);
        cfg[PCI_CFG_CAP_PTR] = 0x62;
        assert_int_equal(pcie_cap_find(cfg, sizeof(cfg), PCI_CAP_ID_EXP, &off), -EBADMSG);
        build_qemu_cxl_rp(cfg);
        cfg[0x81] = 0x91;
        assert_int_equal(pcie_cap_find(cfg, sizeof(cfg), PCI_CAP_ID_EXP, &off), -EBADMSG);

        /* Pointing into the standard header. */
        build_qemu_cxl_rp(cfg);
        cfg[0x61] = 0x10;
        assert_int_equal(pcie_cap_find(cfg, sizeof(cfg), PCI_CAP_ID_EXP, &off), -EBADMSG);
        assert_int_equal(off, 0x1234);
}

static void test_extended_chain_malformed(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct collected c = { .stop_at = -1 };
        uint16_t off = 0x1234;

        /* The Register Locator points back to the first DVSEC. */
        build_qemu_cxl_rp(cfg);
        put32(cfg, 0x19c, ext_header(PCI_EXT_CAP_ID_DVSEC, 1, 0x150));
        assert_int_equal(pcie_ext_cap_foreach(cfg, sizeof(cfg), collect_cb, &c), -ELOOP);
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), 0x0b, 0, &off), -ELOOP);
        assert_int_equal(off, 0x1234);

        /* 0x100 pointing at itself. */
        build_qemu_cxl_rp(cfg);
        put32(cfg, 0x100, ext_header(PCI_EXT_CAP_ID_AER, 2, 0x100));
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_DVSEC, 0, &off), -ELOOP);

        /* Misaligned next pointer. */
        build_qemu_cxl_rp(cfg);
        put32(cfg, 0x100, ext_header(PCI_EXT_CAP_ID_AER, 2, 0x14a));
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_DVSEC, 0, &off), -EBADMSG);

        /* Pointer below the extended space. */
        build_qemu_cxl_rp(cfg);
        put32(cfg, 0x148, ext_header(PCI_EXT_CAP_ID_ACS, 1, 0x0c0));
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_DVSEC, 0, &off), -EBADMSG);

        /* A torn read: all-ones in the middle of the chain. */
        build_qemu_cxl_rp(cfg);
        put32(cfg, 0x150, 0xffffffff);
        assert_int_equal(pcie_ext_cap_find(cfg, sizeof(cfg), PCI_EXT_CAP_ID_DVSEC, 0, &off), -EBADMSG);
        assert_int_equal(off, 0x1234);
}

/* The last dword of config space is a legal place for a capability and must be readable. */
static void test_capability_at_end_of_config_space(void **state)
{
        _cleanup_free_ uint8_t *cfg = NULL;
        uint8_t tmp[PCI_CFG_SIZE_PCIE];
        uint16_t off = 0;

        build_qemu_cxl_rp(tmp);
        put32(tmp, 0x19c, ext_header(PCI_EXT_CAP_ID_DVSEC, 1, 0xffc));
        put32(tmp, 0xffc, ext_header(0x0b, 1, 0));
        cfg = copy_of(tmp, sizeof(tmp));
        assert_int_equal(pcie_ext_cap_find(cfg, PCI_CFG_SIZE_PCIE, 0x0b, 0, &off), 0);
        assert_int_equal(off, 0xffc);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cfg_reads_are_bounded),
                cmocka_unit_test(test_qemu_rp_capability_list),
                cmocka_unit_test(test_qemu_rp_extended_chain),
                cmocka_unit_test(test_callback_result_stops_walk),
                cmocka_unit_test(test_short_copies),
                cmocka_unit_test(test_no_capabilities),
                cmocka_unit_test(test_legacy_list_malformed),
                cmocka_unit_test(test_extended_chain_malformed),
                cmocka_unit_test(test_capability_at_end_of_config_space),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
