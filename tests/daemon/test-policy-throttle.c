/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cooldown= and rate-limit=N/interval: when a policy may fire again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy-throttle.h"

#define S 1000000ULL

static void test_unlimited(void **state)
{
        struct policy_fires f = {};

        for (int i = 0; i < 100; i++) {
                assert_int_equal(policy_throttle_check(&f, 10 * S + i, 0, 0, 0, NULL), THROTTLE_ALLOW);
                assert_int_equal(policy_fires_add(&f, 10 * S + i, 0), 0);
        }
        policy_fires_done(&f);
}

static void test_cooldown(void **state)
{
        struct policy_fires f = {};
        uint64_t wait;

        assert_int_equal(policy_throttle_check(&f, 100 * S, 60 * S, 0, 0, &wait), THROTTLE_ALLOW);
        assert_int_equal(policy_fires_add(&f, 100 * S, 60 * S), 0);
        assert_int_equal(policy_throttle_check(&f, 130 * S, 60 * S, 0, 0, &wait), THROTTLE_COOLDOWN);
        assert_true(wait == 30 * S);
        assert_int_equal(policy_throttle_check(&f, 160 * S - 1, 60 * S, 0, 0, &wait), THROTTLE_COOLDOWN);
        assert_true(wait == 1);
        assert_int_equal(policy_throttle_check(&f, 160 * S, 60 * S, 0, 0, &wait), THROTTLE_ALLOW);
        assert_true(wait == 0);
        policy_fires_done(&f);
}

static void test_rate_limit(void **state)
{
        struct policy_fires f = {};
        uint64_t wait;

        /* 2 per 10 s: fires at 0 s and 4 s; 6 s is refused until 10 s; then 14 s waits for 4 s + 10 s. */
        assert_int_equal(policy_fires_add(&f, 1000 * S, 10 * S), 0);
        assert_int_equal(policy_fires_add(&f, 1004 * S, 10 * S), 0);
        assert_int_equal(policy_throttle_check(&f, 1006 * S, 0, 2, 10 * S, &wait), THROTTLE_RATE_LIMIT);
        assert_true(wait == 4 * S);
        assert_int_equal(policy_throttle_check(&f, 1010 * S, 0, 2, 10 * S, &wait), THROTTLE_ALLOW);
        assert_int_equal(policy_fires_add(&f, 1010 * S, 10 * S), 0);
        assert_int_equal(policy_throttle_check(&f, 1012 * S, 0, 2, 10 * S, &wait), THROTTLE_RATE_LIMIT);
        assert_true(wait == 2 * S);
        /* Old firings are forgotten: the list does not grow without bound. */
        assert_int_equal(policy_fires_add(&f, 1100 * S, 10 * S), 0);
        assert_int_equal(f.n, 1);
        policy_fires_done(&f);
}

static void test_cooldown_checked_first(void **state)
{
        struct policy_fires f = {};

        assert_int_equal(policy_fires_add(&f, 50 * S, 100 * S), 0);
        assert_int_equal(policy_throttle_check(&f, 51 * S, 5 * S, 1, 100 * S, NULL), THROTTLE_COOLDOWN);
        assert_int_equal(policy_throttle_check(&f, 56 * S, 5 * S, 1, 100 * S, NULL), THROTTLE_RATE_LIMIT);
        policy_fires_done(&f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unlimited),
                cmocka_unit_test(test_cooldown),
                cmocka_unit_test(test_rate_limit),
                cmocka_unit_test(test_cooldown_checked_first),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
