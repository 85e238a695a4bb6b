/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-port order, cross-port concurrency, nothing dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "action-queue.h"

static void test_ports_run_concurrently(void **state)
{
        struct action_queue q = {};
        int a = 1, b = 2;
        struct action_job *j1, *j2;

        assert_int_equal(action_queue_push(&q, "0000:0c:00.0", &a, NULL), 0);
        assert_int_equal(action_queue_push(&q, "0000:0d:00.0", &b, NULL), 0);
        j1 = action_queue_next_runnable(&q);
        j2 = action_queue_next_runnable(&q);
        assert_non_null(j1);
        assert_non_null(j2);
        assert_ptr_equal(j1->data, &a);
        assert_ptr_equal(j2->data, &b);
        assert_null(action_queue_next_runnable(&q));
        assert_int_equal(action_queue_depth(&q), 2);
        assert_int_equal(action_queue_waiting(&q), 0);
        action_queue_done(&q);
}

static void test_same_port_in_order(void **state)
{
        struct action_queue q = {};
        int e[3] = {};
        struct action_job *j;

        for (int i = 0; i < 3; i++)
                assert_int_equal(action_queue_push(&q, "0000:0c:00.0", &e[i], NULL), 0);
        assert_int_equal(action_queue_push(&q, "0000:0d:00.0", &e[0], NULL), 0);

        j = action_queue_next_runnable(&q);
        assert_ptr_equal(j->data, &e[0]);
        /* The second event of port 0c waits; port 0d's job may start. */
        struct action_job *other = action_queue_next_runnable(&q);
        assert_string_equal(other->key, "0000:0d:00.0");
        assert_null(action_queue_next_runnable(&q));
        assert_true(action_queue_key_busy(&q, "0000:0c:00.0"));
        assert_int_equal(action_queue_depth(&q), 4);
        assert_int_equal(action_queue_waiting(&q), 2);

        action_queue_remove(&q, j);
        j = action_queue_next_runnable(&q);
        assert_ptr_equal(j->data, &e[1]);
        action_queue_remove(&q, j);
        j = action_queue_next_runnable(&q);
        assert_ptr_equal(j->data, &e[2]);
        action_queue_remove(&q, j);
        action_queue_remove(&q, other);
        assert_int_equal(action_queue_depth(&q), 0);
        assert_false(action_queue_key_busy(&q, "0000:0c:00.0"));
        action_queue_done(&q);
}

static void test_never_drops(void **state)
{
        struct action_queue q = {};
        static int data[5000];
        char key[32];
        size_t started = 0;
        struct action_job *j;

        /* Far more than any trigger runner's child limit: every job is kept and eventually runs. */
        for (int i = 0; i < 5000; i++) {
                snprintf(key, sizeof(key), "port%d", i % 7);
                assert_int_equal(action_queue_push(&q, key, &data[i], NULL), 0);
        }
        assert_int_equal(action_queue_depth(&q), 5000);
        while ((j = action_queue_next_runnable(&q)) || q.n_jobs > 0) {
                if (!j) {
                        /* Finish the oldest running job. */
                        for (j = q.head; j && !j->running; j = j->next)
                                ;
                        assert_non_null(j);
                        action_queue_remove(&q, j);
                        continue;
                }
                started++;
        }
        assert_int_equal(started, 5000);
        action_queue_done(&q);
}

static void test_rejects_oversized_key(void **state)
{
        struct action_queue q = {};

        assert_true(action_queue_push(&q, "a-key-much-longer-than-any-bdf-can-be", NULL, NULL) < 0);
        assert_int_equal(action_queue_depth(&q), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ports_run_concurrently),
                cmocka_unit_test(test_same_port_in_order),
                cmocka_unit_test(test_never_drops),
                cmocka_unit_test(test_rejects_oversized_key),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
