/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The pure parts of the built-in actions: maps parsing and matching, reboot time, memory block selection. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel-log.h"
#include "memblock-select.h"
#include "proc-maps.h"
#include "reboot-time.h"

#define USEC 1000000ULL

/* --- /proc/<pid>/maps ---------------------------------------------------- */

static void test_maps_parse_file_line(void **state)
{
        struct proc_maps_entry e;
        const char *line = "7f1c2a000000-7f1c6a000000 rw-s 00200000 00:05 1234                       /dev/dax0.0\n";

        assert_int_equal(proc_maps_parse_line(line, &e), 0);
        assert_true(e.start == 0x7f1c2a000000ULL);
        assert_true(e.end == 0x7f1c6a000000ULL);
        assert_true(e.offset == 0x200000ULL);
        assert_string_equal(e.perms, "rw-s");
        assert_int_equal(e.major, 0);
        assert_int_equal(e.minor, 5);
        assert_true(e.inode == 1234);
        assert_int_equal(e.path_len, strlen("/dev/dax0.0"));
        assert_memory_equal(e.path, "/dev/dax0.0", e.path_len);
}

static void test_maps_parse_anonymous_and_odd_paths(void **state)
{
        struct proc_maps_entry e;

        assert_int_equal(proc_maps_parse_line("7ffd1000-7ffd3000 rw-p 00000000 00:00 0 \n", &e), 0);
        assert_int_equal(e.path_len, 0);
        assert_true(e.inode == 0);

        /* No trailing newline, no padding: the last line of a read may look like this. */
        assert_int_equal(proc_maps_parse_line("1000-2000 r--p 00000000 fe:01 99", &e), 0);
        assert_int_equal(e.major, 0xfe);
        assert_int_equal(e.minor, 1);
        assert_int_equal(e.path_len, 0);

        /* Paths keep their spaces. */
        assert_int_equal(proc_maps_parse_line("1000-2000 r--s 00000000 fe:01 99   /tmp/a b/dax0.0 (deleted)\n", &e), 0);
        assert_int_equal(e.path_len, strlen("/tmp/a b/dax0.0 (deleted)"));
}

static void test_maps_parse_malformed(void **state)
{
        struct proc_maps_entry e = { .inode = 4242 };
        static const char *const bad[] = {
                "",
                "garbage\n",
                "1000 r--p 00000000 fe:01 99 /x\n",              /* no end address */
                "1000-2000 r--q 00000000 fe:01 99 /x\n",         /* bad perms */
                "1000-2000 r--p 0000z000 fe:01 99 /x\n",         /* bad offset */
                "1000-2000 r--p 00000000 fe01 99 /x\n",          /* no minor */
                "1000-2000 r--p 00000000 fe:01 x9 /x\n",         /* bad inode */
                "1000-2000 r--p 00000000 fe:01 99x /x\n",
                "11112222333344445-2000 r--p 00000000 fe:01 99 /x\n",  /* address overflows 64 bits */
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(proc_maps_parse_line(bad[i], &e), -EBADMSG);
                assert_true(e.inode == 4242);   /* untouched on failure */
        }
}

static void test_maps_match(void **state)
{
        struct proc_maps_entry e;
        const struct maps_target by_id = { .path = "/dev/dax0.0", .have_id = true, .major = 0xfe, .minor = 0,
                                           .inode = 777 };
        const struct maps_target by_path = { .path = "/dev/dax0.0" };
        const struct maps_target other = { .path = "/dev/dax1.0", .have_id = true, .major = 0xfe, .minor = 0,
                                           .inode = 778 };

        /* Same node through another name (a bind mount, the testbed): dev:inode decides. */
        assert_int_equal(proc_maps_parse_line("1000-2000 rw-s 00000000 fe:00 777 /srv/vm/dax\n", &e), 0);
        assert_true(proc_maps_entry_matches(&e, &by_id));
        assert_false(proc_maps_entry_matches(&e, &by_path));
        assert_false(proc_maps_entry_matches(&e, &other));

        /* Without an id, the path; a deleted node is still mapped. */
        assert_int_equal(proc_maps_parse_line("1000-2000 rw-s 00000000 00:05 5 /dev/dax0.0 (deleted)\n", &e), 0);
        assert_true(proc_maps_entry_matches(&e, &by_path));
        assert_true(proc_maps_entry_matches(&e, &by_id));
        assert_false(proc_maps_entry_matches(&e, &other));

        /* A prefix is not the device. */
        assert_int_equal(proc_maps_parse_line("1000-2000 rw-s 00000000 00:05 5 /dev/dax0.00\n", &e), 0);
        assert_false(proc_maps_entry_matches(&e, &by_path));

        /* Anonymous memory never matches, even with a zero-inode target id. */
        const struct maps_target zero = { .have_id = true, .major = 0, .minor = 0, .inode = 0 };
        assert_int_equal(proc_maps_parse_line("1000-2000 rw-p 00000000 00:00 0\n", &e), 0);
        assert_false(proc_maps_entry_matches(&e, &zero));
}

static char proc_root[] = "/tmp/test-proc-maps-XXXXXX";

static void write_file(const char *dir, const char *pid, const char *name, const char *text)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, pid);
        (void)mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/%s/%s", dir, pid, name);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

static int proc_setup(void **state)
{
        if (!mkdtemp(proc_root))
                return -1;
        write_file(proc_root, "300", "maps",
                   "1000-2000 r-xp 00000000 fe:01 11 /usr/bin/qemu\n"
                   "7f00000000-7f40000000 rw-s 00000000 00:05 900 /dev/dax1.0\n");
        write_file(proc_root, "300", "comm", "qemu-system-x86\n");
        write_file(proc_root, "42", "maps",
                   "1000-2000 r-xp 00000000 fe:01 11 /usr/bin/other\n"
                   "3000-4000 rw-p 00000000 00:00 0 [heap]\n");
        write_file(proc_root, "42", "comm", "other\n");
        write_file(proc_root, "7", "maps", "7f00000000-7f40000000 rw-s 00000000 fe:00 555 /tmp/testbed/dev/dax0.0\n");
        write_file(proc_root, "7", "comm", "a-very-long-command-name\n");
        /* Not processes. */
        write_file(proc_root, "self", "maps", "1000-2000 rw-s 00000000 00:05 900 /dev/dax1.0\n");
        write_file(proc_root, "0012", "maps", "1000-2000 rw-s 00000000 00:05 900 /dev/dax1.0\n");
        /* Exited between readdir and open: no maps file. */
        write_file(proc_root, "55", "comm", "gone\n");
        (void)unlink("/nonexistent");
        return 0;
}

static int proc_teardown(void **state)
{
        return nftw(proc_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_maps_scan(void **state)
{
        const struct maps_target targets[] = {
                { .path = "/dev/dax0.0", .have_id = true, .major = 0xfe, .minor = 0, .inode = 555 },
                { .path = "/dev/dax1.0" },
        };
        struct proc_mapper *m = NULL;
        size_t n = 99, which = 99;
        unsigned unreadable = 99;

        assert_int_equal(proc_maps_scan(proc_root, targets, 2, &m, &n, &unreadable), 0);
        assert_int_equal(n, 2);
        assert_int_equal(unreadable, 0);
        /* Ascending pid order, whatever readdir returned. */
        assert_int_equal(m[0].pid, 7);
        assert_int_equal(m[0].target, 0);
        assert_string_equal(m[0].comm, "a-very-long-com");
        assert_int_equal(m[1].pid, 300);
        assert_int_equal(m[1].target, 1);
        assert_string_equal(m[1].comm, "qemu-system-x86");
        free(m);

        /* Only the second target: pid 7 no longer matches. */
        assert_int_equal(proc_maps_scan(proc_root, targets + 1, 1, &m, &n, NULL), 0);
        assert_int_equal(n, 1);
        assert_int_equal(m[0].pid, 300);
        free(m);

        assert_int_equal(proc_maps_pid_matches(proc_root, 300, targets, 2, &which), 1);
        assert_int_equal(which, 1);
        assert_int_equal(proc_maps_pid_matches(proc_root, 42, targets, 2, &which), 0);
        assert_int_equal(proc_maps_pid_matches(proc_root, 55, targets, 2, &which), -ENOENT);

        assert_int_equal(proc_maps_scan("/nonexistent-proc", targets, 2, &m, &n, NULL), -ENOENT);
}

/* --- reboot time ------------------------------------------------------------ */

static uint64_t at_utc(int y, int mon, int d, int h, int min, int s)
{
        struct tm tm = { .tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d, .tm_hour = h, .tm_min = min,
                         .tm_sec = s };
        return (uint64_t)timegm(&tm) * USEC;
}

static int utc_setup(void **state)
{
        setenv("TZ", "UTC", 1);
        tzset();
        return 0;
}

static void test_reboot_now_or_delay(void **state)
{
        uint64_t now = at_utc(2026, 11, 24, 12, 0, 0), when = 0;
        bool scheduled = true;

        assert_int_equal(reboot_time_compute(now, 0, -1, -1, &scheduled, &when), 0);
        assert_false(scheduled);
        assert_true(when == now);

        assert_int_equal(reboot_time_compute(now, 90 * USEC, -1, -1, &scheduled, &when), 0);
        assert_true(scheduled);
        assert_true(when == now + 90 * USEC);
}

static void test_reboot_window(void **state)
{
        uint64_t when = 0;
        bool scheduled = false;

        /* Inside 02:00-04:00: at once, but still through ScheduleShutdown (a window was asked for). */
        assert_int_equal(reboot_time_compute(at_utc(2026, 11, 24, 3, 0, 0), 0, 120, 240, &scheduled, &when), 0);
        assert_true(scheduled);
        assert_true(when == at_utc(2026, 11, 24, 3, 0, 0));

        /* Before it: today's start. */
        assert_int_equal(reboot_time_compute(at_utc(2026, 11, 24, 1, 10, 5), 0, 120, 240, &scheduled, &when), 0);
        assert_true(when == at_utc(2026, 11, 24, 2, 0, 0));

        /* After it, and exactly at its end (end is exclusive): tomorrow's start. */
        assert_int_equal(reboot_time_compute(at_utc(2026, 11, 24, 12, 0, 0), 0, 120, 240, &scheduled, &when), 0);
        assert_true(when == at_utc(2026, 11, 25, 2, 0, 0));
        assert_int_equal(reboot_time_compute(at_utc(2026, 11, 24, 4, 0, 0), 0, 120, 240, &scheduled, &when), 0);
        assert_true(when == at_utc(2026, 11, 25, 2, 0, 0));

        /* The delay can push the time out of the window. */
        assert_int_equal(reboot_time_compute(at_utc(2026, 11, 24, 3, 50, 0), 20 * 60 * USEC, 120, 240, &scheduled,
                                             &when), 0);
        assert_true(when == at_utc(2026, 11, 25, 2, 0, 0));
        /* Or into it. */
        assert_int_equal(reboot_time_compute(at_utc(2026, 11, 24, 1, 50, 0), 20 * 60 * USEC, 120, 240, &scheduled,
                                             &when), 0);
        assert_true(when == at_utc(2026, 11, 24, 2, 10, 0));

        /* Across midnight: 22:00-02:00. */
        assert_int_equal(reboot_time_compute(at_utc(2026, 11, 24, 1, 0, 0), 0, 22 * 60, 120, &scheduled, &when), 0);
        assert_true(when == at_utc(2026, 11, 24, 1, 0, 0));
        assert_int_equal(reboot_time_compute(at_utc(2026, 11, 24, 23, 0, 0), 0, 22 * 60, 120, &scheduled, &when), 0);
        assert_true(when == at_utc(2026, 11, 24, 23, 0, 0));
        assert_int_equal(reboot_time_compute(at_utc(2026, 11, 24, 3, 0, 0), 0, 22 * 60, 120, &scheduled, &when), 0);
        assert_true(when == at_utc(2026, 11, 24, 22, 0, 0));

        /* start == end: the whole day. */
        assert_int_equal(reboot_time_compute(at_utc(2026, 11, 24, 3, 0, 0), 0, 60, 60, &scheduled, &when), 0);
        assert_true(when == at_utc(2026, 11, 24, 3, 0, 0));
        assert_true(reboot_time_in_window(at_utc(2026, 11, 24, 0, 59, 0), 60, 60));
        assert_false(reboot_time_in_window(at_utc(2026, 11, 24, 0, 59, 0), 60, 120));
}

static void test_reboot_window_invalid(void **state)
{
        uint64_t when = 12345;
        bool scheduled = false;

        assert_int_equal(reboot_time_compute(0, 0, 1440, 60, &scheduled, &when), -EINVAL);
        assert_int_equal(reboot_time_compute(0, 0, 60, 1440, &scheduled, &when), -EINVAL);
        assert_int_equal(reboot_time_compute(0, 0, 60, -1, &scheduled, &when), -EINVAL);
        assert_true(when == 12345);
        assert_false(scheduled);
}

static void test_reboot_window_dst(void **state)
{
        uint64_t when = 0;
        bool scheduled = false;

        if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) < 0) {
                print_message("no tzdata for Europe/Berlin, skipping the DST case\n");
                skip();
        }
        setenv("TZ", "Europe/Berlin", 1);
        tzset();
        /*
         * 2026-03-29: clocks jump from 02:00 CET to 03:00 CEST. A window
         * 02:30-04:00 asked for at 01:00 CET (00:00 UTC) opens at the first
         * real instant after the gap, 03:30 CEST = 01:30 UTC; never before now.
         */
        assert_int_equal(reboot_time_compute(at_utc(2026, 3, 29, 0, 0, 0), 0, 150, 240, &scheduled, &when), 0);
        assert_true(scheduled);
        assert_true(when >= at_utc(2026, 3, 29, 0, 0, 0));
        assert_true(when == at_utc(2026, 3, 29, 1, 30, 0));
        /* An ordinary day in summer: 02:30 CEST = 00:30 UTC. */
        assert_int_equal(reboot_time_compute(at_utc(2026, 7, 1, 12, 0, 0), 0, 150, 240, &scheduled, &when), 0);
        assert_true(when == at_utc(2026, 7, 2, 0, 30, 0));
        utc_setup(NULL);
}

/* --- memory block selection ------------------------------------------------- */

static void test_memblock_select(void **state)
{
        struct mem_block devdax_blocks[] = { { .index = 1, .online = true } };
        struct mem_block ram_blocks[] = { { .index = 6, .online = false }, { .index = 5, .online = true } };
        struct mem_block unbound_blocks[] = { { .index = 6, .online = true }, { .index = 4, .online = false } };
        struct dax_device dax[] = {
                { .name = "dax0.0", .mode = DAX_MODE_DEVDAX, .n_blocks = 1, .blocks = devdax_blocks },
                { .name = "dax0.1", .mode = DAX_MODE_SYSTEM_RAM, .n_blocks = 2, .blocks = ram_blocks,
                  .memmap_on_memory = 1 },
                { .name = "dax0.2", .mode = DAX_MODE_UNBOUND, .n_blocks = 2, .blocks = unbound_blocks,
                  .memmap_on_memory = -1 },
        };
        struct port_topology t = { .n_dax = 3, .dax = dax };
        struct memblock_pick *p = NULL;
        size_t n = 0;

        assert_int_equal(memblock_select(&t, &p, &n), 0);
        /* devdax's block left out; block 6 once, online because one view saw it online; sorted. */
        assert_int_equal(n, 3);
        assert_int_equal(p[0].index, 4);
        assert_false(p[0].online);
        assert_string_equal(p[0].dax, "dax0.2");
        assert_false(p[0].memmap_on_memory);
        assert_int_equal(p[1].index, 5);
        assert_true(p[1].online);
        assert_string_equal(p[1].dax, "dax0.1");
        assert_true(p[1].memmap_on_memory);
        assert_int_equal(p[2].index, 6);
        assert_true(p[2].online);
        assert_string_equal(p[2].dax, "dax0.1");
        free(p);

        /* Only devdax: nothing. */
        t.n_dax = 1;
        p = (struct memblock_pick *)&t;
        assert_int_equal(memblock_select(&t, &p, &n), 0);
        assert_int_equal(n, 0);
        assert_null(p);
}

/* --- kernel log ------------------------------------------------------------- */

static bool startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static char *collect(const char *kmsg, uint64_t mono, char **ret_note, bool *ret_partial)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        assert_non_null(f);
        *ret_note = NULL;
        *ret_partial = false;
        kernel_log_collect(kmsg, mono, 1795554000000000ULL, "0123456789abcdef0123456789abcdef", f, ret_note,
                           ret_partial);
        assert_int_equal(fclose(f), 0);
        return text;
}

static void test_kernel_log_kmsg(void **state)
{
        char path[] = "/tmp/test-kmsg-XXXXXX", expect[128];
        char *text, *note;
        bool partial;
        int fd = mkstemp(path);

        /* One record per read(), as /dev/kmsg gives them: a regular file with a single record does the same. */
        assert_true(fd >= 0);
        assert_true(write(fd, "6,1,5000000,-;hello from kmsg\n", 30) == 30);
        assert_int_equal(close(fd), 0);

        text = collect(path, 5 * USEC, &note, &partial);
        snprintf(expect, sizeof(expect), "# %s: kernel messages from 0 usec after boot (event at 5000000), 1 records\n",
                 path);
        assert_true(startswith(text, expect));
        assert_non_null(strstr(text, "6,1,5000000,-;hello from kmsg\n"));
        assert_false(partial);
        snprintf(expect, sizeof(expect), "%s, 1 records, 0 older dropped by the bound, 0 lost to the ring", path);
        assert_string_equal(note, expect);
        free(text);
        free(note);

        /* Older than ten minutes before the event: left out. */
        text = collect(path, 1000 * USEC, &note, &partial);
        assert_null(strstr(text, "hello from kmsg"));
        assert_non_null(strstr(text, "), 0 records\n"));
        free(text);
        free(note);
        assert_int_equal(unlink(path), 0);
}

static void test_kernel_log_journal_fallback(void **state)
{
        char *text, *note;
        bool partial;

        text = collect("/nonexistent/kmsg", 5 * USEC, &note, &partial);
        if (startswith(text, "# /nonexistent/kmsg unavailable (No such file or directory): the journal's kernel "
                       "messages of boot 0123456789abcdef0123456789abcdef from ")) {
                assert_false(partial);
                assert_true(startswith(note, "from the journal (/nonexistent/kmsg: No such file or directory), "));
        } else {
                /* No journal to read either: then it must say so and count as missing. */
                assert_true(startswith(text, "# /nonexistent/kmsg unavailable (No such file or directory), journal "
                                       "unavailable ("));
                assert_true(partial);
        }
        free(text);
        free(note);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_maps_parse_file_line),
                cmocka_unit_test(test_maps_parse_anonymous_and_odd_paths),
                cmocka_unit_test(test_maps_parse_malformed),
                cmocka_unit_test(test_maps_match),
                cmocka_unit_test_setup_teardown(test_maps_scan, proc_setup, proc_teardown),
                cmocka_unit_test_setup(test_reboot_now_or_delay, utc_setup),
                cmocka_unit_test_setup(test_reboot_window, utc_setup),
                cmocka_unit_test_setup(test_reboot_window_invalid, utc_setup),
                cmocka_unit_test(test_reboot_window_dst),
                cmocka_unit_test(test_memblock_select),
                cmocka_unit_test(test_kernel_log_kmsg),
                cmocka_unit_test(test_kernel_log_journal_fallback),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
