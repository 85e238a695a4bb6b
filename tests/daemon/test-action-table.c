/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The action table and per-action timeouts. This binary links only the core,
 * so it also shows the weak table at work: actions that are not built in
 * look up as NULL (reported as "not available") instead of failing the link.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "action.h"

static void test_core_actions_present(void **state)
{
        const struct action_ops *log = action_ops_lookup(ACTION_LOG), *exec = action_ops_lookup(ACTION_EXEC);

        assert_non_null(log);
        assert_non_null(exec);
        assert_int_equal(log->type, ACTION_LOG);
        assert_int_equal(exec->type, ACTION_EXEC);
        /* Logging changes nothing, so it runs in a dry run; a script might change anything, so it does not. */
        assert_true(log->runs_in_dry_run);
        assert_false(exec->runs_in_dry_run);
        /* exec can be stopped at its timeout. */
        assert_non_null(exec->cancel);
}

static void test_missing_actions_are_null(void **state)
{
        assert_null(action_ops_lookup(ACTION_OFFLINE_DEVDAX));
        assert_null(action_ops_lookup(ACTION_REBOOT));
        assert_null(action_ops_lookup(_ACTION_TYPE_INVALID));
        assert_null(action_ops_lookup(_ACTION_TYPE_MAX));
}

static void test_timeout_precedence(void **state)
{
        struct config_policy p = {};

        assert_true(action_timeout_for(NULL, ACTION_EXEC) == ACTION_TIMEOUT_DEFAULT_USEC);
        assert_true(action_timeout_for(&p, ACTION_EXEC) == ACTION_TIMEOUT_DEFAULT_USEC);
        p.timeout = 5000000;
        assert_true(action_timeout_for(&p, ACTION_EXEC) == 5000000);
        p.action_timeout[ACTION_EXEC] = 1000000;
        assert_true(action_timeout_for(&p, ACTION_EXEC) == 1000000);
        assert_true(action_timeout_for(&p, ACTION_LOG) == 5000000);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_core_actions_present),
                cmocka_unit_test(test_missing_actions_are_null),
                cmocka_unit_test(test_timeout_precedence),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
