/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "metrics.h"

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool utf8_valid(const char *s)
{
        const unsigned char *p = (const unsigned char *)s;

        while (*p) {
                unsigned n;
                uint32_t cp;

                if (*p < 0x80) {
                        p++;
                        continue;
                } else if ((*p & 0xe0) == 0xc0) {
                        n = 1, cp = *p & 0x1f;
                } else if ((*p & 0xf0) == 0xe0) {
                        n = 2, cp = *p & 0x0f;
                } else if ((*p & 0xf8) == 0xf0) {
                        n = 3, cp = *p & 0x07;
                } else
                        return false;
                for (unsigned i = 1; i <= n; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                p += n + 1;
        }
        return true;
}

static int check_label_value(const char *v)
{
        /* An empty value means "label absent" to Prometheus: it would merge series. */
        if (!v || !*v)
                return -EINVAL;
        if (!utf8_valid(v))
                return -EILSEQ;
        return 0;
}

static void put_label(FILE *f, bool first, const char *name, const char *value)
{
        fprintf(f, "%s%s=\"", first ? "" : ",", name);
        for (const char *c = value; *c; c++) {
                if (*c == '\\')
                        fputs("\\\\", f);
                else if (*c == '"')
                        fputs("\\\"", f);
                else if (*c == '\n')
                        fputs("\\n", f);
                else
                        fputc(*c, f);
        }
        fputc('"', f);
}

static void put_family(FILE *f, const char *name, const char *type, const char *help)
{
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static bool same(const char *a, const char *b)
{
        return strcmp(a, b) == 0;
}

/* Everything is validated before the first byte is written, so a bad snapshot never yields half a file. */
static int snapshot_validate(const struct metrics_snapshot *s)
{
        int r;

        r = check_label_value(s->version);
        if (r < 0)
                return r;
        if ((s->n_ports && !s->ports) || (s->n_events && !s->events) ||
            (s->n_action_results && !s->action_results))
                return -EINVAL;

        for (size_t i = 0; i < s->n_ports; i++) {
                r = check_label_value(s->ports[i].port);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (same(s->ports[i].port, s->ports[j].port))
                                return -EINVAL;
        }
        for (size_t i = 0; i < s->n_events; i++) {
                const struct metrics_event_count *e = s->events + i;

                r = check_label_value(e->port);
                if (r >= 0)
                        r = check_label_value(e->kind);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (same(e->port, s->events[j].port) && same(e->kind, s->events[j].kind))
                                return -EINVAL;
        }
        for (size_t i = 0; i < s->n_action_results; i++) {
                const struct metrics_action_count *a = s->action_results + i;

                r = check_label_value(a->policy);
                if (r >= 0)
                        r = check_label_value(a->action);
                if (r >= 0)
                        r = check_label_value(a->result);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++) {
                        const struct metrics_action_count *b = s->action_results + j;

                        if (same(a->policy, b->policy) && same(a->action, b->action) && same(a->result, b->result))
                                return -EINVAL;
                }
        }
        return 0;
}

static void put_port_gauge(FILE *f, const struct metrics_snapshot *s, const char *name, const char *help,
                           size_t offset)
{
        put_family(f, name, "gauge", help);
        for (size_t i = 0; i < s->n_ports; i++) {
                bool v = *(const bool *)((const char *)(s->ports + i) + offset);

                fprintf(f, "%s{", name);
                put_label(f, true, "port", s->ports[i].port);
                fprintf(f, "} %d\n", v ? 1 : 0);
        }
}

int metrics_format(FILE *f, const struct metrics_snapshot *s)
{
        int r;

        if (!f || !s)
                return -EINVAL;
        r = snapshot_validate(s);
        if (r < 0)
                return r;

        put_family(f, "cxl_isold_build_info", "gauge", "cxl-isold version that wrote this file, value always 1.");
        fputs("cxl_isold_build_info{", f);
        put_label(f, true, "version", s->version);
        fputs("} 1\n", f);

        put_family(f, "cxl_isold_last_poll_timestamp_seconds", "gauge",
                   "Wall-clock time of the last completed poll of all watched ports.");
        if (s->last_poll_realtime_usec > 0)
                fprintf(f, "cxl_isold_last_poll_timestamp_seconds %" PRIu64 ".%06" PRIu64 "\n",
                        s->last_poll_realtime_usec / 1000000, s->last_poll_realtime_usec % 1000000);

        put_port_gauge(f, s, "cxl_isold_port_isolated",
                       "1 while the root port's CXL.mem or CXL.cache link is isolated.",
                       offsetof(struct metrics_port, isolated));
        put_port_gauge(f, s, "cxl_isold_port_watchable",
                       "1 if the daemon can read the port's Timeout and Isolation registers.",
                       offsetof(struct metrics_port, watchable));
        put_port_gauge(f, s, "cxl_isold_port_armed",
                       "1 if CXL.mem isolation is enabled in the port's control register.",
                       offsetof(struct metrics_port, armed));

        put_family(f, "cxl_isold_events_total", "counter",
                   "Isolation events detected since the daemon started, by port and kind.");
        for (size_t i = 0; i < s->n_events; i++) {
                fputs("cxl_isold_events_total{", f);
                put_label(f, true, "port", s->events[i].port);
                put_label(f, false, "kind", s->events[i].kind);
                fprintf(f, "} %" PRIu64 "\n", s->events[i].count);
        }

        put_family(f, "cxl_isold_action_results_total", "counter",
                   "Finished policy actions since the daemon started, by policy, action and result.");
        for (size_t i = 0; i < s->n_action_results; i++) {
                const struct metrics_action_count *a = s->action_results + i;

                fputs("cxl_isold_action_results_total{", f);
                put_label(f, true, "policy", a->policy);
                put_label(f, false, "action", a->action);
                put_label(f, false, "result", a->result);
                fprintf(f, "} %" PRIu64 "\n", a->count);
        }

        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        return 0;
}

static void unlinkp(char **path)
{
        if (*path) {
                int saved = errno;

                (void)unlink(*path);
                free(*path);
                errno = saved;
        }
}

int metrics_write(const char *dir, const struct metrics_snapshot *s)
{
        _cleanup_(unlinkp) char *tmp = NULL;
        _cleanup_free_ char *final = NULL;
        _cleanup_close_ int dfd = -1;
        _cleanup_fclose_ FILE *f = NULL;
        int fd, r;

        if (!dir || !*dir || !s)
                return -EINVAL;
        /* Validate first: an invalid snapshot must not even create the temporary file. */
        r = snapshot_validate(s);
        if (r < 0)
                return r;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (asprintf(&final, "%s/" METRICS_FILE_NAME, dir) < 0) {
                final = NULL;
                return -ENOMEM;
        }
        /* "cxl_isold.prom.XXXXXX" does not end in ".prom", so the collector skips it. */
        if (asprintf(&tmp, "%s.XXXXXX", final) < 0) {
                tmp = NULL;
                return -ENOMEM;
        }
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                free(TAKE_PTR(tmp));    /* nothing was created: nothing to unlink */
                return r;
        }
        f = fdopen(fd, "w");
        if (!f) {
                r = -errno;
                (void)close(fd);
                return r;
        }
        if (fchmod(fd, 0644) < 0)
                return -errno;

        r = metrics_format(f, s);
        if (r < 0)
                return r;
        if (fsync(fd) < 0)
                return -errno;
        r = fclose(TAKE_PTR(f));
        if (r != 0)
                return -EIO;

        if (rename(tmp, final) < 0)
                return -errno;
        free(TAKE_PTR(tmp));    /* renamed: no longer ours to unlink */

        /* The rename itself must survive a crash, or the collector may serve a stale file after reboot. */
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}

static int label_dup(const char *v, const char **ret)
{
        char *copy;
        int r = check_label_value(v);

        if (r < 0)
                return r;
        copy = strdup(v);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

int metrics_counters_add_event(struct metrics_counters *c, const char *port, const char *kind)
{
        struct metrics_event_count e = { .count = 1 }, *grown;
        int r;

        if (!c || !port || !kind)
                return -EINVAL;
        for (size_t i = 0; i < c->n_events; i++)
                if (same(c->events[i].port, port) && same(c->events[i].kind, kind)) {
                        c->events[i].count++;
                        return 0;
                }
        if (c->n_events >= METRICS_COUNTER_SERIES_MAX)
                return -E2BIG;
        r = label_dup(port, &e.port);
        if (r >= 0)
                r = label_dup(kind, &e.kind);
        if (r >= 0) {
                grown = reallocarray(c->events, c->n_events + 1, sizeof(*grown));
                if (!grown)
                        r = -ENOMEM;
        }
        if (r < 0) {
                free((char *)e.port);
                free((char *)e.kind);
                return r;
        }
        c->events = grown;
        c->events[c->n_events++] = e;
        return 0;
}

int metrics_counters_add_action_result(struct metrics_counters *c, const char *policy, const char *action,
                                       const char *result)
{
        struct metrics_action_count a = { .count = 1 }, *grown;
        int r;

        if (!c || !policy || !action || !result)
                return -EINVAL;
        for (size_t i = 0; i < c->n_action_results; i++) {
                struct metrics_action_count *b = c->action_results + i;

                if (same(b->policy, policy) && same(b->action, action) && same(b->result, result)) {
                        b->count++;
                        return 0;
                }
        }
        if (c->n_action_results >= METRICS_COUNTER_SERIES_MAX)
                return -E2BIG;
        r = label_dup(policy, &a.policy);
        if (r >= 0)
                r = label_dup(action, &a.action);
        if (r >= 0)
                r = label_dup(result, &a.result);
        if (r >= 0) {
                grown = reallocarray(c->action_results, c->n_action_results + 1, sizeof(*grown));
                if (!grown)
                        r = -ENOMEM;
        }
        if (r < 0) {
                free((char *)a.policy);
                free((char *)a.action);
                free((char *)a.result);
                return r;
        }
        c->action_results = grown;
        c->action_results[c->n_action_results++] = a;
        return 0;
}

void metrics_counters_done(struct metrics_counters *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->n_events; i++) {
                free((char *)c->events[i].port);
                free((char *)c->events[i].kind);
        }
        for (size_t i = 0; i < c->n_action_results; i++) {
                free((char *)c->action_results[i].policy);
                free((char *)c->action_results[i].action);
                free((char *)c->action_results[i].result);
        }
        free(c->events);
        free(c->action_results);
        *c = (struct metrics_counters) {};
}
