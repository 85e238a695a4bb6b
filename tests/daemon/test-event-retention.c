/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * In-memory event retention: a link that flaps for days must not grow the
 * daemon without bound, and pruning must never free an event that a port,
 * the action queue, a running action or an unfinished plan still uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "manager.h"

#define N 300

static struct isolation_event *finished_event(unsigned i)
{
        struct isolation_event *e = isolation_event_new();

        assert_non_null(e);
        snprintf(e->id, sizeof(e->id), "%032x", i);
        return e;       /* no plan: nothing left to do */
}

static bool kept(const struct manager *m, const struct isolation_event *e)
{
        for (size_t i = 0; i < m->n_events; i++)
                if (m->events[i] == e)
                        return true;
        return false;
}

static void test_prune_keeps_what_is_in_use(void **state)
{
        struct manager m = {};
        struct port port = {}, *ports[1] = { &port };
        struct isolation_event *current, *unfinished, *queued, *newest;

        m.events = calloc(N, sizeof(*m.events));
        assert_non_null(m.events);
        for (unsigned i = 0; i < N; i++)
                m.events[i] = finished_event(i);
        m.n_events = N;

        current = m.events[0];                  /* oldest, but still the port's isolation */
        port.current_event = current;
        m.ports = ports;
        m.n_ports = 1;
        unfinished = m.events[1];               /* a step without an outcome */
        assert_int_equal(isolation_event_plan_add(unfinished, "p", ACTION_EXEC), 0);
        queued = m.events[2];                   /* waiting in the action queue */
        assert_int_equal(action_queue_push(&m.queue, "0000:0c:00.0", queued, NULL), 0);
        newest = m.events[N - 1];

        manager_prune_events(&m);

        assert_int_equal(m.n_events, MANAGER_EVENTS_KEPT);
        assert_true(kept(&m, current));
        assert_true(kept(&m, unfinished));
        assert_true(kept(&m, queued));
        assert_true(kept(&m, newest));
        /* What went were the oldest finished ones, and the order of the rest is kept. */
        assert_false(kept(&m, NULL));
        assert_string_equal(m.events[3]->id, "0000000000000000000000000000002f");
        for (size_t i = 4; i < m.n_events; i++)
                assert_true(strcmp(m.events[i - 1]->id, m.events[i]->id) < 0);

        /* Under the cap nothing is freed. */
        manager_prune_events(&m);
        assert_int_equal(m.n_events, MANAGER_EVENTS_KEPT);

        action_queue_done(&m.queue);
        for (size_t i = 0; i < m.n_events; i++)
                isolation_event_free(m.events[i]);
        free(m.events);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_prune_keeps_what_is_in_use),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
