/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The operator script's environment: exactly the documented variables, values passed through verbatim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cxl-regs.h"
#include "exec-env.h"
#include "strv.h"

static const char *env_get(char **env, const char *key)
{
        size_t n = strlen(key);

        for (size_t i = 0; env[i]; i++)
                if (strncmp(env[i], key, n) == 0 && env[i][n] == '=')
                        return env[i] + n + 1;
        return NULL;
}

static struct isolation_event *event(void)
{
        struct isolation_event *e = isolation_event_new();

        assert_non_null(e);
        strcpy(e->id, "0123456789abcdef0123456789abcdef");
        strcpy(e->port, "0000:0c:00.0");
        strcpy(e->host_bridge, "pci0000:0c");
        e->kind = CXL_ISOLATION_MEM_TIMEOUT;
        e->status = CXL_TI_STS_MEM_ISOLATION | CXL_TI_STS_MEM_TIMEOUT;
        e->control = CXL_TI_CTL_MEM_ISOLATION_ENABLE;
        e->realtime_usec = 1790000000000001ULL;
        return e;
}

static void test_documented_variables(void **state)
{
        struct isolation_event *e = event();
        char **env = NULL;

        assert_int_equal(strv_extend(&e->dax_devices, "dax0.0"), 0);
        assert_int_equal(strv_extend(&e->dax_devices, "dax3.1"), 0);
        assert_int_equal(exec_env_build(e, "page-oncall", "/var/lib/cxl-isold", &env), 0);

        assert_string_equal(env_get(env, "CXL_ISOLD_EVENT_ID"), "0123456789abcdef0123456789abcdef");
        assert_string_equal(env_get(env, "CXL_ISOLD_PORT"), "0000:0c:00.0");
        assert_string_equal(env_get(env, "CXL_ISOLD_HOST_BRIDGE"), "pci0000:0c");
        assert_string_equal(env_get(env, "CXL_ISOLD_REASON"), "mem-timeout");
        assert_string_equal(env_get(env, "CXL_ISOLD_STATUS"), "0x00000101");
        assert_string_equal(env_get(env, "CXL_ISOLD_CONTROL"), "0x00010000");
        assert_string_equal(env_get(env, "CXL_ISOLD_DAX_DEVICES"), "dax0.0 dax3.1");
        assert_string_equal(env_get(env, "CXL_ISOLD_POLICY"), "page-oncall");
        assert_string_equal(env_get(env, "CXL_ISOLD_TIMESTAMP_USEC"), "1790000000000001");
        assert_string_equal(env_get(env, "CXL_ISOLD_DRILL"), "0");
        assert_string_equal(env_get(env, "CXL_ISOLD_STATE_DIR"), "/var/lib/cxl-isold");
        /* A fixed PATH, not the daemon's. */
        assert_string_equal(env_get(env, "PATH"), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        /* Nothing undocumented leaks in. */
        assert_int_equal(strv_length(env), 13);
        for (size_t i = 0; env[i]; i++)
                assert_true(strncmp(env[i], "CXL_ISOLD_", 10) == 0 || strncmp(env[i], "PATH=", 5) == 0 ||
                            strncmp(env[i], "LANG=", 5) == 0);
        strv_free(env);
        isolation_event_free(e);
}

static void test_no_dax_and_drill(void **state)
{
        struct isolation_event *e = event();
        char **env = NULL;

        e->drill = true;
        assert_int_equal(exec_env_build(e, "default", "/tmp/s", &env), 0);
        assert_string_equal(env_get(env, "CXL_ISOLD_DAX_DEVICES"), "");
        assert_string_equal(env_get(env, "CXL_ISOLD_DRILL"), "1");
        strv_free(env);
        isolation_event_free(e);
}

static void test_values_are_not_interpreted(void **state)
{
        struct isolation_event *e = event();
        char **env = NULL;

        /* A policy name with shell syntax travels as plain text. */
        assert_int_equal(exec_env_build(e, "$(reboot); `x` \"y\" %s", "/tmp/s", &env), 0);
        assert_string_equal(env_get(env, "CXL_ISOLD_POLICY"), "$(reboot); `x` \"y\" %s");
        strv_free(env);
        isolation_event_free(e);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_documented_variables),
                cmocka_unit_test(test_no_dax_and_drill),
                cmocka_unit_test(test_values_are_not_interpreted),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
