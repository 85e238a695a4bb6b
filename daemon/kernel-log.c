/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "cleanup.h"
#include "kernel-log.h"

/* sd_journal_closep() comes with sd-journal.h. */

/* asprintf() leaves the pointer undefined on failure; a note is optional, so NULL then. */
static void set_note(char **ret, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void set_note(char **ret, const char *format, ...)
{
        va_list ap;

        va_start(ap, format);
        if (vasprintf(ret, format, ap) < 0)
                *ret = NULL;
        va_end(ap);
}


/* The newest records within KMSG_RECORDS_MAX and KMSG_BYTES_MAX: the moments around the event matter most. */
struct line_ring {
        char *line[KMSG_RECORDS_MAX];
        size_t head, count, bytes, dropped;
};

static int line_ring_push(struct line_ring *r, const char *text, size_t len)
{
        char *copy;

        while (r->count > 0 && (r->count == KMSG_RECORDS_MAX || r->bytes + len > KMSG_BYTES_MAX)) {
                size_t oldest = (r->head + KMSG_RECORDS_MAX - r->count) % KMSG_RECORDS_MAX;
                r->bytes -= strlen(r->line[oldest]);
                free(r->line[oldest]);
                r->line[oldest] = NULL;
                r->count--;
                r->dropped++;
        }
        copy = strndup(text, len);
        if (!copy)
                return -ENOMEM;
        r->line[r->head] = copy;
        r->bytes += strlen(copy);
        r->head = (r->head + 1) % KMSG_RECORDS_MAX;
        r->count++;
        return 0;
}

/* Write out (oldest first) and empty the ring. */
static void line_ring_flush(struct line_ring *r, FILE *f)
{
        for (size_t i = 0; i < r->count; i++) {
                size_t idx = (r->head + KMSG_RECORDS_MAX - r->count + i) % KMSG_RECORDS_MAX;
                fputs(r->line[idx], f);
                free(r->line[idx]);
                r->line[idx] = NULL;
        }
}

static void line_ring_freep(struct line_ring **r)
{
        if (!*r)
                return;
        for (size_t i = 0; i < KMSG_RECORDS_MAX; i++)
                free((*r)->line[i]);
        free(*r);
}

/*
 * /dev/kmsg from its oldest record, non-blocking: each read() returns one
 * record ("prio,seq,usec,flags;text\n" plus continuation lines), EAGAIN at
 * the end, EPIPE when the ring overwrote the record we were about to read.
 * Records from KMSG_BEFORE_USEC before the event (boot-time clock) on.
 */
static int read_kmsg(const char *kmsg_path, uint64_t event_monotonic_usec, struct line_ring *ring, size_t *ret_lost)
{
        uint64_t since = event_monotonic_usec > KMSG_BEFORE_USEC ? event_monotonic_usec - KMSG_BEFORE_USEC : 0;
        _cleanup_close_ int fd = open(kmsg_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        char buf[8192];
        size_t lost = 0;

        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf) - 1);
                unsigned long long usec;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EPIPE) {
                        lost++;
                        continue;
                }
                if (n < 0 && errno != EAGAIN)
                        return -errno;  /* EPERM here: dmesg_restrict without CAP_SYSLOG */
                if (n <= 0)
                        break;
                buf[n] = '\0';
                if (sscanf(buf, "%*u,%*u,%llu", &usec) != 1 || usec < since)
                        continue;
                if (line_ring_push(ring, buf, (size_t)n) < 0)
                        return -ENOMEM;
        }
        *ret_lost = lost;
        return 0;
}

/*
 * The journal's kernel messages of this boot, from KMSG_BEFORE_USEC before the
 * event (wall clock). The fallback when /dev/kmsg is closed to us: Debian
 * restricts it to CAP_SYSLOG (dmesg_restrict), which the unit does not grant,
 * while the journal files are readable by root.
 */
static int read_journal(uint64_t event_realtime_usec, const char *boot_id, struct line_ring *ring)
{
        uint64_t since = event_realtime_usec > KMSG_BEFORE_USEC ? event_realtime_usec - KMSG_BEFORE_USEC : 0;
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        char match[64];
        int k;

        k = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
        if (k < 0)
                return k;
        snprintf(match, sizeof(match), "_BOOT_ID=%s", boot_id);
        if ((k = sd_journal_add_match(j, "_TRANSPORT=kernel", 0)) < 0 ||
            (boot_id[0] && (k = sd_journal_add_match(j, match, 0)) < 0) ||
            (k = sd_journal_seek_realtime_usec(j, since)) < 0)
                return k;
        while ((k = sd_journal_next(j)) > 0) {
                _cleanup_free_ char *line = NULL;
                const void *data;
                size_t len;
                uint64_t t;
                int n;

                if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0 || len < STRLEN("MESSAGE="))
                        continue;
                if (sd_journal_get_realtime_usec(j, &t) < 0)
                        t = 0;
                n = asprintf(&line, "%" PRIu64 " %.*s\n", t, (int)(len - STRLEN("MESSAGE=")),
                             (const char *)data + STRLEN("MESSAGE="));
                if (n < 0) {
                        line = NULL;    /* asprintf leaves it undefined on failure */
                        return -ENOMEM;
                }
                k = line_ring_push(ring, line, (size_t)n);
                if (k < 0)
                        return k;
        }
        return k < 0 ? k : 0;
}

void kernel_log_collect(const char *kmsg_path, uint64_t event_monotonic_usec, uint64_t event_realtime_usec,
                        const char *boot_id, FILE *f, char **ret_note, bool *ret_partial)
{
        _cleanup_(line_ring_freep) struct line_ring *ring = calloc(1, sizeof(struct line_ring));
        size_t lost = 0;
        int k, kj;

        if (!ring) {
                *ret_note = strdup("out of memory");
                *ret_partial = true;
                return;
        }
        k = read_kmsg(kmsg_path, event_monotonic_usec, ring, &lost);
        if (k >= 0) {
                fprintf(f, "# %s: kernel messages from %llu usec after boot (event at %llu), %zu records\n", kmsg_path,
                        (unsigned long long)(event_monotonic_usec > KMSG_BEFORE_USEC ?
                                             event_monotonic_usec - KMSG_BEFORE_USEC : 0),
                        (unsigned long long)event_monotonic_usec, ring->count);
                set_note(ret_note, "%s, %zu records, %zu older dropped by the bound, %zu lost to the ring",
                               kmsg_path, ring->count, ring->dropped, lost);
                line_ring_flush(ring, f);
                return;
        }

        /* Whatever came from kmsg before it failed is dropped: one source, one consistent window. */
        line_ring_freep(&ring);
        ring = calloc(1, sizeof(struct line_ring));
        if (!ring) {
                *ret_note = strdup("out of memory");
                *ret_partial = true;
                return;
        }
        kj = read_journal(event_realtime_usec, boot_id, ring);
        if (kj < 0) {
                fprintf(f, "# %s unavailable (%s), journal unavailable (%s)\n", kmsg_path, strerror(-k), strerror(-kj));
                set_note(ret_note, "%s unavailable (%s), journal unavailable (%s)", kmsg_path, strerror(-k),
                               strerror(-kj));
                *ret_partial = true;
                return;
        }
        fprintf(f, "# %s unavailable (%s): the journal's kernel messages of boot %s from %llu usec "
                "(realtime, event at %llu), %zu records\n", kmsg_path, strerror(-k), boot_id,
                (unsigned long long)(event_realtime_usec > KMSG_BEFORE_USEC ?
                                     event_realtime_usec - KMSG_BEFORE_USEC : 0),
                (unsigned long long)event_realtime_usec, ring->count);
        set_note(ret_note, "from the journal (%s: %s), %zu records, %zu older dropped by the bound", kmsg_path,
                       strerror(-k), ring->count, ring->dropped);
        line_ring_flush(ring, f);
}

