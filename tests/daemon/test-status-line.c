/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The STATUS= line systemctl shows, and the journal-or-console choice: both
 * are what an operator sees first, so their exact form is a contract.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "manager.h"

static char *status_for(const enum port_state *states, size_t n, size_t queued, const char *reload_error)
{
        struct manager m = { .poll_interval_usec = 100 * 1000 };
        struct port ports[8] = {}, *list[8];
        char *s;

        for (size_t i = 0; i < n; i++) {
                ports[i].state = states[i];
                list[i] = &ports[i];
        }
        m.ports = list;
        m.n_ports = n;
        m.last_reload_error = (char *)reload_error;
        for (size_t i = 0; i < queued; i++)
                assert_int_equal(action_queue_push(&m.queue, "0000:0c:00.0", NULL, NULL), 0);
        s = manager_status_line(&m);
        action_queue_done(&m.queue);
        assert_non_null(s);
        return s;
}

static void test_watching(void **state)
{
        enum port_state st[] = { PORT_STATE_WATCHING, PORT_STATE_ISOLATED, PORT_STATE_WATCHING,
                                 PORT_STATE_NOT_WATCHABLE };
        char *s = status_for(st, 4, 0, NULL);

        assert_string_equal(s, "Watching 3 of 4 CXL root ports (1 isolated), poll 100ms, queue 0");
        free(s);
}

static void test_acknowledged_still_counts_as_isolated_and_queue_shown(void **state)
{
        enum port_state st[] = { PORT_STATE_ACKNOWLEDGED, PORT_STATE_ISOLATED };
        char *s = status_for(st, 2, 3, NULL);

        assert_string_equal(s, "Watching 2 of 2 CXL root ports (2 isolated), poll 100ms, queue 3");
        free(s);
}

static void test_nothing_watchable_says_so(void **state)
{
        enum port_state st[] = { PORT_STATE_NOT_WATCHABLE, PORT_STATE_NOT_WATCHABLE };
        char *s = status_for(st, 2, 0, NULL);

        assert_string_equal(s, "Watching 0 of 2 CXL root ports (0 isolated), poll 100ms, queue 0; "
                               "no port is watchable, see the journal");
        free(s);
        s = status_for(NULL, 0, 0, NULL);
        assert_string_equal(s, "No CXL root ports found, nothing to watch; queue 0");
        free(s);
}

static void test_reload_error_is_shown(void **state)
{
        enum port_state st[] = { PORT_STATE_WATCHING };
        char *s = status_for(st, 1, 0, "configuration reload failed (Invalid argument), still running the previous one");

        assert_string_equal(s, "Watching 1 of 1 CXL root ports (0 isolated), poll 100ms, queue 0; "
                               "configuration reload failed (Invalid argument), still running the previous one");
        free(s);
}

static void test_journal_stream_match(void **state)
{
        /* systemd's "$JOURNAL_STREAM" is "<st_dev>:<st_ino>" of the stream it gave us as stderr. */
        assert_true(log_journal_stream_matches("8:12345", 8, 12345));
        assert_false(log_journal_stream_matches("8:12345", 8, 12346));
        assert_false(log_journal_stream_matches("9:12345", 8, 12345));
        assert_false(log_journal_stream_matches(NULL, 8, 12345));
        assert_false(log_journal_stream_matches("", 8, 12345));
        assert_false(log_journal_stream_matches("8:12345x", 8, 12345));
        assert_false(log_journal_stream_matches("8", 8, 12345));
        assert_int_equal(log_target_from_string("auto"), LOG_TARGET_AUTO);
        assert_int_equal(log_target_from_string("journal"), LOG_TARGET_JOURNAL);
        assert_int_equal(log_target_from_string("console"), LOG_TARGET_CONSOLE);
        assert_true(log_target_from_string("syslog") < 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_watching),
                cmocka_unit_test(test_acknowledged_still_counts_as_isolated_and_queue_shown),
                cmocka_unit_test(test_nothing_watchable_says_so),
                cmocka_unit_test(test_reload_error_is_shown),
                cmocka_unit_test(test_journal_stream_match),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
