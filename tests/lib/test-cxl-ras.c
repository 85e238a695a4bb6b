/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RAS capability snapshots: registers, first-error rule, the 16-dword header log, bit names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cleanup.h"
#include "cxl-ras.h"
#include "cxl-regs.h"

static void put32(uint8_t *b, size_t off, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                b[off + i] = (v >> (8 * i)) & 0xff;
}

static void build_ras(uint8_t ras[CXL_RAS_LENGTH], uint32_t ue_status, uint32_t cap_control)
{
        memset(ras, 0, CXL_RAS_LENGTH);
        put32(ras, CXL_RAS_UE_STATUS, ue_status);
        put32(ras, CXL_RAS_UE_MASK, 0x00000100);
        put32(ras, CXL_RAS_UE_SEVERITY, 0x0001cfff);    /* QEMU's reset value */
        put32(ras, CXL_RAS_CE_STATUS, 0x00000040);
        put32(ras, CXL_RAS_CE_MASK, 0x00000001);
        put32(ras, CXL_RAS_CAP_CONTROL, cap_control);
        for (unsigned i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++)
                put32(ras, CXL_RAS_HEADER_LOG + 4 * i, 0xa0000000u + i);
}

static void test_decode_snapshot(void **state)
{
        _cleanup_free_ uint8_t *ras = malloc(CXL_RAS_LENGTH);   /* exact size: the last dword is the last byte */
        struct cxl_ras_snapshot s;

        assert_non_null(ras);
        /* Poison received alone; FEP 0x2a plus Multiple Header Recording (9) and Poison Enabled (13). */
        build_ras(ras, 0x00000400, 0x0000222a);
        assert_int_equal(cxl_ras_decode(ras, CXL_RAS_LENGTH, &s), 0);
        assert_int_equal(s.ue_status, 0x400);
        assert_int_equal(s.ue_mask, 0x100);
        assert_int_equal(s.ue_severity, 0x1cfff);
        assert_int_equal(s.ce_status, 0x40);
        assert_int_equal(s.ce_mask, 0x1);
        assert_int_equal(s.cap_control, 0x222a);
        assert_int_equal(s.first_error_pointer, 0x2a);
        /* One error latched: the status is the first error, whatever the pointer says. */
        assert_int_equal(s.first_error, 0x400);
        /* All 16 dwords, in order, the last one at 0x54..0x57. */
        for (unsigned i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++)
                assert_int_equal(s.header_log[i], 0xa0000000u + i);
}

static void test_first_error_rule(void **state)
{
        uint8_t ras[CXL_RAS_LENGTH];
        struct cxl_ras_snapshot s;

        /* Mem data ECC (7) and poison (10) latched; the pointer says ECC came first. */
        build_ras(ras, 0x00000480, 7);
        assert_int_equal(cxl_ras_decode(ras, sizeof(ras), &s), 0);
        assert_int_equal(s.first_error, 0x80);

        assert_int_equal(cxl_ras_first_error(0x00000480, 10), 0x400);
        assert_int_equal(cxl_ras_first_error(0x00010001, 16), 0x10000);
        /* A 6-bit pointer past bit 31 names no bit; shifting by it would be undefined. */
        assert_int_equal(cxl_ras_first_error(0x00000003, 40), 0);
        /* Reserved bits 12-13 and 17+ are not errors: only one valid bit is set here. */
        assert_int_equal(cxl_ras_first_error(0x00023400, 13), 0x400);
        assert_int_equal(cxl_ras_first_error(0, 5), 0);
}

static void test_short_and_gone(void **state)
{
        uint8_t ras[CXL_RAS_LENGTH];
        struct cxl_ras_snapshot s, untouched;

        memset(&s, 0x33, sizeof(s));
        untouched = s;
        build_ras(ras, 0x400, 0);
        /* 0x57 bytes: the last header-log dword is cut off. */
        assert_int_equal(cxl_ras_decode(ras, CXL_RAS_LENGTH - 1, &s), -ERANGE);
        assert_int_equal(cxl_ras_decode(ras, 0, &s), -ERANGE);
        memset(ras, 0xff, sizeof(ras));
        assert_int_equal(cxl_ras_decode(ras, sizeof(ras), &s), -ENODEV);
        assert_memory_equal(&s, &untouched, sizeof(s));
        assert_int_equal(cxl_ras_decode(NULL, sizeof(ras), &s), -EINVAL);
}

static void test_bit_names(void **state)
{
        unsigned named = 0;

        for (unsigned bit = 0; bit < 32; bit++)
                if (cxl_ras_ue_bit_to_string(bit))
                        named |= 1u << bit;
        /* Exactly the valid uncorrectable bits: 16:14 and 11:0. */
        assert_int_equal(named, CXL_RAS_UE_VALID_MASK);
        named = 0;
        for (unsigned bit = 0; bit < 32; bit++)
                if (cxl_ras_ce_bit_to_string(bit))
                        named |= 1u << bit;
        assert_int_equal(named, CXL_RAS_CE_VALID_MASK);

        assert_string_equal(cxl_ras_ue_bit_to_string(10), "poison-received");
        assert_string_equal(cxl_ras_ue_bit_to_string(7), "mem-data-ecc");
        assert_string_equal(cxl_ras_ue_bit_to_string(14), "internal-error");
        assert_string_equal(cxl_ras_ce_bit_to_string(6), "physical-layer-error");
        assert_null(cxl_ras_ue_bit_to_string(1000));
}

static void test_status_strings(void **state)
{
        char buf[128], small[10];

        assert_string_equal(cxl_ras_ue_status_to_string(0x00000480, buf, sizeof(buf)), "mem-data-ecc poison-received");
        assert_string_equal(cxl_ras_ue_status_to_string(0x00001000, buf, sizeof(buf)), "reserved-bit-12");
        assert_string_equal(cxl_ras_ue_status_to_string(0, buf, sizeof(buf)), "");
        assert_string_equal(cxl_ras_ce_status_to_string(0x00000006, buf, sizeof(buf)), "mem-data-ecc crc-threshold");
        assert_string_equal(cxl_ras_ce_status_to_string(0x00000080, buf, sizeof(buf)), "reserved-bit-7");
        /* Truncation: a whole name that does not fit is cut, still terminated. */
        assert_string_equal(cxl_ras_ue_status_to_string(0x00000400, small, sizeof(small)), "poison-re");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decode_snapshot),
                cmocka_unit_test(test_first_error_rule),
                cmocka_unit_test(test_short_and_gone),
                cmocka_unit_test(test_bit_names),
                cmocka_unit_test(test_status_strings),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
