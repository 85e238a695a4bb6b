/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * events.jsonl: what is written reads back the same (registers, RAS header
 * log, dax devices, plan and results, acks), a torn or garbled line costs
 * only itself, and appending after a torn line does not glue onto it.
 * Rotation: bounded by two generations, never splitting or losing what is
 * still read back, and an event's late action lines still apply to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "cxl-regs.h"
#include "record.h"
#include "strv.h"

static struct isolation_event *sample_event(const char *port, enum cxl_isolation_kind kind)
{
        struct isolation_event *e = isolation_event_new();

        assert_non_null(e);
        assert_int_equal(isolation_event_id_generate(e->id), 0);
        snprintf(e->port, sizeof(e->port), "%s", port);
        snprintf(e->host_bridge, sizeof(e->host_bridge), "pci0000:0c");
        e->kind = kind;
        e->status = CXL_TI_STS_MEM_ISOLATION | CXL_TI_STS_MEM_ISOLATION_LINKDOWN;
        e->control = CXL_TI_CTL_MEM_ISOLATION_ENABLE | 0xe0u;  /* reserved bits must survive too */
        e->capability = CXL_TI_CAP_MEM_ISOLATION | CXL_TI_CAP_MEM_ISOLATION_LINKDOWN | 0x3u;
        e->have_ras = true;
        e->ras.ue_status = 0x400;       /* poison received */
        e->ras.first_error_pointer = 10;
        e->ras.first_error = 0x400;
        e->ras.cap_control = 0x20a;
        for (unsigned i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++)
                e->ras.header_log[i] = 0xdead0000u + i;
        e->ras.header_log[15] = 0xffffffffu;
        e->realtime_usec = 1790000000123456ULL;
        e->monotonic_usec = 987654321ULL;
        snprintf(e->boot_id, sizeof(e->boot_id), "0123456789abcdef0123456789abcdef");
        assert_int_equal(strv_extend(&e->dax_devices, "dax0.0"), 0);
        assert_int_equal(strv_extend(&e->dax_devices, "dax1.0"), 0);
        assert_int_equal(isolation_event_plan_add(e, "default", ACTION_LOG), 0);
        assert_int_equal(isolation_event_plan_add(e, "default", ACTION_EXEC), 0);
        assert_int_equal(isolation_event_plan_add(e, "page-oncall", ACTION_EXEC), 0);
        return e;
}

static char *make_state_dir(void)
{
        char *dir = strdup("/tmp/test-record-XXXXXX");

        assert_non_null(dir);
        assert_non_null(mkdtemp(dir));
        return dir;
}

static void remove_state_dir(const char *dir)
{
        char path[256];

        snprintf(path, sizeof(path), "%s/%s", dir, RECORD_FILE_NAME);
        (void)unlink(path);
        snprintf(path, sizeof(path), "%s/%s", dir, RECORD_PREVIOUS_FILE_NAME);
        (void)unlink(path);
        (void)rmdir(dir);
}

static void assert_events_equal(const struct isolation_event *a, const struct isolation_event *b)
{
        assert_string_equal(a->id, b->id);
        assert_string_equal(a->port, b->port);
        assert_string_equal(a->host_bridge, b->host_bridge);
        assert_int_equal(a->kind, b->kind);
        assert_int_equal(a->status, b->status);
        assert_int_equal(a->control, b->control);
        assert_int_equal(a->capability, b->capability);
        assert_int_equal(a->have_ras, b->have_ras);
        assert_memory_equal(&a->ras.header_log, &b->ras.header_log, sizeof(a->ras.header_log));
        assert_int_equal(a->ras.ue_status, b->ras.ue_status);
        assert_int_equal(a->ras.first_error, b->ras.first_error);
        assert_int_equal(a->ras.first_error_pointer, b->ras.first_error_pointer);
        assert_true(a->realtime_usec == b->realtime_usec);
        assert_true(a->monotonic_usec == b->monotonic_usec);
        assert_string_equal(a->boot_id, b->boot_id);
        assert_int_equal(strv_length(a->dax_devices), strv_length(b->dax_devices));
        for (size_t i = 0; a->dax_devices[i]; i++)
                assert_string_equal(a->dax_devices[i], b->dax_devices[i]);
        assert_int_equal(a->n_plan, b->n_plan);
        for (size_t i = 0; i < a->n_plan; i++) {
                assert_string_equal(a->plan[i].policy, b->plan[i].policy);
                assert_int_equal(a->plan[i].type, b->plan[i].type);
        }
}

static void test_round_trip(void **state)
{
        _cleanup_free_ char *dir = make_state_dir();
        struct isolation_event *e = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_LINK_DOWN);
        struct record *r = NULL;
        struct record_history h;

        assert_int_equal(record_open(dir, &r), 0);
        assert_int_equal(record_append_event(r, e), 0);

        /* Step 0 finished, step 1 timed out (exec), step 2 never ran. */
        e->plan[0].result = (struct action_result) { .outcome = ACTION_OUTCOME_SUCCESS, .exit_status = -1,
                                                     .started_usec = 1, .finished_usec = 2 };
        assert_int_equal(record_append_action(r, e, 0), 0);
        e->plan[1].result = (struct action_result) { .outcome = ACTION_OUTCOME_TIMED_OUT, .error = -ETIMEDOUT,
                                                     .exit_status = -1, .signal = 15,
                                                     .detail = strdup("killed by signal TERM") };
        assert_int_equal(record_append_action(r, e, 1), 0);
        record_free(r);

        assert_int_equal(record_load(dir, &h), 0);
        assert_int_equal(h.n_damaged, 0);
        assert_int_equal(h.n_events, 1);
        assert_events_equal(e, h.events[0]);
        assert_int_equal(h.events[0]->plan[0].result.outcome, ACTION_OUTCOME_SUCCESS);
        assert_int_equal(h.events[0]->plan[1].result.outcome, ACTION_OUTCOME_TIMED_OUT);
        assert_int_equal(h.events[0]->plan[1].result.signal, 15);
        assert_string_equal(h.events[0]->plan[1].result.detail, "killed by signal TERM");
        assert_int_equal(h.events[0]->plan[2].result.outcome, ACTION_OUTCOME_PENDING);
        /* What a restart resumes: the first step without a result. */
        assert_int_equal(isolation_event_next_step(h.events[0]), 2);
        assert_false(h.events[0]->acknowledged);
        record_history_done(&h);

        isolation_event_free(e);
        remove_state_dir(dir);
}

static void test_ack_and_last_for_port(void **state)
{
        _cleanup_free_ char *dir = make_state_dir();
        struct isolation_event *a = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_TIMEOUT);
        struct isolation_event *b = sample_event("0000:0d:00.0", CXL_ISOLATION_CACHE_LINK_DOWN);
        struct isolation_event *c = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_LINK_DOWN);
        struct record *r = NULL;
        struct record_history h;

        assert_int_equal(record_open(dir, &r), 0);
        assert_int_equal(record_append_event(r, a), 0);
        assert_int_equal(record_append_event(r, b), 0);
        assert_int_equal(record_append_ack(r, a->id, 5, "test"), 0);
        assert_int_equal(record_append_event(r, c), 0);
        record_free(r);

        assert_int_equal(record_load(dir, &h), 0);
        assert_int_equal(h.n_events, 3);
        assert_true(h.events[0]->acknowledged);
        assert_false(h.events[1]->acknowledged);
        assert_string_equal(record_history_last_for_port(&h, "0000:0c:00.0")->id, c->id);
        assert_string_equal(record_history_last_for_port(&h, "0000:0d:00.0")->id, b->id);
        assert_int_equal(record_history_last_for_port(&h, "0000:0d:00.0")->kind, CXL_ISOLATION_CACHE_LINK_DOWN);
        assert_null(record_history_last_for_port(&h, "0000:0e:00.0"));
        /* The daemon takes an adopted event out of the history; lookups go on around the hole. */
        isolation_event_free(h.events[2]);
        h.events[2] = NULL;
        assert_string_equal(record_history_last_for_port(&h, "0000:0c:00.0")->id, a->id);
        assert_string_equal(record_history_last_for_port(&h, "0000:0d:00.0")->id, b->id);
        record_history_done(&h);

        isolation_event_free(a);
        isolation_event_free(b);
        isolation_event_free(c);
        remove_state_dir(dir);
}

static void test_damaged_last_line(void **state)
{
        _cleanup_free_ char *dir = make_state_dir(), *line = NULL, *path = NULL;
        struct isolation_event *a = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_LINK_DOWN);
        struct isolation_event *b = sample_event("0000:0d:00.0", CXL_ISOLATION_MEM_TIMEOUT);
        struct record *r = NULL;
        struct record_history h;
        int fd;

        assert_int_equal(record_open(dir, &r), 0);
        assert_int_equal(record_append_event(r, a), 0);
        record_free(r);

        /* A crash in the middle of writing b: half a line, no newline. */
        assert_int_equal(record_format_event(b, &line), 0);
        assert_true(asprintf(&path, "%s/%s", dir, RECORD_FILE_NAME) > 0);
        fd = open(path, O_WRONLY | O_APPEND);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, line, strlen(line) / 2), (ssize_t)(strlen(line) / 2));
        close(fd);

        assert_int_equal(record_load(dir, &h), 0);
        assert_int_equal(h.n_events, 1);
        assert_int_equal(h.n_damaged, 1);
        assert_string_equal(h.events[0]->id, a->id);
        record_history_done(&h);

        /* The next start appends b for real; it must not be glued to the torn half. */
        assert_int_equal(record_open(dir, &r), 0);
        assert_int_equal(record_append_event(r, b), 0);
        record_free(r);
        assert_int_equal(record_load(dir, &h), 0);
        assert_int_equal(h.n_events, 2);
        assert_int_equal(h.n_damaged, 1);
        assert_string_equal(h.events[1]->id, b->id);
        record_history_done(&h);

        isolation_event_free(a);
        isolation_event_free(b);
        remove_state_dir(dir);
}

static void test_garbage_lines(void **state)
{
        struct isolation_event *a = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_LINK_DOWN);
        _cleanup_free_ char *line = NULL, *text = NULL;
        struct record_history h;

        assert_int_equal(record_format_event(a, &line), 0);
        /* Garbage, an object without type, a result for an unknown event, two objects on one line, a future type. */
        assert_true(asprintf(&text,
                             "not json\n"
                             "{\"id\":\"x\"}\n"
                             "{\"type\":\"action\",\"event_id\":\"nope\",\"index\":0,\"result\":\"success\"}\n"
                             "%s\n"
                             "{\"type\":\"ack\",\"event_id\":\"%s\"} {\"x\":1}\n"
                             "{\"type\":\"from-the-future\"}\n",
                             line, a->id) > 0);
        assert_int_equal(record_parse_buffer(text, strlen(text), &h), 0);
        assert_int_equal(h.n_events, 1);
        /* The result for an unknown event is an orphan (its event rotated away), not damage. */
        assert_int_equal(h.n_damaged, 3);
        assert_int_equal(h.n_orphaned, 1);
        assert_false(h.events[0]->acknowledged);
        record_history_done(&h);
        isolation_event_free(a);
}

static void test_cut_short_write_is_undone(void **state)
{
        _cleanup_free_ char *dir = make_state_dir(), *path = NULL;
        struct isolation_event *a = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_LINK_DOWN);
        struct isolation_event *b = sample_event("0000:0d:00.0", CXL_ISOLATION_MEM_TIMEOUT);
        struct isolation_event *c = sample_event("0000:0e:00.0", CXL_ISOLATION_CACHE_TIMEOUT);
        struct rlimit saved, limit;
        struct record *r = NULL;
        struct record_history h;
        struct stat st;

        assert_true(asprintf(&path, "%s/%s", dir, RECORD_FILE_NAME) > 0);
        assert_int_equal(record_open(dir, &r), 0);
        assert_int_equal(record_append_event(r, a), 0);
        assert_int_equal(stat(path, &st), 0);

        /* The disk "fills" 100 bytes into b's line: the write comes back short, then fails. */
        signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
        limit = saved;
        limit.rlim_cur = (rlim_t)st.st_size + 100;
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
        assert_true(record_append_event(r, b) < 0);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
        signal(SIGXFSZ, SIG_DFL);

        /* Nothing of b is left behind, so c is a whole line of its own. */
        struct stat after;
        assert_int_equal(stat(path, &after), 0);
        assert_int_equal(after.st_size, st.st_size);
        assert_int_equal(record_append_event(r, c), 0);
        record_free(r);

        assert_int_equal(record_load(dir, &h), 0);
        assert_int_equal(h.n_damaged, 0);
        assert_int_equal(h.n_events, 2);
        assert_string_equal(h.events[0]->id, a->id);
        assert_string_equal(h.events[1]->id, c->id);
        record_history_done(&h);

        isolation_event_free(a);
        isolation_event_free(b);
        isolation_event_free(c);
        remove_state_dir(dir);
}

static void test_missing_file_is_empty(void **state)
{
        _cleanup_free_ char *dir = make_state_dir();
        struct record_history h;

        assert_int_equal(record_load(dir, &h), 0);
        assert_int_equal(h.n_events, 0);
        assert_int_equal(h.n_damaged, 0);
        remove_state_dir(dir);
}

static void test_unwritable_dir(void **state)
{
        struct record *r = NULL;

        /* A state dir that cannot exist must be an error the daemon can report, not a crash. */
        assert_true(record_open("/proc/self/cxl-isold-state", &r) < 0);
        assert_null(r);
}

static off_t file_size(const char *dir, const char *name)
{
        char path[256];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (stat(path, &st) < 0)
                return -1;
        return st.st_size;
}

/* Ids of the events read back, in order, as one string (cheap to compare). */
static size_t load_ids(const char *dir, char ids[][ISOLATION_EVENT_ID_LEN + 1], size_t max, size_t *ret_damaged)
{
        struct record_history h;
        size_t n = 0;

        assert_int_equal(record_load(dir, &h), 0);
        for (size_t i = 0; i < h.n_events && n < max; i++)
                snprintf(ids[n++], ISOLATION_EVENT_ID_LEN + 1, "%s", h.events[i]->id);
        *ret_damaged = h.n_damaged;
        record_history_done(&h);
        return n;
}

static void test_rotation(void **state)
{
        _cleanup_free_ char *dir = make_state_dir();
        char written[64][ISOLATION_EVENT_ID_LEN + 1], ids[64][ISOLATION_EVENT_ID_LEN + 1];
        struct isolation_event *first = NULL;
        struct record *r = NULL;
        size_t n, damaged, line = 0;
        off_t limit;

        assert_int_equal(record_open(dir, &r), 0);
        /* Below the limit nothing rotates. */
        for (size_t i = 0; i < 3; i++) {
                struct isolation_event *e = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_LINK_DOWN);
                assert_int_equal(record_append_event(r, e), 0);
                snprintf(written[i], sizeof(written[i]), "%s", e->id);
                if (i == 0)
                        first = e;
                else
                        isolation_event_free(e);
        }
        line = (size_t)file_size(dir, RECORD_FILE_NAME) / 3;
        assert_true(line > 500);
        assert_int_equal(file_size(dir, RECORD_PREVIOUS_FILE_NAME), -1);

        /* The limit at about four event lines: the event that crosses it is written whole, then rotation. */
        limit = (off_t)(4 * line + line / 2);
        record_set_rotate_size(r, (uint64_t)limit);
        for (size_t i = 3; i < 5; i++) {
                struct isolation_event *e = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_LINK_DOWN);
                assert_int_equal(record_append_event(r, e), 0);
                snprintf(written[i], sizeof(written[i]), "%s", e->id);
                isolation_event_free(e);
        }
        assert_int_equal(record_take_rotate_error(r), 0);
        assert_true(file_size(dir, RECORD_PREVIOUS_FILE_NAME) >= limit);
        assert_int_equal(file_size(dir, RECORD_FILE_NAME), 0);

        /* The first event's plan goes on in the new file: its results still apply to it. */
        first->plan[0].result = (struct action_result) { .outcome = ACTION_OUTCOME_SUCCESS, .exit_status = -1 };
        assert_int_equal(record_append_action(r, first, 0), 0);
        {
                struct record_history h;
                assert_int_equal(record_load(dir, &h), 0);
                assert_int_equal(h.n_damaged, 0);
                assert_int_equal(h.n_events, 5);
                for (size_t i = 0; i < 5; i++)
                        assert_string_equal(h.events[i]->id, written[i]);
                assert_int_equal(h.events[0]->plan[0].result.outcome, ACTION_OUTCOME_SUCCESS);
                assert_int_equal(isolation_event_next_step(h.events[0]), 1);
                record_history_done(&h);
        }

        /* Many more events: never more than two generations, each no bigger than the limit plus one line,
         * and what is read back is always the newest events, in order, with nothing damaged. */
        for (size_t i = 5; i < 40; i++) {
                struct isolation_event *e = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_LINK_DOWN);
                assert_int_equal(record_append_event(r, e), 0);
                snprintf(written[i], sizeof(written[i]), "%s", e->id);
                isolation_event_free(e);
                assert_true(file_size(dir, RECORD_FILE_NAME) < limit + (off_t)line + 64);
                assert_true(file_size(dir, RECORD_PREVIOUS_FILE_NAME) < limit + (off_t)line + 64);
        }
        n = load_ids(dir, ids, 64, &damaged);
        /* first's event and action lines went with older generations; the rest is whole. */
        assert_int_equal(damaged, 0);
        assert_true(n >= 5 && n <= 10);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(ids[i], written[40 - n + i]);

        /* 0 turns rotation off: the file grows. */
        record_set_rotate_size(r, 0);
        for (size_t i = 0; i < 8; i++) {
                struct isolation_event *e = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_LINK_DOWN);
                assert_int_equal(record_append_event(r, e), 0);
                isolation_event_free(e);
        }
        assert_true(file_size(dir, RECORD_FILE_NAME) > limit + (off_t)line);

        record_free(r);
        isolation_event_free(first);
        remove_state_dir(dir);
}

/* A rotation that cannot happen (here: events.jsonl.1 is a non-empty directory) loses nothing: the event is
 * recorded, the failure is reported once, the file keeps growing, and the next event tries again. */
static void test_rotation_failure_keeps_writing(void **state)
{
        _cleanup_free_ char *dir = make_state_dir();
        char blocker[256], inside[300];
        struct record *r = NULL;
        struct record_history h;
        int fd;

        snprintf(blocker, sizeof(blocker), "%s/%s", dir, RECORD_PREVIOUS_FILE_NAME);
        assert_int_equal(mkdir(blocker, 0700), 0);
        snprintf(inside, sizeof(inside), "%s/x", blocker);
        fd = open(inside, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);

        assert_int_equal(record_open(dir, &r), 0);
        record_set_rotate_size(r, 1);
        for (size_t i = 0; i < 2; i++) {
                struct isolation_event *e = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_LINK_DOWN);
                assert_int_equal(record_append_event(r, e), 0);
                assert_true(record_take_rotate_error(r) < 0);
                assert_int_equal(record_take_rotate_error(r), 0);
                isolation_event_free(e);
        }
        /* Out of the way: the next event rotates, and everything is still read back. */
        assert_int_equal(unlink(inside), 0);
        assert_int_equal(rmdir(blocker), 0);
        {
                struct isolation_event *e = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_LINK_DOWN);
                assert_int_equal(record_append_event(r, e), 0);
                assert_int_equal(record_take_rotate_error(r), 0);
                isolation_event_free(e);
        }
        assert_int_equal(file_size(dir, RECORD_FILE_NAME), 0);
        assert_int_equal(record_load(dir, &h), 0);
        assert_int_equal(h.n_events, 3);
        assert_int_equal(h.n_damaged, 0);
        record_history_done(&h);
        record_free(r);
        remove_state_dir(dir);
}

/* A torn last line of the previous generation costs itself only, not the newer file's first line. */
static void test_load_torn_previous_generation(void **state)
{
        _cleanup_free_ char *dir = make_state_dir();
        struct isolation_event *e = sample_event("0000:0c:00.0", CXL_ISOLATION_MEM_LINK_DOWN);
        char path[256];
        struct record *r = NULL;
        struct record_history h;
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, RECORD_PREVIOUS_FILE_NAME);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs("{\"type\":\"event\",\"id\":\"torn", f);
        fclose(f);
        assert_int_equal(record_open(dir, &r), 0);
        assert_int_equal(record_append_event(r, e), 0);
        record_free(r);

        assert_int_equal(record_load(dir, &h), 0);
        assert_int_equal(h.n_damaged, 1);
        assert_int_equal(h.n_events, 1);
        assert_string_equal(h.events[0]->id, e->id);
        record_history_done(&h);
        isolation_event_free(e);
        remove_state_dir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_ack_and_last_for_port),
                cmocka_unit_test(test_damaged_last_line),
                cmocka_unit_test(test_garbage_lines),
                cmocka_unit_test(test_cut_short_write_is_undone),
                cmocka_unit_test(test_missing_file_is_empty),
                cmocka_unit_test(test_unwritable_dir),
                cmocka_unit_test(test_rotation),
                cmocka_unit_test(test_rotation_failure_keeps_writing),
                cmocka_unit_test(test_load_torn_previous_generation),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
