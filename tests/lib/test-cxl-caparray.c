/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capability array walks over QEMU's real root-port array, a port with T&I, and broken blocks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cleanup.h"
#include "cxl-caparray.h"
#include "cxl-regs.h"
#include "cxl-ti.h"

static void put32(uint8_t *b, size_t off, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                b[off + i] = (v >> (8 * i)) & 0xff;
}

static uint32_t get32(const uint8_t *b, size_t off)
{
        return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 | (uint32_t)b[off + 3] << 24;
}

static uint32_t cap_header(uint16_t id, unsigned version, uint16_t pointer)
{
        return (uint32_t)pointer << 20 | (uint32_t)version << 16 | id;
}

/* A zeroed 64 KiB component block on the heap (exact size: overruns are real overruns). */
static uint8_t *new_block(void)
{
        uint8_t *b = calloc(1, CXL_COMPONENT_BLOCK_SIZE);

        assert_non_null(b);
        return b;
}

/* The root port array read in a QEMU 7.2 guest (qemu-guest.md). */
static const uint32_t qemu72_rp_array[] = {
        0x05110001, 0x08020002, 0x0d820004, 0x11010005, 0x26010006, 0xa8410008,
};

static void put_array(uint8_t *b, const uint32_t *dwords, size_t n)
{
        for (size_t i = 0; i < n; i++)
                put32(b, CXL_CM_OFFSET + 4 * i, dwords[i]);
}

static void test_qemu72_root_port(void **state)
{
        static const struct cxl_cap expected[] = {
                { CXL_CM_CAP_RAS,          2, 0x1080 },
                { CXL_CM_CAP_LINK,         2, 0x10d8 },
                { CXL_CM_CAP_HDM,          1, 0x1110 },
                { CXL_CM_CAP_EXT_SECURITY, 1, 0x1260 },
                { CXL_CM_CAP_SNOOP_FILTER, 1, 0x1a84 },
        };
        _cleanup_free_ uint8_t *b = new_block();
        _cleanup_free_ struct cxl_caparray *a = malloc(sizeof(*a));
        struct cxl_cap c;

        assert_non_null(a);
        put_array(b, qemu72_rp_array, ELEMENTSOF(qemu72_rp_array));
        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE, a), 0);
        assert_int_equal(a->cap_version, 1);
        assert_int_equal(a->cachemem_version, 1);
        assert_int_equal(a->array_size, 5);
        assert_int_equal(a->n_null, 0);
        assert_int_equal(a->n, ELEMENTSOF(expected));
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                assert_int_equal(a->cap[i].id, expected[i].id);
                assert_int_equal(a->cap[i].version, expected[i].version);
                assert_int_equal(a->cap[i].offset, expected[i].offset);
        }

        /* Stock QEMU has no Timeout & Isolation: the daemon must report "not found". */
        assert_int_equal(cxl_caparray_find(a, CXL_CM_CAP_TIMEOUT_ISOLATION, &c), -ENOENT);
        assert_int_equal(cxl_caparray_find(a, CXL_CM_CAP_RAS, &c), 0);
        assert_int_equal(c.offset, 0x1080);
}

/* Newer QEMU: fixed slots (RAS 1, LINK 2, HDM 3, EXTSEC 4, SNOOP 5, BI_RT 6, BI_DECODER 7), unused ones NULL. */
static void test_newer_qemu_null_slots(void **state)
{
        static const uint32_t array[] = {
                0x07110001, 0x08020002, 0x0d820004, 0x11010005, 0x26010006, 0xa8410008,
                0x00000000, 0x00000000,
        };
        _cleanup_free_ uint8_t *b = new_block();
        _cleanup_free_ struct cxl_caparray *a = malloc(sizeof(*a));

        assert_non_null(a);
        put_array(b, array, ELEMENTSOF(array));
        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE, a), 0);
        assert_int_equal(a->array_size, 7);
        assert_int_equal(a->n_null, 2);
        assert_int_equal(a->n, 5);
        assert_int_equal(a->cap[4].id, CXL_CM_CAP_SNOOP_FILTER);
        assert_int_equal(cxl_caparray_find(a, CXL_CM_CAP_TIMEOUT_ISOLATION, NULL), -ENOENT);
}

/* A NULL header in the middle must not end the walk: T&I after it is still found. */
static void test_null_then_timeout_isolation(void **state)
{
        static const uint32_t array[] = {
                0x04110001, 0x08020002, 0x00000000, 0x11010005,
        };
        _cleanup_free_ uint8_t *b = new_block();
        _cleanup_free_ struct cxl_caparray *a = malloc(sizeof(*a));
        struct cxl_ti_capability cap;
        struct cxl_ti_status sts;
        struct cxl_cap ti;

        assert_non_null(a);
        put_array(b, array, ELEMENTSOF(array));
        put32(b, CXL_CM_OFFSET + 4 * 4, cap_header(CXL_CM_CAP_TIMEOUT_ISOLATION, 1, 0x300));
        /* The port's registers: isolation + link-down + interrupt (msg 1) supported; CXL.mem isolated by link down. */
        put32(b, 0x1300 + CXL_TI_CAPABILITY, 0x0c03001fu);
        put32(b, 0x1300 + CXL_TI_STATUS, 0x00000300u);

        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE, a), 0);
        assert_int_equal(a->n_null, 1);
        assert_int_equal(a->n, 3);
        assert_int_equal(cxl_caparray_find(a, CXL_CM_CAP_TIMEOUT_ISOLATION, &ti), 0);
        assert_int_equal(ti.offset, 0x1300);
        assert_int_equal(ti.version, 1);

        cxl_ti_capability_decode(get32(b, ti.offset + CXL_TI_CAPABILITY), &cap);
        assert_true(cap.mem_isolation);
        assert_true(cap.interrupt);
        assert_int_equal(cap.interrupt_msgnum, 1);
        cxl_ti_status_decode(get32(b, ti.offset + CXL_TI_STATUS), &sts);
        assert_true(sts.mem_isolated);
        assert_int_equal(cxl_ti_status_kind(sts.raw), CXL_ISOLATION_MEM_LINK_DOWN);
}

static void test_device_gone(void **state)
{
        _cleanup_free_ uint8_t *b = new_block();
        _cleanup_free_ struct cxl_caparray *a = malloc(sizeof(*a));

        assert_non_null(a);
        memset(b, 0xff, CXL_COMPONENT_BLOCK_SIZE);
        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE, a), -ENODEV);

        /* Gone half-way through reading the headers. */
        memset(b, 0, CXL_COMPONENT_BLOCK_SIZE);
        put_array(b, qemu72_rp_array, ELEMENTSOF(qemu72_rp_array));
        put32(b, CXL_CM_OFFSET + 8, 0xffffffff);
        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE, a), -ENODEV);
}

static void test_malformed_arrays(void **state)
{
        _cleanup_free_ uint8_t *b = new_block();
        _cleanup_free_ struct cxl_caparray *a = malloc(sizeof(*a));
        _cleanup_free_ struct cxl_caparray *untouched = malloc(sizeof(*untouched));

        assert_non_null(a);
        assert_non_null(untouched);
        memset(a, 0x5a, sizeof(*a));
        memcpy(untouched, a, sizeof(*a));

        /* No array header at 0x1000 (zeroed block: a BAR that is not a component block). */
        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE, a), -EBADMSG);
        put32(b, CXL_CM_OFFSET, 0x05110002);
        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE, a), -EBADMSG);

        /* Misaligned structure pointer (RAS at 0x082). */
        put_array(b, qemu72_rp_array, ELEMENTSOF(qemu72_rp_array));
        put32(b, CXL_CM_OFFSET + 4, cap_header(CXL_CM_CAP_RAS, 2, 0x082));
        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE, a), -EBADMSG);

        /* Pointer 0: the structure would be the array header itself. */
        put32(b, CXL_CM_OFFSET + 4, cap_header(CXL_CM_CAP_RAS, 2, 0x000));
        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE, a), -EBADMSG);

        /* Pointer landing inside the header array (header 5 at 0x1014). */
        put32(b, CXL_CM_OFFSET + 4, cap_header(CXL_CM_CAP_RAS, 2, 0x010));
        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE, a), -EBADMSG);
        assert_memory_equal(a, untouched, sizeof(*a));
}

/* A short copy of the block: structures must fit, headers must fit. */
static void test_bounds_against_block_length(void **state)
{
        _cleanup_free_ uint8_t *b = NULL;
        _cleanup_free_ struct cxl_caparray *a = malloc(sizeof(*a));
        const size_t len = 0x2000;

        assert_non_null(a);
        b = calloc(1, len);
        assert_non_null(b);

        /* RAS (0x58 bytes) at 0x1fc0 would end at 0x2018. */
        put32(b, CXL_CM_OFFSET, 0x01110001);
        put32(b, CXL_CM_OFFSET + 4, cap_header(CXL_CM_CAP_RAS, 2, 0xfc0));
        assert_int_equal(cxl_caparray_walk(b, len, a), -EBADMSG);
        /* The last place it fits. */
        put32(b, CXL_CM_OFFSET + 4, cap_header(CXL_CM_CAP_RAS, 2, 0xfa8));
        assert_int_equal(cxl_caparray_walk(b, len, a), 0);
        assert_int_equal(a->cap[0].offset, 0x1fa8);

        /* T&I (0x10 bytes) at 0x1ff4 would end past 0x2000; at 0x1ff0 it fits exactly. */
        put32(b, CXL_CM_OFFSET + 4, cap_header(CXL_CM_CAP_TIMEOUT_ISOLATION, 1, 0xff4));
        assert_int_equal(cxl_caparray_walk(b, len, a), -EBADMSG);
        put32(b, CXL_CM_OFFSET + 4, cap_header(CXL_CM_CAP_TIMEOUT_ISOLATION, 1, 0xff0));
        assert_int_equal(cxl_caparray_walk(b, len, a), 0);

        /* An unknown id only needs its first dword: 0x1ffc is fine. */
        put32(b, CXL_CM_OFFSET + 4, cap_header(0x77, 1, 0xffc));
        assert_int_equal(cxl_caparray_walk(b, len, a), 0);
        assert_int_equal(a->cap[0].id, 0x77);

        /* Array_Size claiming more headers than the copy holds. */
        put_array(b, qemu72_rp_array, ELEMENTSOF(qemu72_rp_array));
        assert_int_equal(cxl_caparray_walk(b, 0x1010, a), -EBADMSG);
        assert_int_equal(cxl_caparray_walk(b, 0x1018, a), -EBADMSG);  /* RAS at 0x1080 beyond it */
        assert_int_equal(cxl_caparray_walk(b, 0x1003, a), -ERANGE);
        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE + 4, a), -EINVAL);
}

/* Array_Size 255, every header NULL: the largest legal array walks without overrunning. */
static void test_largest_array(void **state)
{
        _cleanup_free_ uint8_t *b = new_block();
        _cleanup_free_ struct cxl_caparray *a = malloc(sizeof(*a));

        assert_non_null(a);
        put32(b, CXL_CM_OFFSET, 0xff110001);
        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE, a), 0);
        assert_int_equal(a->n_null, 255);
        assert_int_equal(a->n, 0);

        for (unsigned i = 1; i <= 255; i++)
                put32(b, CXL_CM_OFFSET + 4 * i, cap_header(CXL_CM_CAP_LINK, 2, 0x800));
        assert_int_equal(cxl_caparray_walk(b, CXL_COMPONENT_BLOCK_SIZE, a), 0);
        assert_int_equal(a->n, 255);
        assert_int_equal(a->cap[254].offset, 0x1800);
}

static void test_names_and_lengths(void **state)
{
        assert_int_equal(cxl_cap_min_length(CXL_CM_CAP_RAS), 0x58);
        assert_int_equal(cxl_cap_min_length(CXL_CM_CAP_TIMEOUT_ISOLATION), 0x10);
        assert_int_equal(cxl_cap_min_length(0x1234), 4);
        assert_string_equal(cxl_cap_id_to_string(CXL_CM_CAP_TIMEOUT_ISOLATION), "timeout-isolation");
        assert_string_equal(cxl_cap_id_to_string(CXL_CM_CAP_RAS), "ras");
        assert_string_equal(cxl_cap_id_to_string(CXL_CM_CAP_NULL), "null");
        assert_null(cxl_cap_id_to_string(0x11));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_qemu72_root_port),
                cmocka_unit_test(test_newer_qemu_null_slots),
                cmocka_unit_test(test_null_then_timeout_isolation),
                cmocka_unit_test(test_device_gone),
                cmocka_unit_test(test_malformed_arrays),
                cmocka_unit_test(test_bounds_against_block_length),
                cmocka_unit_test(test_largest_array),
                cmocka_unit_test(test_names_and_lengths),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
