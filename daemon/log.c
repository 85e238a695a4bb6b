/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "cleanup.h"
#include "log.h"

static enum log_target log_target = LOG_TARGET_CONSOLE;
static int log_max_level = LOG_INFO;

static const char *const target_names[_LOG_TARGET_MAX] = {
        [LOG_TARGET_AUTO] = "auto",
        [LOG_TARGET_JOURNAL] = "journal",
        [LOG_TARGET_CONSOLE] = "console",
};

enum log_target log_target_from_string(const char *s)
{
        for (int i = 0; s && i < _LOG_TARGET_MAX; i++)
                if (strcmp(target_names[i], s) == 0)
                        return i;
        return _LOG_TARGET_INVALID;
}

const char *log_target_to_string(enum log_target t)
{
        if ((unsigned)t >= _LOG_TARGET_MAX)
                return NULL;
        return target_names[t];
}

int log_journal_stream_matches(const char *journal_stream, unsigned long long dev, unsigned long long ino)
{
        unsigned long long d, i;
        int n = 0;

        if (!journal_stream)
                return 0;
        if (sscanf(journal_stream, "%llu:%llu%n", &d, &i, &n) != 2 || journal_stream[n] != '\0')
                return 0;
        return d == dev && i == ino;
}

void log_set_target(enum log_target t)
{
        if (t == LOG_TARGET_AUTO) {
                /* systemd sets $JOURNAL_STREAM when stderr goes to journald; a redirect breaks the match. */
                struct stat st;
                t = LOG_TARGET_CONSOLE;
                if (fstat(STDERR_FILENO, &st) == 0 &&
                    log_journal_stream_matches(getenv("JOURNAL_STREAM"), (unsigned long long)st.st_dev,
                                               (unsigned long long)st.st_ino))
                        t = LOG_TARGET_JOURNAL;
        }
        log_target = t;
}

enum log_target log_get_target(void)
{
        return log_target;
}

void log_set_max_level(int level)
{
        log_max_level = level;
}

int log_get_max_level(void)
{
        return log_max_level;
}

/*
 * One write() per line: lines never interleave, and no stdio buffer is
 * involved (glibc's dprintf() leaks its buffer when the write fails, as a
 * write to /dev/kmsg in a container may).
 */
static void write_line(int fd, const char *prefix, const char *text)
{
        _cleanup_free_ char *line = NULL;

        if (asprintf(&line, "%s%s\n", prefix, text) < 0)
                return;
        (void)!write(fd, line, strlen(line));
}

static void console_write(const char *message, const char *const *fields, size_t n_fields, int level)
{
        write_line(STDERR_FILENO, "", message);
        if (log_max_level >= LOG_DEBUG)
                for (size_t i = 0; i < n_fields; i++)
                        if (fields[i])
                                write_line(STDERR_FILENO, "    ", fields[i]);
}

static int journal_write(int level, int error, const char *message_id, const char *file, int line,
                         const char *func, const char *const *fields, size_t n_fields, const char *message)
{
        size_t n = 0, max = n_fields + 10;
        _cleanup_free_ struct iovec *iov = calloc(max, sizeof(struct iovec));
        _cleanup_free_ char *m = NULL, *prio = NULL, *mid = NULL, *errno_field = NULL, *cf = NULL, *cl = NULL,
                           *cfunc = NULL;
        int k;

        if (!iov)
                return -ENOMEM;
        if (asprintf(&m, "MESSAGE=%s", message) < 0 || asprintf(&prio, "PRIORITY=%d", level) < 0)
                return -ENOMEM;
        iov[n++] = (struct iovec) { m, strlen(m) };
        iov[n++] = (struct iovec) { prio, strlen(prio) };
        iov[n++] = (struct iovec) { (char *)"SYSLOG_IDENTIFIER=cxl-isold", STRLEN("SYSLOG_IDENTIFIER=cxl-isold") };
        if (message_id) {
                if (asprintf(&mid, "MESSAGE_ID=%s", message_id) < 0)
                        return -ENOMEM;
                iov[n++] = (struct iovec) { mid, strlen(mid) };
        }
        if (error != 0) {
                if (asprintf(&errno_field, "ERRNO=%d", abs(error)) < 0)
                        return -ENOMEM;
                iov[n++] = (struct iovec) { errno_field, strlen(errno_field) };
        }
        if (file) {
                if (asprintf(&cf, "CODE_FILE=%s", file) < 0 || asprintf(&cl, "CODE_LINE=%d", line) < 0 ||
                    asprintf(&cfunc, "CODE_FUNC=%s", func) < 0)
                        return -ENOMEM;
                iov[n++] = (struct iovec) { cf, strlen(cf) };
                iov[n++] = (struct iovec) { cl, strlen(cl) };
                iov[n++] = (struct iovec) { cfunc, strlen(cfunc) };
        }
        for (size_t i = 0; i < n_fields; i++)
                if (fields[i])
                        iov[n++] = (struct iovec) { (char *)fields[i], strlen(fields[i]) };

        k = sd_journal_sendv(iov, (int)n);
        return k < 0 ? k : 0;
}

static int log_dispatch(int level, int error, const char *message_id, const char *file, int line, const char *func,
                        const char *const *fields, size_t n_fields, const char *message)
{
        if (log_target == LOG_TARGET_JOURNAL &&
            journal_write(level, error, message_id, file, line, func, fields, n_fields, message) >= 0)
                return 0;
        /* Console target, or journald is unreachable: stderr still reaches a human. */
        console_write(message, fields, n_fields, level);
        return 0;
}

static int log_format_and_dispatch(int level, int error, const char *message_id, const char *file, int line,
                                   const char *func, const char *const *fields, size_t n_fields,
                                   const char *format, va_list ap)
{
        _cleanup_free_ char *message = NULL;
        int saved = errno;

        /* %m means the error passed in, not whatever errno happens to be. */
        errno = abs(error);
        if (vasprintf(&message, format, ap) < 0)
                message = NULL;
        errno = saved;
        (void)log_dispatch(level, error, message_id, file, line, func, fields, n_fields,
                           message ?: "(out of memory formatting a log message)");
        return -abs(error);
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...)
{
        va_list ap;
        int r;

        if (level > log_max_level)
                return -abs(error);
        va_start(ap, format);
        r = log_format_and_dispatch(level, error, NULL, file, line, func, NULL, 0, format, ap);
        va_end(ap);
        return r;
}

int log_struct_fields(int level, int error, const char *message_id, const char *const *fields, size_t n_fields,
                      const char *format, ...)
{
        va_list ap;
        int r;

        /* Structured messages are the events themselves: never filtered below notice. */
        if (level > log_max_level && level > LOG_NOTICE)
                return -abs(error);
        va_start(ap, format);
        r = log_format_and_dispatch(level, error, message_id, NULL, 0, NULL, fields, n_fields, format, ap);
        va_end(ap);
        return r;
}

void log_kmsg(int level, const char *format, ...)
{
        _cleanup_close_ int fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        _cleanup_free_ char *message = NULL;
        va_list ap;

        if (fd < 0)
                return;
        va_start(ap, format);
        if (vasprintf(&message, format, ap) < 0)
                message = NULL;
        va_end(ap);
        if (message) {
                char prefix[64];
                snprintf(prefix, sizeof(prefix), "<%d>cxl-isold[%d]: ", level, (int)getpid());
                write_line(fd, prefix, message);
        }
}
