/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration loader: syntax, every diagnostic at its exact file:line, drop-ins, matching, dump. */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
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

/* SYSCONFDIR, from the generated header that shares daemon/config.h's basename. */
#include CXL_ISOLD_BUILD_CONFIG_H

#include "cleanup.h"
#include "../../daemon/config.h"   /* not the generated build config.h of the same name */
#include "cxl-ti.h"

#define MSEC 1000ULL
#define SEC 1000000ULL

static struct config *load(const char *text, struct config_diags *d, int *ret_r)
{
        struct config *c = NULL;

        *ret_r = config_load_string("t.conf", text, strlen(text), &c, d);
        return c;
}

/* Load text that must be accepted; print the diagnostics if it is not, so a failure explains itself. */
static struct config *load_ok(const char *text)
{
        struct config_diags d = {};
        struct config *c;
        int r;

        c = load(text, &d, &r);
        if (r < 0 || d.n > 0)
                config_diags_print(stderr, &d);
        assert_int_equal(r, 0);
        assert_int_equal(d.n, 0);
        assert_non_null(c);
        config_diags_done(&d);
        return c;
}

/* Load text that must be refused with exactly one problem, at file:line, whose message contains `what`. */
static void expect_one_diag(const char *text, unsigned line, const char *what)
{
        struct config_diags d = {};
        struct config *c;
        int r;

        c = load(text, &d, &r);
        if (d.n != 1 || d.diag[0].line != line || !strstr(d.diag[0].message, what)) {
                fprintf(stderr, "wanted t.conf:%u: ...%s...; got:\n", line, what);
                config_diags_print(stderr, &d);
        }
        assert_int_equal(r, -EINVAL);
        assert_null(c);
        assert_int_equal(d.n, 1);
        assert_string_equal(d.diag[0].file, "t.conf");
        assert_int_equal(d.diag[0].line, line);
        assert_non_null(strstr(d.diag[0].message, what));
        config_diags_done(&d);
}

/* ---- temporary directories ---- */

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        return remove(path);
}

static void rm_rf(const char *dir)
{
        (void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *make_tmpdir(void)
{
        char *d = strdup("/tmp/test-config-XXXXXX");

        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;

        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fflush(f), 0);
        assert_int_equal(chmod(path, mode), 0);
}

static void make_dir(const char *dir, const char *name)
{
        _cleanup_free_ char *path = NULL;

        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        assert_int_equal(mkdir(path, 0755), 0);
}

/* ---- defaults and the shorthand ---- */

static void test_defaults_when_no_file(void **state)
{
        _cleanup_free_ char *dir = make_tmpdir(), *main_file = NULL, *dropins = NULL;
        struct config_diags d = {};
        struct config *c = NULL;
        const struct config_port *p;

        assert_true(asprintf(&main_file, "%s/missing.conf", dir) > 0);
        assert_true(asprintf(&dropins, "%s/policy.d", dir) > 0);
        struct config_paths paths = { .main_file = main_file, .dropin_dir = dropins, .vendor_dir = dir };

        assert_int_equal(config_load(&paths, &c, &d), 0);
        assert_int_equal(d.n, 0);
        assert_non_null(c);
        assert_int_equal(c->poll_interval, 100 * MSEC);
        assert_int_equal(c->poll_backstop, CONFIG_POLL_BACKSTOP_UNSET);
        assert_string_equal(c->state_dir, "/var/lib/cxl-isold");
        assert_null(c->metrics_dir);
        assert_false(c->dry_run);
        assert_true(c->reboot_on_record_failure);
        assert_int_equal(c->n_policies, 0);
        assert_int_equal(c->n_ports, 0);
        assert_int_equal(c->n_files, 0);

        /* No [port] section: every port gets the safe defaults. */
        p = config_port_for(c, "0000:0c:00.0", NULL, 0);
        assert_int_equal(p->arm, ARM_AUTO);
        assert_int_equal(p->timeout_value, -1);
        assert_int_equal(p->on_unsafe, UNSAFE_DISARM);
        assert_int_equal(p->kind, PORT_KIND_ANY);
        config_free(c);

        /* An explicitly requested file that is missing is an error, not silent defaults. */
        paths.require_main_file = true;
        c = NULL;
        assert_int_equal(config_load(&paths, &c, &d), -EINVAL);
        assert_null(c);
        assert_int_equal(d.n, 1);
        assert_string_equal(d.diag[0].file, main_file);
        assert_int_equal(d.diag[0].line, 0);
        config_diags_done(&d);
        rm_rf(dir);
}

static void test_policy_shorthand(void **state)
{
        struct config *c = load_ok("[policy]\nexec=/bin/true\ntimeout=5s\n");

        assert_int_equal(c->n_policies, 1);
        assert_string_equal(c->policies[0].name, "default");
        assert_int_equal(c->policies[0].n_actions, 2);
        assert_int_equal(c->policies[0].actions[0], ACTION_LOG);
        assert_int_equal(c->policies[0].actions[1], ACTION_EXEC);
        assert_string_equal(c->policies[0].exec, "/bin/true");
        assert_int_equal(c->policies[0].timeout, 5 * SEC);
        assert_null(c->policies[0].match_ports);
        assert_int_equal(c->policies[0].match_reasons, 0);
        assert_int_equal(c->policies[0].src.line, 1);
        config_free(c);

        /* An explicit action= wins over the shorthand. */
        c = load_ok("[policy]\nexec=/bin/true\naction=exec reboot\n");
        assert_int_equal(c->policies[0].n_actions, 2);
        assert_int_equal(c->policies[0].actions[0], ACTION_EXEC);
        assert_int_equal(c->policies[0].actions[1], ACTION_REBOOT);
        config_free(c);

        expect_one_diag("# nothing\n[policy]\ntimeout=5s\n", 2, "neither action= nor exec=");
        /* [policy] is named "default", so a second one is a duplicate. */
        expect_one_diag("[policy]\nexec=/bin/true\n[policy \"default\"]\naction=log\n", 3,
                        "duplicate [policy \"default\"], first defined at t.conf:1");
}

static void test_full_file(void **state)
{
        struct config *c = load_ok(
                "# comment\n"
                "; another\n"
                "[daemon]\n"
                "poll-interval = 250ms\n"
                "state-dir=/var/lib/isold-test\n"
                "metrics-dir=/run/metrics\n"
                "dry-run=yes\n"
                "reboot-on-record-failure=no\n"
                "\n"
                "[port \"0000:0c:00.0\"]\n"
                "arm=force\n"
                "timeout=C2\n"
                "on-unsafe=alert\n"
                "kind=memory\n"
                "\n"
                "[policy \"expander\"]   # trailing comment\n"
                "match-port=0000:0c:00.0, host-bridge:ACPI0016:00 serial:0x1a2b\n"
                "match-reason=mem-link-down mem-timeout\n"
                "action=log offline-devdax fence evidence reboot\n"
                "timeout=10s\n"
                "offline-devdax-timeout=2min\n"
                "fence-signal=SIGKILL\n"
                "reboot-delay=30s\n"
                "reboot-window=22:30-04:00\n"
                "cooldown=1h\n"
                "rate-limit=3/1h\n");

        assert_int_equal(c->poll_interval, 250 * MSEC);
        assert_string_equal(c->state_dir, "/var/lib/isold-test");
        assert_string_equal(c->metrics_dir, "/run/metrics");
        assert_true(c->dry_run);
        assert_false(c->reboot_on_record_failure);

        assert_int_equal(c->n_ports, 1);
        assert_string_equal(c->ports[0].match, "0000:0c:00.0");
        assert_int_equal(c->ports[0].src.line, 10);
        assert_int_equal(c->ports[0].arm, ARM_FORCE);
        assert_int_equal(c->ports[0].timeout_value, 0xa);
        assert_int_equal(c->ports[0].on_unsafe, UNSAFE_ALERT);
        assert_int_equal(c->ports[0].kind, PORT_KIND_MEMORY);

        const struct config_policy *p = &c->policies[0];
        assert_int_equal(c->n_policies, 1);
        assert_string_equal(p->name, "expander");
        assert_int_equal(p->src.line, 16);
        assert_string_equal(p->match_ports[0], "0000:0c:00.0");
        assert_string_equal(p->match_ports[1], "host-bridge:ACPI0016:00");
        assert_string_equal(p->match_ports[2], "serial:0x1a2b");
        assert_null(p->match_ports[3]);
        assert_int_equal(p->match_reasons, (1u << CXL_ISOLATION_MEM_LINK_DOWN) | (1u << CXL_ISOLATION_MEM_TIMEOUT));
        assert_int_equal(p->n_actions, 5);
        assert_int_equal(p->actions[1], ACTION_OFFLINE_DEVDAX);
        assert_int_equal(p->actions[4], ACTION_REBOOT);
        assert_int_equal(p->timeout, 10 * SEC);
        assert_int_equal(p->action_timeout[ACTION_OFFLINE_DEVDAX], 120 * SEC);
        assert_int_equal(p->action_timeout[ACTION_LOG], 0);
        assert_int_equal(p->fence_signal, SIGKILL);
        assert_int_equal(p->reboot_delay, 30 * SEC);
        assert_int_equal(p->reboot_window_start_min, 22 * 60 + 30);
        assert_int_equal(p->reboot_window_end_min, 4 * 60);
        assert_int_equal(p->cooldown, 3600 * SEC);
        assert_int_equal(p->rate_limit_burst, 3);
        assert_int_equal(p->rate_limit_interval, 3600 * SEC);
        config_free(c);
}

static void test_syntax_details(void **state)
{
        /* CRLF endings, indentation and inline comments are all harmless. */
        struct config *c = load_ok("[daemon]\r\n   poll-interval=2s ; why not\r\n\tdry-run=on\r\n");

        assert_int_equal(c->poll_interval, 2 * SEC);
        assert_true(c->dry_run);
        config_free(c);

        /* An indented line is a setting of its own, never glued onto the previous value. */
        expect_one_diag("[daemon]\npoll-interval=1s\n    dryrun=yes\n", 3, "did you mean 'dry-run'");

        /* Empty values restore defaults, systemd style. */
        c = load_ok("[daemon]\nmetrics-dir=/run/m\npoll-interval=5s\n[daemon]\nmetrics-dir=\npoll-interval=\n");
        assert_null(c->metrics_dir);
        assert_int_equal(c->poll_interval, 100 * MSEC);
        config_free(c);

        expect_one_diag("poll-interval=1s\n", 1, "outside of any section");
        expect_one_diag("[daemon]\njust some words\n", 2, "expected KEY=VALUE");
        expect_one_diag("[daemon]\n=5\n", 2, "missing key name");
        /* Several syntax errors each get their line, including inline-comment cases inih alone would lump together. */
        {
                static const char text[] = "[daemon]\ndry-run ; =yes\nwords\npoll-interval=1s ; x = y\nmore words\n";
                struct config_diags d = {};
                struct config *n = NULL;

                assert_int_equal(config_load_string("t.conf", text, strlen(text), &n, &d), -EINVAL);
                assert_null(n);
                assert_int_equal(d.n, 3);
                assert_int_equal(d.diag[0].line, 2);
                assert_int_equal(d.diag[1].line, 3);
                assert_int_equal(d.diag[2].line, 5);
                config_diags_done(&d);
        }
        expect_one_diag("\n\n[daemon\n", 3, "malformed section header");
        expect_one_diag("[port 0000:0c:00.0]\n", 1, "malformed section header");
        expect_one_diag("[daemon \"x\"]\n", 1, "[daemon] takes no name");
        expect_one_diag("[port]\narm=never\n", 1, "[port] needs a match");
        expect_one_diag("[daemon]\npoll-interval=1s\n\npoll-interval=2s\n", 4, "already set in this section at line 2");
        {
                static const char nul[] = "[daemon]\ndry-run=x\0y\n";
                struct config_diags d = {};
                struct config *n = NULL;

                assert_int_equal(config_load_string("t.conf", nul, sizeof(nul) - 1, &n, &d), -EINVAL);
                assert_null(n);
                assert_int_equal(d.n, 1);
                assert_int_equal(d.diag[0].line, 2);
                assert_non_null(strstr(d.diag[0].message, "NUL byte"));
                config_diags_done(&d);
        }
        expect_one_diag("[policy \"bad name!\"]\naction=log\n", 1, "policy name");
        /* ':' separates like '='; ';' starts a comment only after whitespace. */
        expect_one_diag("[daemon]\npoll:interval=1s\n", 2, "unknown key 'poll'");
        expect_one_diag("[daemon]\ndry;run=yes\n", 2, "unknown key 'dry;run'");
        expect_one_diag("[daemon]\ndry-run ;=yes\n", 2, "expected KEY=VALUE");
        /* Control characters are never echoed back into a terminal or the journal. */
        expect_one_diag("[daemon]\ndry-run=a\x1b[2Jb\x7f\n", 2, "dry-run=a?[2Jb? is not a boolean");
}

/* Text and file go through different line readers: both must see the same lines and report the same problems. */
static void test_readers_agree(void **state)
{
        static const struct {
                const char *text;
                size_t len;
        } cases[] = {
#define T(s) { s, sizeof(s) - 1 }
                T(""),
                T("\n"),
                T("[daemon]\ndry-run=maybe"),                  /* no newline at the end */
                T("[daemon]\r\ndry-run=maybe\r\n\r\n"),
                T("[daemon]\ndry-run=x\0y\npoll-interval=0\n"),
                T("\0"),
                T("[daemon]\n\n\ndry-run=maybe\n\n"),
                T("x\ny\n[daemon]\n  =1\nkey ; x = y\n"),
#undef T
        };
        _cleanup_free_ char *dir = make_tmpdir(), *main_file = NULL, *dropins = NULL, *long_line = NULL;
        struct config_paths paths = { .vendor_dir = dir, .require_main_file = true };
        size_t long_len = 0;

        assert_true(asprintf(&main_file, "%s/main.conf", dir) > 0);
        assert_true(asprintf(&dropins, "%s/policy.d", dir) > 0);       /* missing: no drop-ins */
        paths.main_file = main_file;
        paths.dropin_dir = dropins;
        /* Over-long lines, one with a NUL past the limit (too long wins), one at the end without a newline. */
        long_line = malloc(3 * CONFIG_LINE_MAX + 64);
        assert_non_null(long_line);
        long_len += (size_t)sprintf(long_line, "[daemon]\n");
        memset(long_line + long_len, 'a', CONFIG_LINE_MAX + 10);
        long_line[long_len + CONFIG_LINE_MAX + 5] = '\0';
        long_len += CONFIG_LINE_MAX + 10;
        long_line[long_len++] = '\n';
        long_len += (size_t)sprintf(long_line + long_len, "dry-run=maybe\n");
        memset(long_line + long_len, 'b', CONFIG_LINE_MAX + 1);
        long_len += CONFIG_LINE_MAX + 1;

        for (size_t i = 0; i <= ELEMENTSOF(cases); i++) {
                const char *text = i < ELEMENTSOF(cases) ? cases[i].text : long_line;
                size_t len = i < ELEMENTSOF(cases) ? cases[i].len : long_len;
                struct config_diags ds = {}, df = {};
                struct config *cs = NULL, *cf = NULL;
                _cleanup_fclose_ FILE *f = fopen(main_file, "we");
                int rs, rf;

                assert_non_null(f);
                assert_int_equal(fwrite(text, 1, len, f), len);
                assert_int_equal(fflush(f), 0);
                rs = config_load_string(main_file, text, len, &cs, &ds);
                rf = config_load(&paths, &cf, &df);
                if (ds.n != df.n) {
                        fprintf(stderr, "case %zu: text:\n", i);
                        config_diags_print(stderr, &ds);
                        fprintf(stderr, "file:\n");
                        config_diags_print(stderr, &df);
                }
                assert_int_equal(rs, rf);
                assert_int_equal(ds.n, df.n);
                for (size_t j = 0; j < ds.n; j++) {
                        assert_string_equal(ds.diag[j].file, df.diag[j].file);
                        assert_int_equal(ds.diag[j].line, df.diag[j].line);
                        assert_string_equal(ds.diag[j].message, df.diag[j].message);
                }
                /* The long-line case: line 2 too long (not "NUL byte"), line 3 read on, line 4 too long. */
                if (i == ELEMENTSOF(cases)) {
                        assert_int_equal(ds.n, 3);
                        assert_int_equal(ds.diag[0].line, 2);
                        assert_non_null(strstr(ds.diag[0].message, "line longer than"));
                        assert_int_equal(ds.diag[1].line, 3);
                        assert_int_equal(ds.diag[2].line, 4);
                        assert_non_null(strstr(ds.diag[2].message, "line longer than"));
                }
                config_free(cs);
                config_free(cf);
                config_diags_done(&ds);
                config_diags_done(&df);
        }
        rm_rf(dir);
}

/* ---- each diagnostic at its exact line ---- */

static void test_unknown_section_and_key(void **state)
{
        expect_one_diag("[daemon]\n[polcy \"x\"]\naction=log\n", 2, "did you mean [policy]");
        expect_one_diag("[frobnicate]\nx=1\n", 1, "known sections: [daemon], [port \"MATCH\"], [policy \"NAME\"]");
        expect_one_diag("[daemon]\n\npol-interval=1s\n", 3, "unknown key 'pol-interval' in [daemon]; did you mean "
                        "'poll-interval'?");
        expect_one_diag("[port \"0000:0c:00.0\"]\nkind=memory\ntimeuot=A1\n", 3, "did you mean 'timeout'");
        expect_one_diag("[policy \"p\"]\naction=log\nreboot-windw=01:00-02:00\n", 3, "did you mean 'reboot-window'");
        expect_one_diag("[policy \"p\"]\naction=log\nzzzzzzzzzz=1\n", 3, "known: match-port match-reason action");
}

/* "Did you mean" at its edges: the limit (a third of the word, at least 2), ties, long words. */
static void test_did_you_mean_edges(void **state)
{
        /* Distance 2 with a length difference of 2, at a 6-letter word's limit of 2: still suggested. */
        expect_one_diag("[port \"0000:0c:00.0\"]\nkindxx=memory\n", 2, "unknown key 'kindxx' in [port]; did you "
                        "mean 'kind'?");
        /* Distance 3, past a 7-letter word's limit of 2: the list instead. */
        expect_one_diag("[port \"0000:0c:00.0\"]\nkindxxx=memory\n", 2, "unknown key 'kindxxx' in [port]; known: "
                        "arm timeout on-unsafe kind");
        /* Three letters short of an 14-letter key, at an 11-letter word's limit of 3. */
        expect_one_diag("[policy \"p\"]\naction=log\nreboot-time=1s\n", 3, "did you mean 'reboot-timeout'?");
        /* Two keys at the same distance: the first in the table's order wins, also when the tie is at the limit. */
        expect_one_diag("[policy \"p\"]\naction=log\nidence-timeout=1s\n", 3, "did you mean 'fence-timeout'?");
        expect_one_diag("[policy \"p\"]\naction=log\nemory-timeout=1s\n", 3, "did you mean 'log-timeout'?");
        /* Case does not count; five letters in front is at a 17-letter word's limit of 5, eight is past 6. */
        expect_one_diag("[policy \"p\"]\naction=log\nXXXXXMatch-Reason=mem-timeout\n", 3,
                        "did you mean 'match-reason'?");
        expect_one_diag("[policy \"p\"]\naction=log\nXXXXXXXXmatch-reason=mem-timeout\n", 3,
                        "known: match-port match-reason");
        /* Beyond 64 letters nothing is suggested, however close. */
        expect_one_diag("[daemon]\nreboot-on-record-failure-reboot-on-record-failure-reboot-on-record-failur=no\n", 2,
                        "known: poll-interval poll-backstop state-dir");
}

static void test_bad_values(void **state)
{
        expect_one_diag("[port \"0000:0c:00.0\"]\narm=sometimes\n", 2, "use auto, never or force");
        expect_one_diag("[port \"0000:0c:00.0\"]\non-unsafe=panic\n", 2, "use disarm or alert");
        expect_one_diag("[port \"0000:0c:00.0\"]\nkind=gpu\n", 2, "use memory, accelerator or any");
        expect_one_diag("[daemon]\ndry-run=maybe\n", 2, "use yes or no");
        expect_one_diag("[daemon]\nstate-dir=var/lib\n", 2, "not an absolute path");
        expect_one_diag("[daemon]\npoll-interval=0\n", 2, "not a duration from 1ms to 1h");
        expect_one_diag("[daemon]\npoll-interval=2h\n", 2, "not a duration from 1ms to 1h");
        expect_one_diag("[daemon]\npoll-interval=fast\n", 2, "write e.g. 100ms, 5s, 2min or 1h");
        expect_one_diag("[daemon]\n\npoll-backstop=500us\n", 3, "neither 0 (no periodic poll");
        expect_one_diag("[daemon]\npoll-backstop=2d\n", 2, "nor a duration from 1ms to 1d");
        expect_one_diag("[daemon]\npoll-backstop=off\n", 2, "write e.g. 0, 1s or 5min");
        expect_one_diag("[policy \"p\"]\naction=log\nmatch-reason=mem-link-down power-cut\n", 3,
                        "'power-cut' is not an isolation reason");
        expect_one_diag("[policy \"p\"]\naction=log\nmatch-port=0c:00.0\n", 3, "not a full PCI address");
        expect_one_diag("[policy \"p\"]\naction=log\nmatch-port=serial:xyz\n", 3, "serial: needs 1 to 16 hex digits");
        expect_one_diag("[port \"host-bridge:\"]\n", 1, "host-bridge: needs a name");
        expect_one_diag("[port \"serial:0\"]\n", 1, "serial:0 would match every port");
}

static void test_timeout_encodings(void **state)
{
        static const struct {
                const char *text;
                int value;
        } ok[] = {
                { "keep", -1 }, { "default", 0x0 }, { "A1", 0x1 }, { "a2", 0x2 }, { "B1", 0x5 }, { "B2", 0x6 },
                { "C1", 0x9 }, { "C2", 0xa }, { "D1", 0xd }, { "D2", 0xe }, { "0x0", 0 }, { "0xe", 0xe },
                { "0xA", 0xa },
        };
        static const char *const bad[] = { "0x3", "0x4", "0x7", "0x8", "0xb", "0xc", "0xf", "A", "E1", "1s", "14",
                                           "0x10", "" };

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                int v = 99;

                assert_int_equal(config_parse_timeout_value(ok[i].text, &v), 0);
                assert_int_equal(v, ok[i].value);
                /* Every accepted encoding is one the spec defines. */
                if (v >= 0)
                        assert_int_equal(cxl_ti_timeout_value_decode((uint8_t)v, NULL), 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int v = 99;

                assert_int_equal(config_parse_timeout_value(bad[i], &v), -EINVAL);
                assert_int_equal(v, 99);
        }
        expect_one_diag("[port \"0000:0c:00.0\"]\narm=auto\ntimeout=0x3\n", 3,
                        "not a legal CXL.mem Transaction Timeout Value");
}

static void test_record_max_size(void **state)
{
        static const struct {
                const char *text;
                uint64_t bytes;
        } ok[] = {
                { "", 4 << 20 }, { "4M", 4 << 20 }, { "4m", 4 << 20 }, { "64K", 64 << 10 }, { "65536", 65536 },
                { "1G", 1 << 30 }, { "0", 0 },
        };
        static const char *const bad[] = { "63K", "65535", "2G", "1025M", "4MB", "4 M", "-1", "M", "1.5M", "4X",
                                           "99999999999999999999", "18446744073709551615G" };
        struct config *c;
        char text[128];

        c = load_ok("[daemon]\npoll-interval=1s\n");
        assert_true(c->record_max_size == 4 << 20);     /* the default when the key is absent */
        config_free(c);
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                snprintf(text, sizeof(text), "[daemon]\nrecord-max-size=%s\n", ok[i].text);
                c = load_ok(text);
                if (c->record_max_size != ok[i].bytes)
                        fail_msg("record-max-size=%s read as %llu", ok[i].text, (unsigned long long)c->record_max_size);
                config_free(c);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                snprintf(text, sizeof(text), "[daemon]\nrecord-max-size=%s\n", bad[i]);
                expect_one_diag(text, 2, "is neither 0 (never rotate events.jsonl) nor a size from 64K to 1G");
        }
}

static void test_durations(void **state)
{
        static const struct {
                const char *text;
                usec_t usec;
        } ok[] = {
                { "100ms", 100 * MSEC }, { "5s", 5 * SEC }, { "5", 5 * SEC }, { "2min", 120 * SEC },
                { "1h", 3600 * SEC }, { "1h 30min", 5400 * SEC }, { "1min30s", 90 * SEC }, { "250us", 250 },
                { " 3 sec ", 3 * SEC }, { "0", 0 }, { "1d", 86400 * SEC }, { "2 weeks", 14 * 86400 * SEC },
        };
        static const char *const bad[] = { "", " ", "ms", "5 parsecs", "-1s", "1.5s", "99999999999999999999s",
                                           "18446744073709551615h", "5s!" };
        char buf[CONFIG_DURATION_STRING_MAX];

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                usec_t u = 1;

                assert_int_equal(config_parse_duration(ok[i].text, &u), 0);
                assert_int_equal(u, ok[i].usec);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                usec_t u = 7;

                assert_true(config_parse_duration(bad[i], &u) < 0);
                assert_int_equal(u, 7);
        }
        assert_string_equal(config_format_duration(0, buf), "0");
        assert_string_equal(config_format_duration(100 * MSEC, buf), "100ms");
        assert_string_equal(config_format_duration(90 * SEC, buf), "90s");
        assert_string_equal(config_format_duration(120 * SEC, buf), "2min");
        assert_string_equal(config_format_duration(3600 * SEC, buf), "1h");
        assert_string_equal(config_format_duration(1001, buf), "1001us");
        /* The largest value survives a round trip through text. */
        usec_t max = 0;
        assert_int_equal(config_parse_duration("18446744073709551610us 5us", &max), 0);
        assert_int_equal(max, UINT64_MAX);
        assert_string_equal(config_format_duration(max, buf), "18446744073709551615us");
        assert_int_equal(config_parse_duration(buf, &max), 0);
        assert_int_equal(config_parse_duration("18446744073709551616us", &max), -ERANGE);
        /* Bounds of poll-interval are inclusive. */
        config_free(load_ok("[daemon]\npoll-interval=1ms\n"));
        config_free(load_ok("[daemon]\npoll-interval=1h\n"));

        /* poll-backstop: 0 is off, not too short; bounds inclusive; empty restores "same as poll-interval". */
        struct config *c = load_ok("[daemon]\npoll-backstop=0\n");
        assert_int_equal(c->poll_backstop, 0);
        config_free(c);
        c = load_ok("[daemon]\npoll-backstop=1ms\n");
        assert_int_equal(c->poll_backstop, MSEC);
        config_free(c);
        c = load_ok("[daemon]\npoll-backstop=1d\n");
        assert_int_equal(c->poll_backstop, 86400 * SEC);
        config_free(c);
        c = load_ok("[daemon]\npoll-backstop=5s\n[daemon]\npoll-backstop=\n");
        assert_int_equal(c->poll_backstop, CONFIG_POLL_BACKSTOP_UNSET);
        config_free(c);
}

static void test_actions(void **state)
{
        for (int a = 0; a < _ACTION_TYPE_MAX; a++)
                assert_int_equal(action_type_from_string(action_type_to_string((enum action_type)a)), a);
        assert_int_equal(action_type_from_string("panic"), _ACTION_TYPE_INVALID);
        assert_null(action_type_to_string(_ACTION_TYPE_MAX));
        assert_string_equal(action_type_to_string(ACTION_OFFLINE_DEVDAX), "offline-devdax");
        assert_string_equal(arm_mode_to_string(ARM_NEVER), "never");
        assert_int_equal(port_kind_from_string("accelerator"), PORT_KIND_ACCELERATOR);

        expect_one_diag("[policy \"p\"]\n\naction=log evidnce\n", 3, "unknown action 'evidnce' in action=; did you "
                        "mean 'evidence'?");
        expect_one_diag("[policy \"p\"]\naction=log log\n", 2, "'log' is listed twice");
        expect_one_diag("[policy \"p\"]\naction=log reboot evidence\n", 2, "comes after reboot");
        expect_one_diag("[policy \"p\"]\naction=\n", 2, "action= is empty");
        expect_one_diag("[policy \"p\"]\ntimeout=5s\n", 1, "[policy \"p\"] has no action=");
        expect_one_diag("[policy \"p\"]\naction=log log log log log log log log log log log log log log log log "
                        "log\n", 2, "lists 17 actions, at most 16");
        expect_one_diag("[policy \"p\"]\naction=log exec\n", 2, "action=exec needs exec=");
        expect_one_diag("[policy \"p\"]\naction=log\nexec=/bin/true\n", 3, "exec= has no effect");
        expect_one_diag("[policy \"p\"]\naction=log\nreboot-delay=5s\n", 3, "reboot-delay= has no effect");
        expect_one_diag("[policy \"p\"]\naction=log\nreset-timeout=5s\n", 3, "reset-timeout= has no effect");
        expect_one_diag("[policy \"p\"]\naction=fence\nfence-signal=SIGFOO\n", 3, "not a known signal");
        expect_one_diag("[policy \"p\"]\naction=log\ntimeout=0\n", 3, "not a duration from 1ms");

        /* Signal names with and without SIG, any case. */
        struct config *c = load_ok("[policy \"p\"]\naction=fence\nfence-signal=term\n");
        assert_int_equal(c->policies[0].fence_signal, SIGTERM);
        config_free(c);
        c = load_ok("[policy \"p\"]\naction=fence\n");
        assert_int_equal(c->policies[0].fence_signal, SIGBUS);
        config_free(c);
}

static void test_reboot_window_and_rate_limit(void **state)
{
        static const char *const bad_windows[] = { "02:00", "25:00-03:00", "02:60-03:00", "2:00-3:00",
                                                   "02:00-02:00", "02:00-03:00x", "-" };
        static const char *const bad_rates[] = { "3", "x/1h", "0/1h", "3/", "3/0", "/1h", "3/forever",
                                                 "9999999/1h" };
        char text[256];

        for (size_t i = 0; i < ELEMENTSOF(bad_windows); i++) {
                snprintf(text, sizeof(text), "[policy \"p\"]\naction=reboot\nreboot-window=%s\n", bad_windows[i]);
                expect_one_diag(text, 3, "is not HH:MM-HH:MM");
        }
        for (size_t i = 0; i < ELEMENTSOF(bad_rates); i++) {
                snprintf(text, sizeof(text), "[policy \"p\"]\naction=log\n\nrate-limit=%s\n", bad_rates[i]);
                expect_one_diag(text, 4, "is not N/INTERVAL");
        }
        struct config *c = load_ok("[policy \"p\"]\naction=reboot\nreboot-window=00:00-23:59\nrate-limit=1/10min\n");
        assert_int_equal(c->policies[0].reboot_window_start_min, 0);
        assert_int_equal(c->policies[0].reboot_window_end_min, 23 * 60 + 59);
        assert_int_equal(c->policies[0].rate_limit_burst, 1);
        assert_int_equal(c->policies[0].rate_limit_interval, 600 * SEC);
        config_free(c);
}

static void test_duplicates(void **state)
{
        expect_one_diag("[port \"0000:0c:00.0\"]\narm=never\n\n[port \"0000:0c:00.0\"]\narm=force\n", 4,
                        "duplicate [port \"0000:0c:00.0\"], first defined at t.conf:1");
        expect_one_diag("[policy \"a\"]\naction=log\n[policy \"b\"]\naction=log\n[policy \"a\"]\naction=evidence\n",
                        5, "duplicate [policy \"a\"], first defined at t.conf:1");
        /* [daemon] may repeat (drop-ins override the main file); a later value wins. */
        struct config *c = load_ok("[daemon]\npoll-interval=1s\n[daemon]\npoll-interval=2s\n");
        assert_int_equal(c->poll_interval, 2 * SEC);
        config_free(c);
}

static void test_exec_checks(void **state)
{
        _cleanup_free_ char *dir = make_tmpdir(), *text = NULL;

        write_file(dir, "alert.sh", "#!/bin/sh\nexit 0\n", 0755);
        write_file(dir, "noexec.sh", "#!/bin/sh\nexit 0\n", 0644);
        make_dir(dir, "adir");

        assert_true(asprintf(&text, "[policy \"p\"]\naction=exec\nexec=%s/alert.sh\n", dir) > 0);
        struct config *c = load_ok(text);
        assert_non_null(strstr(c->policies[0].exec, "/alert.sh"));
        config_free(c);
        free(text);

        assert_true(asprintf(&text, "[policy \"p\"]\naction=exec\nexec=%s/missing.sh\n", dir) > 0);
        expect_one_diag(text, 3, "No such file or directory; install the script or fix the path");
        free(text);
        /* Even root needs an x bit: access(X_OK) refuses 0644 for everyone. */
        assert_true(asprintf(&text, "[policy \"p\"]\naction=exec\n\nexec=%s/noexec.sh\n", dir) > 0);
        expect_one_diag(text, 4, "is not executable");
        free(text);
        write_file(dir, "groupw.sh", "#!/bin/sh\n", 0775);
        assert_true(asprintf(&text, "[policy \"p\"]\naction=exec\nexec=%s/groupw.sh\n", dir) > 0);
        expect_one_diag(text, 3, "is writable by its group; a script the daemon runs as root");
        free(text);
        write_file(dir, "worldw.sh", "#!/bin/sh\n", 0757);
        assert_true(asprintf(&text, "[policy \"p\"]\naction=exec\nexec=%s/worldw.sh\n", dir) > 0);
        expect_one_diag(text, 3, "is writable by everyone");
        free(text);
        if (geteuid() == 0) {
                /* Only root can hand a file to someone else; as non-root the owner is always us, which is fine. */
                _cleanup_free_ char *other = NULL;

                write_file(dir, "other.sh", "#!/bin/sh\n", 0755);
                assert_true(asprintf(&other, "%s/other.sh", dir) > 0);
                assert_int_equal(chown(other, 65534, 65534), 0);
                assert_true(asprintf(&text, "[policy \"p\"]\naction=exec\nexec=%s\n", other) > 0);
                expect_one_diag(text, 3, "is owned by uid 65534; a script the daemon runs as root must be owned by root");
                free(text);
        }
        assert_true(asprintf(&text, "[policy \"p\"]\naction=exec\nexec=%s/adir\n", dir) > 0);
        expect_one_diag(text, 3, "not a regular file");
        free(text);
        text = NULL;
        expect_one_diag("[policy \"p\"]\naction=exec\nexec=alert.sh\n", 3, "not an absolute path");
        rm_rf(dir);
}

static void test_kind_conflicts_at_load(void **state)
{
        expect_one_diag("[port \"0000:0c:00.0\"]\nkind=memory\n\n[policy \"p\"]\naction=log reset\n", 4,
                        "lists reset but applies to [port \"0000:0c:00.0\"] (kind=memory, t.conf:1)");
        /* A policy for all ports also applies to the memory port. */
        expect_one_diag("[policy \"p\"]\naction=reset\n[port \"0000:0c:00.0\"]\nkind=memory\n", 1,
                        "lists reset but applies to");
        /* A glob that covers the port counts. */
        expect_one_diag("[port \"0000:0d:00.0\"]\nkind=accelerator\n[policy \"p\"]\nmatch-port=0000:0d:*\n"
                        "action=offline-devdax\n", 3, "lists offline-devdax but applies to [port \"0000:0d:00.0\"]");
        /* Narrowed match-ports keep the two apart: no problem. */
        struct config *c = load_ok("[port \"0000:0c:00.0\"]\nkind=memory\n[port \"0000:0d:00.0\"]\n"
                                   "kind=accelerator\n[policy \"mem\"]\nmatch-port=0000:0c:00.0\n"
                                   "action=offline-devdax reboot\n[policy \"acc\"]\nmatch-port=0000:0d:00.0\n"
                                   "action=evidence reset\n");
        config_free(c);
}

static void test_check_port_kinds(void **state)
{
        struct config *c = load_ok("[port \"0000:0e:00.0\"]\nkind=accelerator\n"
                                   "[policy \"acc\"]\nmatch-port=host-bridge:ACPI0016:01\naction=evidence reset\n"
                                   "[policy \"mem\"]\nmatch-port=serial:abc\naction=offline-devdax\n");
        struct config_diags d = {};
        struct config_port_info fine[] = {
                { .bdf = "0000:0c:00.0", .host_bridge = "ACPI0016:01", .kind = PORT_KIND_ACCELERATOR },
                { .bdf = "0000:0d:00.0", .serial = 0xabc, .kind = PORT_KIND_MEMORY },
        };
        struct config_port_info bad[] = {
                /* discovery says memory, but the accelerator policy's host bridge matches */
                { .bdf = "0000:0c:00.0", .host_bridge = "ACPI0016:01", .kind = PORT_KIND_MEMORY },
                /* unknown to discovery, but [port] says accelerator, and the devdax policy's serial matches */
                { .bdf = "0000:0e:00.0", .serial = 0xabc, .kind = PORT_KIND_ANY },
        };

        assert_int_equal(config_check_port_kinds(c, fine, ELEMENTSOF(fine), &d), 0);
        assert_int_equal(d.n, 0);
        assert_int_equal(config_check_port_kinds(c, bad, ELEMENTSOF(bad), &d), -EINVAL);
        assert_int_equal(d.n, 2);
        assert_int_equal(d.diag[0].line, 3);
        assert_non_null(strstr(d.diag[0].message, "policy \"acc\" lists reset but applies to memory port 0000:0c:00.0"));
        assert_int_equal(d.diag[1].line, 6);
        assert_non_null(strstr(d.diag[1].message, "offline-devdax but applies to accelerator port 0000:0e:00.0"));
        config_diags_done(&d);
        config_free(c);
}

static void test_reboot_window_wait(void **state)
{
        struct config *c = load_ok("[policy \"night\"]\naction=reboot\nreboot-window=22:30-04:00\n"
                                   "[policy \"day\"]\naction=reboot\nreboot-window=02:00-04:00\n"
                                   "[policy \"any\"]\naction=log evidence\n");
        const struct config_policy *night = &c->policies[0], *day = &c->policies[1], *any = &c->policies[2];

        /* Across midnight: inside from 22:30 up to (not including) 04:00. */
        assert_int_equal(config_policy_reboot_wait_min(night, 22 * 60 + 30), 0);
        assert_int_equal(config_policy_reboot_wait_min(night, 0), 0);
        assert_int_equal(config_policy_reboot_wait_min(night, 3 * 60 + 59), 0);
        assert_int_equal(config_policy_reboot_wait_min(night, 4 * 60), 18 * 60 + 30);
        assert_int_equal(config_policy_reboot_wait_min(night, 22 * 60 + 29), 1);
        /* Same day. */
        assert_int_equal(config_policy_reboot_wait_min(day, 1 * 60), 60);
        assert_int_equal(config_policy_reboot_wait_min(day, 3 * 60), 0);
        assert_int_equal(config_policy_reboot_wait_min(day, 4 * 60), 22 * 60);
        /* No window: reboot whenever. */
        assert_int_equal(config_policy_reboot_wait_min(any, 12 * 60), 0);
        assert_int_equal(config_policy_reboot_wait_min(any, 24 * 60), -EINVAL);
        assert_int_equal(config_policy_reboot_wait_min(day, -1), -EINVAL);

        assert_true(config_policy_has_action(night, ACTION_REBOOT));
        assert_false(config_policy_has_action(any, ACTION_REBOOT));
        assert_true(config_policy_has_action(any, ACTION_EVIDENCE));
        config_free(c);
}

/* ---- matching ---- */

static void test_port_matching(void **state)
{
        struct config *c = load_ok("[port \"0000:0c:*\"]\narm=never\n"
                                   "[port \"0000:0C:00.1\"]\narm=force\n"
                                   "[port \"host-bridge:ACPI0016:0[12]\"]\ntimeout=D2\n"
                                   "[port \"serial:0xDEADbeef\"]\nkind=accelerator\n"
                                   "[port \"0000:1[0-3]:00.[!0]\"]\non-unsafe=alert\n");

        assert_int_equal(config_port_for(c, "0000:0c:00.0", NULL, 0)->arm, ARM_NEVER);
        /* The last matching section wins, and BDF case does not matter. */
        assert_int_equal(config_port_for(c, "0000:0c:00.1", NULL, 0)->arm, ARM_FORCE);
        assert_int_equal(config_port_for(c, "0000:0d:00.0", NULL, 0)->arm, ARM_AUTO);
        assert_int_equal(config_port_for(c, "0000:0d:00.0", "ACPI0016:02", 0)->timeout_value, 0xe);
        assert_int_equal(config_port_for(c, "0000:0d:00.0", "ACPI0016:03", 0)->timeout_value, -1);
        assert_int_equal(config_port_for(c, "0000:0d:00.0", "ACPI0016:02", 0xdeadbeef)->kind, PORT_KIND_ACCELERATOR);
        assert_int_equal(config_port_for(c, "0000:0d:00.0", NULL, 0xdeadbeee)->kind, PORT_KIND_ANY);
        assert_int_equal(config_port_for(c, "0000:12:00.1", NULL, 0)->on_unsafe, UNSAFE_ALERT);
        assert_int_equal(config_port_for(c, "0000:12:00.0", NULL, 0)->on_unsafe, UNSAFE_DISARM);
        assert_int_equal(config_port_for(c, "0000:14:00.1", NULL, 0)->on_unsafe, UNSAFE_DISARM);
        /* A port without a serial number never matches a serial: match. */
        assert_false(config_match("serial:1", "0000:0c:00.0", NULL, 0));
        assert_false(config_match("host-bridge:*", "0000:0c:00.0", NULL, 0));
        assert_true(config_match("host-bridge:*", "0000:0c:00.0", "pci0000:0c", 0));
        config_free(c);
}

static void test_policy_matching(void **state)
{
        struct config *c = load_ok("[policy \"all\"]\naction=log\n"
                                   "[policy \"mem-down\"]\nmatch-reason=mem-link-down\nmatch-port=0000:0c:*\n"
                                   "action=evidence\n"
                                   "[policy \"hb\"]\nmatch-port=host-bridge:HB1 serial:42\naction=reboot\n");
        const struct config_policy *out[8];
        size_t n;

        n = config_policies_for(c, "0000:0c:00.0", NULL, 0, CXL_ISOLATION_MEM_LINK_DOWN, out, ELEMENTSOF(out));
        assert_int_equal(n, 2);
        assert_string_equal(out[0]->name, "all");
        assert_string_equal(out[1]->name, "mem-down");

        n = config_policies_for(c, "0000:0c:00.0", NULL, 0, CXL_ISOLATION_MEM_TIMEOUT, out, ELEMENTSOF(out));
        assert_int_equal(n, 1);
        assert_string_equal(out[0]->name, "all");

        n = config_policies_for(c, "0000:0d:00.0", "HB1", 0, CXL_ISOLATION_MEM_LINK_DOWN, out, ELEMENTSOF(out));
        assert_int_equal(n, 2);
        assert_string_equal(out[1]->name, "hb");
        n = config_policies_for(c, "0000:0d:00.0", NULL, 0x42, CXL_ISOLATION_CACHE_TIMEOUT, out, ELEMENTSOF(out));
        assert_int_equal(n, 2);
        assert_string_equal(out[1]->name, "hb");

        /* Never more than asked for. */
        n = config_policies_for(c, "0000:0c:00.0", "HB1", 0, CXL_ISOLATION_MEM_LINK_DOWN, out, 1);
        assert_int_equal(n, 1);
        assert_string_equal(out[0]->name, "all");
        config_free(c);
}

/* ---- drop-ins ---- */

static void test_dropin_order_and_masking(void **state)
{
        _cleanup_free_ char *dir = make_tmpdir(), *main_file = NULL, *etc = NULL, *masked = NULL;
        struct config_diags d = {};
        struct config *c = NULL;

        make_dir(dir, "vendor");
        make_dir(dir, "vendor/policy.d");
        make_dir(dir, "etc");
        make_dir(dir, "etc/policy.d");
        write_file(dir, "etc/main.conf", "[daemon]\npoll-interval=1s\n", 0644);
        write_file(dir, "vendor/policy.d/10-a.conf", "[policy \"vendor-a\"]\naction=log\n", 0644);
        write_file(dir, "vendor/policy.d/20-b.conf", "[policy \"vendor-b\"]\naction=reboot\n", 0644);
        write_file(dir, "vendor/policy.d/30-c.conf", "[policy \"vendor-c\"]\naction=reboot\n", 0644);
        write_file(dir, "vendor/policy.d/ignored.txt", "[bogus]\n", 0644);
        write_file(dir, "etc/policy.d/20-b.conf", "[policy \"local-b\"]\naction=evidence\n[daemon]\n"
                   "poll-interval=3s\n", 0644);
        write_file(dir, "etc/policy.d/15-x.conf", "[policy \"local-x\"]\naction=log\n", 0644);
        write_file(dir, "etc/policy.d/.hidden.conf", "[bogus]\n", 0644);
        /* A symlink to /dev/null masks the vendor file, as in systemd. */
        assert_true(asprintf(&masked, "%s/etc/policy.d/30-c.conf", dir) > 0);
        assert_int_equal(symlink("/dev/null", masked), 0);

        assert_true(asprintf(&main_file, "%s/etc/main.conf", dir) > 0);
        assert_true(asprintf(&etc, "%s/etc/policy.d", dir) > 0);
        _cleanup_free_ char *vendor = NULL;
        assert_true(asprintf(&vendor, "%s/vendor", dir) > 0);
        struct config_paths paths = { .main_file = main_file, .dropin_dir = etc, .vendor_dir = vendor };

        assert_int_equal(config_load(&paths, &c, &d), 0);
        assert_int_equal(d.n, 0);
        assert_int_equal(c->n_policies, 3);
        assert_string_equal(c->policies[0].name, "vendor-a");
        assert_string_equal(c->policies[1].name, "local-x");
        assert_string_equal(c->policies[2].name, "local-b");
        /* The drop-in's [daemon] overrides the main file. */
        assert_int_equal(c->poll_interval, 3 * SEC);
        assert_int_equal(c->n_files, 5);
        assert_string_equal(c->files[0], main_file);
        assert_non_null(strstr(c->files[1], "/vendor/policy.d/10-a.conf"));
        assert_non_null(strstr(c->files[2], "/etc/policy.d/15-x.conf"));
        assert_non_null(strstr(c->files[3], "/etc/policy.d/20-b.conf"));
        assert_non_null(strstr(c->files[4], "/etc/policy.d/30-c.conf"));
        /* Sources point at the file that defined each section. */
        assert_string_equal(c->policies[2].src.file, c->files[3]);
        assert_int_equal(c->policies[2].src.line, 1);
        config_free(c);
        c = NULL;

        /* Without an /etc main file the vendor one is read. */
        write_file(dir, "vendor/cxl-isold.conf", "[daemon]\ndry-run=yes\n", 0644);
        paths.main_file = NULL;
        paths.vendor_dir = vendor;
        /* main_file NULL reads SYSCONFDIR; only check the vendor fallback if that file is absent here. */
        if (access(SYSCONFDIR "/cxl-isold/cxl-isold.conf", F_OK) < 0) {
                assert_int_equal(config_load(&paths, &c, &d), 0);
                assert_true(c->dry_run);
                assert_non_null(strstr(c->files[0], "/vendor/cxl-isold.conf"));
                config_free(c);
                c = NULL;
        }

        /* A broken drop-in spoils the whole load: all or nothing. */
        paths.main_file = main_file;
        write_file(dir, "etc/policy.d/40-broken.conf", "[policy \"z\"]\naction=log\nfence-signal=SIGBUS\n", 0644);
        struct config *sentinel = (struct config *)&paths;
        c = sentinel;
        assert_int_equal(config_load(&paths, &c, &d), -EINVAL);
        assert_ptr_equal(c, sentinel);
        assert_int_equal(d.n, 1);
        assert_non_null(strstr(d.diag[0].file, "40-broken.conf"));
        assert_int_equal(d.diag[0].line, 3);
        config_diags_done(&d);

        /* A directory where a drop-in file should be is named as the problem, without a line. */
        unlink(masked);
        write_file(dir, "etc/policy.d/40-broken.conf", "", 0644);
        make_dir(dir, "etc/policy.d/35-dir.conf");
        c = NULL;
        assert_int_equal(config_load(&paths, &c, &d), -EINVAL);
        assert_null(c);
        assert_int_equal(d.n, 1);
        assert_non_null(strstr(d.diag[0].file, "/etc/policy.d/35-dir.conf"));
        assert_int_equal(d.diag[0].line, 0);
        assert_non_null(strstr(d.diag[0].message, "is a directory"));
        config_diags_done(&d);
        {
                _cleanup_free_ char *sub = NULL;

                assert_true(asprintf(&sub, "%s/etc/policy.d/35-dir.conf", dir) > 0);
                assert_int_equal(rmdir(sub), 0);
        }

        /* Duplicates across files name the first file. */
        write_file(dir, "etc/policy.d/40-broken.conf", "[policy \"vendor-a\"]\naction=log\n", 0644);
        c = NULL;
        assert_int_equal(config_load(&paths, &c, &d), -EINVAL);
        assert_null(c);
        assert_int_equal(d.n, 1);
        assert_non_null(strstr(d.diag[0].message, "/vendor/policy.d/10-a.conf:1"));
        config_diags_done(&d);
        rm_rf(dir);
}

/* ---- bounds ---- */

static void test_long_line_bounded(void **state)
{
        size_t big = 1024 * 1024;
        _cleanup_free_ char *text = malloc(big + 128);
        struct config_diags d = {};
        struct config *c = NULL;
        size_t n = 0;
        int r;

        assert_non_null(text);
        n += (size_t)sprintf(text + n, "[daemon]\nexec=");
        memset(text + n, 'a', big);
        n += big;
        n += (size_t)sprintf(text + n, "\n[daemon]\ndry-run=perhaps\n");

        r = config_load_string("big.conf", text, n, &c, &d);
        assert_int_equal(r, -EINVAL);
        assert_null(c);
        assert_int_equal(d.n, 2);
        assert_int_equal(d.diag[0].line, 2);
        assert_string_equal(d.diag[0].message, "line longer than 4096 bytes; shorten it (split long lists over "
                            "several sections)");
        /* Reading goes on after the long line with the right line numbers. */
        assert_int_equal(d.diag[1].line, 4);
        config_diags_done(&d);

        /* Exactly at the limit is fine. */
        free(text);
        text = malloc(CONFIG_LINE_MAX + 64);
        assert_non_null(text);
        n = (size_t)sprintf(text, "[daemon]\n");
        size_t start = n;
        n += (size_t)sprintf(text + n, "state-dir=/");
        memset(text + n, 'x', CONFIG_LINE_MAX - (n - start));
        n = start + CONFIG_LINE_MAX;
        text[n++] = '\n';
        text[n] = '\0';
        c = load_ok(text);
        assert_int_equal(strlen(c->state_dir), CONFIG_LINE_MAX - strlen("state-dir="));
        config_free(c);
}

static void test_many_sections_bounded(void **state)
{
        _cleanup_free_ char *text = malloc(10000 * 40);
        struct config_diags d = {};
        struct config *c = NULL;
        size_t n = 0;

        assert_non_null(text);
        for (int i = 0; i < 10000; i++)
                n += (size_t)sprintf(text + n, "[policy \"p%d\"]\naction=log\n", i);
        assert_int_equal(config_load_string("many.conf", text, n, &c, &d), -EINVAL);
        assert_null(c);
        assert_int_equal(d.n, 1);
        assert_int_equal(d.diag[0].line, 2 * CONFIG_SECTIONS_MAX + 1);
        assert_non_null(strstr(d.diag[0].message, "more than 4096 sections"));
        config_diags_done(&d);
}

static void test_many_problems_bounded(void **state)
{
        _cleanup_free_ char *text = malloc(5000 * 16);
        struct config_diags d = {};
        struct config *c = NULL;
        size_t n = 0;

        assert_non_null(text);
        n += (size_t)sprintf(text, "[daemon]\n");
        for (int i = 0; i < 5000; i++)
                n += (size_t)sprintf(text + n, "dry-run=zz\n");
        assert_int_equal(config_load_string("noisy.conf", text, n, &c, &d), -EINVAL);
        assert_int_equal(d.n, CONFIG_DIAGS_MAX);
        assert_non_null(strstr(d.diag[d.n - 1].message, "stopped reading"));
        config_diags_done(&d);
}

/* ---- all or nothing, printing, dump ---- */

static void test_broken_file_gives_nothing(void **state)
{
        static const char text[] = "[daemon]\npoll-interval=5s\n[policy \"ok\"]\naction=log\n[port \"0000:0c:00.0\"]\n"
                                   "arm=perhaps\n";
        struct config_diags d = {};
        struct config *sentinel = (struct config *)(uintptr_t)text, *c = sentinel;

        assert_int_equal(config_load_string("t.conf", text, strlen(text), &c, &d), -EINVAL);
        assert_ptr_equal(c, sentinel);
        assert_int_equal(d.n, 1);
        config_diags_done(&d);
        /* Without a diags sink the verdict is the same. */
        assert_int_equal(config_load_string("t.conf", text, strlen(text), &c, NULL), -EINVAL);
        assert_ptr_equal(c, sentinel);
}

static void test_diags_print(void **state)
{
        static const char text[] = "[daemon]\ndry-run=maybe\n";
        _cleanup_free_ char *out = NULL;
        struct config_diags d = {};
        struct config *c = NULL;
        size_t len = 0;
        FILE *f;

        assert_int_equal(config_load_string("x.conf", text, strlen(text), &c, &d), -EINVAL);
        f = open_memstream(&out, &len);
        assert_non_null(f);
        config_diags_print(f, &d);
        fclose(f);
        assert_string_equal(out, "x.conf:2: dry-run=maybe is not a boolean; use yes or no\n");
        config_diags_done(&d);
}

static char *dump_to_string(const struct config *c)
{
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        assert_non_null(f);
        assert_int_equal(config_dump(f, c), 0);
        fclose(f);
        return out;
}

/* Drop comment lines: they name source files, which differ between the two loads. */
static void strip_comments(char *s)
{
        char *w = s;

        for (char *line = s; *line;) {
                char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);

                if (line[0] != '#') {
                        memmove(w, line, len);
                        w += len;
                }
                line += len;
        }
        *w = '\0';
}

static void test_dump_round_trip(void **state)
{
        struct config *c = load_ok("[daemon]\npoll-interval=250ms\npoll-backstop=0\nmetrics-dir=/run/m\n"
                                   "[port \"0000:0c:0?.0\"]\narm=never\ntimeout=B2\nkind=memory\n"
                                   "[policy]\nexec=/bin/true\ntimeout=90s\n"
                                   "[policy \"p\"]\nmatch-port=0000:0c:00.0 serial:1f\nmatch-reason=mem-timeout\n"
                                   "action=log fence evidence offline-devdax reboot\nfence-signal=KILL\n"
                                   "reboot-window=23:00-01:30\nreboot-delay=1min\nevidence-timeout=2h\n"
                                   "rate-limit=2/1d\ncooldown=10min\n");
        _cleanup_free_ char *first = dump_to_string(c), *second = NULL;
        struct config *again = NULL;
        struct config_diags d = {};

        assert_non_null(strstr(first, "[policy \"default\"]\nmatch-port=\nmatch-reason=\naction=log exec\n"));
        assert_non_null(strstr(first, "fence-signal=SIGKILL\n"));
        assert_non_null(strstr(first, "reboot-window=23:00-01:30\n"));
        assert_non_null(strstr(first, "timeout=0x6\n"));
        assert_non_null(strstr(first, "poll-backstop=0\n"));
        assert_int_equal(config_load_string("dump", first, strlen(first), &again, &d), 0);
        assert_int_equal(again->poll_backstop, 0);
        assert_int_equal(d.n, 0);
        second = dump_to_string(again);
        strip_comments(first);
        strip_comments(second);
        assert_string_equal(first, second);
        config_free(again);
        config_free(c);
}

/* ---- shipped files ---- */

/* Every shipped file must load with no diagnostics; exec= scripts are pointed at /bin/true. */
static void test_shipped_conf_files(void **state)
{
        static const char *const files[] = {
                "cxl-isold.conf",       /* as generated into the build tree, paths filled in */
                "examples/memory-expander-devdax.conf",
                "examples/memory-expander-system-ram.conf",
                "examples/accelerator.conf",
        };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *path = NULL, *text = NULL, *fixed = NULL;
                _cleanup_fclose_ FILE *f = NULL;
                struct config_diags d = {};
                struct config *c = NULL;
                size_t len = 0, flen = 0;
                FILE *out;
                char *line, *save = NULL;

                assert_true(asprintf(&path, "%s/%s", i == 0 ? CONF_BUILD_DIR : CONF_SOURCE_DIR, files[i]) > 0);
                f = fopen(path, "re");
                if (!f)
                        fail_msg("%s: %s", path, strerror(errno));
                assert_true(getdelim(&text, &len, '\0', f) > 0);
                out = open_memstream(&fixed, &flen);
                for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                        fprintf(out, "%s\n", strncmp(line, "exec=", 5) == 0 ? "exec=/bin/true" : line);
                fclose(out);
                if (config_load_string(path, fixed, strlen(fixed), &c, &d) < 0 || d.n) {
                        config_diags_print(stderr, &d);
                        fail_msg("%s does not load cleanly", path);
                }
                /* Examples must actually say something. */
                if (i > 0)
                        assert_true(c->n_policies > 0);
                else
                        assert_int_equal(c->n_policies, 0); /* the installed default acts on nothing */
                config_free(c);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_when_no_file),
                cmocka_unit_test(test_policy_shorthand),
                cmocka_unit_test(test_full_file),
                cmocka_unit_test(test_syntax_details),
                cmocka_unit_test(test_unknown_section_and_key),
                cmocka_unit_test(test_did_you_mean_edges),
                cmocka_unit_test(test_readers_agree),
                cmocka_unit_test(test_bad_values),
                cmocka_unit_test(test_timeout_encodings),
                cmocka_unit_test(test_durations),
                cmocka_unit_test(test_record_max_size),
                cmocka_unit_test(test_actions),
                cmocka_unit_test(test_reboot_window_and_rate_limit),
                cmocka_unit_test(test_duplicates),
                cmocka_unit_test(test_exec_checks),
                cmocka_unit_test(test_kind_conflicts_at_load),
                cmocka_unit_test(test_check_port_kinds),
                cmocka_unit_test(test_reboot_window_wait),
                cmocka_unit_test(test_port_matching),
                cmocka_unit_test(test_policy_matching),
                cmocka_unit_test(test_dropin_order_and_masking),
                cmocka_unit_test(test_long_line_bounded),
                cmocka_unit_test(test_many_sections_bounded),
                cmocka_unit_test(test_many_problems_bounded),
                cmocka_unit_test(test_broken_file_gives_nothing),
                cmocka_unit_test(test_diags_print),
                cmocka_unit_test(test_dump_round_trip),
                cmocka_unit_test(test_shipped_conf_files),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
