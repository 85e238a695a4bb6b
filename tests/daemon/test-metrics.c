/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * metrics.c: the file must be valid Prometheus text format as node_exporter's
 * textfile collector reads it. A strict checker below enforces the rules
 * (HELP and TYPE once per family before its samples, valid names, escaped
 * label values, counters ending in _total, no timestamps, final newline, no
 * duplicate series); it is tested against known-bad input first, so a checker
 * that accepts everything fails. When promtool (Debian package "prometheus")
 * is installed its "check metrics" runs as well.
 */
#include <dirent.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "metrics.h"

/* ---- the checker ---- */

#define MAX_FAMILIES 64
#define MAX_SERIES 1024

struct family {
        char name[128];
        char type[16];
        bool help, has_type, has_samples, closed;
};

struct checker {
        struct family fam[MAX_FAMILIES];
        size_t n_fam;
        char *series[MAX_SERIES];
        size_t n_series;
        struct family *current;
        char error[256];
};

static int reject(struct checker *c, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int reject(struct checker *c, unsigned line, const char *fmt, ...)
{
        va_list ap;
        int n = snprintf(c->error, sizeof c->error, "line %u: ", line);

        va_start(ap, fmt);
        vsnprintf(c->error + n, sizeof c->error - (size_t)n, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static bool is_name_start(char ch, bool colon)
{
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (colon && ch == ':');
}

static bool is_name_char(char ch, bool colon)
{
        return is_name_start(ch, colon) || (ch >= '0' && ch <= '9');
}

/* Length of the metric (colon = true) or label name at p, 0 if none. */
static size_t name_len(const char *p, bool colon)
{
        size_t n = 0;

        if (!is_name_start(p[0], colon))
                return 0;
        while (is_name_char(p[n], colon))
                n++;
        return n;
}

static struct family *family_get(struct checker *c, const char *name, size_t len)
{
        for (size_t i = 0; i < c->n_fam; i++)
                if (strlen(c->fam[i].name) == len && strncmp(c->fam[i].name, name, len) == 0)
                        return c->fam + i;
        if (c->n_fam == MAX_FAMILIES || len >= sizeof c->fam[0].name)
                return NULL;
        memcpy(c->fam[c->n_fam].name, name, len);
        return c->fam + c->n_fam++;
}

/* Families are contiguous: switching to f closes the previous one, and a closed family cannot return. */
static int family_enter(struct checker *c, unsigned line, struct family *f)
{
        if (c->current == f)
                return 0;
        if (f->closed)
                return reject(c, line, "family %s appears in two places", f->name);
        if (c->current)
                c->current->closed = true;
        c->current = f;
        return 0;
}

static bool utf8_ok(const char *s, size_t len)
{
        for (size_t i = 0; i < len;) {
                unsigned char b = (unsigned char)s[i];
                size_t n = b < 0x80 ? 0 : (b & 0xe0) == 0xc0 ? 1 : (b & 0xf0) == 0xe0 ? 2 : (b & 0xf8) == 0xf0 ? 3 : 9;

                if (n == 9 || i + n >= len)
                        return false;
                if (b == 0xc0 || b == 0xc1 || b > 0xf4)
                        return false;
                for (size_t k = 1; k <= n; k++)
                        if (((unsigned char)s[i + k] & 0xc0) != 0x80)
                                return false;
                i += n + 1;
        }
        return true;
}

static int check_comment(struct checker *c, unsigned line, const char *l)
{
        bool help = strncmp(l, "# HELP ", 7) == 0, type = strncmp(l, "# TYPE ", 7) == 0;
        const char *p = l + 7;
        struct family *f;
        size_t n;
        int r;

        if (!help && !type)
                return reject(c, line, "comment that is neither HELP nor TYPE");
        n = name_len(p, true);
        if (n == 0 || (p[n] != ' ' && p[n] != '\0'))
                return reject(c, line, "bad metric name in %s", help ? "HELP" : "TYPE");
        f = family_get(c, p, n);
        if (!f)
                return reject(c, line, "too many families");
        r = family_enter(c, line, f);
        if (r < 0)
                return r;
        if (f->has_samples)
                return reject(c, line, "%s for %s after its samples", help ? "HELP" : "TYPE", f->name);
        p += n;
        if (help) {
                if (f->help)
                        return reject(c, line, "second HELP for %s", f->name);
                f->help = true;
                if (*p != ' ' || p[1] == '\0')
                        return reject(c, line, "empty HELP for %s", f->name);
                /* In HELP only \\ and \n are escapes. */
                for (p++; *p; p++)
                        if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
                                return reject(c, line, "bad escape in HELP");
                        else if (*p == '\\')
                                p++;
                return 0;
        }
        if (f->has_type)
                return reject(c, line, "second TYPE for %s", f->name);
        f->has_type = true;
        if (*p != ' ')
                return reject(c, line, "TYPE without a type");
        p++;
        if (strcmp(p, "counter") != 0 && strcmp(p, "gauge") != 0)
                return reject(c, line, "type '%s' not expected here", p);
        snprintf(f->type, sizeof f->type, "%s", p);
        if (strcmp(p, "counter") == 0 && (n < 6 || strncmp(f->name + n - 6, "_total", 6) != 0))
                return reject(c, line, "counter %s does not end in _total", f->name);
        return 0;
}

static int check_sample(struct checker *c, unsigned line, const char *l)
{
        size_t n = name_len(l, true);
        const char *p = l + n, *value;
        char labelnames[8][64];
        size_t n_labels = 0;
        struct family *f;
        char *end;
        double v;
        int r;

        if (n == 0)
                return reject(c, line, "sample without a valid metric name");
        f = family_get(c, l, n);
        if (!f)
                return reject(c, line, "too many families");
        r = family_enter(c, line, f);
        if (r < 0)
                return r;
        if (!f->help || !f->has_type)
                return reject(c, line, "sample of %s before its HELP and TYPE", f->name);
        f->has_samples = true;

        if (*p == '{') {
                p++;
                for (;;) {
                        size_t ln = name_len(p, false);

                        if (ln == 0 || ln >= sizeof labelnames[0])
                                return reject(c, line, "bad label name");
                        if (strncmp(p, "__", 2) == 0)
                                return reject(c, line, "reserved label name");
                        for (size_t i = 0; i < n_labels; i++)
                                if (strlen(labelnames[i]) == ln && strncmp(labelnames[i], p, ln) == 0)
                                        return reject(c, line, "label given twice");
                        if (n_labels == ELEMENTSOF(labelnames))
                                return reject(c, line, "too many labels");
                        memcpy(labelnames[n_labels], p, ln);
                        labelnames[n_labels++][ln] = '\0';
                        p += ln;
                        if (p[0] != '=' || p[1] != '"')
                                return reject(c, line, "label without =\"");
                        for (p += 2; *p != '"'; p++) {
                                if (*p == '\0')
                                        return reject(c, line, "unterminated label value");
                                if (*p == '\\') {
                                        p++;
                                        if (*p != '\\' && *p != '"' && *p != 'n')
                                                return reject(c, line, "bad escape in label value");
                                }
                        }
                        if (p[-1] == '"' && p[-2] == '=')
                                return reject(c, line, "empty label value");
                        p++;
                        if (*p == '}')
                                break;
                        if (*p != ',')
                                return reject(c, line, "expected , or } after label");
                        p++;
                }
                p++;
        }
        if (*p != ' ')
                return reject(c, line, "no space before value");
        /* The series is everything up to the value: name plus labels in order. */
        if (c->n_series == MAX_SERIES)
                return reject(c, line, "too many series");
        c->series[c->n_series] = strndup(l, (size_t)(p - l));
        assert_non_null(c->series[c->n_series]);
        /* Counted first, so the series is freed with the others even when it is the duplicate. */
        c->n_series++;
        for (size_t i = 0; i + 1 < c->n_series; i++)
                if (strcmp(c->series[i], c->series[c->n_series - 1]) == 0)
                        return reject(c, line, "duplicate series %s", c->series[i]);

        value = ++p;
        if (strcmp(value, "+Inf") == 0 || strcmp(value, "-Inf") == 0 || strcmp(value, "NaN") == 0)
                return strcmp(f->type, "counter") == 0 && value[0] == '-' ?
                       reject(c, line, "negative counter") : 0;
        if (*value == '\0' || *value == ' ')
                return reject(c, line, "missing value");
        errno = 0;
        v = strtod(value, &end);
        if (errno != 0)
                return reject(c, line, "value out of range");
        if (*end == ' ')
                return reject(c, line, "timestamp or trailing text after value (not allowed in textfiles)");
        if (*end != '\0')
                return reject(c, line, "bad value '%s'", value);
        if (strcmp(f->type, "counter") == 0 && v < 0)
                return reject(c, line, "negative counter");
        return 0;
}

static int check_exposition(const char *text, size_t len, char error[static 256])
{
        _cleanup_free_ struct checker *c = calloc(1, sizeof(struct checker));
        unsigned line = 0;
        int r = 0;

        assert_non_null(c);
        if (len == 0 || text[len - 1] != '\n')
                r = reject(c, 0, "no final newline");
        else if (strlen(text) != len)
                r = reject(c, 0, "NUL byte in file");
        else if (!utf8_ok(text, len))
                r = reject(c, 0, "not UTF-8");

        for (const char *p = text; r == 0 && p < text + len;) {
                const char *nl = memchr(p, '\n', (size_t)(text + len - p));
                _cleanup_free_ char *l = strndup(p, (size_t)(nl - p));

                assert_non_null(l);
                line++;
                if (strchr(l, '\r'))
                        r = reject(c, line, "carriage return");
                else if (l[0] == '\0')
                        r = reject(c, line, "empty line");
                else if (l[0] == '#')
                        r = check_comment(c, line, l);
                else
                        r = check_sample(c, line, l);
                p = nl + 1;
        }
        for (size_t i = 0; r == 0 && i < c->n_fam; i++)
                if (!c->fam[i].help || !c->fam[i].has_type)
                        r = reject(c, line, "family %s lacks HELP or TYPE", c->fam[i].name);

        for (size_t i = 0; i < c->n_series; i++)
                free(c->series[i]);
        memcpy(error, c->error, 256);
        return r;
}

static void assert_valid(const char *text)
{
        char error[256] = "";

        if (check_exposition(text, strlen(text), error) < 0)
                fail_msg("invalid exposition: %s\n%s", error, text);
}

static void assert_invalid(const char *text, const char *why)
{
        char error[256] = "";

        if (check_exposition(text, strlen(text), error) == 0)
                fail_msg("checker accepted bad input (%s):\n%s", why, text);
        if (!strstr(error, why))
                fail_msg("rejected for '%s', expected '%s'", error, why);
}

#define GOOD_FAMILY "# HELP x_total Things.\n# TYPE x_total counter\n"

static void test_checker_rejects_bad_input(void **state)
{
        assert_valid(GOOD_FAMILY "x_total{a=\"b\\\"c\\\\d\\n\"} 3\n");
        assert_invalid(GOOD_FAMILY "x_total 3", "no final newline");
        assert_invalid("x_total 3\n", "before its HELP and TYPE");
        assert_invalid("# TYPE x_total counter\nx_total 3\n", "before its HELP and TYPE");
        assert_invalid(GOOD_FAMILY "x_total 3\n# HELP x_total Again.\n", "after its samples");
        assert_invalid(GOOD_FAMILY "# HELP x_total Again.\n", "second HELP");
        assert_invalid("# HELP x Things.\n# TYPE x counter\nx 1\n", "does not end in _total");
        assert_invalid(GOOD_FAMILY "x_total 3 1700000000000\n", "timestamp");
        assert_invalid(GOOD_FAMILY "x_total{a=\"b\\t\"} 3\n", "bad escape");
        assert_invalid(GOOD_FAMILY "x_total{a=\"b\"c\"} 3\n", "expected , or }");
        assert_invalid(GOOD_FAMILY "x_total{1a=\"b\"} 3\n", "bad label name");
        assert_invalid(GOOD_FAMILY "x_total{a=\"b\",a=\"c\"} 3\n", "label given twice");
        assert_invalid(GOOD_FAMILY "x_total{a=\"b\"} 3\nx_total{a=\"b\"} 4\n", "duplicate series");
        assert_invalid(GOOD_FAMILY "x_total -1\n", "negative counter");
        assert_invalid(GOOD_FAMILY "x_total three\n", "bad value");
        assert_invalid(GOOD_FAMILY "# a remark\n", "neither HELP nor TYPE");
        assert_invalid(GOOD_FAMILY "\nx_total 1\n", "empty line");
        assert_invalid(GOOD_FAMILY "x_total{a=\"\xff\"} 1\n", "not UTF-8");
        assert_invalid("# HELP 9x Things.\n", "bad metric name");
        assert_invalid(GOOD_FAMILY "# HELP y A.\n# TYPE y gauge\ny 1\nx_total 2\n", "two places");
        assert_invalid("# HELP y A.\n# TYPE y gauge\n# HELP z B.\n", "lacks HELP or TYPE");
}

/* ---- metrics.c ---- */

static const struct metrics_port two_ports[] = {
        { .port = "0000:0c:00.0", .isolated = true, .watchable = true, .armed = true },
        { .port = "0000:0d:00.0", .isolated = false, .watchable = false, .armed = false },
};
static const struct metrics_event_count two_events[] = {
        { .port = "0000:0c:00.0", .kind = "mem-link-down", .count = 2 },
        { .port = "0000:0c:00.0", .kind = "mem-timeout", .count = 1 },
};
static const struct metrics_action_count three_results[] = {
        { .policy = "default", .action = "log", .result = "success", .count = 3 },
        { .policy = "default", .action = "offline-devdax", .result = "failed", .count = 1 },
        { .policy = "reboot-late", .action = "reboot", .result = "skipped", .count = 18446744073709551615ULL },
};

static const struct metrics_snapshot full = {
        .version = "0.1.0",
        .last_poll_realtime_usec = 1764000000123456ULL,
        .n_ports = ELEMENTSOF(two_ports), .ports = two_ports,
        .n_events = ELEMENTSOF(two_events), .events = two_events,
        .n_action_results = ELEMENTSOF(three_results), .action_results = three_results,
};

/* The formatted text (caller frees), or NULL with *ret_r set. */
static char *format(const struct metrics_snapshot *s, int *ret_r)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        assert_non_null(f);
        *ret_r = metrics_format(f, s);
        assert_int_equal(fclose(f), 0);
        if (*ret_r < 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

static void assert_has_line(const char *text, const char *line)
{
        const char *p = text;
        size_t n = strlen(line);

        for (; (p = strstr(p, line)); p += n)
                if ((p == text || p[-1] == '\n') && p[n] == '\n')
                        return;
        fail_msg("line '%s' missing from:\n%s", line, text);
}

static void test_full_snapshot(void **state)
{
        int r;
        _cleanup_free_ char *t = format(&full, &r);

        assert_int_equal(r, 0);
        assert_valid(t);
        assert_has_line(t, "cxl_isold_build_info{version=\"0.1.0\"} 1");
        assert_has_line(t, "cxl_isold_last_poll_timestamp_seconds 1764000000.123456");
        assert_has_line(t, "cxl_isold_port_isolated{port=\"0000:0c:00.0\"} 1");
        assert_has_line(t, "cxl_isold_port_isolated{port=\"0000:0d:00.0\"} 0");
        assert_has_line(t, "cxl_isold_port_watchable{port=\"0000:0c:00.0\"} 1");
        assert_has_line(t, "cxl_isold_port_watchable{port=\"0000:0d:00.0\"} 0");
        assert_has_line(t, "cxl_isold_port_armed{port=\"0000:0c:00.0\"} 1");
        assert_has_line(t, "cxl_isold_port_armed{port=\"0000:0d:00.0\"} 0");
        assert_has_line(t, "cxl_isold_events_total{port=\"0000:0c:00.0\",kind=\"mem-link-down\"} 2");
        assert_has_line(t, "cxl_isold_events_total{port=\"0000:0c:00.0\",kind=\"mem-timeout\"} 1");
        assert_has_line(t, "cxl_isold_action_results_total{policy=\"default\",action=\"offline-devdax\","
                           "result=\"failed\"} 1");
        assert_has_line(t, "cxl_isold_action_results_total{policy=\"reboot-late\",action=\"reboot\","
                           "result=\"skipped\"} 18446744073709551615");
        assert_has_line(t, "# TYPE cxl_isold_events_total counter");
        assert_has_line(t, "# TYPE cxl_isold_port_armed gauge");
}

/* Before the first poll and with no ports, every family is still announced, and the text still valid. */
static void test_empty_snapshot(void **state)
{
        static const struct metrics_snapshot empty = { .version = "0.1.0" };
        int r;
        _cleanup_free_ char *t = format(&empty, &r);

        assert_int_equal(r, 0);
        assert_valid(t);
        assert_null(strstr(t, "\ncxl_isold_last_poll_timestamp_seconds "));
        assert_has_line(t, "# TYPE cxl_isold_last_poll_timestamp_seconds gauge");
        assert_has_line(t, "# HELP cxl_isold_action_results_total Finished policy actions since the daemon "
                           "started, by policy, action and result.");
}

static void test_label_escaping(void **state)
{
        static const struct metrics_action_count odd[] = {
                { .policy = "a \"quoted\"\\name\nnext", .action = "exec", .result = "success", .count = 1 },
                { .policy = "caf\xc3\xa9", .action = "exec", .result = "success", .count = 1 },
        };
        struct metrics_snapshot s = { .version = "v\"1", .n_action_results = 2, .action_results = odd };
        int r;
        _cleanup_free_ char *t = format(&s, &r);

        assert_int_equal(r, 0);
        assert_valid(t);
        assert_has_line(t, "cxl_isold_build_info{version=\"v\\\"1\"} 1");
        assert_has_line(t, "cxl_isold_action_results_total{policy=\"a \\\"quoted\\\"\\\\name\\nnext\","
                           "action=\"exec\",result=\"success\"} 1");
}

static void test_rejects_bad_snapshots(void **state)
{
        static const struct metrics_port dup_ports[] = { { .port = "0000:0c:00.0" }, { .port = "0000:0c:00.0" } };
        static const struct metrics_event_count dup_events[] = {
                { .port = "p", .kind = "mem-timeout", .count = 1 }, { .port = "p", .kind = "mem-timeout", .count = 2 },
        };
        static const struct metrics_action_count bad_utf8[] = {
                { .policy = "\xc0\xaf", .action = "log", .result = "success" },
        };
        static const struct metrics_action_count surrogate[] = {
                { .policy = "\xed\xa0\x80", .action = "log", .result = "success" },
        };
        static const struct metrics_port empty_port[] = { { .port = "" } };
        struct metrics_snapshot s;
        char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        s = (struct metrics_snapshot) { .version = "1", .n_ports = 2, .ports = dup_ports };
        assert_null(format(&s, &r));
        assert_int_equal(r, -EINVAL);
        s = (struct metrics_snapshot) { .version = "1", .n_events = 2, .events = dup_events };
        assert_null(format(&s, &r));
        assert_int_equal(r, -EINVAL);
        s = (struct metrics_snapshot) { .version = "1", .n_action_results = 1, .action_results = bad_utf8 };
        assert_null(format(&s, &r));
        assert_int_equal(r, -EILSEQ);
        s = (struct metrics_snapshot) { .version = "1", .n_action_results = 1, .action_results = surrogate };
        assert_null(format(&s, &r));
        assert_int_equal(r, -EILSEQ);
        s = (struct metrics_snapshot) { .version = "1", .n_ports = 1, .ports = empty_port };
        assert_null(format(&s, &r));
        assert_int_equal(r, -EINVAL);
        s = (struct metrics_snapshot) { .version = NULL };
        assert_null(format(&s, &r));
        assert_int_equal(r, -EINVAL);
        s = (struct metrics_snapshot) { .version = "1", .n_ports = 1, .ports = NULL };
        assert_null(format(&s, &r));
        assert_int_equal(r, -EINVAL);

        /* A rejected snapshot writes nothing at all. */
        f = open_memstream(&buf, &size);
        assert_non_null(f);
        s = (struct metrics_snapshot) { .version = "1", .n_ports = 2, .ports = dup_ports };
        assert_int_equal(metrics_format(f, &s), -EINVAL);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(size, 0);
        free(buf);
}

static char *read_file(const char *path, size_t *ret_len)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char *buf;
        size_t n;

        assert_non_null(f);
        buf = calloc(1, 65536);
        assert_non_null(buf);
        n = fread(buf, 1, 65535, f);
        assert_false(ferror(f));
        *ret_len = n;
        return buf;
}

static size_t count_entries(const char *dir)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        return n;
}

static int run_promtool(const char *path)
{
        _cleanup_free_ char *cmd = NULL;
        int status;

        assert_true(asprintf(&cmd, "promtool check metrics < '%s' 2>&1", path) > 0);
        status = system(cmd);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static bool have_promtool(void)
{
        return system("command -v promtool >/dev/null 2>&1") == 0;
}

static void test_write_atomic(void **state)
{
        char dir[] = "/tmp/test-metrics-XXXXXX";
        _cleanup_free_ char *path = NULL, *expected = NULL, *got = NULL;
        struct metrics_snapshot s = full;
        struct stat st;
        size_t len;
        int r;

        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&path, "%s/cxl_isold.prom", dir) > 0);

        assert_int_equal(metrics_write(dir, &full), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(count_entries(dir), 1);        /* no temporary file left */
        expected = format(&full, &r);
        assert_int_equal(r, 0);
        got = read_file(path, &len);
        assert_int_equal(len, strlen(expected));
        assert_string_equal(got, expected);
        assert_valid(got);
        if (have_promtool())
                assert_int_equal(run_promtool(path), 0);

        /* Replacing: the new content, still one file. */
        s.n_ports = 1;
        s.n_events = 0;
        assert_int_equal(metrics_write(dir, &s), 0);
        free(got);
        got = read_file(path, &len);
        assert_null(strstr(got, "0000:0d:00.0"));
        assert_null(strstr(got, "mem-link-down"));
        assert_int_equal(count_entries(dir), 1);

        /* A bad snapshot keeps the previous file and leaves nothing behind. */
        s.version = "";
        assert_int_equal(metrics_write(dir, &s), -EINVAL);
        free(expected);
        expected = TAKE_PTR(got);
        got = read_file(path, &len);
        assert_string_equal(got, expected);
        assert_int_equal(count_entries(dir), 1);

        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

static void test_write_errors(void **state)
{
        char dir[] = "/tmp/test-metrics-XXXXXX";
        _cleanup_free_ char *missing = NULL, *file = NULL;
        _cleanup_close_ int fd = -1;

        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&missing, "%s/nope", dir) > 0);
        assert_int_equal(metrics_write(missing, &full), -ENOENT);
        assert_int_equal(metrics_write("", &full), -EINVAL);
        assert_int_equal(metrics_write(NULL, &full), -EINVAL);

        /* A regular file where the directory should be. */
        assert_true(asprintf(&file, "%s/file", dir) > 0);
        fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(metrics_write(file, &full), -ENOTDIR);
        assert_int_equal(count_entries(dir), 1);

        /* An unwritable directory, unless we are root (root ignores the mode). */
        if (geteuid() != 0) {
                assert_int_equal(chmod(dir, 0555), 0);
                assert_int_equal(metrics_write(dir, &full), -EACCES);
                assert_int_equal(chmod(dir, 0755), 0);
        }
        assert_int_equal(count_entries(dir), 1);
        assert_int_equal(unlink(file), 0);
        assert_int_equal(rmdir(dir), 0);
}

static void test_counters(void **state)
{
        struct metrics_counters c = {};
        struct metrics_snapshot s = { .version = "0.1.0" };
        char label[32];
        int r;

        assert_int_equal(metrics_counters_add_event(&c, "0000:0c:00.0", "mem-link-down"), 0);
        assert_int_equal(metrics_counters_add_event(&c, "0000:0c:00.0", "mem-link-down"), 0);
        assert_int_equal(metrics_counters_add_event(&c, "0000:0c:00.0", "mem-timeout"), 0);
        assert_int_equal(metrics_counters_add_event(&c, "0000:0d:00.0", "mem-link-down"), 0);
        assert_int_equal(metrics_counters_add_action_result(&c, "default", "log", "success"), 0);
        assert_int_equal(metrics_counters_add_action_result(&c, "default", "log", "success"), 0);
        assert_int_equal(metrics_counters_add_action_result(&c, "default", "log", "failed"), 0);
        assert_int_equal(c.n_events, 3);
        assert_int_equal(c.n_action_results, 2);

        /* Refused labels change nothing. */
        assert_int_equal(metrics_counters_add_event(&c, "0000:0e:00.0", "\xff"), -EILSEQ);
        assert_int_equal(metrics_counters_add_event(&c, "", "mem-timeout"), -EINVAL);
        assert_int_equal(metrics_counters_add_action_result(&c, "default", NULL, "success"), -EINVAL);
        assert_int_equal(c.n_events, 3);
        assert_int_equal(c.n_action_results, 2);

        s.n_events = c.n_events;
        s.events = c.events;
        s.n_action_results = c.n_action_results;
        s.action_results = c.action_results;
        {
                _cleanup_free_ char *t = format(&s, &r);

                assert_int_equal(r, 0);
                assert_valid(t);
                assert_has_line(t, "cxl_isold_events_total{port=\"0000:0c:00.0\",kind=\"mem-link-down\"} 2");
                assert_has_line(t, "cxl_isold_events_total{port=\"0000:0c:00.0\",kind=\"mem-timeout\"} 1");
                assert_has_line(t, "cxl_isold_events_total{port=\"0000:0d:00.0\",kind=\"mem-link-down\"} 1");
                assert_has_line(t, "cxl_isold_action_results_total{policy=\"default\",action=\"log\","
                                   "result=\"success\"} 2");
                assert_has_line(t, "cxl_isold_action_results_total{policy=\"default\",action=\"log\","
                                   "result=\"failed\"} 1");
        }

        /* Bounded: the label set after the last allowed one is refused, existing ones still count. */
        for (unsigned i = 0; c.n_action_results < METRICS_COUNTER_SERIES_MAX; i++) {
                snprintf(label, sizeof(label), "policy-%u", i);
                assert_int_equal(metrics_counters_add_action_result(&c, label, "exec", "success"), 0);
        }
        assert_int_equal(metrics_counters_add_action_result(&c, "one-too-many", "exec", "success"), -E2BIG);
        assert_int_equal(metrics_counters_add_action_result(&c, "default", "log", "failed"), 0);
        assert_int_equal(c.action_results[1].count, 2);

        metrics_counters_done(&c);
        assert_int_equal(c.n_events, 0);
        assert_null(c.events);
        metrics_counters_done(&c);      /* idempotent */
}

/* promtool is the reference linter; Debian 12 ships it in the "prometheus" package. */
static void test_promtool(void **state)
{
        char dir[] = "/tmp/test-metrics-XXXXXX";
        _cleanup_free_ char *path = NULL;

        if (!have_promtool())
                skip();
        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&path, "%s/cxl_isold.prom", dir) > 0);
        assert_int_equal(metrics_write(dir, &full), 0);
        assert_int_equal(run_promtool(path), 0);
        /* And promtool does fail on a broken file, so a pass above means something. */
        {
                _cleanup_fclose_ FILE *f = fopen(path, "we");

                assert_non_null(f);
                fputs("# HELP x_total A.\n# TYPE x_total counter\nx_total{a=\"b} 1\n", f);
        }
        assert_int_not_equal(run_promtool(path), 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_checker_rejects_bad_input),
                cmocka_unit_test(test_full_snapshot),
                cmocka_unit_test(test_empty_snapshot),
                cmocka_unit_test(test_label_escaping),
                cmocka_unit_test(test_rejects_bad_snapshots),
                cmocka_unit_test(test_write_atomic),
                cmocka_unit_test(test_write_errors),
                cmocka_unit_test(test_counters),
                cmocka_unit_test(test_promtool),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
