/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "isolation-event.h"
#include "strv.h"

static const char *const outcome_names[_ACTION_OUTCOME_MAX] = {
        [ACTION_OUTCOME_PENDING] = "pending",
        [ACTION_OUTCOME_SUCCESS] = "success",
        [ACTION_OUTCOME_FAILED] = "failed",
        [ACTION_OUTCOME_TIMED_OUT] = "timed-out",
        [ACTION_OUTCOME_SKIPPED] = "skipped",
};

const char *action_outcome_to_string(enum action_outcome o)
{
        if ((unsigned)o >= _ACTION_OUTCOME_MAX)
                return NULL;
        return outcome_names[o];
}

enum action_outcome action_outcome_from_string(const char *s)
{
        for (int i = 0; s && i < _ACTION_OUTCOME_MAX; i++)
                if (strcmp(outcome_names[i], s) == 0)
                        return i;
        return _ACTION_OUTCOME_INVALID;
}

void action_result_done(struct action_result *r)
{
        free(r->detail);
        r->detail = NULL;
}

struct isolation_event *isolation_event_new(void)
{
        struct isolation_event *e = calloc(1, sizeof(*e));

        if (!e)
                return NULL;
        e->dax_devices = calloc(1, sizeof(char *));
        if (!e->dax_devices) {
                free(e);
                return NULL;
        }
        return e;
}

struct isolation_event *isolation_event_free(struct isolation_event *e)
{
        if (!e)
                return NULL;
        strv_free(e->dax_devices);
        for (size_t i = 0; i < e->n_plan; i++) {
                free(e->plan[i].policy);
                action_result_done(&e->plan[i].result);
        }
        free(e->plan);
        free(e);
        return NULL;
}

int isolation_event_id_generate(char ret[static ISOLATION_EVENT_ID_LEN + 1])
{
        uint8_t bytes[ISOLATION_EVENT_ID_LEN / 2];
        ssize_t n;

        n = getrandom(bytes, sizeof(bytes), 0);
        if (n < 0)
                return -errno;
        if ((size_t)n != sizeof(bytes))
                return -EIO;
        /* Shape it like a v4 UUID, as sd_id128_randomize() does, so tools that parse ids accept it. */
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        for (size_t i = 0; i < sizeof(bytes); i++)
                sprintf(ret + 2 * i, "%02x", bytes[i]);
        return 0;
}

int isolation_event_plan_add(struct isolation_event *e, const char *policy, enum action_type type)
{
        struct planned_action *p;
        char *name = strdup(policy);

        if (!name)
                return -ENOMEM;
        p = realloc(e->plan, sizeof(*p) * (e->n_plan + 1));
        if (!p) {
                free(name);
                return -ENOMEM;
        }
        e->plan = p;
        e->plan[e->n_plan++] = (struct planned_action) {
                .policy = name,
                .type = type,
                .result = { .outcome = ACTION_OUTCOME_PENDING, .exit_status = -1 },
        };
        return 0;
}

size_t isolation_event_next_step(const struct isolation_event *e)
{
        for (size_t i = 0; i < e->n_plan; i++)
                if (e->plan[i].result.outcome == ACTION_OUTCOME_PENDING)
                        return i;
        return e->n_plan;
}

char *isolation_event_dax_list(const struct isolation_event *e)
{
        return strv_join(e->dax_devices, " ");
}
