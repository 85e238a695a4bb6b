/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Timeout & Isolation decoding and the arming/disarming/release arithmetic, including the kernel series' bugs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cleanup.h"
#include "cxl-regs.h"
#include "cxl-ti.h"

/* Everything a full-featured port can do: mem ranges A-D, cache ranges A-B, isolation + link down, ERR_COR, MSI 6. */
#define CAP_FULL (0xfu | CXL_TI_CAP_MEM_TIMEOUT | 0x300u | CXL_TI_CAP_CACHE_TIMEOUT | \
                  CXL_TI_CAP_MEM_ISOLATION | CXL_TI_CAP_MEM_ISOLATION_LINKDOWN | \
                  CXL_TI_CAP_CACHE_ISOLATION | CXL_TI_CAP_CACHE_ISOLATION_LINKDOWN | \
                  CXL_TI_CAP_ERRCOR_SIGNALING | CXL_TI_CAP_INTERRUPT | 6u << 27)
/* Reserved control bits (7:5, 15:13, 24:20, 31:27) all set: they must survive every computation. */
#define CTL_RESERVED (~CXL_TI_CTL_DEFINED_MASK)

static void test_capability_decode(void **state)
{
        struct cxl_ti_capability c;

        cxl_ti_capability_decode(CAP_FULL, &c);
        assert_int_equal(c.raw, CAP_FULL);
        assert_int_equal(c.mem_timeout_ranges, 0xf);
        assert_true(c.mem_timeout);
        assert_int_equal(c.cache_timeout_ranges, 0x3);
        assert_true(c.cache_timeout);
        assert_true(c.mem_isolation);
        assert_true(c.mem_isolation_linkdown);
        assert_true(c.cache_isolation);
        assert_true(c.cache_isolation_linkdown);
        assert_true(c.errcor_signaling);
        assert_true(c.interrupt);
        assert_int_equal(c.interrupt_msgnum, 6);

        /* Message number bits without bit 26 mean nothing. */
        cxl_ti_capability_decode(CXL_TI_CAP_MEM_ISOLATION | 31u << 27, &c);
        assert_true(c.mem_isolation);
        assert_false(c.interrupt);
        assert_int_equal(c.interrupt_msgnum, 0);
        assert_false(c.mem_timeout);
        assert_int_equal(c.mem_timeout_ranges, 0);

        cxl_ti_capability_decode(CXL_TI_CAP_INTERRUPT | 31u << 27, &c);
        assert_int_equal(c.interrupt_msgnum, 31);
}

static void test_control_decode(void **state)
{
        struct cxl_ti_control c;

        cxl_ti_control_decode(0x04010e1du | CTL_RESERVED, &c);
        assert_int_equal(c.mem_timeout_value, 0xd);
        assert_true(c.mem_timeout_enable);
        assert_int_equal(c.cache_timeout_value, 0xe);
        assert_false(c.cache_timeout_enable);
        assert_true(c.mem_isolation_enable);
        assert_false(c.mem_isolation_linkdown_enable);
        assert_false(c.cache_isolation_enable);
        assert_false(c.errcor_signaling_enable);
        assert_true(c.interrupt_enable);
}

static void test_status_decode(void **state)
{
        struct cxl_ti_status s;

        cxl_ti_status_decode(0x00004301, &s);
        assert_true(s.mem_timeout);
        assert_true(s.mem_isolated);
        assert_true(s.mem_isolated_linkdown);
        assert_true(s.rp_busy);
        assert_false(s.cache_timeout);
        assert_false(s.cache_isolated);
        assert_false(s.cache_isolated_linkdown);

        cxl_ti_status_decode(0x00003010, &s);
        assert_true(s.cache_timeout);
        assert_true(s.cache_isolated);
        assert_true(s.cache_isolated_linkdown);
        assert_false(s.mem_isolated);
}

static void test_status_kind(void **state)
{
        assert_int_equal(cxl_ti_status_kind(0x00000300), CXL_ISOLATION_MEM_LINK_DOWN);
        assert_int_equal(cxl_ti_status_kind(0x00000100), CXL_ISOLATION_MEM_TIMEOUT);
        assert_int_equal(cxl_ti_status_kind(0x00000101), CXL_ISOLATION_MEM_TIMEOUT);
        assert_int_equal(cxl_ti_status_kind(0x00003000), CXL_ISOLATION_CACHE_LINK_DOWN);
        assert_int_equal(cxl_ti_status_kind(0x00001010), CXL_ISOLATION_CACHE_TIMEOUT);
        /* CXL.mem wins over CXL.cache. */
        assert_int_equal(cxl_ti_status_kind(0x00003100), CXL_ISOLATION_MEM_TIMEOUT);
        /* A timeout that did not isolate, RP Busy alone, link-down status without isolation: not isolated. */
        assert_int_equal(cxl_ti_status_kind(0x00000001), CXL_ISOLATION_NONE);
        assert_int_equal(cxl_ti_status_kind(0x00004000), CXL_ISOLATION_NONE);
        assert_int_equal(cxl_ti_status_kind(0x00000200), CXL_ISOLATION_NONE);
        /* v1 tested `status & 0xC` (an offset): reserved bits 2-3 are not isolation. */
        assert_int_equal(cxl_ti_status_kind(0x0000000c), CXL_ISOLATION_NONE);
        assert_int_equal(cxl_ti_status_kind(0), CXL_ISOLATION_NONE);
        /* A vanished device is not "isolated in every way". */
        assert_int_equal(cxl_ti_status_kind(0xffffffff), CXL_ISOLATION_NONE);
}

static void test_kind_strings(void **state)
{
        static const char *const names[] = { "none", "mem-link-down", "mem-timeout", "cache-link-down", "cache-timeout" };

        for (int k = 0; k < _CXL_ISOLATION_KIND_MAX; k++) {
                assert_string_equal(cxl_isolation_kind_to_string((enum cxl_isolation_kind)k), names[k]);
                assert_int_equal(cxl_isolation_kind_from_string(names[k]), k);
        }
        assert_null(cxl_isolation_kind_to_string(_CXL_ISOLATION_KIND_MAX));
        assert_null(cxl_isolation_kind_to_string(_CXL_ISOLATION_KIND_INVALID));
        assert_int_equal(cxl_isolation_kind_from_string("mem-Timeout"), _CXL_ISOLATION_KIND_INVALID);
        assert_int_equal(cxl_isolation_kind_from_string(""), _CXL_ISOLATION_KIND_INVALID);
        assert_int_equal(cxl_isolation_kind_from_string(NULL), _CXL_ISOLATION_KIND_INVALID);
        assert_int_equal(_CXL_ISOLATION_KIND_INVALID, -EINVAL);
}

static void test_timeout_encodings(void **state)
{
        static const struct cxl_ti_timeout_range table[] = {
                { 0x0, 0,   50,       10000 },
                { 0x1, 'A', 50,       100 },
                { 0x2, 'A', 1000,     10000 },
                { 0x5, 'B', 16000,    55000 },
                { 0x6, 'B', 65000,    210000 },
                { 0x9, 'C', 260000,   900000 },
                { 0xa, 'C', 1000000,  3500000 },
                { 0xd, 'D', 4000000,  13000000 },
                { 0xe, 'D', 17000000, 64000000 },
        };
        struct cxl_ti_timeout_range r;
        unsigned valid = 0;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                assert_int_equal(cxl_ti_timeout_value_decode(table[i].value, &r), 0);
                assert_int_equal(r.value, table[i].value);
                assert_int_equal(r.range, table[i].range);
                assert_int_equal(r.min_usec, table[i].min_usec);
                assert_int_equal(r.max_usec, table[i].max_usec);
        }
        for (unsigned v = 0; v < 256; v++)
                if (cxl_ti_timeout_value_decode((uint8_t)v, NULL) == 0)
                        valid |= 1u << (v & 0x1f) | (v > 0xf ? 0x80000000u : 0);
        /* Exactly 0,1,2,5,6,9,A,D,E; reserved 3,4,7,8,B,C,F and anything above 4 bits. */
        assert_int_equal(valid, 0x6667);
}

static void test_ranges_bitmaps(void **state)
{
        unsigned legal = 0;

        for (unsigned b = 0; b < 16; b++)
                if (cxl_ti_timeout_ranges_legal((uint8_t)b))
                        legal |= 1u << b;
        /* 0h,1h,2h,3h,6h,7h,Eh,Fh */
        assert_int_equal(legal, 0xc0cf);
        assert_false(cxl_ti_timeout_ranges_legal(0x10));

        /* 0h is the default every port accepts, even with no programmable range (v1 refused it without A). */
        assert_true(cxl_ti_timeout_value_supported(0x0, 0x0));
        assert_true(cxl_ti_timeout_value_supported(0x6, 0x0));
        assert_false(cxl_ti_timeout_value_supported(0x0, 0x1));
        assert_true(cxl_ti_timeout_value_supported(0x1, 0x2));
        assert_false(cxl_ti_timeout_value_supported(0x1, 0x5));
        assert_true(cxl_ti_timeout_value_supported(0x3, 0x6));
        assert_true(cxl_ti_timeout_value_supported(0x6, 0xa));
        assert_false(cxl_ti_timeout_value_supported(0x6, 0x1));
        assert_true(cxl_ti_timeout_value_supported(0xe, 0xe));
        assert_false(cxl_ti_timeout_value_supported(0x7, 0xd));
        /* Reserved encodings are never supported. */
        assert_false(cxl_ti_timeout_value_supported(0xf, 0x3));
        assert_false(cxl_ti_timeout_value_supported(0xf, 0xf));
}

static void test_arm_read_modify_write(void **state)
{
        const struct cxl_ti_arm_request req = { .mem_isolation = true, .interrupt = true };
        uint32_t ctl = 0;

        /* From reset: reserved bits preserved, only 16 and 26 set. */
        assert_int_equal(cxl_ti_control_arm(CAP_FULL, CTL_RESERVED, &req, &ctl), 0);
        assert_int_equal(ctl, CTL_RESERVED | CXL_TI_CTL_MEM_ISOLATION_ENABLE | CXL_TI_CTL_INTERRUPT_ENABLE);

        /* Bits the request does not name keep their value (cache timeout 0xa enabled, say). */
        assert_int_equal(cxl_ti_control_arm(CAP_FULL, 0x00001a00, &req, &ctl), 0);
        assert_int_equal(ctl, 0x04011a00);

        /* Everything at once, with a timeout value. */
        const struct cxl_ti_arm_request all = {
                .mem_isolation = true, .mem_isolation_linkdown = true, .interrupt = true,
                .errcor_signaling = true, .mem_timeout = true, .mem_timeout_value = 0xd,
        };
        assert_int_equal(cxl_ti_control_arm(CAP_FULL, 0x2, &all, &ctl), 0);
        assert_int_equal(ctl, 0x0603001d);
}

static void test_arm_refuses_missing_capability(void **state)
{
        const struct cxl_ti_arm_request iso_irq = { .mem_isolation = true, .interrupt = true };
        const struct cxl_ti_arm_request iso = { .mem_isolation = true };
        const struct cxl_ti_arm_request errcor = { .mem_isolation = true, .errcor_signaling = true };
        const struct cxl_ti_arm_request timeout = { .mem_timeout = true, .mem_timeout_value = 0x0 };
        uint32_t ctl = 0xabcdef;

        /* Isolation without interrupt support: refused, never set and hoped for. */
        assert_int_equal(cxl_ti_control_arm(CXL_TI_CAP_MEM_ISOLATION, 0, &iso_irq, &ctl), -EOPNOTSUPP);
        assert_int_equal(ctl, 0xabcdef);
        assert_int_equal(cxl_ti_control_arm(CXL_TI_CAP_INTERRUPT, 0, &iso, &ctl), -EOPNOTSUPP);
        assert_int_equal(cxl_ti_control_arm(CXL_TI_CAP_MEM_ISOLATION, 0, &errcor, &ctl), -EOPNOTSUPP);
        /* v1 gated timeout enable on the capability bit being *clear*. */
        assert_int_equal(cxl_ti_control_arm(CXL_TI_CAP_MEM_ISOLATION, 0, &timeout, &ctl), -EOPNOTSUPP);
        assert_int_equal(ctl, 0xabcdef);
        assert_int_equal(cxl_ti_control_arm(CXL_TI_CAP_MEM_TIMEOUT, 0, &timeout, &ctl), 0);
        assert_int_equal(ctl, CXL_TI_CTL_MEM_TIMEOUT_ENABLE);
        /* Link-down enable on a port that only isolates. */
        const struct cxl_ti_arm_request linkdown = { .mem_isolation = true, .mem_isolation_linkdown = true };
        assert_int_equal(cxl_ti_control_arm(CXL_TI_CAP_MEM_ISOLATION, 0, &linkdown, &ctl), -EOPNOTSUPP);
}

static void test_arm_timeout_value(void **state)
{
        const uint32_t cap = CXL_TI_CAP_MEM_TIMEOUT | 0x1u | CXL_TI_CAP_MEM_ISOLATION;   /* range A only */
        struct cxl_ti_arm_request req = { .mem_timeout = true, .mem_timeout_value = 0x5 };
        uint32_t ctl = 0x77;

        assert_int_equal(cxl_ti_control_arm(cap, 0, &req, &ctl), -EINVAL);     /* range B not supported */
        req.mem_timeout_value = 0x4;
        assert_int_equal(cxl_ti_control_arm(cap, 0, &req, &ctl), -EINVAL);     /* reserved encoding */
        assert_int_equal(ctl, 0x77);

        /* v1 zeroed the whole register when setting the value: isolation and reserved bits must survive. */
        req.mem_timeout_value = 0x2;
        assert_int_equal(cxl_ti_control_arm(cap, CTL_RESERVED | CXL_TI_CTL_MEM_ISOLATION_ENABLE | 0x1, &req, &ctl), 0);
        assert_int_equal(ctl, CTL_RESERVED | CXL_TI_CTL_MEM_ISOLATION_ENABLE | CXL_TI_CTL_MEM_TIMEOUT_ENABLE | 0x2);

        /* 0h replaces a previous value even with no programmable range. */
        req.mem_timeout_value = 0x0;
        assert_int_equal(cxl_ti_control_arm(CXL_TI_CAP_MEM_TIMEOUT, 0x2, &req, &ctl), 0);
        assert_int_equal(ctl, CXL_TI_CTL_MEM_TIMEOUT_ENABLE);
}

static void test_arm_never_writes_unsupported_bits(void **state)
{
        const struct cxl_ti_arm_request req = { .mem_isolation = true };
        uint32_t ctl = 0;

        /*
         * A register model (or a buggy port) reads back 1 in bits whose capability is absent: write them 0.
         * (Reserved bits 31:27 only: every bit set would be all-ones, a vanished device.)
         */
        assert_int_equal(cxl_ti_control_arm(CXL_TI_CAP_MEM_ISOLATION, CXL_TI_CTL_DEFINED_MASK | 0xf8000000u, &req, &ctl), 0);
        assert_int_equal(ctl, 0xf8000000u | CXL_TI_CTL_MEM_ISOLATION_ENABLE);

        /* Link-down enable is only meaningful with isolation: requested or already on. */
        const struct cxl_ti_arm_request ld = { .mem_isolation_linkdown = true };
        assert_int_equal(cxl_ti_control_arm(CAP_FULL, 0, &ld, &ctl), -EINVAL);
        assert_int_equal(cxl_ti_control_arm(CAP_FULL, CXL_TI_CTL_MEM_ISOLATION_ENABLE, &ld, &ctl), 0);
        assert_int_equal(ctl, CXL_TI_CTL_MEM_ISOLATION_ENABLE | CXL_TI_CTL_MEM_ISOLATION_LINKDOWN_ENABLE);

        /* A vanished device: nothing to compute. */
        assert_int_equal(cxl_ti_control_arm(0xffffffff, 0, &req, &ctl), -ENODEV);
        assert_int_equal(cxl_ti_control_arm(CAP_FULL, 0xffffffff, &req, &ctl), -ENODEV);
        assert_int_equal(cxl_ti_control_arm(CAP_FULL, 0, NULL, &ctl), -EINVAL);
}

static void test_disarm(void **state)
{
        /* v1 did `ctrl &= ENABLE`: everything but the enable vanished. */
        assert_int_equal(cxl_ti_control_disarm(0x04010012), 0x00000002);
        /* Every enable off; timeout values and reserved bits kept. */
        assert_int_equal(cxl_ti_control_disarm(0xffffffff), CTL_RESERVED | 0x00000f0f);
        assert_int_equal(cxl_ti_control_disarm(0), 0);
}

static void test_status_clear_value(void **state)
{
        /* RW1CS: write back exactly the latched bits; RP Busy (RO) and RsvdZ get 0. */
        assert_int_equal(cxl_ti_status_clear_value(0x00004301), 0x00000301);
        assert_int_equal(cxl_ti_status_clear_value(0x00000100), 0x00000100);
        assert_int_equal(cxl_ti_status_clear_value(0x00003010), 0x00003010);
        assert_int_equal(cxl_ti_status_clear_value(0xffff8100), 0x00000100);
        assert_int_equal(cxl_ti_status_clear_value(0x0000000e), 0);
        assert_int_equal(cxl_ti_status_clear_value(0xffffffff), 0);
        assert_int_equal(cxl_ti_status_clear_value(0), 0);

        /* Never release while the root port is still busy. */
        assert_false(cxl_ti_status_clear_allowed(0x00004300));
        assert_false(cxl_ti_status_clear_allowed(0x00005000));
        assert_true(cxl_ti_status_clear_allowed(0x00000300));
        assert_true(cxl_ti_status_clear_allowed(0x00004000));  /* RP Busy means nothing without isolation */
        assert_false(cxl_ti_status_clear_allowed(0xffffffff));
}

static void test_status_to_string(void **state)
{
        char buf[128], small[6];

        assert_string_equal(cxl_ti_status_to_string(0x00004301, buf, sizeof(buf)),
                            "0x00004301 (mem-timeout mem-isolated mem-link-down rp-busy)");
        assert_string_equal(cxl_ti_status_to_string(0x00003010, buf, sizeof(buf)),
                            "0x00003010 (cache-timeout cache-isolated cache-link-down)");
        assert_string_equal(cxl_ti_status_to_string(0, buf, sizeof(buf)), "0x00000000 (clear)");
        assert_string_equal(cxl_ti_status_to_string(0xffffffff, buf, sizeof(buf)), "0xffffffff (device-gone)");
        assert_string_equal(cxl_ti_status_to_string(0x00010100, buf, sizeof(buf)), "0x00010100 (mem-isolated reserved)");
        /* Truncation keeps a terminated prefix. */
        assert_string_equal(cxl_ti_status_to_string(0x00000100, small, sizeof(small)), "0x000");
        assert_null(cxl_ti_status_to_string(0x100, NULL, 0));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_capability_decode),
                cmocka_unit_test(test_control_decode),
                cmocka_unit_test(test_status_decode),
                cmocka_unit_test(test_status_kind),
                cmocka_unit_test(test_kind_strings),
                cmocka_unit_test(test_timeout_encodings),
                cmocka_unit_test(test_ranges_bitmaps),
                cmocka_unit_test(test_arm_read_modify_write),
                cmocka_unit_test(test_arm_refuses_missing_capability),
                cmocka_unit_test(test_arm_timeout_value),
                cmocka_unit_test(test_arm_never_writes_unsupported_bits),
                cmocka_unit_test(test_disarm),
                cmocka_unit_test(test_status_clear_value),
                cmocka_unit_test(test_status_to_string),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
