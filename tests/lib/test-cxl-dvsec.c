/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CXL DVSEC collection and Register Locator decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cleanup.h"
#include "cxl-dvsec.h"
#include "cxl-regs.h"

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

static void put_dvsec(uint8_t *cfg, uint16_t off, uint16_t next, uint16_t vendor, unsigned rev, uint16_t len, uint16_t id)
{
        put32(cfg, off, ext_header(PCI_EXT_CAP_ID_DVSEC, 1, next));
        put32(cfg, off + 4u, (uint32_t)len << 20 | (uint32_t)rev << 16 | vendor);
        put16(cfg, off + 8u, id);
}

/* QEMU cxl-rp: AER 0x100, ACS 0x148, DVSECs 3, 4, 7 and the Register Locator (length 0x24) at 0x19c. */
static void build_qemu_cxl_rp(uint8_t cfg[PCI_CFG_SIZE_PCIE])
{
        memset(cfg, 0, PCI_CFG_SIZE_PCIE);
        put16(cfg, 0x00, 0x8086);
        put16(cfg, 0x02, 0x7075);
        put16(cfg, PCI_CFG_STATUS, PCI_CFG_STATUS_CAP_LIST);
        cfg[PCI_CFG_CAP_PTR] = 0x60;
        cfg[0x60] = PCI_CAP_ID_MSI;  cfg[0x61] = 0x90;
        cfg[0x90] = PCI_CAP_ID_EXP;
        put16(cfg, 0x92, PCI_EXP_TYPE_ROOT_PORT << PCI_EXP_FLAGS_TYPE_SHIFT | 0x2);
        put32(cfg, 0x100, ext_header(PCI_EXT_CAP_ID_AER, 2, 0x148));
        put32(cfg, 0x148, ext_header(PCI_EXT_CAP_ID_ACS, 1, 0x150));
        put_dvsec(cfg, 0x150, 0x178, CXL_DVSEC_VENDOR_ID, 0, 0x28, CXL_DVSEC_PORT_EXTENSIONS);
        put_dvsec(cfg, 0x178, 0x188, CXL_DVSEC_VENDOR_ID, 0, 0x10, CXL_DVSEC_PORT_GPF);
        put_dvsec(cfg, 0x188, 0x19c, CXL_DVSEC_VENDOR_ID, 1, 0x14, CXL_DVSEC_FLEXBUS_PORT);
        put_dvsec(cfg, 0x19c, 0x000, CXL_DVSEC_VENDOR_ID, 0, 0x24, CXL_DVSEC_REG_LOCATOR);
        /* Entry 0: component registers, BIR 0, offset 0. Entries 1 and 2: empty. */
        put32(cfg, 0x19c + 0xc, CXL_REGBLOCK_COMPONENT << 8);
}

static void test_qemu_rp_dvsecs(void **state)
{
        static const struct cxl_dvsec expected[] = {
                { .offset = 0x150, .id = CXL_DVSEC_PORT_EXTENSIONS, .revision = 0, .length = 0x28 },
                { .offset = 0x178, .id = CXL_DVSEC_PORT_GPF,        .revision = 0, .length = 0x10 },
                { .offset = 0x188, .id = CXL_DVSEC_FLEXBUS_PORT,    .revision = 1, .length = 0x14 },
                { .offset = 0x19c, .id = CXL_DVSEC_REG_LOCATOR,     .revision = 0, .length = 0x24 },
        };
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct cxl_dvsec_list l;
        const struct cxl_dvsec *d;

        build_qemu_cxl_rp(cfg);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_int_equal(l.n, ELEMENTSOF(expected));
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                assert_int_equal(l.dvsec[i].offset, expected[i].offset);
                assert_int_equal(l.dvsec[i].id, expected[i].id);
                assert_int_equal(l.dvsec[i].revision, expected[i].revision);
                assert_int_equal(l.dvsec[i].length, expected[i].length);
        }
        assert_true(cxl_dvsec_list_is_cxl_port(&l));
        d = cxl_dvsec_list_find(&l, CXL_DVSEC_REG_LOCATOR);
        assert_non_null(d);
        assert_int_equal(d->offset, 0x19c);
        assert_null(cxl_dvsec_list_find(&l, CXL_DVSEC_PCIE_DEVICE));
        assert_string_equal(cxl_dvsec_id_to_string(CXL_DVSEC_REG_LOCATOR), "register-locator");
        assert_string_equal(cxl_dvsec_id_to_string(CXL_DVSEC_FLEXBUS_PORT), "pcie-dvsec-for-flex-bus-port");
        assert_null(cxl_dvsec_id_to_string(1));
        assert_null(cxl_dvsec_id_to_string(0x8000));
}

static void test_qemu_rp_register_locator(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct cxl_dvsec_list l;
        struct cxl_regloc rl;
        struct cxl_regblock b = { .bir = 9 };

        build_qemu_cxl_rp(cfg);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_int_equal(cxl_regloc_decode(cfg, sizeof(cfg), cxl_dvsec_list_find(&l, CXL_DVSEC_REG_LOCATOR), &rl), 0);
        /* (0x24 - 0xc) / 8 = 3 entries; two are empty and skipped. */
        assert_int_equal(rl.n, 1);
        assert_int_equal(cxl_regloc_find(&rl, CXL_REGBLOCK_COMPONENT, &b), 0);
        assert_int_equal(b.bir, 0);
        assert_int_equal(b.block_id, CXL_REGBLOCK_COMPONENT);
        assert_int_equal(b.offset, 0);
        assert_int_equal(cxl_regloc_find(&rl, CXL_REGBLOCK_MEMDEV, &b), -ENOENT);
        assert_string_equal(cxl_regblock_id_to_string(CXL_REGBLOCK_COMPONENT), "component");
        assert_null(cxl_regblock_id_to_string(0x42));
}

/* What the device's DVSEC 0 + Register Locator look like on a type-3 endpoint with a 64-bit offset. */
static void test_register_locator_fields(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct cxl_dvsec_list l;
        struct cxl_regloc rl;
        struct cxl_regblock b;

        build_qemu_cxl_rp(cfg);
        /* Entry 0: BIR 2, memdev, reserved bits 7:3 set, offset low 0x1234_0000 with bits 15:8 = block id. */
        put32(cfg, 0x19c + 0xc, 0x12340000u | CXL_REGBLOCK_MEMDEV << 8 | 0xf8u | 2u);
        put32(cfg, 0x19c + 0x10, 0x1);
        /* Entry 2: CPMU in BIR 4 at 0x10000. */
        put32(cfg, 0x19c + 0x1c, 0x00010000u | CXL_REGBLOCK_CPMU << 8 | 4u);
        put32(cfg, 0x19c + 0x20, 0);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_int_equal(cxl_regloc_decode(cfg, sizeof(cfg), cxl_dvsec_list_find(&l, CXL_DVSEC_REG_LOCATOR), &rl), 0);
        assert_int_equal(rl.n, 2);
        assert_int_equal(cxl_regloc_find(&rl, CXL_REGBLOCK_MEMDEV, &b), 0);
        assert_int_equal(b.bir, 2);
        /* Masked in place, not shifted: (1 << 32) | 0x12340000. */
        assert_true(b.offset == 0x112340000ull);
        assert_int_equal(cxl_regloc_find(&rl, CXL_REGBLOCK_CPMU, &b), 0);
        assert_int_equal(b.bir, 4);
        assert_true(b.offset == 0x10000ull);
        assert_int_equal(cxl_regloc_find(&rl, CXL_REGBLOCK_COMPONENT, &b), -ENOENT);
}

static void test_register_locator_partial_entry_ignored(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct cxl_dvsec_list l;
        struct cxl_regloc rl;

        build_qemu_cxl_rp(cfg);
        /* Length 0x20: (0x20 - 0xc) / 8 = 2 entries; the half entry at +0x1c must not be read as one. */
        put_dvsec(cfg, 0x19c, 0x000, CXL_DVSEC_VENDOR_ID, 0, 0x20, CXL_DVSEC_REG_LOCATOR);
        put32(cfg, 0x19c + 0x1c, CXL_REGBLOCK_MEMDEV << 8);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_int_equal(cxl_regloc_decode(cfg, sizeof(cfg), cxl_dvsec_list_find(&l, CXL_DVSEC_REG_LOCATOR), &rl), 0);
        assert_int_equal(rl.n, 1);
        assert_int_equal(cxl_regloc_find(&rl, CXL_REGBLOCK_MEMDEV, NULL), -ENOENT);

        /* Length exactly 0xc: a locator with no entries is valid and empty. */
        put_dvsec(cfg, 0x19c, 0x000, CXL_DVSEC_VENDOR_ID, 0, 0xc, CXL_DVSEC_REG_LOCATOR);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_int_equal(cxl_regloc_decode(cfg, sizeof(cfg), cxl_dvsec_list_find(&l, CXL_DVSEC_REG_LOCATOR), &rl), 0);
        assert_int_equal(rl.n, 0);
}

static void test_register_locator_malformed(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct cxl_dvsec_list l;
        struct cxl_regloc rl, untouched;
        struct cxl_dvsec bogus;

        memset(&rl, 0xaa, sizeof(rl));
        untouched = rl;

        /* BIR 6 names no BAR. */
        build_qemu_cxl_rp(cfg);
        put32(cfg, 0x19c + 0xc, CXL_REGBLOCK_COMPONENT << 8 | 6u);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_int_equal(cxl_regloc_decode(cfg, sizeof(cfg), cxl_dvsec_list_find(&l, CXL_DVSEC_REG_LOCATOR), &rl), -EBADMSG);
        assert_memory_equal(&rl, &untouched, sizeof(rl));

        /* ...but an empty entry's BIR is nobody's business. */
        put32(cfg, 0x19c + 0xc, CXL_REGBLOCK_EMPTY << 8 | 7u);
        assert_int_equal(cxl_regloc_decode(cfg, sizeof(cfg), cxl_dvsec_list_find(&l, CXL_DVSEC_REG_LOCATOR), &rl), 0);
        assert_int_equal(rl.n, 0);
        rl = untouched;

        /* Descriptors the caller could build by hand. */
        bogus = (struct cxl_dvsec) { .offset = 0x19c, .id = CXL_DVSEC_REG_LOCATOR, .length = 0xb };
        assert_int_equal(cxl_regloc_decode(cfg, sizeof(cfg), &bogus, &rl), -EBADMSG);
        bogus = (struct cxl_dvsec) { .offset = 0xff0, .id = CXL_DVSEC_REG_LOCATOR, .length = 0x24 };
        assert_int_equal(cxl_regloc_decode(cfg, sizeof(cfg), &bogus, &rl), -EBADMSG);
        bogus = (struct cxl_dvsec) { .offset = 0x19c, .id = CXL_DVSEC_REG_LOCATOR, .length = 0x24 };
        assert_int_equal(cxl_regloc_decode(cfg, 0x1b0, &bogus, &rl), -EBADMSG);
        bogus = (struct cxl_dvsec) { .offset = 0x150, .id = CXL_DVSEC_PORT_EXTENSIONS, .length = 0x28 };
        assert_int_equal(cxl_regloc_decode(cfg, sizeof(cfg), &bogus, &rl), -EINVAL);
        assert_memory_equal(&rl, &untouched, sizeof(rl));
}

static void test_truncated_dvsec(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct cxl_dvsec_list l, untouched;

        memset(&l, 0x55, sizeof(l));
        untouched = l;

        /* Length shorter than the DVSEC headers themselves. */
        build_qemu_cxl_rp(cfg);
        put_dvsec(cfg, 0x178, 0x188, CXL_DVSEC_VENDOR_ID, 0, 0x8, CXL_DVSEC_PORT_GPF);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), -EBADMSG);
        assert_memory_equal(&l, &untouched, sizeof(l));

        /* A DVSEC running past the end of config space. */
        build_qemu_cxl_rp(cfg);
        put_dvsec(cfg, 0x19c, 0xfe0, CXL_DVSEC_VENDOR_ID, 0, 0x24, CXL_DVSEC_REG_LOCATOR);
        put_dvsec(cfg, 0xfe0, 0x000, CXL_DVSEC_VENDOR_ID, 0, 0x40, CXL_DVSEC_TEST);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), -EBADMSG);

        /* DVSEC headers cut off by the last dword of config space. */
        build_qemu_cxl_rp(cfg);
        put_dvsec(cfg, 0x19c, 0xffc, CXL_DVSEC_VENDOR_ID, 0, 0x24, CXL_DVSEC_REG_LOCATOR);
        put32(cfg, 0xffc, ext_header(PCI_EXT_CAP_ID_DVSEC, 1, 0));
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), -EBADMSG);
        assert_memory_equal(&l, &untouched, sizeof(l));
}

static void test_foreign_dvsec_ignored(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct cxl_dvsec_list l;

        build_qemu_cxl_rp(cfg);
        /* Another vendor's DVSEC with ID 8 and a nonsense length: not a Register Locator, not ours to judge. */
        put_dvsec(cfg, 0x19c, 0x200, CXL_DVSEC_VENDOR_ID, 0, 0x24, CXL_DVSEC_REG_LOCATOR);
        put_dvsec(cfg, 0x200, 0x000, 0x8086, 0, 0x0, CXL_DVSEC_REG_LOCATOR);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_int_equal(l.n, 4);
        assert_int_equal(cxl_dvsec_list_find(&l, CXL_DVSEC_REG_LOCATOR)->offset, 0x19c);
}

static void test_not_a_cxl_port(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct cxl_dvsec_list l;

        /* A plain PCIe root port: AER and ACS only. */
        build_qemu_cxl_rp(cfg);
        put32(cfg, 0x148, ext_header(PCI_EXT_CAP_ID_ACS, 1, 0));
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_int_equal(l.n, 0);
        assert_false(cxl_dvsec_list_is_cxl_port(&l));

        /* A type-3 device: DVSEC 0 and a locator, no port DVSECs. */
        put32(cfg, 0x148, ext_header(PCI_EXT_CAP_ID_ACS, 1, 0x150));
        put_dvsec(cfg, 0x150, 0x19c, CXL_DVSEC_VENDOR_ID, 1, 0x38, CXL_DVSEC_PCIE_DEVICE);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_int_equal(l.n, 2);
        assert_false(cxl_dvsec_list_is_cxl_port(&l));

        /* A port that shows only Flex Bus (DVSEC 7) still counts. */
        put_dvsec(cfg, 0x150, 0x19c, CXL_DVSEC_VENDOR_ID, 1, 0x20, CXL_DVSEC_FLEXBUS_PORT);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), 0);
        assert_true(cxl_dvsec_list_is_cxl_port(&l));
}

/* Unprivileged sysfs reads stop at 64 bytes; a 256-byte copy has no extended space either. */
static void test_short_copies(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        _cleanup_free_ uint8_t *c64 = NULL;
        struct cxl_dvsec_list l;

        build_qemu_cxl_rp(cfg);
        c64 = malloc(PCI_CFG_SIZE_LEGACY);
        assert_non_null(c64);
        memcpy(c64, cfg, PCI_CFG_SIZE_LEGACY);
        assert_int_equal(cxl_dvsec_list(c64, PCI_CFG_SIZE_LEGACY, &l), -ERANGE);
        assert_int_equal(cxl_dvsec_list(cfg, PCI_CFG_SIZE_PCI, &l), -ERANGE);
}

static void test_dvsec_loop(void **state)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct cxl_dvsec_list l;

        build_qemu_cxl_rp(cfg);
        put_dvsec(cfg, 0x19c, 0x178, CXL_DVSEC_VENDOR_ID, 0, 0x24, CXL_DVSEC_REG_LOCATOR);
        assert_int_equal(cxl_dvsec_list(cfg, sizeof(cfg), &l), -ELOOP);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_qemu_rp_dvsecs),
                cmocka_unit_test(test_qemu_rp_register_locator),
                cmocka_unit_test(test_register_locator_fields),
                cmocka_unit_test(test_register_locator_partial_entry_ignored),
                cmocka_unit_test(test_register_locator_malformed),
                cmocka_unit_test(test_truncated_dvsec),
                cmocka_unit_test(test_foreign_dvsec_ignored),
                cmocka_unit_test(test_not_a_cxl_port),
                cmocka_unit_test(test_short_copies),
                cmocka_unit_test(test_dvsec_loop),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
