/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Action "reboot": ask logind for a clean reboot, asynchronously on the
 * system bus (org.freedesktop.login1 /org/freedesktop/login1,
 * org.freedesktop.login1.Manager):
 *   - reboot-delay= or reboot-window= set: ScheduleShutdown("reboot", usec),
 *     usec = now + delay, moved to the next window start (reboot-time.h);
 *   - else RebootWithFlags(0), or Reboot(false) on logind without it.
 * Never systemd1.Manager.Reboot() (the last step of a shutdown: it skips
 * stopping services) and never the kexec flag (kexec skips the firmware, so
 * the link, the decoders and the isolation state are not reset).
 *
 * Ordering: the manager has fsync'ed the event record before any action ran,
 * and "evidence" (earlier in the plan) has fsync'ed its bundle and its
 * result line; we say in the result whether it succeeded and reboot either way.
 *
 * At most once per event, also across a daemon crash and restart: before the
 * call we append an "intent" line to the record (this step, outcome pending,
 * detail "reboot-intent boot=<boot id> method=<m> at=<usec>") and fsync it;
 * the manager's result line after the reply is the "done" line. A restarted
 * daemon resumes the step with the intent in hand:
 *   - intent from another boot: the reboot happened; done, no second request;
 *   - same boot: logind is asked (ScheduledShutdown, PreparingForShutdown)
 *     whether a shutdown is already scheduled or under way; only if neither
 *     is the request sent again.
 * The remaining window, honestly: if logind accepted the first request and
 * the schedule was then cancelled (CancelScheduledShutdown, or logind
 * restarted and lost it) before our restart, we cannot tell that from a call
 * that never arrived, and we request again. And if the intent line itself
 * cannot be written, reboot-on-record-failure= decides whether to reboot
 * without that protection (default yes: an isolated machine must not keep
 * running because a disk is full).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "action.h"
#include "cleanup.h"
#include "log.h"
#include "manager.h"
#include "message-ids.h"
#include "record.h"
#include "reboot-time.h"

#define LOGIND_SERVICE "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"
#define INTENT_PREFIX "reboot-intent "

struct reboot_state {
        sd_bus *bus;
        sd_bus_slot *slot;
        bool scheduled;
        uint64_t when_usec;
        const char *method;
        char *notes;            /* evidence and record remarks for the result */
};

static uint64_t now_realtime_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

static const char *format_when(uint64_t usec, char *buf, size_t size)
{
        time_t t = (time_t)(usec / 1000000ULL);
        struct tm tm;

        if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm) == 0)
                snprintf(buf, size, "@%" PRIu64, usec);
        return buf;
}

/* What the evidence step (if any) before us in the plan achieved. Caller frees. */
static char *evidence_note(struct action_run *run)
{
        const struct planned_action *ev = NULL;
        char *s = NULL;

        for (size_t i = 0; i < run->index; i++)
                if (run->event->plan[i].type == ACTION_EVIDENCE)
                        ev = &run->event->plan[i];
        if (!ev)
                return strdup("no evidence step before the reboot");
        if (ev->result.outcome == ACTION_OUTCOME_SUCCESS) {
                if (asprintf(&s, "evidence saved: %s", ev->result.detail ?: "ok") < 0)
                        return NULL;
        } else if (asprintf(&s, "evidence %s (%s), rebooting anyway",
                            action_outcome_to_string(ev->result.outcome) ?: "failed",
                            ev->result.detail ?: strerror(-ev->result.error)) < 0)
                return NULL;
        return s;
}

static void reboot_finish(struct action_run *run, enum action_outcome o, int error, const char *what)
{
        struct reboot_state *st = run->data;

        action_run_finish(run, o, error, "%s; %s", what, st && st->notes ? st->notes : "");
}

static int on_reboot_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);

static int call_logind(struct action_run *run)
{
        struct reboot_state *st = run->data;

        st->slot = sd_bus_slot_unref(st->slot);
        if (st->scheduled)
                return sd_bus_call_method_async(st->bus, &st->slot, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER,
                                                st->method, on_reboot_reply, run, "st", "reboot", st->when_usec);
        if (strcmp(st->method, "RebootWithFlags") == 0)
                /* 0: no kexec, and logind checks inhibitors as for any caller. */
                return sd_bus_call_method_async(st->bus, &st->slot, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER,
                                                st->method, on_reboot_reply, run, "t", (uint64_t)0);
        return sd_bus_call_method_async(st->bus, &st->slot, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER, st->method,
                                        on_reboot_reply, run, "b", 0);
}

static int on_reboot_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        struct action_run *run = userdata;
        struct reboot_state *st = run->data;
        const sd_bus_error *err = sd_bus_message_get_error(reply);
        _cleanup_free_ char *what = NULL;
        char when[64];
        int k;

        st->slot = sd_bus_slot_unref(st->slot);
        if (err) {
                if (strcmp(st->method, "RebootWithFlags") == 0 &&
                    sd_bus_error_has_name(err, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                        action_run_log(run, LOG_INFO, NULL, "logind has no RebootWithFlags, using Reboot(false)");
                        st->method = "Reboot";
                        k = call_logind(run);
                        if (k >= 0)
                                return 0;
                        if (asprintf(&what, "cannot call logind Reboot: %s", strerror(-k)) < 0)
                                what = NULL;
                        reboot_finish(run, ACTION_OUTCOME_FAILED, k, what ?: "cannot call logind");
                        return 0;
                }
                if (asprintf(&what, "logind refused %s: %s: %s", st->method, err->name ?: "error",
                             err->message ?: "") < 0)
                        what = NULL;
                reboot_finish(run, ACTION_OUTCOME_FAILED, sd_bus_message_get_errno(reply) ?: -EIO,
                              what ?: "logind refused the reboot");
                return 0;
        }

        if (st->scheduled)
                k = asprintf(&what, "reboot scheduled for %s through logind ScheduleShutdown",
                             format_when(st->when_usec, when, sizeof(when)));
        else
                k = asprintf(&what, "reboot requested through logind %s", st->method);
        if (k < 0)
                what = NULL;
        action_run_log(run, LOG_NOTICE, MESSAGE_ID_REBOOT_REQUESTED, "%s", what ?: "reboot requested");
        reboot_finish(run, ACTION_OUTCOME_SUCCESS, 0, what ?: "reboot requested");
        return 0;
}

/* Record the intent (fsync'ed by the record), then call. */
static int request_reboot(struct action_run *run)
{
        struct reboot_state *st = run->data;
        struct manager *m = run->manager;
        struct action_result *pr = &run->event->plan[run->index].result;
        _cleanup_free_ char *detail = NULL;
        int k;

        if (asprintf(&detail, INTENT_PREFIX "boot=%s method=%s at=%" PRIu64, m->boot_id, st->method,
                     st->scheduled ? st->when_usec : now_realtime_usec()) < 0) {
                detail = NULL;  /* undefined after a failed asprintf() */
                return -ENOMEM;
        }
        action_result_done(pr);
        *pr = (struct action_result) {
                .outcome = ACTION_OUTCOME_PENDING,
                .exit_status = -1,
                .started_usec = run->result.started_usec,
                .detail = TAKE_PTR(detail),
        };
        k = m->record ? record_append_action(m->record, run->event, run->index) : -EROFS;
        if (k < 0) {
                char *n = NULL;
                bool go = !m->config || m->config->reboot_on_record_failure;

                action_run_log(run, LOG_ERR, MESSAGE_ID_RECORD_WRITE_FAILED,
                               "cannot record the reboot intent: %s; %s", strerror(-k),
                               go ? "rebooting anyway (reboot-on-record-failure=yes), a daemon restart "
                                    "before the reboot could request it again" :
                                    "not rebooting (reboot-on-record-failure=no)");
                /* The kernel log may outlive the reboot (pstore, netconsole) where the journal does not. */
                log_kmsg(LOG_ERR, "cannot record the reboot intent of CXL isolation event %s on %s: %s; %s",
                         run->event->id, run->event->port, strerror(-k),
                         go ? "rebooting anyway (reboot-on-record-failure=yes)" :
                              "not rebooting (reboot-on-record-failure=no)");
                if (!go)
                        return k;
                if (asprintf(&n, "%s; intent NOT recorded (%s)", st->notes ?: "", strerror(-k)) >= 0) {
                        free(st->notes);
                        st->notes = n;
                }
        }
        return call_logind(run);
}

static int on_properties(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        struct action_run *run = userdata;
        struct reboot_state *st = run->data;
        const char *sched_type = NULL;
        uint64_t sched_usec = 0;
        int preparing = 0, k;
        bool known = false;
        char when[64];
        _cleanup_free_ char *what = NULL;

        st->slot = sd_bus_slot_unref(st->slot);
        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *err = sd_bus_message_get_error(reply);
                action_run_log(run, LOG_WARNING, NULL,
                               "cannot ask logind whether the earlier reboot request is pending (%s), requesting again",
                               err && err->name ? err->name : "error");
                goto request;
        }
        k = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (k >= 0 && (k = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *name;

                if ((k = sd_bus_message_read(reply, "s", &name)) < 0)
                        break;
                if (strcmp(name, "ScheduledShutdown") == 0 &&
                    sd_bus_message_enter_container(reply, 'v', "(st)") > 0) {
                        k = sd_bus_message_read(reply, "(st)", &sched_type, &sched_usec);
                        (void)sd_bus_message_exit_container(reply);
                        known = known || k >= 0;
                } else if (strcmp(name, "PreparingForShutdown") == 0 &&
                           sd_bus_message_enter_container(reply, 'v', "b") > 0) {
                        k = sd_bus_message_read(reply, "b", &preparing);
                        (void)sd_bus_message_exit_container(reply);
                        known = known || k >= 0;
                } else
                        k = sd_bus_message_skip(reply, "v");
                if (k < 0)
                        break;
                k = sd_bus_message_exit_container(reply);
        }
        if (k < 0)
                action_run_log(run, LOG_WARNING, NULL, "cannot parse logind's properties: %s", strerror(-k));

        if (sched_type && sched_type[0]) {
                if (asprintf(&what, "already scheduled before a daemon restart: %s at %s; not requesting again",
                             sched_type, format_when(sched_usec, when, sizeof(when))) < 0)
                        what = NULL;
                reboot_finish(run, ACTION_OUTCOME_SUCCESS, 0, what ?: "already scheduled");
                return 0;
        }
        if (preparing) {
                reboot_finish(run, ACTION_OUTCOME_SUCCESS, 0,
                              "shutdown already under way after the request made before a daemon restart; "
                              "not requesting again");
                return 0;
        }
        action_run_log(run, LOG_NOTICE, NULL, "%s, requesting the reboot again",
                       known ? "an earlier reboot request is recorded but logind has nothing pending" :
                               "logind does not say whether a shutdown is pending");
request:
        k = request_reboot(run);
        if (k < 0)
                reboot_finish(run, ACTION_OUTCOME_FAILED, k, "cannot request the reboot");
        return 0;
}

/* "boot=<id>" from an intent detail; false if there is none. */
static bool intent_boot(const char *detail, char ret[static 33])
{
        const char *b;

        if (!detail || strncmp(detail, INTENT_PREFIX, STRLEN(INTENT_PREFIX)) != 0)
                return false;
        b = strstr(detail, "boot=");
        if (!b)
                return false;
        b += STRLEN("boot=");
        size_t n = strcspn(b, " ");
        if (n > 32)
                return false;
        memcpy(ret, b, n);
        ret[n] = '\0';
        return true;
}

static int reboot_start(struct action_run *run)
{
        const struct config_policy *p = run->policy;
        const struct action_result *prior = &run->event->plan[run->index].result;
        struct manager *m = run->manager;
        struct reboot_state *st;
        char when[64], boot[33];
        bool resumed;
        int k;

        st = calloc(1, sizeof(*st));
        if (!st)
                return -ENOMEM;
        run->data = st;
        st->notes = evidence_note(run);

        k = reboot_time_compute(now_realtime_usec(), p ? p->reboot_delay : 0, p ? p->reboot_window_start_min : -1,
                                p ? p->reboot_window_end_min : -1, &st->scheduled, &st->when_usec);
        if (k < 0)
                return k;
        st->method = st->scheduled ? "ScheduleShutdown" : "RebootWithFlags";

        if (run->dry_run) {
                if (st->scheduled)
                        action_run_log(run, LOG_NOTICE, NULL,
                                       "dry run: would call logind ScheduleShutdown(\"reboot\", %s)",
                                       format_when(st->when_usec, when, sizeof(when)));
                else
                        action_run_log(run, LOG_NOTICE, NULL, "dry run: would call logind RebootWithFlags(0)");
                reboot_finish(run, ACTION_OUTCOME_SKIPPED, 0,
                              st->scheduled ? "dry run: would schedule a reboot through logind ScheduleShutdown" :
                                              "dry run: would reboot through logind RebootWithFlags(0)");
                return 0;
        }

        /* Two policies asking for a reboot of the same event still make one request. */
        for (size_t i = 0; i < run->index; i++)
                if (run->event->plan[i].type == ACTION_REBOOT &&
                    run->event->plan[i].result.outcome == ACTION_OUTCOME_SUCCESS) {
                        _cleanup_free_ char *what = NULL;
                        if (asprintf(&what, "already requested for this event by policy '%s'",
                                     run->event->plan[i].policy) < 0)
                                what = NULL;
                        reboot_finish(run, ACTION_OUTCOME_SKIPPED, 0, what ?: "already requested for this event");
                        return 0;
                }

        resumed = intent_boot(prior->detail, boot);
        if (resumed && strcmp(boot, m->boot_id) != 0) {
                /* The machine went down since: that was our reboot. Never loop on a port that stays isolated. */
                reboot_finish(run, ACTION_OUTCOME_SUCCESS, 0,
                              "rebooted since the request (intent recorded in another boot); not requesting again");
                return 0;
        }

        k = sd_bus_open_system(&st->bus);
        if (k < 0)
                return k;
        k = sd_bus_attach_event(st->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (k < 0)
                return k;

        if (resumed) {
                action_run_log(run, LOG_NOTICE, NULL, "resuming after a restart: a reboot intent is recorded (%s), "
                               "asking logind whether it is pending", prior->detail);
                return sd_bus_call_method_async(st->bus, &st->slot, LOGIND_SERVICE, LOGIND_PATH,
                                                "org.freedesktop.DBus.Properties", "GetAll", on_properties, run, "s",
                                                LOGIND_MANAGER);
        }
        return request_reboot(run);
}

static void reboot_cancel(struct action_run *run)
{
        struct reboot_state *st = run->data;

        if (st)
                st->slot = sd_bus_slot_unref(st->slot);
        reboot_finish(run, ACTION_OUTCOME_FAILED, -ECANCELED,
                      "stopped while waiting for logind; whether it received the request is unknown (the intent is "
                      "recorded)");
}

static void reboot_free_data(struct action_run *run)
{
        struct reboot_state *st = run->data;

        if (!st)
                return;
        sd_bus_slot_unref(st->slot);
        /* No flush: the reply is in (or no longer wanted), and a flush could block the loop on a stuck bus. */
        sd_bus_close_unref(st->bus);
        free(st->notes);
        free(st);
        run->data = NULL;
}

const struct action_ops action_ops_reboot = {
        .type = ACTION_REBOOT,
        .start = reboot_start,
        .cancel = reboot_cancel,
        .free_data = reboot_free_data,
        .runs_in_dry_run = true,        /* logs what it would request, calls nothing */
};
