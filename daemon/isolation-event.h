/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One isolation event: everything known at the moment a port's isolation bit
 * rose, captured once (registers, RAS header log, topology, clocks) so the
 * record, the journal, actions and the bus all tell the same story. Also the
 * plan of actions the matching policies chose, and how far it got: the plan is
 * recorded with the event so a restarted daemon resumes it instead of
 * starting over.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "cxl-ras.h"
#include "cxl-ti.h"

#define ISOLATION_EVENT_ID_LEN 32       /* 128 bits as hex, like sd_id128 */

enum action_outcome {
        ACTION_OUTCOME_PENDING,         /* not started or not finished yet */
        ACTION_OUTCOME_SUCCESS,
        ACTION_OUTCOME_FAILED,
        ACTION_OUTCOME_TIMED_OUT,
        ACTION_OUTCOME_SKIPPED,         /* not run: dry run, unknown action, policy gone */
        _ACTION_OUTCOME_MAX,
        _ACTION_OUTCOME_INVALID = -22,
};
const char *action_outcome_to_string(enum action_outcome o);
enum action_outcome action_outcome_from_string(const char *s);

struct action_result {
        enum action_outcome outcome;
        int error;                      /* negative errno, 0 if none */
        int exit_status;                /* exec: exit code; -1 when not applicable */
        int signal;                     /* exec: terminating signal, 0 if none */
        uint64_t started_usec, finished_usec;   /* CLOCK_REALTIME */
        char *detail;                   /* one line for humans, may be NULL */
};

/* One step of the plan: which policy asked for which action. */
struct planned_action {
        char *policy;
        enum action_type type;
        struct action_result result;
};

struct isolation_event {
        char id[ISOLATION_EVENT_ID_LEN + 1];
        char port[16];                  /* BDF */
        char host_bridge[64];
        enum cxl_isolation_kind kind;
        uint32_t status, control, capability;
        bool have_ras;
        struct cxl_ras_snapshot ras;
        uint64_t realtime_usec, monotonic_usec;
        char boot_id[33];
        bool drill;                     /* injected on purpose (self-test), not a real failure */
        char **dax_devices;             /* NULL-terminated, may be empty */

        size_t n_plan;
        struct planned_action *plan;
        bool acknowledged;
};

struct isolation_event *isolation_event_new(void);
struct isolation_event *isolation_event_free(struct isolation_event *e);

/* Fresh 128-bit random id, lower-case hex. */
int isolation_event_id_generate(char ret[static ISOLATION_EVENT_ID_LEN + 1]);
/* Append a plan step (copies policy). */
int isolation_event_plan_add(struct isolation_event *e, const char *policy, enum action_type type);
/* Index of the first step without a final outcome, n_plan when all are done. */
size_t isolation_event_next_step(const struct isolation_event *e);
/* Space-separated dax device names ("" when none); caller frees. */
char *isolation_event_dax_list(const struct isolation_event *e);
void action_result_done(struct action_result *r);
