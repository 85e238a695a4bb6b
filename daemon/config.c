/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Configuration loading. libinih splits KEY=VALUE lines; everything it cannot
 * tell us (line numbers, section header lines, over-long lines) comes from our
 * own reader, which hands inih one line per call. Section headers are parsed
 * here, not by inih, because inih silently truncates section names at 50
 * bytes and never reports a section without keys.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <ini.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The generated build header has the same basename as ours, so name it by path. */
#include CXL_ISOLD_BUILD_CONFIG_H

#include "cleanup.h"
#include "config.h"
#include "cxl-ti.h"

/* NULL-terminated too, for "did you mean" over the list. */
static const char *const action_names[_ACTION_TYPE_MAX + 1] = {
        [ACTION_LOG] = "log",
        [ACTION_OFFLINE_DEVDAX] = "offline-devdax",
        [ACTION_OFFLINE_MEMORY] = "offline-memory",
        [ACTION_FENCE] = "fence",
        [ACTION_EXEC] = "exec",
        [ACTION_EVIDENCE] = "evidence",
        [ACTION_RESET] = "reset",
        [ACTION_REBOOT] = "reboot",
};

static const char *const arm_mode_names[_ARM_MODE_MAX] = {
        [ARM_AUTO] = "auto",
        [ARM_NEVER] = "never",
        [ARM_FORCE] = "force",
};

static const char *const unsafe_reaction_names[_UNSAFE_REACTION_MAX] = {
        [UNSAFE_DISARM] = "disarm",
        [UNSAFE_ALERT] = "alert",
};

static const char *const port_kind_names[_PORT_KIND_MAX] = {
        [PORT_KIND_ANY] = "any",
        [PORT_KIND_MEMORY] = "memory",
        [PORT_KIND_ACCELERATOR] = "accelerator",
};

static int table_lookup(const char *const *table, int n, const char *s)
{
        if (!s)
                return -EINVAL;
        for (int i = 0; i < n; i++)
                if (table[i] && strcmp(table[i], s) == 0)
                        return i;
        return -EINVAL;
}

const char *action_type_to_string(enum action_type a)
{
        return (int)a >= 0 && a < _ACTION_TYPE_MAX ? action_names[a] : NULL;
}

enum action_type action_type_from_string(const char *s)
{
        return (enum action_type)table_lookup(action_names, _ACTION_TYPE_MAX, s);
}

const char *arm_mode_to_string(enum arm_mode m)
{
        return (int)m >= 0 && m < _ARM_MODE_MAX ? arm_mode_names[m] : NULL;
}

enum arm_mode arm_mode_from_string(const char *s)
{
        return (enum arm_mode)table_lookup(arm_mode_names, _ARM_MODE_MAX, s);
}

const char *port_kind_to_string(enum port_kind k)
{
        return (int)k >= 0 && k < _PORT_KIND_MAX ? port_kind_names[k] : NULL;
}

enum port_kind port_kind_from_string(const char *s)
{
        return (enum port_kind)table_lookup(port_kind_names, _PORT_KIND_MAX, s);
}

const char *unsafe_reaction_to_string(enum unsafe_reaction r)
{
        return (int)r >= 0 && r < _UNSAFE_REACTION_MAX ? unsafe_reaction_names[r] : NULL;
}

enum unsafe_reaction unsafe_reaction_from_string(const char *s)
{
        return (enum unsafe_reaction)table_lookup(unsafe_reaction_names, _UNSAFE_REACTION_MAX, s);
}

/* ---- durations ---- */

#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MIN (60ULL * USEC_PER_SEC)
#define USEC_PER_HOUR (60ULL * USEC_PER_MIN)
#define USEC_PER_DAY (24ULL * USEC_PER_HOUR)
#define USEC_PER_WEEK (7ULL * USEC_PER_DAY)

static const struct {
        const char *name;
        usec_t usec;
} duration_units[] = {
        { "us", 1 }, { "usec", 1 },
        { "ms", USEC_PER_MSEC }, { "msec", USEC_PER_MSEC },
        { "s", USEC_PER_SEC }, { "sec", USEC_PER_SEC }, { "second", USEC_PER_SEC }, { "seconds", USEC_PER_SEC },
        { "m", USEC_PER_MIN }, { "min", USEC_PER_MIN }, { "minute", USEC_PER_MIN }, { "minutes", USEC_PER_MIN },
        { "h", USEC_PER_HOUR }, { "hr", USEC_PER_HOUR }, { "hour", USEC_PER_HOUR }, { "hours", USEC_PER_HOUR },
        { "d", USEC_PER_DAY }, { "day", USEC_PER_DAY }, { "days", USEC_PER_DAY },
        { "w", USEC_PER_WEEK }, { "week", USEC_PER_WEEK }, { "weeks", USEC_PER_WEEK },
};

int config_parse_duration(const char *s, usec_t *ret)
{
        usec_t total = 0;
        bool any = false;

        if (!s)
                return -EINVAL;
        for (;;) {
                uint64_t n = 0, unit = USEC_PER_SEC;
                const char *u;
                size_t ulen;

                while (isspace((unsigned char)*s))
                        s++;
                if (!*s)
                        break;
                if (!isdigit((unsigned char)*s))
                        return -EINVAL;
                for (; isdigit((unsigned char)*s); s++) {
                        uint64_t digit = (uint64_t)(*s - '0');

                        /* Exact, so that every value config_format_duration() prints parses back. */
                        if (n > UINT64_MAX / 10 || (n == UINT64_MAX / 10 && digit > UINT64_MAX % 10))
                                return -ERANGE;
                        n = n * 10 + digit;
                }
                while (isspace((unsigned char)*s))
                        s++;
                for (u = s; isalpha((unsigned char)*s); s++)
                        ;
                ulen = (size_t)(s - u);
                if (ulen > 0) {
                        bool found = false;

                        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                                if (strlen(duration_units[i].name) == ulen &&
                                    strncmp(duration_units[i].name, u, ulen) == 0) {
                                        unit = duration_units[i].usec;
                                        found = true;
                                        break;
                                }
                        if (!found)
                                return -EINVAL;
                }
                if (n > UINT64_MAX / unit || total > UINT64_MAX - n * unit)
                        return -ERANGE;
                total += n * unit;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

const char *config_format_duration(usec_t u, char buf[static CONFIG_DURATION_STRING_MAX])
{
        static const struct {
                const char *name;
                usec_t usec;
        } units[] = {
                { "w", USEC_PER_WEEK }, { "d", USEC_PER_DAY }, { "h", USEC_PER_HOUR }, { "min", USEC_PER_MIN },
                { "s", USEC_PER_SEC }, { "ms", USEC_PER_MSEC }, { "us", 1 },
        };

        if (u == 0) {
                snprintf(buf, CONFIG_DURATION_STRING_MAX, "0");
                return buf;
        }
        /* One exact unit reads back to the same value; the largest one reads best. */
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (u % units[i].usec == 0) {
                        snprintf(buf, CONFIG_DURATION_STRING_MAX, "%llu%s",
                                 (unsigned long long)(u / units[i].usec), units[i].name);
                        break;
                }
        return buf;
}

/* ---- T&I timeout values ---- */

static const struct {
        const char *name;
        uint8_t value;
} timeout_names[] = {
        { "default", 0x0 },
        { "A1", 0x1 }, { "A2", 0x2 }, { "B1", 0x5 }, { "B2", 0x6 },
        { "C1", 0x9 }, { "C2", 0xa }, { "D1", 0xd }, { "D2", 0xe },
};

int config_parse_timeout_value(const char *s, int *ret)
{
        if (!s)
                return -EINVAL;
        if (strcmp(s, "keep") == 0) {
                *ret = -1;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(timeout_names); i++)
                if (strcasecmp(s, timeout_names[i].name) == 0) {
                        *ret = timeout_names[i].value;
                        return 0;
                }
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && isxdigit((unsigned char)s[2]) && s[3] == '\0') {
                uint8_t v = (uint8_t)strtoul(s + 2, NULL, 16);

                if (cxl_ti_timeout_value_decode(v, NULL) < 0)
                        return -EINVAL;
                *ret = v;
                return 0;
        }
        return -EINVAL;
}

/* ---- matching ---- */

#define MATCH_HOST_BRIDGE "host-bridge:"
#define MATCH_SERIAL "serial:"

static bool startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int parse_serial(const char *s, uint64_t *ret)
{
        uint64_t v = 0;
        size_t n = 0;

        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                s += 2;
        for (; *s; s++, n++) {
                if (!isxdigit((unsigned char)*s) || n >= 16)
                        return -EINVAL;
                v = (v << 4) | (uint64_t)(isdigit((unsigned char)*s) ? *s - '0' : tolower((unsigned char)*s) - 'a' + 10);
        }
        if (n == 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

bool config_match(const char *pattern, const char *bdf, const char *host_bridge, uint64_t serial)
{
        if (!pattern)
                return false;
        if (startswith(pattern, MATCH_HOST_BRIDGE))
                return host_bridge && fnmatch(pattern + strlen(MATCH_HOST_BRIDGE), host_bridge, 0) == 0;
        if (startswith(pattern, MATCH_SERIAL)) {
                uint64_t want;

                return serial != 0 && parse_serial(pattern + strlen(MATCH_SERIAL), &want) >= 0 && want == serial;
        }
        /* sysfs spells BDFs in lower case; an operator may not. */
        return bdf && fnmatch(pattern, bdf, FNM_CASEFOLD) == 0;
}

static bool is_bdf(const char *s)
{
        /* dddd:bb:dd.f, hex digits */
        static const char shape[] = "xxxx:xx:xx.x";

        if (strlen(s) != sizeof(shape) - 1)
                return false;
        for (size_t i = 0; shape[i]; i++)
                if (shape[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != shape[i])
                        return false;
        return true;
}

/* NULL when the match string is usable, else why not (a static string). */
static const char *match_invalid(const char *m)
{
        if (startswith(m, MATCH_HOST_BRIDGE))
                return m[strlen(MATCH_HOST_BRIDGE)] ? NULL : "host-bridge: needs a name (glob allowed)";
        if (startswith(m, MATCH_SERIAL)) {
                uint64_t v;

                if (parse_serial(m + strlen(MATCH_SERIAL), &v) < 0)
                        return "serial: needs 1 to 16 hex digits";
                if (v == 0)
                        return "serial:0 would match every port without a serial number";
                return NULL;
        }
        if (strpbrk(m, "*?[")) {
                if (strspn(m, "0123456789abcdefABCDEF:.*?[]!-") != strlen(m))
                        return "a BDF glob may only use hex digits, ':', '.', and * ? [ ] ! -";
                return NULL;
        }
        return is_bdf(m) ? NULL : "not a full PCI address such as 0000:0c:00.0";
}

/* Could a policy match string apply to the port that a [port] section names? Only same-type strings are comparable. */
static bool match_overlaps(const char *policy_match, const char *port_match)
{
        bool ph = startswith(policy_match, MATCH_HOST_BRIDGE), qh = startswith(port_match, MATCH_HOST_BRIDGE);
        bool ps = startswith(policy_match, MATCH_SERIAL), qs = startswith(port_match, MATCH_SERIAL);

        if (ph != qh || ps != qs)
                return false;
        if (ps) {
                uint64_t a, b;

                return parse_serial(policy_match + strlen(MATCH_SERIAL), &a) >= 0 &&
                       parse_serial(port_match + strlen(MATCH_SERIAL), &b) >= 0 && a == b;
        }
        return strcasecmp(policy_match, port_match) == 0 ||
               fnmatch(policy_match, port_match, FNM_CASEFOLD) == 0 ||
               fnmatch(port_match, policy_match, FNM_CASEFOLD) == 0;
}

static bool policy_applies(const struct config_policy *p, const char *bdf, const char *host_bridge, uint64_t serial)
{
        if (!p->match_ports)
                return true;
        for (char **m = p->match_ports; *m; m++)
                if (config_match(*m, bdf, host_bridge, serial))
                        return true;
        return false;
}

static const struct config_port default_port = {
        .arm = ARM_AUTO,
        .timeout_value = -1,
        .on_unsafe = UNSAFE_DISARM,
        .kind = PORT_KIND_ANY,
};

const struct config_port *config_port_for(const struct config *c, const char *bdf, const char *host_bridge,
                                          uint64_t serial)
{
        if (c)
                for (size_t i = c->n_ports; i > 0; i--)
                        if (config_match(c->ports[i - 1].match, bdf, host_bridge, serial))
                                return &c->ports[i - 1];
        return &default_port;
}

size_t config_policies_for(const struct config *c, const char *bdf, const char *host_bridge, uint64_t serial,
                           int isolation_kind, const struct config_policy **out, size_t max)
{
        size_t n = 0;

        if (!c)
                return 0;
        for (size_t i = 0; i < c->n_policies && n < max; i++) {
                const struct config_policy *p = &c->policies[i];

                if (p->match_reasons != 0 &&
                    (isolation_kind < 0 || isolation_kind >= 32 || !(p->match_reasons & (1u << isolation_kind))))
                        continue;
                if (!policy_applies(p, bdf, host_bridge, serial))
                        continue;
                out[n++] = p;
        }
        return n;
}

/* ---- freeing ---- */

static void strv_free(char **v)
{
        if (!v)
                return;
        for (char **i = v; *i; i++)
                free(*i);
        free(v);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);

static void policy_done(struct config_policy *p)
{
        free(p->name);
        free(p->src.file);
        strv_free(p->match_ports);
        free(p->exec);
}

struct config *config_free(struct config *c)
{
        if (!c)
                return NULL;
        free(c->state_dir);
        free(c->metrics_dir);
        for (size_t i = 0; i < c->n_ports; i++) {
                free(c->ports[i].match);
                free(c->ports[i].src.file);
        }
        free(c->ports);
        for (size_t i = 0; i < c->n_policies; i++)
                policy_done(&c->policies[i]);
        free(c->policies);
        for (size_t i = 0; i < c->n_files; i++)
                free(c->files[i]);
        free(c->files);
        free(c);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct config *, config_free);

void config_diags_done(struct config_diags *d)
{
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++) {
                free(d->diag[i].file);
                free(d->diag[i].message);
        }
        free(d->diag);
        d->diag = NULL;
        d->n = 0;
}

void config_diags_print(FILE *f, const struct config_diags *d)
{
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++) {
                const struct config_diag *g = &d->diag[i];

                if (g->line > 0)
                        fprintf(f, "%s:%u: %s\n", g->file, g->line, g->message);
                else
                        fprintf(f, "%s: %s\n", g->file, g->message);
        }
}

/* ---- load state ---- */

enum section_type {
        SECTION_NONE,           /* before the first header */
        SECTION_DAEMON,
        SECTION_PORT,
        SECTION_POLICY,
        SECTION_IGNORED,        /* a bad header, already reported: its keys are skipped */
};

static const char *const daemon_keys[] = {
        "poll-interval", "poll-backstop", "state-dir", "metrics-dir", "dry-run", "reboot-on-record-failure",
        "record-max-size", NULL,
};
static const char *const port_keys[] = {
        "arm", "timeout", "on-unsafe", "kind", NULL,
};
enum {
        PK_MATCH_PORT, PK_MATCH_REASON, PK_ACTION, PK_EXEC, PK_TIMEOUT, PK_FENCE_SIGNAL, PK_REBOOT_DELAY,
        PK_REBOOT_WINDOW, PK_COOLDOWN, PK_RATE_LIMIT, PK_ACTION_TIMEOUT_FIRST,
        _PK_MAX = PK_ACTION_TIMEOUT_FIRST + _ACTION_TYPE_MAX,
};
static const char *const policy_keys[] = {
        [PK_MATCH_PORT] = "match-port", [PK_MATCH_REASON] = "match-reason", [PK_ACTION] = "action",
        [PK_EXEC] = "exec", [PK_TIMEOUT] = "timeout", [PK_FENCE_SIGNAL] = "fence-signal",
        [PK_REBOOT_DELAY] = "reboot-delay", [PK_REBOOT_WINDOW] = "reboot-window", [PK_COOLDOWN] = "cooldown",
        [PK_RATE_LIMIT] = "rate-limit",
        [PK_ACTION_TIMEOUT_FIRST + ACTION_LOG] = "log-timeout",
        [PK_ACTION_TIMEOUT_FIRST + ACTION_OFFLINE_DEVDAX] = "offline-devdax-timeout",
        [PK_ACTION_TIMEOUT_FIRST + ACTION_OFFLINE_MEMORY] = "offline-memory-timeout",
        [PK_ACTION_TIMEOUT_FIRST + ACTION_FENCE] = "fence-timeout",
        [PK_ACTION_TIMEOUT_FIRST + ACTION_EXEC] = "exec-timeout",
        [PK_ACTION_TIMEOUT_FIRST + ACTION_EVIDENCE] = "evidence-timeout",
        [PK_ACTION_TIMEOUT_FIRST + ACTION_RESET] = "reset-timeout",
        [PK_ACTION_TIMEOUT_FIRST + ACTION_REBOOT] = "reboot-timeout",
        [_PK_MAX] = NULL,
};
#define SECTION_KEYS_MAX _PK_MAX

struct load_state {
        struct config *config;
        struct config_diags *diags;
        unsigned n_diags;               /* this load's, for CONFIG_DIAGS_MAX */
        int error;                      /* first hard error (-ENOMEM, -EIO), beats -EINVAL */
        bool stop;                      /* a bound was hit: read no further */
        size_t n_sections;

        /* the file being read */
        const char *file;               /* owned by config->files */
        unsigned line;
        FILE *f;                        /* either f ... */
        const char *text;               /* ... or text/len/pos */
        size_t len, pos;

        /* the section being read */
        enum section_type section;
        size_t index;                   /* into ports or policies */
        unsigned section_line;
        bool unnamed_policy;
        unsigned section_diags;         /* n_diags when the section began */
        unsigned key_line[SECTION_KEYS_MAX];    /* where each key was set in this section, 0 = not set */
};

static void sanitize(char *s)
{
        /* Values are echoed into terminals and the journal: no control characters. */
        static const char control[] = "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"
                                      "\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f";

        /* strcspn() rather than a byte loop: messages run to hundreds of bytes and there are up to 100 per load. */
        for (s += strcspn(s, control); *s; s += strcspn(s, control))
                *s = '?';
}

static int diag_add(struct load_state *s, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int diag_add(struct load_state *s, unsigned line, const char *fmt, ...)
{
        struct config_diags *d = s->diags;
        _cleanup_free_ char *msg = NULL, *file = NULL;
        struct config_diag *n;
        bool last = false;
        va_list ap;
        int r;

        if (s->stop)
                return 0;
        if (++s->n_diags >= CONFIG_DIAGS_MAX) {
                last = true;
                s->stop = true;
        }
        if (last) {
                r = asprintf(&msg, "more than %d problems; stopped reading, fix the ones above first",
                             CONFIG_DIAGS_MAX - 1);
        } else {
                va_start(ap, fmt);
                r = vasprintf(&msg, fmt, ap);
                va_end(ap);
        }
        if (r < 0) {
                msg = NULL;
                goto oom;
        }
        sanitize(msg);
        file = strdup(s->file ? s->file : "(config)");
        if (!file)
                goto oom;
        if (!d)
                return 0;
        n = realloc(d->diag, (d->n + 1) * sizeof(*n));
        if (!n)
                goto oom;
        d->diag = n;
        d->diag[d->n++] = (struct config_diag) { .file = TAKE_PTR(file), .line = line, .message = TAKE_PTR(msg) };
        return 0;
oom:
        if (s->error == 0)
                s->error = -ENOMEM;
        s->stop = true;
        return -ENOMEM;
}

/* The known name closest to an unknown one, for "did you mean"; NULL when nothing is close. */
static const char *closest(const char *word, const char *const *known)
{
        size_t wl = strlen(word), best = SIZE_MAX, limit;
        const char *best_name = NULL;

        if (wl > 64)
                return NULL;
        /* Farther than a third of the word is a different word, not a typo. */
        limit = wl < 6 ? 2 : wl / 3;
        for (const char *const *k = known; *k; k++) {
                size_t kl = strlen(*k), row[65], prev_diag, row_min = 0, inf = limit + 1;

                /*
                 * Only a distance within the limit, and below the best so far
                 * (the first of equals wins), can change the answer. So only
                 * the band |i - j| <= limit of the table is computed (a path
                 * leaving it costs more), and a name is dropped as soon as
                 * the length difference or a row's minimum, both lower
                 * bounds, exceed the limit. This runs for every unknown key
                 * of a broken file, up to CONFIG_DIAGS_MAX times per load.
                 */
                if (kl > 64 || (wl > kl ? wl - kl : kl - wl) > limit)
                        continue;
                /* Levenshtein distance, one row at a time; inf (or more) stands for "more than the limit". */
                for (size_t j = 0; j <= kl; j++)
                        row[j] = j <= limit ? j : inf;
                for (size_t i = 1; i <= wl && row_min <= limit; i++) {
                        size_t lo = i > limit ? i - limit : 1, hi = i + limit < kl ? i + limit : kl;

                        prev_diag = row[lo - 1];
                        row[lo - 1] = row_min = lo == 1 && i < inf ? i : inf;
                        for (size_t j = lo; j <= hi; j++) {
                                size_t up = row[j], cost = tolower((unsigned char)word[i - 1]) != (*k)[j - 1];
                                size_t v = prev_diag + cost;

                                if (up + 1 < v)
                                        v = up + 1;
                                if (row[j - 1] + 1 < v)
                                        v = row[j - 1] + 1;
                                prev_diag = up;
                                row[j] = v;
                                if (v < row_min)
                                        row_min = v;
                        }
                }
                if (row_min <= limit && row[kl] <= limit && row[kl] < best) {
                        best = row[kl];
                        best_name = *k;
                        if (best == 0)
                                break;
                        limit = best - 1;
                }
        }
        return best_name;
}

static int join_known(const char *const *known, char **ret)
{
        size_t len = 1;
        char *s;

        for (const char *const *k = known; *k; k++)
                len += strlen(*k) + 1;
        s = malloc(len);
        if (!s)
                return -ENOMEM;
        s[0] = '\0';
        for (const char *const *k = known; *k; k++) {
                if (k != known)
                        strcat(s, " ");
                strcat(s, *k);
        }
        *ret = s;
        return 0;
}

static int diag_unknown(struct load_state *s, const char *what, const char *where, const char *word,
                        const char *const *known)
{
        _cleanup_free_ char *list = NULL;
        const char *near = closest(word, known);

        if (near)
                return diag_add(s, s->line, "unknown %s '%s'%s; did you mean '%s'?", what, word, where, near);
        if (join_known(known, &list) < 0)
                return diag_add(s, s->line, "unknown %s '%s'%s", what, word, where);
        return diag_add(s, s->line, "unknown %s '%s'%s; known: %s", what, word, where, list);
}

/* ---- value parsers: 0 or a diagnostic (and -EINVAL) ---- */

static int parse_bool(const char *v, bool *ret)
{
        static const char *const yes[] = { "1", "yes", "true", "on" }, *const no[] = { "0", "no", "false", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(v, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* "4M", "512K", "1G", "65536": powers of 1024, as systemd's size settings; no fractions, no overflow. */
static int parse_size(const char *v, uint64_t *ret)
{
        static const struct { char suffix; unsigned shift; } units[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 } };
        unsigned shift = 0;
        uint64_t n = 0;
        const char *p = v;

        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (n > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                n = n * 10 + (uint64_t)(*p - '0');
        }
        if (*p) {
                for (size_t i = 0; i < ELEMENTSOF(units); i++)
                        if (toupper((unsigned char)*p) == units[i].suffix)
                                shift = units[i].shift;
                if (!shift || p[1])
                        return -EINVAL;
        }
        if (n > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = n << shift;
        return 0;
}

static int value_duration(struct load_state *s, const char *key, const char *v, usec_t min, usec_t max, usec_t *ret)
{
        char a[CONFIG_DURATION_STRING_MAX], b[CONFIG_DURATION_STRING_MAX];
        usec_t u;

        if (config_parse_duration(v, &u) < 0 || u < min || u > max) {
                diag_add(s, s->line,
                         "%s=%s is not a duration from %s to %s; write e.g. 100ms, 5s, 2min or 1h "
                         "(a number alone is seconds)",
                         key, v, config_format_duration(min, a), config_format_duration(max, b));
                return -EINVAL;
        }
        *ret = u;
        return 0;
}

static int value_path(struct load_state *s, const char *key, const char *v, char **ret)
{
        char *p;

        if (v[0] != '/') {
                diag_add(s, s->line, "%s=%s is not an absolute path; write the full path starting with /", key, v);
                return -EINVAL;
        }
        p = strdup(v);
        if (!p) {
                s->error = -ENOMEM;
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

static bool is_list_sep(char c)
{
        return c == ' ' || c == '\t' || c == ',';
}

/* Split a whitespace- or comma-separated list. Empty input gives an empty (not NULL) vector. */
static int split_list(const char *v, char ***ret, size_t *ret_n)
{
        size_t n = 0;
        char **l;

        for (const char *p = v; *p;) {
                while (is_list_sep(*p))
                        p++;
                if (!*p)
                        break;
                n++;
                while (*p && !is_list_sep(*p))
                        p++;
        }
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        n = 0;
        for (const char *p = v; *p;) {
                const char *b;

                while (is_list_sep(*p))
                        p++;
                if (!*p)
                        break;
                for (b = p; *p && !is_list_sep(*p); p++)
                        ;
                l[n] = strndup(b, (size_t)(p - b));
                if (!l[n]) {
                        strv_free(l);
                        return -ENOMEM;
                }
                n++;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

static int parse_signal(const char *v, int *ret)
{
        const char *name = v;

        if (strncasecmp(name, "SIG", 3) == 0)
                name += 3;
        /* Standard signals only: a real-time signal number means nothing to the processes we fence. */
        for (int i = 1; i < SIGRTMIN && i < 32; i++) {
                const char *abbrev = sigabbrev_np(i);

                if (abbrev && strcasecmp(abbrev, name) == 0) {
                        *ret = i;
                        return 0;
                }
        }
        return -EINVAL;
}

static int parse_hhmm(const char *s, size_t len, int *ret)
{
        if (len != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
            !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
                return -EINVAL;
        int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
        if (h > 23 || m > 59)
                return -EINVAL;
        *ret = h * 60 + m;
        return 0;
}

static int parse_reboot_window(const char *v, int *ret_start, int *ret_end)
{
        const char *dash = strchr(v, '-');
        int a, b;

        if (!dash || parse_hhmm(v, (size_t)(dash - v), &a) < 0 || parse_hhmm(dash + 1, strlen(dash + 1), &b) < 0 ||
            a == b)
                return -EINVAL;
        *ret_start = a;
        *ret_end = b;
        return 0;
}

static int parse_rate_limit(const char *v, unsigned *ret_burst, usec_t *ret_interval)
{
        const char *slash = strchr(v, '/');
        unsigned long n = 0;
        usec_t interval;
        size_t digits = 0;

        if (!slash)
                return -EINVAL;
        for (const char *p = v; p < slash; p++, digits++) {
                if (!isdigit((unsigned char)*p) || n > 1000000)
                        return -EINVAL;
                n = n * 10 + (unsigned long)(*p - '0');
        }
        if (digits == 0 || n == 0 || n > 1000000)
                return -EINVAL;
        if (config_parse_duration(slash + 1, &interval) < 0 || interval == 0)
                return -EINVAL;
        *ret_burst = (unsigned)n;
        *ret_interval = interval;
        return 0;
}

/* ---- sections ---- */

static int key_index(const char *const *keys, const char *name)
{
        for (int i = 0; keys[i]; i++)
                if (strcmp(keys[i], name) == 0)
                        return i;
        return -1;
}

static void handle_daemon_key(struct load_state *s, const char *key, const char *v)
{
        struct config *c = s->config;

        if (strcmp(key, "poll-interval") == 0) {
                if (!*v)
                        c->poll_interval = CONFIG_DEFAULT_POLL_INTERVAL_USEC;
                else
                        (void)value_duration(s, key, v, USEC_PER_MSEC, USEC_PER_HOUR, &c->poll_interval);
        } else if (strcmp(key, "poll-backstop") == 0) {
                char a[CONFIG_DURATION_STRING_MAX], b[CONFIG_DURATION_STRING_MAX];
                usec_t u;

                /* 0 is a value of its own (no periodic poll), not a duration too short */
                if (!*v)
                        c->poll_backstop = CONFIG_POLL_BACKSTOP_UNSET;
                else if (config_parse_duration(v, &u) < 0 || (u != 0 && (u < USEC_PER_MSEC || u > USEC_PER_DAY)))
                        diag_add(s, s->line,
                                 "%s=%s is neither 0 (no periodic poll while every port has an interrupt source) "
                                 "nor a duration from %s to %s; write e.g. 0, 1s or 5min (a number alone is seconds)",
                                 key, v, config_format_duration(USEC_PER_MSEC, a), config_format_duration(USEC_PER_DAY, b));
                else
                        c->poll_backstop = u;
        } else if (strcmp(key, "record-max-size") == 0) {
                uint64_t bytes;

                if (!*v)
                        c->record_max_size = CONFIG_DEFAULT_RECORD_MAX_SIZE;
                else if (parse_size(v, &bytes) < 0 ||
                         (bytes != 0 && (bytes < CONFIG_RECORD_MAX_SIZE_MIN || bytes > CONFIG_RECORD_MAX_SIZE_MAX)))
                        diag_add(s, s->line,
                                 "%s=%s is neither 0 (never rotate events.jsonl) nor a size from 64K to 1G; "
                                 "write e.g. 4M (suffixes K, M, G are powers of 1024; a number alone is bytes)",
                                 key, v);
                else
                        c->record_max_size = bytes;
        } else if (strcmp(key, "state-dir") == 0) {
                char *p = NULL;

                if (!*v)
                        p = strdup(CONFIG_DEFAULT_STATE_DIR);
                else if (value_path(s, key, v, &p) < 0)
                        return;
                if (!p) {
                        s->error = -ENOMEM;
                        return;
                }
                free(c->state_dir);
                c->state_dir = p;
        } else if (strcmp(key, "metrics-dir") == 0) {
                char *p = NULL;

                if (*v && value_path(s, key, v, &p) < 0)
                        return;
                free(c->metrics_dir);
                c->metrics_dir = p;
        } else {
                bool *target = strcmp(key, "dry-run") == 0 ? &c->dry_run : &c->reboot_on_record_failure;
                bool b;

                if (!*v)
                        *target = target == &c->reboot_on_record_failure;
                else if (parse_bool(v, &b) < 0)
                        diag_add(s, s->line, "%s=%s is not a boolean; use yes or no", key, v);
                else
                        *target = b;
        }
}

static void handle_port_key(struct load_state *s, const char *key, const char *v)
{
        struct config_port *p = &s->config->ports[s->index];

        if (strcmp(key, "arm") == 0) {
                enum arm_mode m = *v ? arm_mode_from_string(v) : ARM_AUTO;

                if ((int)m < 0)
                        diag_add(s, s->line, "arm=%s is not valid; use auto, never or force", v);
                else
                        p->arm = m;
        } else if (strcmp(key, "timeout") == 0) {
                int t;

                if (!*v)
                        p->timeout_value = -1;
                else if (config_parse_timeout_value(v, &t) < 0)
                        diag_add(s, s->line,
                                 "timeout=%s is not a legal CXL.mem Transaction Timeout Value; use keep, default "
                                 "(0h, 50us-10ms), A1 (50-100us), A2 (1-10ms), B1 (16-55ms), B2 (65-210ms), "
                                 "C1 (260-900ms), C2 (1-3.5s), D1 (4-13s), D2 (17-64s) or the encoding 0x0 0x1 "
                                 "0x2 0x5 0x6 0x9 0xa 0xd 0xe; other encodings are reserved",
                                 v);
                else
                        p->timeout_value = t;
        } else if (strcmp(key, "on-unsafe") == 0) {
                enum unsafe_reaction r = *v ? unsafe_reaction_from_string(v) : UNSAFE_DISARM;

                if ((int)r < 0)
                        diag_add(s, s->line, "on-unsafe=%s is not valid; use disarm or alert", v);
                else
                        p->on_unsafe = r;
        } else {
                enum port_kind k = *v ? port_kind_from_string(v) : PORT_KIND_ANY;

                if ((int)k < 0)
                        diag_add(s, s->line, "kind=%s is not valid; use memory, accelerator or any", v);
                else
                        p->kind = k;
        }
}

static void policy_set_matches(struct load_state *s, struct config_policy *p, const char *v)
{
        char **l = NULL;
        size_t n;

        if (split_list(v, &l, &n) < 0) {
                s->error = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const char *why = match_invalid(l[i]);

                if (why) {
                        diag_add(s, s->line,
                                 "match-port=%s: %s; use a BDF or BDF glob (0000:0c:00.0, 0000:0c:*), "
                                 "host-bridge:NAME or serial:HEX",
                                 l[i], why);
                        strv_free(l);
                        return;
                }
        }
        strv_free(p->match_ports);
        if (n == 0) {
                /* An empty list means every port, which is what NULL says. */
                strv_free(l);
                l = NULL;
        }
        p->match_ports = l;
}

static void policy_set_reasons(struct load_state *s, struct config_policy *p, const char *v)
{
        _cleanup_(strv_freep) char **l = NULL;
        unsigned mask = 0;
        size_t n;

        if (split_list(v, &l, &n) < 0) {
                s->error = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < n; i++) {
                enum cxl_isolation_kind k = cxl_isolation_kind_from_string(l[i]);

                if ((int)k <= CXL_ISOLATION_NONE || k >= _CXL_ISOLATION_KIND_MAX) {
                        diag_add(s, s->line,
                                 "match-reason=: '%s' is not an isolation reason; use mem-link-down, mem-timeout, "
                                 "cache-link-down or cache-timeout (empty = all)",
                                 l[i]);
                        return;
                }
                mask |= 1u << k;
        }
        p->match_reasons = mask;
}

static void policy_set_actions(struct load_state *s, struct config_policy *p, const char *v)
{
        _cleanup_(strv_freep) char **l = NULL;
        enum action_type a[POLICY_MAX_ACTIONS];
        int reboot_at = -1;
        size_t n;

        if (split_list(v, &l, &n) < 0) {
                s->error = -ENOMEM;
                return;
        }
        if (n == 0) {
                diag_add(s, s->line, "action= is empty; list at least one action, e.g. action=log evidence");
                return;
        }
        if (n > POLICY_MAX_ACTIONS) {
                diag_add(s, s->line, "action= lists %zu actions, at most %d are allowed; split the work "
                         "over fewer steps", n, POLICY_MAX_ACTIONS);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                a[i] = action_type_from_string(l[i]);
                if ((int)a[i] < 0) {
                        diag_unknown(s, "action", " in action=", l[i], action_names);
                        return;
                }
                for (size_t j = 0; j < i; j++)
                        if (a[j] == a[i]) {
                                diag_add(s, s->line, "action=: '%s' is listed twice; list each action once",
                                         l[i]);
                                return;
                        }
                if (reboot_at >= 0) {
                        diag_add(s, s->line, "action=: '%s' comes after reboot and would never run; move reboot "
                                 "to the end", l[i]);
                        return;
                }
                if (a[i] == ACTION_REBOOT)
                        reboot_at = (int)i;
        }
        memcpy(p->actions, a, n * sizeof(a[0]));
        p->n_actions = n;
}

static void policy_set_exec(struct load_state *s, struct config_policy *p, const char *v)
{
        struct stat st;
        char *e = NULL;

        if (*v) {
                if (v[0] != '/') {
                        diag_add(s, s->line, "exec=%s is not an absolute path; the daemon runs without a search "
                                 "PATH, write the full path to the script", v);
                        return;
                }
                /* Checked now, not when the port is isolated: a missing alert script must not go unnoticed. */
                if (stat(v, &st) < 0) {
                        diag_add(s, s->line, "exec=%s: %s; install the script or fix the path", v, strerror(errno));
                        return;
                }
                if (!S_ISREG(st.st_mode)) {
                        diag_add(s, s->line, "exec=%s is not a regular file; point exec= at the script itself", v);
                        return;
                }
                if (access(v, X_OK) < 0) {
                        diag_add(s, s->line, "exec=%s is not executable (%s); chmod +x it", v, strerror(errno));
                        return;
                }
                /* The daemon runs it as root: whoever may change it would own the machine. */
                if (st.st_uid != 0 && st.st_uid != geteuid()) {
                        diag_add(s, s->line, "exec=%s is owned by uid %u; a script the daemon runs as root must be "
                                 "owned by root (chown root)", v, (unsigned)st.st_uid);
                        return;
                }
                if (st.st_mode & (S_IWGRP | S_IWOTH)) {
                        diag_add(s, s->line, "exec=%s is writable by %s; a script the daemon runs as root must only "
                                 "be writable by its owner (chmod go-w)", v,
                                 st.st_mode & S_IWOTH ? "everyone" : "its group");
                        return;
                }
                e = strdup(v);
                if (!e) {
                        s->error = -ENOMEM;
                        return;
                }
        }
        free(p->exec);
        p->exec = e;
}

static void handle_policy_key(struct load_state *s, int k, const char *key, const char *v)
{
        struct config_policy *p = &s->config->policies[s->index];

        switch (k) {
        case PK_MATCH_PORT:
                policy_set_matches(s, p, v);
                break;
        case PK_MATCH_REASON:
                policy_set_reasons(s, p, v);
                break;
        case PK_ACTION:
                policy_set_actions(s, p, v);
                break;
        case PK_EXEC:
                policy_set_exec(s, p, v);
                break;
        case PK_TIMEOUT:
                if (!*v)
                        p->timeout = CONFIG_DEFAULT_ACTION_TIMEOUT_USEC;
                else
                        (void)value_duration(s, key, v, USEC_PER_MSEC, USEC_PER_DAY, &p->timeout);
                break;
        case PK_FENCE_SIGNAL:
                if (!*v)
                        p->fence_signal = SIGBUS;
                else if (parse_signal(v, &p->fence_signal) < 0)
                        diag_add(s, s->line, "fence-signal=%s is not a known signal; use a name such as SIGBUS "
                                 "(the default), SIGKILL or SIGTERM", v);
                break;
        case PK_REBOOT_DELAY:
                if (!*v)
                        p->reboot_delay = 0;
                else
                        (void)value_duration(s, key, v, 0, USEC_PER_DAY, &p->reboot_delay);
                break;
        case PK_REBOOT_WINDOW:
                if (!*v)
                        p->reboot_window_start_min = p->reboot_window_end_min = -1;
                else if (parse_reboot_window(v, &p->reboot_window_start_min, &p->reboot_window_end_min) < 0)
                        diag_add(s, s->line, "reboot-window=%s is not HH:MM-HH:MM with two different times "
                                 "(24-hour clock, e.g. 02:00-04:00; it may wrap past midnight)", v);
                break;
        case PK_COOLDOWN:
                if (!*v)
                        p->cooldown = 0;
                else
                        (void)value_duration(s, key, v, 0, USEC_PER_WEEK * 52, &p->cooldown);
                break;
        case PK_RATE_LIMIT:
                if (!*v) {
                        p->rate_limit_burst = 0;
                        p->rate_limit_interval = 0;
                } else if (parse_rate_limit(v, &p->rate_limit_burst, &p->rate_limit_interval) < 0)
                        diag_add(s, s->line, "rate-limit=%s is not N/INTERVAL; write e.g. 3/1h (at most 3 runs "
                                 "per hour), N from 1 to 1000000, or leave empty for no limit", v);
                break;
        default: {
                enum action_type a = (enum action_type)(k - PK_ACTION_TIMEOUT_FIRST);

                if (!*v)
                        p->action_timeout[a] = 0;
                else
                        (void)value_duration(s, key, v, USEC_PER_MSEC, USEC_PER_DAY, &p->action_timeout[a]);
                break;
        }
        }
}

static int config_ini_handler(void *user, const char *section, const char *name, const char *value)
{
        struct load_state *s = user;
        const char *const *keys;
        const char *where;
        int k;

        (void)section;  /* ours, parsed by the reader, not inih's (which truncates at 50 bytes) */
        if (s->stop)
                return 1;
        switch (s->section) {
        case SECTION_DAEMON:
                keys = daemon_keys;
                where = " in [daemon]";
                break;
        case SECTION_PORT:
                keys = port_keys;
                where = " in [port]";
                break;
        case SECTION_POLICY:
                keys = policy_keys;
                where = " in [policy]";
                break;
        default:
                return 1;       /* reported by the reader */
        }
        k = key_index(keys, name);
        if (k < 0) {
                diag_unknown(s, "key", where, name, keys);
                return 1;
        }
        if (s->key_line[k] != 0) {
                diag_add(s, s->line, "%s= is already set in this section at line %u; keep one", name,
                         s->key_line[k]);
                return 1;
        }
        s->key_line[k] = s->line;
        if (s->section == SECTION_DAEMON)
                handle_daemon_key(s, name, value);
        else if (s->section == SECTION_PORT)
                handle_port_key(s, name, value);
        else
                handle_policy_key(s, k, name, value);
        return 1;
}

static bool policy_has(const struct config_policy *p, enum action_type a)
{
        for (size_t i = 0; i < p->n_actions; i++)
                if (p->actions[i] == a)
                        return true;
        return false;
}

bool config_policy_has_action(const struct config_policy *p, enum action_type a)
{
        return p && policy_has(p, a);
}

int config_policy_reboot_wait_min(const struct config_policy *p, int minute_of_day)
{
        int start, end, len, since;

        if (minute_of_day < 0 || minute_of_day >= 24 * 60)
                return -EINVAL;
        if (!p || p->reboot_window_start_min < 0 || p->reboot_window_end_min < 0)
                return 0;
        start = p->reboot_window_start_min;
        end = p->reboot_window_end_min;
        /* Work in minutes since the window opened, so that a window across midnight needs no special case. */
        len = (end - start + 24 * 60) % (24 * 60);
        since = (minute_of_day - start + 24 * 60) % (24 * 60);
        return since < len ? 0 : 24 * 60 - since;
}

/* Checks that need the whole section: run when the next header or the end of the file arrives. */
static void finish_section(struct load_state *s)
{
        struct config_policy *p;
        static const struct {
                int key;
                enum action_type needs;
        } only_with[] = {
                { PK_EXEC, ACTION_EXEC },
                { PK_FENCE_SIGNAL, ACTION_FENCE },
                { PK_REBOOT_DELAY, ACTION_REBOOT },
                { PK_REBOOT_WINDOW, ACTION_REBOOT },
        };

        if (s->section != SECTION_POLICY)
                goto done;
        p = &s->config->policies[s->index];
        if (p->n_actions == 0 && s->unnamed_policy && p->exec && s->key_line[PK_ACTION] == 0) {
                /* The walking-skeleton shorthand: [policy] + exec= means "log, then run it". */
                p->actions[0] = ACTION_LOG;
                p->actions[1] = ACTION_EXEC;
                p->n_actions = 2;
        }
        if (p->n_actions == 0) {
                /* Say it only if nothing else in the section was wrong: a bad exec= or action= is the cause. */
                if (s->n_diags != s->section_diags)
                        goto done;
                if (s->unnamed_policy)
                        diag_add(s, s->section_line, "[policy] has neither action= nor exec=; add exec=/path/to/"
                                 "script, or action= with what to do (e.g. action=log evidence reboot)");
                else
                        diag_add(s, s->section_line, "[policy \"%s\"] has no action=; list what to do, e.g. "
                                 "action=log evidence reboot", p->name);
                goto done;
        }
        if (policy_has(p, ACTION_EXEC) && !p->exec && s->key_line[PK_EXEC] == 0)
                diag_add(s, s->key_line[PK_ACTION] ? s->key_line[PK_ACTION] : s->section_line,
                         "action=exec needs exec=/absolute/path/to/script in [policy \"%s\"]; add it, or drop "
                         "exec from action=", p->name);
        for (size_t i = 0; i < ELEMENTSOF(only_with); i++)
                if (s->key_line[only_with[i].key] != 0 && p->n_actions > 0 && !policy_has(p, only_with[i].needs))
                        diag_add(s, s->key_line[only_with[i].key], "%s= has no effect: action= does not list %s; "
                                 "add %s to action= or remove %s=", policy_keys[only_with[i].key],
                                 action_names[only_with[i].needs], action_names[only_with[i].needs],
                                 policy_keys[only_with[i].key]);
        for (int a = 0; a < _ACTION_TYPE_MAX; a++) {
                int k = PK_ACTION_TIMEOUT_FIRST + a;

                if (s->key_line[k] != 0 && p->n_actions > 0 && !policy_has(p, (enum action_type)a))
                        diag_add(s, s->key_line[k], "%s= has no effect: action= does not list %s; add %s to "
                                 "action= or remove %s=", policy_keys[k], action_names[a], action_names[a],
                                 policy_keys[k]);
        }
done:
        s->section = SECTION_NONE;
}

static int grow(void **array, size_t n, size_t size)
{
        void *a;

        /* Capacity is 4, then doubles: grow when n is 0 or reaches a power of two from 4 up. */
        if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
                return 0;
        a = realloc(*array, (n ? n * 2 : 4) * size);
        if (!a)
                return -ENOMEM;
        *array = a;
        return 0;
}

static bool valid_policy_name(const char *n)
{
        return *n && strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == strlen(n) &&
               strlen(n) <= 64;
}

static void start_port(struct load_state *s, const char *match)
{
        struct config *c = s->config;
        const char *why = match_invalid(match);
        struct config_port *p;

        if (why) {
                diag_add(s, s->line, "[port \"%s\"]: %s; name a BDF or BDF glob (0000:0c:00.0, 0000:0c:*), "
                         "host-bridge:NAME or serial:HEX", match, why);
                return;
        }
        for (size_t i = 0; i < c->n_ports; i++)
                if (strcmp(c->ports[i].match, match) == 0) {
                        diag_add(s, s->line, "duplicate [port \"%s\"], first defined at %s:%u; merge the two "
                                 "sections", match, c->ports[i].src.file, c->ports[i].src.line);
                        return;
                }
        if (grow((void **)&c->ports, c->n_ports, sizeof(*c->ports)) < 0)
                goto oom;
        p = &c->ports[c->n_ports];
        *p = default_port;
        p->match = strdup(match);
        p->src = (struct config_source) { .file = strdup(s->file), .line = s->line };
        if (!p->match || !p->src.file) {
                free(p->match);
                free(p->src.file);
                goto oom;
        }
        s->index = c->n_ports++;
        s->section = SECTION_PORT;
        return;
oom:
        s->error = -ENOMEM;
        s->stop = true;
}

static void start_policy(struct load_state *s, const char *name)
{
        struct config *c = s->config;
        struct config_policy *p;

        if (!valid_policy_name(name)) {
                diag_add(s, s->line, "[policy \"%s\"]: a policy name is 1 to 64 letters, digits, '_', '.' or "
                         "'-'; rename it", name);
                return;
        }
        for (size_t i = 0; i < c->n_policies; i++)
                if (strcmp(c->policies[i].name, name) == 0) {
                        diag_add(s, s->line, "duplicate [policy \"%s\"], first defined at %s:%u; rename one of "
                                 "them or merge the two", name, c->policies[i].src.file, c->policies[i].src.line);
                        return;
                }
        if (grow((void **)&c->policies, c->n_policies, sizeof(*c->policies)) < 0)
                goto oom;
        p = &c->policies[c->n_policies];
        *p = (struct config_policy) {
                .timeout = CONFIG_DEFAULT_ACTION_TIMEOUT_USEC,
                .fence_signal = SIGBUS,
                .reboot_window_start_min = -1,
                .reboot_window_end_min = -1,
        };
        p->name = strdup(name);
        p->src = (struct config_source) { .file = strdup(s->file), .line = s->line };
        if (!p->name || !p->src.file) {
                policy_done(p);
                goto oom;
        }
        s->index = c->n_policies++;
        s->section = SECTION_POLICY;
        return;
oom:
        s->error = -ENOMEM;
        s->stop = true;
}

static const char *const section_kinds[] = { "daemon", "port", "policy", NULL };

/* A "[...]" line: [daemon], [port "MATCH"], [policy "NAME"], [policy]; a trailing # or ; comment is fine. */
static void section_header(struct load_state *s, char *line)
{
        char *p = line + 1, *kind, *name = NULL;
        size_t klen;

        finish_section(s);
        s->section = SECTION_IGNORED;
        memset(s->key_line, 0, sizeof(s->key_line));
        s->section_line = s->line;
        s->section_diags = s->n_diags;
        s->unnamed_policy = false;

        if (++s->n_sections > CONFIG_SECTIONS_MAX) {
                diag_add(s, s->line, "more than %d sections; stopped reading, a configuration this large is "
                         "a mistake (generated in a loop?)", CONFIG_SECTIONS_MAX);
                s->stop = true;
                return;
        }
        p += strspn(p, " \t");
        kind = p;
        klen = strspn(kind, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
        p += klen;
        p += strspn(p, " \t");
        if (*p == '"') {
                char *close = strchr(p + 1, '"');

                if (close) {
                        *close = '\0';
                        name = p + 1;
                        p = close + 1;
                        p += strspn(p, " \t");
                }
        }
        if (klen == 0 || *p != ']' || (p[1 + strspn(p + 1, " \t")] != '\0' &&
                                       !strchr("#;", p[1 + strspn(p + 1, " \t")]))) {
                diag_add(s, s->line, "malformed section header; write [daemon], [port \"MATCH\"] or "
                         "[policy \"NAME\"] (quote the name)");
                return;
        }
        kind[klen] = '\0';

        if (strcmp(kind, "daemon") == 0) {
                if (name) {
                        diag_add(s, s->line, "[daemon] takes no name; write [daemon]");
                        return;
                }
                s->section = SECTION_DAEMON;
        } else if (strcmp(kind, "port") == 0) {
                if (!name || !*name) {
                        diag_add(s, s->line, "[port] needs a match: [port \"0000:0c:00.0\"], [port \"host-bridge:"
                                 "NAME\"] or [port \"serial:HEX\"]");
                        return;
                }
                start_port(s, name);
        } else if (strcmp(kind, "policy") == 0) {
                s->unnamed_policy = !name;
                start_policy(s, name ? name : "default");
        } else {
                const char *near = closest(kind, section_kinds);

                if (near)
                        diag_add(s, s->line, "unknown section [%s]; did you mean [%s]?", kind, near);
                else
                        diag_add(s, s->line, "unknown section [%s]; known sections: [daemon], [port \"MATCH\"], "
                                 "[policy \"NAME\"]", kind);
        }
}

/*
 * The next line of in-memory text into str (at most cap bytes of it; the rest
 * of an over-long line is skipped, never stored); false at the end. Whole
 * spans by memchr(), not a byte at a time: the fuzzer feeds every input
 * through here.
 */
static bool next_line_text(struct load_state *s, char *str, size_t cap, size_t *ret_n, bool *ret_too_long,
                           bool *ret_nul)
{
        const char *start = s->text + s->pos, *nl;
        size_t avail = s->len - s->pos, l;

        if (avail == 0)
                return false;
        nl = memchr(start, '\n', avail);
        l = nl ? (size_t)(nl - start) : avail;
        s->pos += l + (nl ? 1 : 0);
        *ret_nul = memchr(start, '\0', l) != NULL;
        *ret_too_long = l > cap;
        *ret_n = l > cap ? cap : l;
        memcpy(str, start, *ret_n);
        return true;
}

/* The same from the file, a byte at a time so that an over-long line is drained, never stored. */
static bool next_line_file(struct load_state *s, char *str, size_t cap, size_t *ret_n, bool *ret_too_long,
                           bool *ret_nul)
{
        bool too_long = false, nul = false;
        size_t n = 0;
        int ch;

        for (;;) {
                ch = getc_unlocked(s->f);
                if (ch == EOF || ch == '\n')
                        break;
                if (ch == '\0')
                        nul = true;
                if (n < cap)
                        str[n++] = (char)ch;
                else
                        too_long = true;
        }
        if (ch == EOF && n == 0 && !too_long)
                return false;
        *ret_n = n;
        *ret_too_long = too_long;
        *ret_nul = nul;
        return true;
}

/* Is there a '=' (or ':') before any " ;" inline comment? The same rule inih applies, so it never disagrees. */
static bool has_separator(const char *line)
{
        for (const char *p = line + strcspn(line, "=:;"); *p; p += 1 + strcspn(p + 1, "=:;")) {
                if (*p != ';')
                        return true;
                if (p > line && isspace((unsigned char)p[-1]))
                        return false;
        }
        return false;
}

/*
 * inih's reader: one whole line per call, so our line count is inih's. Lines
 * are read into inih's buffer; an over-long line is drained, never stored, so
 * a 1 MB line costs no memory.
 */
static char *config_reader(char *str, int num, void *stream)
{
        struct load_state *s = stream;
        size_t cap = num > 1 ? (size_t)num - 1 : 0, n;
        bool too_long, nul, more;
        char *p;

        if (s->stop)
                return NULL;
        if (cap > CONFIG_LINE_MAX)
                cap = CONFIG_LINE_MAX;
        more = s->f ? next_line_file(s, str, cap, &n, &too_long, &nul)
                    : next_line_text(s, str, cap, &n, &too_long, &nul);
        if (!more) {
                if (s->f && ferror(s->f) && s->error == 0) {
                        diag_add(s, 0, "read error: %s", strerror(errno));
                        s->error = -EIO;
                }
                return NULL;
        }
        str[n] = '\0';
        s->line++;

        if (too_long) {
                diag_add(s, s->line, "line longer than %d bytes; shorten it (split long lists over several "
                         "sections)", CONFIG_LINE_MAX);
                str[0] = '\0';
                return str;
        }
        if (nul) {
                diag_add(s, s->line, "NUL byte in line; this is not a text file, check the file name");
                str[0] = '\0';
                return str;
        }
        if (n > 0 && str[n - 1] == '\r')
                str[--n] = '\0';
        /*
         * Leading whitespace means nothing here. Stripping it also keeps inih
         * from treating an indented line as a continuation of the previous
         * value, which would silently glue two settings together.
         */
        p = str + strspn(str, " \t");
        memmove(str, p, strlen(p) + 1);

        if (str[0] == '\0' || str[0] == ';' || str[0] == '#')
                return str;
        if (str[0] == '[') {
                section_header(s, str);
                str[0] = '\0';
                return str;
        }
        if (!has_separator(str)) {
                diag_add(s, s->line, "expected KEY=VALUE, a [section] header or a # comment");
                str[0] = '\0';
        } else if (str[0] == '=' || str[0] == ':') {
                diag_add(s, s->line, "missing key name before '%c'", str[0]);
                str[0] = '\0';
        } else if (s->section == SECTION_NONE) {
                diag_add(s, s->line, "setting outside of any section; put it under [daemon], [port \"MATCH\"] "
                         "or [policy \"NAME\"]");
                str[0] = '\0';
        } else if (s->section == SECTION_IGNORED)
                str[0] = '\0';  /* the header is already reported */
        return str;
}

/* Debian's libinih keeps its compile-time knobs in globals; pin the ones our syntax depends on. */
static int parse_with_inih(struct load_state *s)
{
        int saved_max_line = ini_max_line;
        bool saved_stack = ini_use_stack, saved_multiline = ini_allow_multiline,
             saved_inline = ini_allow_inline_comments, saved_no_value = ini_allow_no_value,
             saved_stop = ini_stop_on_first_error;
        unsigned before = s->n_diags;
        int r;

        ini_max_line = CONFIG_LINE_MAX + 3;     /* + '\r', '\n', NUL, as inih counts */
        ini_use_stack = true;
        ini_allow_multiline = false;
        ini_allow_inline_comments = true;
        ini_allow_no_value = false;
        ini_stop_on_first_error = false;
        s->line = 0;
        s->section = SECTION_NONE;
        r = ini_parse_stream(config_reader, s, config_ini_handler, s);
        finish_section(s);
        ini_max_line = saved_max_line;
        ini_use_stack = saved_stack;
        ini_allow_multiline = saved_multiline;
        ini_allow_inline_comments = saved_inline;
        ini_allow_no_value = saved_no_value;
        ini_stop_on_first_error = saved_stop;

        /* A syntax error inih saw but the reader did not (e.g. "key ; x = y"): still a located error. */
        if (r > 0 && s->n_diags == before)
                diag_add(s, (unsigned)r, "syntax error; write KEY=VALUE");
        else if (r < 0 && s->error == 0)
                s->error = -ENOMEM;
        return 0;
}

static int add_file(struct load_state *s, const char *path)
{
        struct config *c = s->config;
        char **f, *d;

        d = strdup(path);
        if (!d)
                return -ENOMEM;
        f = realloc(c->files, (c->n_files + 1) * sizeof(char *));
        if (!f) {
                free(d);
                return -ENOMEM;
        }
        c->files = f;
        c->files[c->n_files++] = d;
        s->file = d;
        return 0;
}

/* 0 when read, -ENOENT when missing (not an error for the caller to report), other errors reported. */
static int parse_file(struct load_state *s, const char *path)
{
        _cleanup_fclose_ FILE *f = NULL;
        struct stat st;

        if (s->stop)
                return 0;
        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT)
                        return -ENOENT;
                s->file = path;
                diag_add(s, 0, "cannot open: %s; fix the permissions or remove the file", strerror(errno));
                if (s->error == 0)
                        s->error = -EIO;
                return 0;
        }
        if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
                s->file = path;
                diag_add(s, 0, "is a directory, not a configuration file; remove it or rename it");
                return 0;
        }
        if (add_file(s, path) < 0) {
                s->error = -ENOMEM;
                return 0;
        }
        s->f = f;
        parse_with_inih(s);
        if (ferror(f) && s->error == 0) {
                diag_add(s, 0, "read error; the configuration is incomplete");
                s->error = -EIO;
        }
        s->f = NULL;
        return 0;
}

struct dropin {
        char *name;
        char *path;
};

static void dropins_free(struct dropin *d, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(d[i].name);
                free(d[i].path);
        }
        free(d);
}

static int dropin_cmp(const void *a, const void *b)
{
        return strcmp(((const struct dropin *)a)->name, ((const struct dropin *)b)->name);
}

/* Add every DIR/NAME.conf; a name already present is replaced (the later directory masks the earlier). */
static int scan_dropins(struct load_state *s, const char *dir, struct dropin **list, size_t *n)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name), i;
                char *path;

                if (de->d_name[0] == '.' || l <= STRLEN(".conf") || strcmp(de->d_name + l - 5, ".conf") != 0)
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
                        return -ENOMEM;
                for (i = 0; i < *n; i++)
                        if (strcmp((*list)[i].name, de->d_name) == 0)
                                break;
                if (i < *n) {
                        free((*list)[i].path);
                        (*list)[i].path = path;
                        continue;
                }
                if (*n >= CONFIG_DROPINS_MAX) {
                        free(path);
                        s->file = dir;
                        diag_add(s, 0, "more than %d drop-in files; merge some of them", CONFIG_DROPINS_MAX);
                        return -E2BIG;
                }
                if (grow((void **)list, *n, sizeof(**list)) < 0) {
                        free(path);
                        return -ENOMEM;
                }
                (*list)[*n].path = path;
                (*list)[*n].name = strdup(de->d_name);
                if (!(*list)[*n].name) {
                        free(path);
                        return -ENOMEM;
                }
                (*n)++;
        }
        return 0;
}

static void config_defaults(struct config *c)
{
        c->poll_interval = CONFIG_DEFAULT_POLL_INTERVAL_USEC;
        c->poll_backstop = CONFIG_POLL_BACKSTOP_UNSET;
        c->reboot_on_record_failure = true;
        c->record_max_size = CONFIG_DEFAULT_RECORD_MAX_SIZE;
}

/* Every [port] with a kind=, against every policy that could act on it, once all files are read. */
static void check_section_kinds(struct load_state *s)
{
        const struct config *c = s->config;

        for (size_t i = 0; i < c->n_policies; i++) {
                const struct config_policy *p = &c->policies[i];
                bool reset = policy_has(p, ACTION_RESET), devdax = policy_has(p, ACTION_OFFLINE_DEVDAX);

                if (!reset && !devdax)
                        continue;
                for (size_t j = 0; j < c->n_ports; j++) {
                        const struct config_port *q = &c->ports[j];
                        bool covers = !p->match_ports;

                        if (!(reset && q->kind == PORT_KIND_MEMORY) && !(devdax && q->kind == PORT_KIND_ACCELERATOR))
                                continue;
                        for (char **m = p->match_ports; m && *m && !covers; m++)
                                covers = match_overlaps(*m, q->match);
                        if (!covers)
                                continue;
                        s->file = p->src.file;
                        if (q->kind == PORT_KIND_MEMORY)
                                diag_add(s, p->src.line, "policy \"%s\" lists reset but applies to [port \"%s\"] "
                                         "(kind=memory, %s:%u); a reset loses the memory behind it, drop reset or "
                                         "narrow match-port=", p->name, q->match, q->src.file, q->src.line);
                        else
                                diag_add(s, p->src.line, "policy \"%s\" lists offline-devdax but applies to "
                                         "[port \"%s\"] (kind=accelerator, %s:%u); accelerators have no devdax "
                                         "memory to offline, drop it or narrow match-port=", p->name, q->match,
                                         q->src.file, q->src.line);
                }
        }
}

static int load_finish(struct load_state *s, struct config **c, struct config **ret)
{
        if (s->error == 0 && !s->stop)
                check_section_kinds(s);
        if (s->error == 0 && (*c)->state_dir == NULL && !((*c)->state_dir = strdup(CONFIG_DEFAULT_STATE_DIR)))
                s->error = -ENOMEM;
        if (s->error < 0)
                return s->error;
        if (s->n_diags > 0)
                return -EINVAL;
        *ret = TAKE_PTR(*c);
        return 0;
}

int config_load_string(const char *name, const char *text, size_t len, struct config **ret,
                       struct config_diags *diags)
{
        _cleanup_(config_freep) struct config *c = calloc(1, sizeof(*c));
        struct load_state s = { .diags = diags, .text = text ? text : "", .len = text ? len : 0 };

        if (!c)
                return -ENOMEM;
        config_defaults(c);
        s.config = c;
        if (add_file(&s, name ? name : "(string)") < 0)
                return -ENOMEM;
        parse_with_inih(&s);
        return load_finish(&s, &c, ret);
}

int config_load(const struct config_paths *paths, struct config **ret, struct config_diags *diags)
{
        static const struct config_paths no_paths = { NULL };
        _cleanup_(config_freep) struct config *c = calloc(1, sizeof(*c));
        _cleanup_free_ char *vendor_main = NULL, *vendor_dropins = NULL;
        struct load_state s = { .diags = diags };
        struct dropin *list = NULL;
        const char *vendor_dir, *dropin_dir, *main_file;
        size_t n = 0;
        int r;

        if (!c)
                return -ENOMEM;
        if (!paths)
                paths = &no_paths;
        config_defaults(c);
        s.config = c;
        vendor_dir = paths->vendor_dir ? paths->vendor_dir : VENDOR_CONFDIR;
        dropin_dir = paths->dropin_dir ? paths->dropin_dir : SYSCONFDIR "/cxl-isold/policy.d";
        main_file = paths->main_file ? paths->main_file : SYSCONFDIR "/cxl-isold/cxl-isold.conf";
        if (asprintf(&vendor_main, "%s/cxl-isold.conf", vendor_dir) < 0 ||
            asprintf(&vendor_dropins, "%s/policy.d", vendor_dir) < 0) {
                vendor_main = vendor_dropins = NULL;
                return -ENOMEM;
        }

        r = parse_file(&s, main_file);
        if (r == -ENOENT) {
                if (paths->main_file && paths->require_main_file) {
                        s.file = main_file;
                        diag_add(&s, 0, "no such file; create it or give the right path");
                } else if (!paths->main_file)
                        (void)parse_file(&s, vendor_main);     /* a missing vendor file just means defaults */
        }

        /* systemd style: one lexical order over both directories, /etc masking the vendor file of the same name. */
        r = scan_dropins(&s, vendor_dropins, &list, &n);
        if (r >= 0)
                r = scan_dropins(&s, dropin_dir, &list, &n);
        if (r == -ENOMEM)
                s.error = -ENOMEM;
        else if (r < 0 && r != -E2BIG) {
                s.file = dropin_dir;
                diag_add(&s, 0, "cannot list drop-ins: %s; fix the directory's permissions", strerror(-r));
        }
        if (r >= 0) {
                if (n > 0)
                        qsort(list, n, sizeof(*list), dropin_cmp);
                for (size_t i = 0; i < n && !s.stop; i++)
                        (void)parse_file(&s, list[i].path);     /* vanished since the scan: nothing to read */
        }
        dropins_free(list, n);
        return load_finish(&s, &c, ret);
}

/* ---- kinds against discovered ports ---- */

int config_check_port_kinds(const struct config *c, const struct config_port_info *ports, size_t n_ports,
                            struct config_diags *diags)
{
        struct load_state s = { .diags = diags };
        bool bad = false;

        if (!c)
                return -EINVAL;
        for (size_t i = 0; i < n_ports; i++) {
                const struct config_port_info *port = &ports[i];
                const struct config_port *cp = config_port_for(c, port->bdf, port->host_bridge, port->serial);
                enum port_kind kind = cp->kind != PORT_KIND_ANY ? cp->kind : port->kind;

                if (kind == PORT_KIND_ANY)
                        continue;
                for (size_t j = 0; j < c->n_policies; j++) {
                        const struct config_policy *p = &c->policies[j];

                        if (!policy_applies(p, port->bdf, port->host_bridge, port->serial))
                                continue;
                        s.file = p->src.file;
                        if (kind == PORT_KIND_MEMORY && policy_has(p, ACTION_RESET)) {
                                bad = true;
                                diag_add(&s, p->src.line, "policy \"%s\" lists reset but applies to memory port %s; "
                                         "a reset loses the memory behind it, drop reset or narrow match-port=",
                                         p->name, port->bdf ? port->bdf : "?");
                        } else if (kind == PORT_KIND_ACCELERATOR && policy_has(p, ACTION_OFFLINE_DEVDAX)) {
                                bad = true;
                                diag_add(&s, p->src.line, "policy \"%s\" lists offline-devdax but applies to "
                                         "accelerator port %s; drop offline-devdax or narrow match-port=",
                                         p->name, port->bdf ? port->bdf : "?");
                        }
                }
        }
        if (s.error < 0)
                return s.error;
        return bad ? -EINVAL : 0;
}

/* ---- dump ---- */

static void dump_list(FILE *f, const char *key, char **l)
{
        fprintf(f, "%s=", key);
        for (char **i = l; i && *i; i++)
                fprintf(f, "%s%s", i == l ? "" : " ", *i);
        fputc('\n', f);
}

int config_dump(FILE *f, const struct config *c)
{
        char b[CONFIG_DURATION_STRING_MAX];

        fprintf(f, "# cxl-isold effective configuration, read from:\n");
        for (size_t i = 0; i < c->n_files; i++)
                fprintf(f, "#   %s\n", c->files[i]);
        fprintf(f, "[daemon]\n");
        fprintf(f, "poll-interval=%s\n", config_format_duration(c->poll_interval, b));
        /* unset prints empty, which restores the default when read back */
        fprintf(f, "poll-backstop=%s\n", c->poll_backstop == CONFIG_POLL_BACKSTOP_UNSET ? "" :
                                         c->poll_backstop == 0 ? "0" : config_format_duration(c->poll_backstop, b));
        fprintf(f, "state-dir=%s\n", c->state_dir ? c->state_dir : CONFIG_DEFAULT_STATE_DIR);
        fprintf(f, "metrics-dir=%s\n", c->metrics_dir ? c->metrics_dir : "");
        fprintf(f, "dry-run=%s\n", c->dry_run ? "yes" : "no");
        fprintf(f, "reboot-on-record-failure=%s\n", c->reboot_on_record_failure ? "yes" : "no");
        fprintf(f, "record-max-size=%" PRIu64 "\n", c->record_max_size);

        for (size_t i = 0; i < c->n_ports; i++) {
                const struct config_port *p = &c->ports[i];

                fprintf(f, "\n# %s:%u\n[port \"%s\"]\n", p->src.file, p->src.line, p->match);
                fprintf(f, "arm=%s\n", arm_mode_to_string(p->arm));
                if (p->timeout_value < 0)
                        fprintf(f, "timeout=keep\n");
                else
                        fprintf(f, "timeout=0x%x\n", (unsigned)p->timeout_value);
                fprintf(f, "on-unsafe=%s\n", unsafe_reaction_to_string(p->on_unsafe));
                fprintf(f, "kind=%s\n", port_kind_to_string(p->kind));
        }

        for (size_t i = 0; i < c->n_policies; i++) {
                const struct config_policy *p = &c->policies[i];

                fprintf(f, "\n# %s:%u\n[policy \"%s\"]\n", p->src.file, p->src.line, p->name);
                dump_list(f, "match-port", p->match_ports);
                fprintf(f, "match-reason=");
                for (int k = CXL_ISOLATION_NONE + 1, first = 1; k < _CXL_ISOLATION_KIND_MAX; k++)
                        if (p->match_reasons & (1u << k)) {
                                fprintf(f, "%s%s", first ? "" : " ", cxl_isolation_kind_to_string(k));
                                first = 0;
                        }
                fprintf(f, "\naction=");
                for (size_t a = 0; a < p->n_actions; a++)
                        fprintf(f, "%s%s", a ? " " : "", action_type_to_string(p->actions[a]));
                fputc('\n', f);
                if (p->exec)
                        fprintf(f, "exec=%s\n", p->exec);
                fprintf(f, "timeout=%s\n", config_format_duration(p->timeout, b));
                for (int a = 0; a < _ACTION_TYPE_MAX; a++)
                        if (p->action_timeout[a])
                                fprintf(f, "%s=%s\n", policy_keys[PK_ACTION_TIMEOUT_FIRST + a],
                                        config_format_duration(p->action_timeout[a], b));
                /* Settings of actions the policy does not run are refused on load, so they are left out. */
                if (policy_has(p, ACTION_FENCE))
                        fprintf(f, "fence-signal=SIG%s\n", sigabbrev_np(p->fence_signal));
                if (policy_has(p, ACTION_REBOOT)) {
                        fprintf(f, "reboot-delay=%s\n", config_format_duration(p->reboot_delay, b));
                        if (p->reboot_window_start_min >= 0)
                                fprintf(f, "reboot-window=%02d:%02d-%02d:%02d\n", p->reboot_window_start_min / 60,
                                        p->reboot_window_start_min % 60, p->reboot_window_end_min / 60,
                                        p->reboot_window_end_min % 60);
                }
                fprintf(f, "cooldown=%s\n", config_format_duration(p->cooldown, b));
                if (p->rate_limit_burst > 0)
                        fprintf(f, "rate-limit=%u/%s\n", p->rate_limit_burst,
                                config_format_duration(p->rate_limit_interval, b));
                else
                        fprintf(f, "rate-limit=\n");
        }
        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        return 0;
}
