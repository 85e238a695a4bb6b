/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging: to the journal with structured fields when journald reads our
 * stderr (or when asked), else readable lines on stderr. Every log_*_errno()
 * returns -abs(error), so "return log_error_errno(r, ...)" reads naturally.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <syslog.h>

enum log_target {
        LOG_TARGET_AUTO,        /* journal iff $JOURNAL_STREAM names our stderr */
        LOG_TARGET_JOURNAL,
        LOG_TARGET_CONSOLE,
        _LOG_TARGET_MAX,
        _LOG_TARGET_INVALID = -22,
};

enum log_target log_target_from_string(const char *s);
const char *log_target_to_string(enum log_target t);

/* Resolve AUTO and remember the result. */
void log_set_target(enum log_target t);
enum log_target log_get_target(void);   /* never AUTO after log_set_target() */
void log_set_max_level(int level);
int log_get_max_level(void);

/* Pure: does "$JOURNAL_STREAM" ("dev:ino") name the file with this st_dev/st_ino? */
int log_journal_stream_matches(const char *journal_stream, unsigned long long dev, unsigned long long ino);

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) __attribute__((format(printf, 6, 7)));

/*
 * A structured message: MESSAGE=format..., PRIORITY, MESSAGE_ID (may be
 * NULL) and extra "KEY=value" fields (n_fields entries; NULL entries are
 * skipped so callers can leave optional fields out). On the console the
 * message is printed, with the fields after it when at debug level.
 */
int log_struct_fields(int level, int error, const char *message_id, const char *const *fields, size_t n_fields,
                      const char *format, ...) __attribute__((format(printf, 6, 7)));

/* Last resort for losing the record: a line in the kernel log, if /dev/kmsg is writable. */
void log_kmsg(int level, const char *format, ...) __attribute__((format(printf, 2, 3)));

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...)   log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...)    log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_notice_errno(error, ...)  log_full_errno(LOG_NOTICE, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...)   log_full_errno(LOG_ERR, (error), __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
