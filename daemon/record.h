/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The durable event record: <statedir>/events.jsonl, one JSON object per
 * line, append-only, each line fsync'ed before anyone is told about it (the
 * directory once per open, for the file's own entry). Line types:
 *   {"type":"event", "id", "port", "host_bridge", "kind" (mem-link-down ...),
 *    "status"/"control"/"capability" ("0x%08x") with "*_decoded" objects,
 *    "ras" (null, or ue/ce status, mask, severity, cap_control,
 *    first_error(_pointer), "header_log": 16 x "0x%08x"), "realtime_usec",
 *    "monotonic_usec", "boot_id", "drill", "dax_devices": [...],
 *    "plan": [{"policy", "action"}, ...]}
 *   {"type":"action", "event_id", "port", "index" (into plan), "policy",
 *    "action", "result" (success failed timed-out skipped), "error" (-errno),
 *    "error_message", "exit_status", "signal", "started_usec",
 *    "finished_usec", "detail"}
 *   {"type":"ack", "event_id", "realtime_usec", "by"}
 * A plan step without an action line is unfinished; a restart in the same
 * boot resumes it while the port stays isolated.
 * Reading tolerates damage (a torn last line after a crash, a garbled line):
 * such lines are skipped and counted, never fatal.
 */
#pragma once

#include <stddef.h>

#include "isolation-event.h"

#define RECORD_FILE_NAME "events.jsonl"
#define RECORD_PREVIOUS_FILE_NAME "events.jsonl.1"      /* the generation before, once rotated */

struct record;

/* Create the directory if needed and open the file for appending. */
int record_open(const char *state_dir, struct record **ret);
struct record *record_free(struct record *r);
const char *record_path(const struct record *r);

/* Each append writes one line and fsyncs the file (and the directory, if that did not succeed yet). */
int record_append_event(struct record *r, const struct isolation_event *e);
int record_append_action(struct record *r, const struct isolation_event *e, size_t index);
int record_append_ack(struct record *r, const char *event_id, uint64_t realtime_usec, const char *by);

/* Once the file holds bytes or more, the next event line (written and durable first) ends it: it becomes
 * RECORD_PREVIOUS_FILE_NAME, replacing the one before, and a new file starts. 0 (the default): never. */
void record_set_rotate_size(struct record *r, uint64_t bytes);
/* The last rotation's failure since the last call (negative errno), 0 if none: the record stays writable. */
int record_take_rotate_error(struct record *r);

/* JSON text of one line (no newline), for the writer and for tests. Caller frees. */
int record_format_event(const struct isolation_event *e, char **ret);
int record_format_action(const struct isolation_event *e, size_t index, char **ret);

/* Everything read back: events in file order with action results and acks applied. */
struct record_history {
        size_t n_events;
        struct isolation_event **events;
        size_t n_damaged;               /* lines skipped as unreadable */
        size_t n_orphaned;              /* action/ack lines of events not in the record (rotated away, or whose
                                         * own line was lost to a failed write): skipped, not damage */
};

/* Both generations, the previous one first. Missing files are an empty history. */
int record_load(const char *state_dir, struct record_history *ret);
int record_parse_buffer(const char *text, size_t len, struct record_history *ret);
void record_history_done(struct record_history *h);
/* The latest event recorded for this port, NULL if none. events[] entries set to NULL (taken) are skipped. */
struct isolation_event *record_history_last_for_port(const struct record_history *h, const char *bdf);
