/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What events.jsonl fsyncs, counted: every line fsyncs the file; the
 * directory is fsynced once per open (the open may have created the file),
 * not once per line; a directory fsync that failed is retried by the next
 * append, which fails if it fails again. Linked with -Wl,--wrap=fsync, so
 * record.c's fsync() calls come here first and go on to the real one.
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
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "record.h"

int __real_fsync(int fd);
int __wrap_fsync(int fd);

static unsigned n_file_fsyncs, n_dir_fsyncs;
static unsigned dir_fsyncs_to_fail;     /* the next N directory fsyncs fail with EIO */

int __wrap_fsync(int fd)
{
        struct stat st;

        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                n_dir_fsyncs++;
                if (dir_fsyncs_to_fail > 0) {
                        dir_fsyncs_to_fail--;
                        errno = EIO;
                        return -1;
                }
        } else
                n_file_fsyncs++;
        return __real_fsync(fd);
}

static void reset_counts(void)
{
        n_file_fsyncs = n_dir_fsyncs = dir_fsyncs_to_fail = 0;
}

static struct isolation_event *sample_event(void)
{
        struct isolation_event *e = isolation_event_new();

        assert_non_null(e);
        assert_int_equal(isolation_event_id_generate(e->id), 0);
        snprintf(e->port, sizeof(e->port), "0000:0c:00.0");
        snprintf(e->host_bridge, sizeof(e->host_bridge), "pci0000:0c");
        e->kind = CXL_ISOLATION_MEM_LINK_DOWN;
        assert_int_equal(isolation_event_plan_add(e, "default", ACTION_LOG), 0);
        return e;
}

static char *make_state_dir(void)
{
        char *dir = strdup("/tmp/test-record-fsync-XXXXXX");

        assert_non_null(dir);
        assert_non_null(mkdtemp(dir));
        return dir;
}

static void remove_state_dir(const char *dir)
{
        char path[256];

        snprintf(path, sizeof(path), "%s/%s", dir, RECORD_FILE_NAME);
        (void)unlink(path);
        (void)rmdir(dir);
}

static void test_new_file_dir_synced_once(void **state)
{
        _cleanup_free_ char *dir = make_state_dir();
        struct isolation_event *e = sample_event();
        struct record *r = NULL;

        reset_counts();
        assert_int_equal(record_open(dir, &r), 0);
        assert_int_equal(n_dir_fsyncs, 1);      /* the file was just created: its entry is made durable */
        assert_int_equal(record_append_event(r, e), 0);
        e->plan[0].result.outcome = ACTION_OUTCOME_SUCCESS;
        assert_int_equal(record_append_action(r, e, 0), 0);
        assert_int_equal(record_append_ack(r, e->id, 1, "test"), 0);
        assert_int_equal(n_file_fsyncs, 3);     /* every line */
        assert_int_equal(n_dir_fsyncs, 1);      /* and not again per line */
        record_free(r);

        isolation_event_free(e);
        remove_state_dir(dir);
}

static void test_existing_file_dir_synced_once_per_open(void **state)
{
        _cleanup_free_ char *dir = make_state_dir();
        struct isolation_event *e = sample_event();
        struct record *r = NULL;
        struct record_history h;

        assert_int_equal(record_open(dir, &r), 0);
        assert_int_equal(record_append_event(r, e), 0);
        record_free(r);

        /* A restart: the file exists, perhaps created by a run that crashed before its directory fsync. */
        reset_counts();
        assert_int_equal(record_open(dir, &r), 0);
        assert_int_equal(record_append_ack(r, e->id, 1, "test"), 0);
        assert_int_equal(record_append_ack(r, e->id, 2, "test"), 0);
        assert_int_equal(n_dir_fsyncs, 1);
        assert_int_equal(n_file_fsyncs, 2);
        record_free(r);

        assert_int_equal(record_load(dir, &h), 0);
        assert_int_equal(h.n_events, 1);
        assert_int_equal(h.n_damaged, 0);
        assert_true(h.events[0]->acknowledged);
        record_history_done(&h);

        isolation_event_free(e);
        remove_state_dir(dir);
}

static void test_failed_dir_sync_is_retried(void **state)
{
        _cleanup_free_ char *dir = make_state_dir();
        struct isolation_event *e = sample_event();
        struct record *r = NULL;

        reset_counts();
        /* The open's directory fsync and the first append's retry fail, the second append's succeeds. */
        dir_fsyncs_to_fail = 2;
        assert_int_equal(record_open(dir, &r), 0);
        assert_int_equal(n_dir_fsyncs, 1);
        /* Not durable: its directory entry may still be lost, so the caller must hear of it. */
        assert_int_equal(record_append_event(r, e), -EIO);
        assert_int_equal(n_dir_fsyncs, 2);
        assert_int_equal(record_append_ack(r, e->id, 1, "test"), 0);
        assert_int_equal(n_dir_fsyncs, 3);
        assert_int_equal(record_append_ack(r, e->id, 2, "test"), 0);
        assert_int_equal(n_dir_fsyncs, 3);      /* synced now: not again */
        assert_int_equal(n_file_fsyncs, 3);
        record_free(r);

        isolation_event_free(e);
        remove_state_dir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_new_file_dir_synced_once),
                cmocka_unit_test(test_existing_file_dir_synced_once_per_open),
                cmocka_unit_test(test_failed_dir_sync_is_retried),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
