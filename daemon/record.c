/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * events.jsonl: the only state that survives a restart or a reboot. Lines are
 * written whole with O_APPEND and made durable before the caller goes on to
 * log or act: fsync of the file for every line (its data and size), and of
 * the directory once per open, so that a freshly created file is not lost
 * with its directory entry. Later lines change nothing in the directory, and
 * another fsync of it would only add to every event's latency.
 *
 * Rotation keeps the record bounded: once the file reaches the configured
 * size, the next event line is written and made durable first, then the file
 * becomes events.jsonl.1 (replacing the previous one) and a fresh file takes
 * the following lines. Reading takes both generations, older first, so an
 * event's later action lines in the new file still apply to it. Two
 * generations bound the disk use to about twice the limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "record.h"
#include "strv.h"

struct record {
        char *dir;
        char *path;
        int dir_fd;
        int fd;
        bool torn;              /* a failed write left part of a line that could not be cut off */
        bool dir_synced;        /* the directory was fsynced since the file was opened (maybe created) */
        uint64_t rotate_size;   /* rotate after an event line once the file is this big; 0 = never */
        int rotate_error;       /* the last rotation's failure (negative errno), 0 if none since */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct record *, record_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct isolation_event *, isolation_event_free);

static void json_object_putp(json_object **o)
{
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_object_putp)

struct record *record_free(struct record *r)
{
        if (!r)
                return NULL;
        closep(&r->fd);
        closep(&r->dir_fd);
        free(r->dir);
        free(r->path);
        free(r);
        return NULL;
}

const char *record_path(const struct record *r)
{
        return r->path;
}

static int mkdir_parents(const char *path, mode_t mode)
{
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return -ENOMEM;
        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(copy, mode) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(copy, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* A crash mid-write leaves a torn last line; start ours on a fresh line so only the torn one is lost. */
static int terminate_torn_line(int fd)
{
        struct stat st;
        char last;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size == 0)
                return 0;
        if (pread(fd, &last, 1, st.st_size - 1) != 1)
                return -EIO;
        if (last == '\n')
                return 0;
        if (write(fd, "\n", 1) != 1)
                return errno > 0 ? -errno : -EIO;
        return 0;
}

/* events.jsonl in dir_fd, created if missing, for appending; the fd, or negative errno. O_RDWR, not
 * O_WRONLY: terminate_torn_line() reads the last byte. Both record_open() and rotate() open it here. */
static int open_current_file(int dir_fd)
{
        int fd = openat(dir_fd, RECORD_FILE_NAME, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

        return fd < 0 ? -errno : fd;
}

int record_open(const char *state_dir, struct record **ret)
{
        _cleanup_(record_freep) struct record *r = NULL;
        int k;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->fd = r->dir_fd = -1;
        r->dir = strdup(state_dir);
        if (!r->dir || asprintf(&r->path, "%s/%s", state_dir, RECORD_FILE_NAME) < 0)
                return -ENOMEM;

        k = mkdir_parents(state_dir, 0750);
        if (k < 0)
                return k;
        r->dir_fd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->dir_fd < 0)
                return -errno;
        r->fd = open_current_file(r->dir_fd);
        if (r->fd < 0)
                return r->fd;
        k = terminate_torn_line(r->fd);
        if (k < 0)
                return k;
        /* Now, not at the first event: O_CREAT may just have made the entry. A failure is retried there. */
        r->dir_synced = fsync(r->dir_fd) >= 0;

        *ret = TAKE_PTR(r);
        return 0;
}

/*
 * A write cut short (ENOSPC, EIO) must not leave half a line for the next
 * record to be glued onto, which would cost that record too: cut the file
 * back to where the line started, or, if even that fails, start the next
 * line with a newline so only the torn one is lost.
 */
static void undo_partial_line(struct record *r, off_t start)
{
        if (ftruncate(r->fd, start) < 0)
                r->torn = true;
}

static int append_line(struct record *r, const char *json)
{
        _cleanup_free_ char *line = NULL;
        size_t len, done = 0;
        struct stat st;

        if (asprintf(&line, "%s%s\n", r->torn ? "\n" : "", json) < 0)
                return -ENOMEM;
        if (fstat(r->fd, &st) < 0)
                return -errno;
        len = strlen(line);
        while (done < len) {
                ssize_t n = write(r->fd, line + done, len - done);
                if (n < 0) {
                        int k = -errno;
                        if (k == -EINTR)
                                continue;
                        if (done > 0)
                                undo_partial_line(r, st.st_size);
                        return k;
                }
                if (n == 0) {
                        undo_partial_line(r, st.st_size);
                        return -EIO;
                }
                done += (size_t)n;
        }
        r->torn = false;
        if (fsync(r->fd) < 0)
                return -errno;
        if (!r->dir_synced) {
                if (fsync(r->dir_fd) < 0)
                        return -errno;
                r->dir_synced = true;
        }
        return 0;
}

static json_object *json_hex32(uint32_t v)
{
        char buf[16];

        snprintf(buf, sizeof(buf), "0x%08" PRIx32, v);
        return json_object_new_string(buf);
}

static json_object *status_to_json(uint32_t raw)
{
        struct cxl_ti_status s;
        json_object *o = json_object_new_object();

        cxl_ti_status_decode(raw, &s);
        json_object_object_add(o, "mem_timeout", json_object_new_boolean(s.mem_timeout));
        json_object_object_add(o, "cache_timeout", json_object_new_boolean(s.cache_timeout));
        json_object_object_add(o, "mem_isolated", json_object_new_boolean(s.mem_isolated));
        json_object_object_add(o, "mem_isolated_link_down", json_object_new_boolean(s.mem_isolated_linkdown));
        json_object_object_add(o, "cache_isolated", json_object_new_boolean(s.cache_isolated));
        json_object_object_add(o, "cache_isolated_link_down", json_object_new_boolean(s.cache_isolated_linkdown));
        json_object_object_add(o, "rp_busy", json_object_new_boolean(s.rp_busy));
        return o;
}

static json_object *control_to_json(uint32_t raw)
{
        struct cxl_ti_control c;
        json_object *o = json_object_new_object();

        cxl_ti_control_decode(raw, &c);
        json_object_object_add(o, "mem_timeout_value", json_object_new_int(c.mem_timeout_value));
        json_object_object_add(o, "mem_timeout_enable", json_object_new_boolean(c.mem_timeout_enable));
        json_object_object_add(o, "cache_timeout_value", json_object_new_int(c.cache_timeout_value));
        json_object_object_add(o, "cache_timeout_enable", json_object_new_boolean(c.cache_timeout_enable));
        json_object_object_add(o, "mem_isolation_enable", json_object_new_boolean(c.mem_isolation_enable));
        json_object_object_add(o, "mem_isolation_link_down_enable",
                               json_object_new_boolean(c.mem_isolation_linkdown_enable));
        json_object_object_add(o, "cache_isolation_enable", json_object_new_boolean(c.cache_isolation_enable));
        json_object_object_add(o, "cache_isolation_link_down_enable",
                               json_object_new_boolean(c.cache_isolation_linkdown_enable));
        json_object_object_add(o, "errcor_signaling_enable", json_object_new_boolean(c.errcor_signaling_enable));
        json_object_object_add(o, "interrupt_enable", json_object_new_boolean(c.interrupt_enable));
        return o;
}

static json_object *capability_to_json(uint32_t raw)
{
        struct cxl_ti_capability c;
        json_object *o = json_object_new_object();

        cxl_ti_capability_decode(raw, &c);
        json_object_object_add(o, "mem_timeout_ranges", json_object_new_int(c.mem_timeout_ranges));
        json_object_object_add(o, "mem_timeout", json_object_new_boolean(c.mem_timeout));
        json_object_object_add(o, "cache_timeout_ranges", json_object_new_int(c.cache_timeout_ranges));
        json_object_object_add(o, "cache_timeout", json_object_new_boolean(c.cache_timeout));
        json_object_object_add(o, "mem_isolation", json_object_new_boolean(c.mem_isolation));
        json_object_object_add(o, "mem_isolation_link_down", json_object_new_boolean(c.mem_isolation_linkdown));
        json_object_object_add(o, "cache_isolation", json_object_new_boolean(c.cache_isolation));
        json_object_object_add(o, "cache_isolation_link_down", json_object_new_boolean(c.cache_isolation_linkdown));
        json_object_object_add(o, "errcor_signaling", json_object_new_boolean(c.errcor_signaling));
        json_object_object_add(o, "interrupt", json_object_new_boolean(c.interrupt));
        if (c.interrupt)
                json_object_object_add(o, "interrupt_message_number", json_object_new_int(c.interrupt_msgnum));
        return o;
}

static json_object *ras_to_json(const struct cxl_ras_snapshot *ras)
{
        json_object *o = json_object_new_object(), *log = json_object_new_array();
        char names[512];

        json_object_object_add(o, "ue_status", json_hex32(ras->ue_status));
        json_object_object_add(o, "ue_status_names",
                               json_object_new_string(cxl_ras_ue_status_to_string(ras->ue_status, names, sizeof(names))));
        json_object_object_add(o, "ue_mask", json_hex32(ras->ue_mask));
        json_object_object_add(o, "ue_severity", json_hex32(ras->ue_severity));
        json_object_object_add(o, "ce_status", json_hex32(ras->ce_status));
        json_object_object_add(o, "ce_status_names",
                               json_object_new_string(cxl_ras_ce_status_to_string(ras->ce_status, names, sizeof(names))));
        json_object_object_add(o, "ce_mask", json_hex32(ras->ce_mask));
        json_object_object_add(o, "cap_control", json_hex32(ras->cap_control));
        json_object_object_add(o, "first_error_pointer", json_object_new_int(ras->first_error_pointer));
        json_object_object_add(o, "first_error", json_hex32(ras->first_error));
        for (size_t i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++)
                json_object_array_add(log, json_hex32(ras->header_log[i]));
        json_object_object_add(o, "header_log", log);
        return o;
}

int record_format_event(const struct isolation_event *e, char **ret)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object *dax = json_object_new_array(), *plan = json_object_new_array();
        char *s;

        json_object_object_add(o, "type", json_object_new_string("event"));
        json_object_object_add(o, "id", json_object_new_string(e->id));
        json_object_object_add(o, "port", json_object_new_string(e->port));
        json_object_object_add(o, "host_bridge", json_object_new_string(e->host_bridge));
        json_object_object_add(o, "kind", json_object_new_string(cxl_isolation_kind_to_string(e->kind) ?: "none"));
        json_object_object_add(o, "status", json_hex32(e->status));
        json_object_object_add(o, "status_decoded", status_to_json(e->status));
        json_object_object_add(o, "control", json_hex32(e->control));
        json_object_object_add(o, "control_decoded", control_to_json(e->control));
        json_object_object_add(o, "capability", json_hex32(e->capability));
        json_object_object_add(o, "capability_decoded", capability_to_json(e->capability));
        json_object_object_add(o, "ras", e->have_ras ? ras_to_json(&e->ras) : NULL);
        json_object_object_add(o, "realtime_usec", json_object_new_uint64(e->realtime_usec));
        json_object_object_add(o, "monotonic_usec", json_object_new_uint64(e->monotonic_usec));
        json_object_object_add(o, "boot_id", json_object_new_string(e->boot_id));
        json_object_object_add(o, "drill", json_object_new_boolean(e->drill));
        for (size_t i = 0; e->dax_devices && e->dax_devices[i]; i++)
                json_object_array_add(dax, json_object_new_string(e->dax_devices[i]));
        json_object_object_add(o, "dax_devices", dax);
        for (size_t i = 0; i < e->n_plan; i++) {
                json_object *step = json_object_new_object();
                json_object_object_add(step, "policy", json_object_new_string(e->plan[i].policy));
                json_object_object_add(step, "action",
                                       json_object_new_string(action_type_to_string(e->plan[i].type) ?: "unknown"));
                json_object_array_add(plan, step);
        }
        json_object_object_add(o, "plan", plan);

        s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int record_format_action(const struct isolation_event *e, size_t index, char **ret)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        const struct planned_action *p;
        char *s;

        if (index >= e->n_plan)
                return -EINVAL;
        p = &e->plan[index];
        json_object_object_add(o, "type", json_object_new_string("action"));
        json_object_object_add(o, "event_id", json_object_new_string(e->id));
        json_object_object_add(o, "port", json_object_new_string(e->port));
        json_object_object_add(o, "index", json_object_new_int((int)index));
        json_object_object_add(o, "policy", json_object_new_string(p->policy));
        json_object_object_add(o, "action", json_object_new_string(action_type_to_string(p->type) ?: "unknown"));
        if (e->drill)
                /* Only on drills: each line of a drill is marked, not only its event line. */
                json_object_object_add(o, "drill", json_object_new_boolean(true));
        json_object_object_add(o, "result", json_object_new_string(action_outcome_to_string(p->result.outcome) ?: "unknown"));
        json_object_object_add(o, "error", json_object_new_int(p->result.error));
        if (p->result.error != 0)
                json_object_object_add(o, "error_message", json_object_new_string(strerror(-p->result.error)));
        json_object_object_add(o, "exit_status", json_object_new_int(p->result.exit_status));
        json_object_object_add(o, "signal", json_object_new_int(p->result.signal));
        json_object_object_add(o, "started_usec", json_object_new_uint64(p->result.started_usec));
        json_object_object_add(o, "finished_usec", json_object_new_uint64(p->result.finished_usec));
        if (p->result.detail)
                json_object_object_add(o, "detail", json_object_new_string(p->result.detail));

        s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

void record_set_rotate_size(struct record *r, uint64_t bytes)
{
        r->rotate_size = bytes;
}

int record_take_rotate_error(struct record *r)
{
        int k = r->rotate_error;

        r->rotate_error = 0;
        return k;
}

/*
 * The current file becomes the previous generation. A failure at any step
 * leaves the record writable: before the rename nothing changed; after it,
 * the old descriptor (now events.jsonl.1) takes the next lines, which loading
 * reads all the same.
 */
static int rotate(struct record *r)
{
        _cleanup_close_ int fd = -1;

        if (renameat(r->dir_fd, RECORD_FILE_NAME, r->dir_fd, RECORD_PREVIOUS_FILE_NAME) < 0)
                return -errno;
        fd = open_current_file(r->dir_fd);
        if (fd < 0)
                return fd;
        closep(&r->fd);
        r->fd = TAKE_FD(fd);
        r->torn = false;
        /* The rename and the new entry: durable now, or at the next line's retry. */
        r->dir_synced = fsync(r->dir_fd) >= 0;
        return r->dir_synced ? 0 : -errno;
}

static void maybe_rotate(struct record *r)
{
        struct stat st;

        if (r->rotate_size == 0 || fstat(r->fd, &st) < 0 || (uint64_t)st.st_size < r->rotate_size)
                return;
        r->rotate_error = rotate(r);
}

int record_append_event(struct record *r, const struct isolation_event *e)
{
        _cleanup_free_ char *s = NULL;
        int k = record_format_event(e, &s);

        if (k < 0)
                return k;
        k = append_line(r, s);
        if (k < 0)
                return k;
        /* After the event is durable, never before: rotation must not delay or risk the record. */
        maybe_rotate(r);
        return 0;
}

int record_append_action(struct record *r, const struct isolation_event *e, size_t index)
{
        _cleanup_free_ char *s = NULL;
        int k = record_format_action(e, index, &s);

        if (k < 0)
                return k;
        return append_line(r, s);
}

int record_append_ack(struct record *r, const char *event_id, uint64_t realtime_usec, const char *by)
{
        _cleanup_json_ json_object *o = json_object_new_object();

        json_object_object_add(o, "type", json_object_new_string("ack"));
        json_object_object_add(o, "event_id", json_object_new_string(event_id));
        json_object_object_add(o, "realtime_usec", json_object_new_uint64(realtime_usec));
        json_object_object_add(o, "by", json_object_new_string(by ?: "unknown"));
        return append_line(r, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

/* --- reading back --- */

static const char *json_get_string(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static int json_get_hex32(json_object *o, const char *key, uint32_t *ret)
{
        const char *s = json_get_string(o, key);
        char *end;
        unsigned long v;

        if (!s)
                return -EBADMSG;
        errno = 0;
        v = strtoul(s, &end, 16);
        if (errno != 0 || *end != '\0' || end == s || v > UINT32_MAX)
                return -EBADMSG;
        *ret = (uint32_t)v;
        return 0;
}

static uint64_t json_get_u64(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        return json_object_get_uint64(v);
}

static int json_get_int(json_object *o, const char *key, int fallback)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return fallback;
        return json_object_get_int(v);
}

static int copy_field(char *dst, size_t size, const char *src)
{
        if (!src || strlen(src) >= size)
                return -EBADMSG;
        strcpy(dst, src);
        return 0;
}

static int ras_from_json(json_object *o, struct cxl_ras_snapshot *ras)
{
        json_object *log;
        int k;

        if ((k = json_get_hex32(o, "ue_status", &ras->ue_status)) < 0 ||
            (k = json_get_hex32(o, "ue_mask", &ras->ue_mask)) < 0 ||
            (k = json_get_hex32(o, "ue_severity", &ras->ue_severity)) < 0 ||
            (k = json_get_hex32(o, "ce_status", &ras->ce_status)) < 0 ||
            (k = json_get_hex32(o, "ce_mask", &ras->ce_mask)) < 0 ||
            (k = json_get_hex32(o, "cap_control", &ras->cap_control)) < 0 ||
            (k = json_get_hex32(o, "first_error", &ras->first_error)) < 0)
                return k;
        ras->first_error_pointer = (uint8_t)json_get_int(o, "first_error_pointer", 0);
        if (!json_object_object_get_ex(o, "header_log", &log) || !json_object_is_type(log, json_type_array) ||
            json_object_array_length(log) != CXL_RAS_HEADER_LOG_DWORDS)
                return -EBADMSG;
        for (size_t i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++) {
                json_object *w = json_object_array_get_idx(log, i);
                const char *s = json_object_get_string(w);
                char *end;
                unsigned long v;

                if (!json_object_is_type(w, json_type_string))
                        return -EBADMSG;
                v = strtoul(s, &end, 16);
                if (*end != '\0' || end == s || v > UINT32_MAX)
                        return -EBADMSG;
                ras->header_log[i] = (uint32_t)v;
        }
        return 0;
}

static int event_from_json(json_object *o, struct isolation_event **ret)
{
        _cleanup_(isolation_event_freep) struct isolation_event *e = isolation_event_new();
        json_object *v;
        const char *kind;
        int k;

        if (!e)
                return -ENOMEM;
        if ((k = copy_field(e->id, sizeof(e->id), json_get_string(o, "id"))) < 0 ||
            (k = copy_field(e->port, sizeof(e->port), json_get_string(o, "port"))) < 0 ||
            (k = copy_field(e->host_bridge, sizeof(e->host_bridge), json_get_string(o, "host_bridge"))) < 0)
                return k;
        (void)copy_field(e->boot_id, sizeof(e->boot_id), json_get_string(o, "boot_id"));
        kind = json_get_string(o, "kind");
        e->kind = kind ? cxl_isolation_kind_from_string(kind) : _CXL_ISOLATION_KIND_INVALID;
        if (e->kind < 0)
                e->kind = CXL_ISOLATION_NONE;
        if ((k = json_get_hex32(o, "status", &e->status)) < 0 ||
            (k = json_get_hex32(o, "control", &e->control)) < 0 ||
            (k = json_get_hex32(o, "capability", &e->capability)) < 0)
                return k;
        if (json_object_object_get_ex(o, "ras", &v) && json_object_is_type(v, json_type_object)) {
                k = ras_from_json(v, &e->ras);
                if (k < 0)
                        return k;
                e->have_ras = true;
        }
        e->realtime_usec = json_get_u64(o, "realtime_usec");
        e->monotonic_usec = json_get_u64(o, "monotonic_usec");
        if (json_object_object_get_ex(o, "drill", &v))
                e->drill = json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "dax_devices", &v) && json_object_is_type(v, json_type_array))
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        const char *s = json_object_get_string(json_object_array_get_idx(v, i));
                        if (s && strv_extend(&e->dax_devices, s) < 0)
                                return -ENOMEM;
                }
        if (json_object_object_get_ex(o, "plan", &v) && json_object_is_type(v, json_type_array))
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        json_object *step = json_object_array_get_idx(v, i);
                        const char *policy = json_get_string(step, "policy");
                        const char *action = json_get_string(step, "action");
                        enum action_type t = action ? action_type_from_string(action) : _ACTION_TYPE_INVALID;

                        if (!policy)
                                return -EBADMSG;
                        k = isolation_event_plan_add(e, policy, t);
                        if (k < 0)
                                return k;
                        /* An action this version does not know cannot be resumed: keep its place, mark it done. */
                        if (t < 0)
                                e->plan[e->n_plan - 1].result.outcome = ACTION_OUTCOME_SKIPPED;
                }

        *ret = TAKE_PTR(e);
        return 0;
}

static struct isolation_event *history_find(const struct record_history *h, const char *id)
{
        /* Newest first: results and acks refer to recent events. */
        for (size_t i = h->n_events; i > 0; i--)
                if (strcmp(h->events[i - 1]->id, id) == 0)
                        return h->events[i - 1];
        return NULL;
}

static int apply_action(struct record_history *h, json_object *o)
{
        const char *id = json_get_string(o, "event_id"), *result = json_get_string(o, "result");
        const char *detail = json_get_string(o, "detail");
        struct isolation_event *e;
        struct action_result *r;
        int index = json_get_int(o, "index", -1);
        enum action_outcome outcome;

        if (!id || !result || index < 0)
                return -EBADMSG;
        outcome = action_outcome_from_string(result);
        if (outcome < 0)
                return -EBADMSG;
        e = history_find(h, id);
        if (!e)
                return -ENOENT;         /* an orphan: its event is in a generation rotated away */
        if ((size_t)index >= e->n_plan)
                return -EBADMSG;
        r = &e->plan[index].result;
        action_result_done(r);
        r->outcome = outcome;
        r->error = json_get_int(o, "error", 0);
        r->exit_status = json_get_int(o, "exit_status", -1);
        r->signal = json_get_int(o, "signal", 0);
        r->started_usec = json_get_u64(o, "started_usec");
        r->finished_usec = json_get_u64(o, "finished_usec");
        if (detail) {
                r->detail = strdup(detail);
                if (!r->detail)
                        return -ENOMEM;
        }
        return 0;
}

static int parse_line(struct record_history *h, const char *line, size_t len)
{
        _cleanup_json_ json_object *o = NULL;
        json_tokener *tok;
        enum json_tokener_error jerr;
        const char *type;

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, line, (int)len);
        jerr = json_tokener_get_error(tok);
        /* A complete object must end exactly at the end of the line. */
        if (o && jerr == json_tokener_success && (size_t)json_tokener_get_parse_end(tok) != len)
                jerr = json_tokener_error_parse_unexpected;
        json_tokener_free(tok);
        if (!o || jerr != json_tokener_success || !json_object_is_type(o, json_type_object))
                return -EBADMSG;

        type = json_get_string(o, "type");
        if (!type)
                return -EBADMSG;
        if (strcmp(type, "event") == 0) {
                struct isolation_event *e, **l;
                int k = event_from_json(o, &e);
                if (k < 0)
                        return k;
                l = realloc(h->events, sizeof(*l) * (h->n_events + 1));
                if (!l) {
                        isolation_event_free(e);
                        return -ENOMEM;
                }
                h->events = l;
                h->events[h->n_events++] = e;
                return 0;
        }
        if (strcmp(type, "action") == 0)
                return apply_action(h, o);
        if (strcmp(type, "ack") == 0) {
                const char *id = json_get_string(o, "event_id");
                struct isolation_event *e = id ? history_find(h, id) : NULL;
                if (!e)
                        return -ENOENT;
                e->acknowledged = true;
                return 0;
        }
        /* Line types from newer versions are not damage. */
        return 0;
}

int record_parse_buffer(const char *text, size_t len, struct record_history *ret)
{
        struct record_history h = {};
        size_t pos = 0;

        while (pos < len) {
                const char *nl = memchr(text + pos, '\n', len - pos);
                size_t end = nl ? (size_t)(nl - text) : len;

                if (end > pos) {
                        int k = parse_line(&h, text + pos, end - pos);
                        if (k == -ENOMEM) {
                                record_history_done(&h);
                                return k;
                        }
                        if (k == -ENOENT)
                                h.n_orphaned++;
                        else if (k < 0)
                                h.n_damaged++;
                }
                pos = end + 1;
        }
        *ret = h;
        return 0;
}

/* Append the whole file to buf (a missing file adds nothing), ending on a newline. */
static int read_generation(const char *state_dir, const char *name, char **buf, size_t *len, size_t *size)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        size_t start = *len;

        if (asprintf(&path, "%s/%s", state_dir, name) < 0)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        for (;;) {
                ssize_t n;
                if (*size - *len < 65536) {
                        char *b = realloc(*buf, *size + 262144);
                        if (!b)
                                return -ENOMEM;
                        *buf = b;
                        *size += 262144;
                }
                n = read(fd, *buf + *len, *size - *len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                *len += (size_t)n;
        }
        /* A torn last line of the older file must not swallow the first line of the newer one. */
        if (*len > start && (*buf)[*len - 1] != '\n')
                (*buf)[(*len)++] = '\n';       /* room: at least 64 KiB were free before the last read */
        return 0;
}

int record_load(const char *state_dir, struct record_history *ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, size = 0;
        int k;

        k = read_generation(state_dir, RECORD_PREVIOUS_FILE_NAME, &buf, &len, &size);
        if (k >= 0)
                k = read_generation(state_dir, RECORD_FILE_NAME, &buf, &len, &size);
        if (k < 0)
                return k;
        return record_parse_buffer(buf ?: "", len, ret);
}

void record_history_done(struct record_history *h)
{
        for (size_t i = 0; i < h->n_events; i++)
                isolation_event_free(h->events[i]);
        free(h->events);
        *h = (struct record_history) {};
}

struct isolation_event *record_history_last_for_port(const struct record_history *h, const char *bdf)
{
        /* Entries may be NULL: the manager takes events it adopts out of the history. */
        for (size_t i = h->n_events; i > 0; i--)
                if (h->events[i - 1] && strcmp(h->events[i - 1]->port, bdf) == 0)
                        return h->events[i - 1];
        return NULL;
}
