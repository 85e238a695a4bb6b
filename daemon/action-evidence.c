/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action "evidence": save what an engineer needs after the machine has
 * rebooted, under <statedir>/evidence/<event-id>/:
 *   event.json      the event as recorded (registers at event time, plan)
 *   registers.txt   T&I and RAS registers with the 16-dword header log, from
 *                   the event snapshot, and a re-read if the window still answers
 *   topology.txt    regions, memdevs, dax devices and memory blocks below the port
 *   kernel.log      kernel messages around the event (bounded, see below)
 *   config.ini      the active configuration (config_dump)
 *   manifest.txt    what each file is, its size, and what could not be collected
 * The bundle is written into a temporary directory, every file and the
 * directory fsync'ed, then renamed into place and the parents fsync'ed: a
 * bundle under its final name is complete. A reboot policy runs this before
 * "reboot", which checks for it.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "action-worker.h"
#include "action.h"
#include "cleanup.h"
#include "cxl-regs.h"
#include "kernel-log.h"
#include "manager.h"
#include "record.h"
#include "topology.h"

#define EVIDENCE_DIR "evidence"
#define KMSG_PATH "/dev/kmsg"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct port_topology *, port_topology_done);

/* asprintf() leaves the pointer undefined on failure: NULL instead, so _cleanup_free_ stays safe. */
static void set_note(char **ret, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void set_note(char **ret, const char *format, ...)
{
        va_list ap;

        va_start(ap, format);
        if (vasprintf(ret, format, ap) < 0)
                *ret = NULL;
        va_end(ap);
}


struct bundle {
        int dirfd;
        FILE *manifest;         /* memstream, written to disk last */
        char *manifest_text;
        size_t manifest_len;
        size_t n_files;
        int error;              /* first write error */
        const char *failed_file;
        FILE *partial;          /* memstream: what could not be collected, for the result line */
        char *partial_text;
        size_t partial_len;
};

static void bundle_done(struct bundle *b)
{
        if (b->manifest)
                (void)fclose(b->manifest);
        free(b->manifest_text);
        if (b->partial)
                (void)fclose(b->partial);
        free(b->partial_text);
}

/* Write one file under the bundle, fsync'ed. */
static int bundle_write(struct bundle *b, const char *name, const char *what, const char *data, size_t len,
                        const char *note)
{
        _cleanup_close_ int fd = -1;
        size_t done = 0;

        fd = openat(b->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                goto fail;
        while (done < len) {
                ssize_t n = write(fd, data + done, len - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        goto fail;
                }
                done += (size_t)n;
        }
        if (fsync(fd) < 0 || close(TAKE_FD(fd)) < 0)
                goto fail;
        b->n_files++;
        /* The manifest itself is written after its stream is closed. */
        if (b->manifest)
                fprintf(b->manifest, "%-14s %8zu bytes  %s%s%s\n", name, len, what, note ? "; " : "", note ?: "");
        return 0;
fail:
        if (b->error == 0) {
                b->error = -errno;
                b->failed_file = name;
        }
        if (b->manifest)
                fprintf(b->manifest, "%-14s  FAILED: %s\n", name, strerror(errno));
        return -errno;
}

/* *ret_note: a remark for the manifest; *ret_partial: the remark says something is missing. */
typedef void (*collect_fn)(struct action_run *run, FILE *f, char **ret_note, bool *ret_partial);

/* Collect into memory, then write: a collector never leaves a half-written file behind. */
static int bundle_collect(struct bundle *b, struct action_run *run, const char *name, const char *what, collect_fn fn)
{
        _cleanup_free_ char *text = NULL, *note = NULL;
        size_t len = 0;
        bool partial = false;
        FILE *f = open_memstream(&text, &len);

        if (!f) {
                fprintf(b->manifest, "%-14s  FAILED: out of memory\n", name);
                if (b->error == 0) {
                        b->error = -ENOMEM;
                        b->failed_file = name;
                }
                return -ENOMEM;
        }
        fn(run, f, &note, &partial);
        if (fclose(f) != 0)
                return -ENOMEM;
        if (partial && b->partial)
                fprintf(b->partial, "%s%s: %s", ftell(b->partial) > 0 ? ", " : "", name, note ?: "incomplete");
        return bundle_write(b, name, what, text ?: "", len, note);
}

static void collect_event(struct action_run *run, FILE *f, char **ret_note, bool *ret_partial)
{
        _cleanup_free_ char *json = NULL;
        int k = record_format_event(run->event, &json);

        if (k < 0) {
                fprintf(f, "{\"error\":\"cannot format the event: %s\"}\n", strerror(-k));
                *ret_partial = true;
        }
        else
                fprintf(f, "%s\n", json);
}

static void print_registers(FILE *f, uint32_t status, uint32_t control, uint32_t capability, bool have_ras,
                            const struct cxl_ras_snapshot *ras)
{
        char text[256];

        fprintf(f, "ti.capability  0x%08" PRIx32 "\n", capability);
        fprintf(f, "ti.control     0x%08" PRIx32 "\n", control);
        fprintf(f, "ti.status      0x%08" PRIx32 "  %s\n", status, cxl_ti_status_to_string(status, text, sizeof(text)));
        if (!have_ras) {
                fprintf(f, "ras            absent or unreadable\n");
                return;
        }
        fprintf(f, "ras.ue_status  0x%08" PRIx32 "  %s\n", ras->ue_status,
                cxl_ras_ue_status_to_string(ras->ue_status, text, sizeof(text)));
        fprintf(f, "ras.ue_mask    0x%08" PRIx32 "\n", ras->ue_mask);
        fprintf(f, "ras.ue_severity 0x%08" PRIx32 "\n", ras->ue_severity);
        fprintf(f, "ras.ce_status  0x%08" PRIx32 "  %s\n", ras->ce_status,
                cxl_ras_ce_status_to_string(ras->ce_status, text, sizeof(text)));
        fprintf(f, "ras.ce_mask    0x%08" PRIx32 "\n", ras->ce_mask);
        fprintf(f, "ras.cap_control 0x%08" PRIx32 "  first error pointer %u\n", ras->cap_control,
                ras->first_error_pointer);
        fprintf(f, "ras.first_error 0x%08" PRIx32 "\n", ras->first_error);
        fprintf(f, "ras.header_log");
        for (unsigned i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++)
                fprintf(f, "%s%08" PRIx32, i % 4 == 0 ? "\n  " : " ", ras->header_log[i]);
        fprintf(f, "\n");
}

static void collect_registers(struct action_run *run, FILE *f, char **ret_note, bool *ret_partial)
{
        const struct isolation_event *e = run->event;
        struct cxl_ras_snapshot ras = {};
        uint32_t status, control, capability;
        bool have_ras = false;
        struct port *p;
        int k;

        fprintf(f, "# %s, event %s: registers captured at event time\n", e->port, e->id);
        print_registers(f, e->status, e->control, e->capability, e->have_ras, &e->ras);

        /* In this worker process: a window that raises SIGBUS now costs the worker, not the daemon. */
        p = manager_find_port(run->manager, e->port);
        k = p ? port_snapshot(p, &status, &control, &capability, &ras, &have_ras) : -ENODEV;
        if (k >= 0 && status == REG_ALL_ONES && control == REG_ALL_ONES)
                k = -ENODEV;
        if (k < 0) {
                fprintf(f, "\n# re-read at evidence time: window does not answer (%s)\n", strerror(-k));
                set_note(ret_note, "window does not answer (%s), event-time snapshot only", strerror(-k));
                *ret_partial = true;
                return;
        }
        fprintf(f, "\n# re-read at evidence time\n");
        print_registers(f, status, control, capability, have_ras, &ras);
}

static void collect_topology(struct action_run *run, FILE *f, char **ret_note, bool *ret_partial)
{
        struct port_topology topo = {};
        _cleanup_(port_topology_donep) struct port_topology *t = NULL;
        struct port *p = manager_find_port(run->manager, run->event->port);
        int k;

        fprintf(f, "# topology below %s (at evidence time)\n", run->event->port);
        if (!p) {
                fprintf(f, "port no longer known to the daemon\n");
                *ret_note = strdup("port unknown");
                *ret_partial = true;
                return;
        }
        fprintf(f, "sysfs %s\nhost-bridge %s\n", p->rp.sysfs_path, p->rp.host_bridge);
        k = port_topology_read(p->rp.sysfs_path, &topo);
        if (k < 0) {
                fprintf(f, "cannot read: %s\n", strerror(-k));
                set_note(ret_note, "unreadable: %s", strerror(-k));
                *ret_partial = true;
                return;
        }
        t = &topo;
        for (size_t i = 0; i < t->n_memdevs; i++)
                fprintf(f, "memdev %s\n", t->memdevs[i]);
        for (size_t i = 0; i < t->n_regions; i++)
                fprintf(f, "region %s start 0x%" PRIx64 " size 0x%" PRIx64 " committed %d driver %d\n",
                        t->regions[i], t->region_info ? t->region_info[i].start : 0,
                        t->region_info ? t->region_info[i].size : 0,
                        t->region_info ? t->region_info[i].committed : -1,
                        t->region_info ? t->region_info[i].driver_bound : -1);
        for (size_t i = 0; i < t->n_dax; i++) {
                const struct dax_device *d = &t->dax[i];
                fprintf(f, "dax %s mode %s region %s memdev %s start 0x%" PRIx64 " size 0x%" PRIx64
                        " node %d memmap_on_memory %d users %d\n", d->name, dax_mode_to_string(d->mode),
                        d->region[0] ? d->region : "-", d->memdev[0] ? d->memdev : "-", d->start, d->size,
                        d->target_node, d->memmap_on_memory, d->users);
                for (size_t j = 0; j < d->n_blocks; j++)
                        fprintf(f, "  memory%u %s\n", d->blocks[j].index, d->blocks[j].online ? "online" : "offline");
        }
        if (t->unreadable_processes > 0)
                fprintf(f, "unreadable processes (dax users not counted): %u\n", t->unreadable_processes);
}

static void collect_kmsg(struct action_run *run, FILE *f, char **ret_note, bool *ret_partial)
{
        kernel_log_collect(KMSG_PATH, run->event->monotonic_usec, run->event->realtime_usec, run->event->boot_id, f,
                           ret_note, ret_partial);
}

static void collect_config(struct action_run *run, FILE *f, char **ret_note, bool *ret_partial)
{
        if (!run->manager->config || config_dump(f, run->manager->config) < 0) {
                fprintf(f, "# configuration unavailable\n");
                *ret_note = strdup("configuration unavailable");
                *ret_partial = true;
        }
}

static int fsync_path(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

static void evidence_work(struct action_run *run, pid_t daemon_pid, struct worker_result *r)
{
        const struct isolation_event *e = run->event;
        _cleanup_free_ char *top = NULL, *tmp = NULL, *final = NULL;
        _cleanup_close_ int dirfd = -1;
        _cleanup_(bundle_done) struct bundle b = { .dirfd = -1 };
        struct timespec ts;
        int k;

        set_note(&top, "%s/" EVIDENCE_DIR, run->manager->state_dir);
        if (top) {
                set_note(&tmp, "%s/.%s.XXXXXX", top, e->id);
                set_note(&final, "%s/%s", top, e->id);
        }
        if (!top || !tmp || !final) {
                r->error = -ENOMEM;
                return;
        }
        if (mkdir(top, 0750) < 0 && errno != EEXIST) {
                r->error = -errno;
                worker_detail_item(r, "cannot create %s: %s", top, strerror(errno));
                return;
        }
        if (!mkdtemp(tmp)) {
                r->error = -errno;
                worker_detail_item(r, "cannot create a directory in %s: %s", top, strerror(errno));
                return;
        }
        dirfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
                r->error = -errno;
                worker_detail_item(r, "cannot open %s: %s", tmp, strerror(errno));
                return;
        }
        b.dirfd = dirfd;
        b.partial = open_memstream(&b.partial_text, &b.partial_len);
        b.manifest = open_memstream(&b.manifest_text, &b.manifest_len);
        if (!b.manifest || !b.partial) {
                r->error = -ENOMEM;
                return;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        fprintf(b.manifest, "# cxl-isold evidence bundle\nevent %s\nport %s\nhost-bridge %s\nboot %s\n"
                "event-realtime-usec %" PRIu64 "\ncollected-realtime-usec %llu\ndrill %d\n# files\n",
                e->id, e->port, e->host_bridge, e->boot_id, e->realtime_usec,
                (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000ULL, e->drill);

        (void)bundle_collect(&b, run, "event.json", "the event as recorded", collect_event);
        (void)bundle_collect(&b, run, "registers.txt", "T&I and RAS registers with the header log", collect_registers);
        (void)bundle_collect(&b, run, "topology.txt", "topology below the port", collect_topology);
        (void)bundle_collect(&b, run, "kernel.log", "kernel messages around the event", collect_kmsg);
        (void)bundle_collect(&b, run, "config.ini", "active configuration", collect_config);

        fprintf(b.manifest, "manifest.txt   this file\n");
        k = fclose(b.manifest);
        b.manifest = NULL;
        if (k != 0) {
                r->error = -ENOMEM;
                return;
        }
        k = bundle_write(&b, "manifest.txt", "", b.manifest_text ?: "", b.manifest_len, NULL);
        if (k < 0 || b.error < 0) {
                r->error = b.error ?: k;
                worker_detail_item(r, "cannot write %s in %s: %s", b.failed_file ?: "manifest.txt", tmp,
                                   strerror(-r->error));
                return;
        }
        if (fsync(dirfd) < 0) {
                r->error = -errno;
                worker_detail_item(r, "cannot fsync %s: %s", tmp, strerror(errno));
                return;
        }

        /* A bundle from an earlier attempt (the daemon restarted mid-plan) is kept: the new one gets a suffix. */
        if (rename(tmp, final) < 0) {
                if (errno != EEXIST && errno != ENOTEMPTY) {
                        r->error = -errno;
                        worker_detail_item(r, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
                        return;
                }
                free(final);
                set_note(&final, "%s/%s.%llu", top, e->id, (unsigned long long)ts.tv_sec);
                if (!final || rename(tmp, final) < 0) {
                        r->error = final ? -errno : -ENOMEM;
                        worker_detail_item(r, "cannot move the bundle into place: %s", strerror(-r->error));
                        return;
                }
        }
        if ((k = fsync_path(top)) < 0 || (k = fsync_path(run->manager->state_dir)) < 0) {
                r->error = k;
                worker_detail_item(r, "bundle %s written but its directory cannot be fsync'ed: %s", final,
                                   strerror(-k));
                return;
        }
        /* Still a success: the bundle is complete as a bundle; what was missing is said, not hidden. */
        r->outcome = ACTION_OUTCOME_SUCCESS;
        (void)fflush(b.partial);
        worker_detail_item(r, "bundle %s (%zu files)%s%s", final, b.n_files, b.partial_len > 0 ? "; partial: " : "",
                           b.partial_len > 0 ? b.partial_text : "");
}

static int evidence_start(struct action_run *run)
{
        if (!run->manager->state_dir)
                return -ENOENT;
        return action_worker_start(run, evidence_work);
}

const struct action_ops action_ops_evidence = {
        .type = ACTION_EVIDENCE,
        .start = evidence_start,
        .cancel = action_worker_cancel,
        .free_data = action_worker_free_data,
        .runs_in_dry_run = true,        /* it only reads the system and writes under the state directory */
};
