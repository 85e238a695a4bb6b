/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which status changes make an event, and which must not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cxl-regs.h"
#include "transition.h"

#define MEM_LD (CXL_TI_STS_MEM_ISOLATION | CXL_TI_STS_MEM_ISOLATION_LINKDOWN)
#define MEM_TO (CXL_TI_STS_MEM_ISOLATION | CXL_TI_STS_MEM_TIMEOUT)
#define CACHE_LD (CXL_TI_STS_CACHE_ISOLATION | CXL_TI_STS_CACHE_ISOLATION_LINKDOWN)

static void test_rising_isolation_is_an_event(void **state)
{
        assert_int_equal(status_transition_detect(true, 0, MEM_LD), STATUS_ISOLATION_RAISED);
        assert_int_equal(status_transition_detect(true, 0, MEM_TO), STATUS_ISOLATION_RAISED);
        assert_int_equal(status_transition_detect(true, 0, CACHE_LD), STATUS_ISOLATION_RAISED);
        assert_int_equal(status_transition_detect(true, 0, CXL_TI_STS_CACHE_ISOLATION), STATUS_ISOLATION_RAISED);
        /* A timeout bit left over from before does not hide a new isolation. */
        assert_int_equal(status_transition_detect(true, CXL_TI_STS_MEM_TIMEOUT, MEM_TO), STATUS_ISOLATION_RAISED);
}

static void test_steady_states_are_quiet(void **state)
{
        assert_int_equal(status_transition_detect(true, 0, 0), STATUS_UNCHANGED);
        assert_int_equal(status_transition_detect(true, MEM_LD, MEM_LD), STATUS_UNCHANGED);
        /* Timeouts alone and RP Busy flapping are not isolation. */
        assert_int_equal(status_transition_detect(true, 0, CXL_TI_STS_MEM_TIMEOUT), STATUS_UNCHANGED);
        assert_int_equal(status_transition_detect(true, 0, CXL_TI_STS_CACHE_TIMEOUT), STATUS_UNCHANGED);
        assert_int_equal(status_transition_detect(true, MEM_LD, MEM_LD | CXL_TI_STS_RP_BUSY), STATUS_UNCHANGED);
        assert_int_equal(status_transition_detect(true, MEM_LD | CXL_TI_STS_RP_BUSY, MEM_LD), STATUS_UNCHANGED);
        assert_int_equal(status_transition_detect(true, 0, CXL_TI_STS_RP_BUSY), STATUS_UNCHANGED);
}

static void test_clear_and_change(void **state)
{
        assert_int_equal(status_transition_detect(true, MEM_LD, 0), STATUS_ISOLATION_CLEARED);
        assert_int_equal(status_transition_detect(true, MEM_TO, CXL_TI_STS_MEM_TIMEOUT), STATUS_ISOLATION_CLEARED);
        /* Still isolated by the other protocol: not cleared. */
        assert_int_equal(status_transition_detect(true, MEM_LD | CACHE_LD, CACHE_LD), STATUS_ISOLATION_CHANGED);
        /* CXL.cache joins an ongoing CXL.mem isolation: the same incident, not a second event. */
        assert_int_equal(status_transition_detect(true, MEM_LD, MEM_LD | CACHE_LD), STATUS_ISOLATION_CHANGED);
        /* The cause bit appearing later. */
        assert_int_equal(status_transition_detect(true, CXL_TI_STS_MEM_ISOLATION, MEM_LD), STATUS_ISOLATION_CHANGED);
}

static void test_first_read(void **state)
{
        /* Isolated at the first read: an event unless the record already has it (the caller checks). */
        assert_int_equal(status_transition_detect(false, 0, MEM_LD), STATUS_ISOLATION_RAISED);
        assert_int_equal(status_transition_detect(false, 0, 0), STATUS_UNCHANGED);
        assert_int_equal(status_transition_detect(false, 0, CXL_TI_STS_MEM_TIMEOUT), STATUS_UNCHANGED);
}

static void test_all_ones_is_device_gone(void **state)
{
        /* All-ones has bits 8 and 12 set; it must never be taken for isolation. */
        assert_int_equal(status_transition_detect(true, 0, REG_ALL_ONES), STATUS_DEVICE_GONE);
        assert_int_equal(status_transition_detect(false, 0, REG_ALL_ONES), STATUS_DEVICE_GONE);
        assert_int_equal(status_transition_detect(true, MEM_LD, REG_ALL_ONES), STATUS_DEVICE_GONE);
        assert_int_equal(status_transition_detect(true, REG_ALL_ONES, REG_ALL_ONES), STATUS_UNCHANGED);
        assert_false(status_is_isolated(REG_ALL_ONES));
        assert_int_equal(status_transition_detect(true, REG_ALL_ONES, 0), STATUS_DEVICE_BACK);
        assert_int_equal(status_transition_detect(true, REG_ALL_ONES, MEM_LD), STATUS_ISOLATION_RAISED);
}

static void test_names(void **state)
{
        assert_string_equal(status_transition_to_string(STATUS_ISOLATION_RAISED), "isolation-raised");
        assert_string_equal(status_transition_to_string(STATUS_DEVICE_GONE), "device-gone");
        assert_null(status_transition_to_string(_STATUS_TRANSITION_MAX));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rising_isolation_is_an_event),
                cmocka_unit_test(test_steady_states_are_quiet),
                cmocka_unit_test(test_clear_and_change),
                cmocka_unit_test(test_first_read),
                cmocka_unit_test(test_all_ones_is_device_gone),
                cmocka_unit_test(test_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
