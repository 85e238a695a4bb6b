/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "poll-schedule.h"

#define MS 1000ULL
#define S (1000ULL * MS)

static void test_baseline(void **state)
{
        /* no interrupt source: poll-interval=, whatever the backstop says */
        assert_int_equal(poll_schedule_interval(100 * MS, 0, 4, 0, 0), 100 * MS);
        assert_int_equal(poll_schedule_interval(100 * MS, 10 * S, 4, 0, 0), 100 * MS);
        /* some ports served, not all: still the baseline */
        assert_int_equal(poll_schedule_interval(100 * MS, 0, 4, 3, 0), 100 * MS);
}

static void test_all_served(void **state)
{
        assert_int_equal(poll_schedule_interval(100 * MS, 0, 4, 4, 0), 0);
        assert_int_equal(poll_schedule_interval(100 * MS, 5 * S, 4, 4, 0), 5 * S);
        assert_int_equal(poll_schedule_interval(100 * MS, 5 * S, 1, 1, 0), 5 * S);
        /* unset: the backstop is the poll interval, as before there was one */
        assert_int_equal(poll_schedule_interval(100 * MS, POLL_BACKSTOP_UNSET, 4, 4, 0), 100 * MS);
}

static void test_no_watchable_port(void **state)
{
        /* "every port served" is not vacuously true */
        assert_int_equal(poll_schedule_interval(100 * MS, 0, 0, 0, 0), 100 * MS);
}

static void test_watchdog(void **state)
{
        /* fed only after a poll cycle: never off, never more than half the watchdog apart */
        assert_int_equal(poll_schedule_interval(100 * MS, 0, 4, 4, 30 * S), 15 * S);
        assert_int_equal(poll_schedule_interval(100 * MS, 60 * S, 4, 4, 30 * S), 15 * S);
        assert_int_equal(poll_schedule_interval(100 * MS, 5 * S, 4, 4, 30 * S), 5 * S);
        assert_int_equal(poll_schedule_interval(100 * MS, 0, 4, 0, 30 * S), 100 * MS);
        assert_int_equal(poll_schedule_interval(100 * MS, 0, 4, 4, 1), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_baseline),
                cmocka_unit_test(test_all_served),
                cmocka_unit_test(test_no_watchable_port),
                cmocka_unit_test(test_watchdog),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
