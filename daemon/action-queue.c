/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "action-queue.h"

int action_queue_push(struct action_queue *q, const char *key, void *data, struct action_job **ret_job)
{
        struct action_job *j;

        if (strlen(key) >= sizeof(j->key))
                return -EINVAL;
        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        strcpy(j->key, key);
        j->data = data;
        if (q->tail)
                q->tail->next = j;
        else
                q->head = j;
        q->tail = j;
        q->n_jobs++;
        if (ret_job)
                *ret_job = j;
        return 0;
}

bool action_queue_key_busy(const struct action_queue *q, const char *key)
{
        for (struct action_job *j = q->head; j; j = j->next)
                if (j->running && strcmp(j->key, key) == 0)
                        return true;
        return false;
}

struct action_job *action_queue_next_runnable(struct action_queue *q)
{
        for (struct action_job *j = q->head; j; j = j->next) {
                if (j->running)
                        continue;
                /* An earlier job of the same key, waiting or running, goes first: per-port order. */
                bool blocked = false;
                for (struct action_job *k = q->head; k != j; k = k->next)
                        if (strcmp(k->key, j->key) == 0) {
                                blocked = true;
                                break;
                        }
                if (blocked)
                        continue;
                j->running = true;
                q->n_running++;
                return j;
        }
        return NULL;
}

void action_queue_remove(struct action_queue *q, struct action_job *job)
{
        struct action_job *prev = NULL;

        for (struct action_job *j = q->head; j; prev = j, j = j->next) {
                if (j != job)
                        continue;
                if (prev)
                        prev->next = j->next;
                else
                        q->head = j->next;
                if (q->tail == j)
                        q->tail = prev;
                q->n_jobs--;
                if (j->running)
                        q->n_running--;
                free(j);
                return;
        }
}

size_t action_queue_depth(const struct action_queue *q)
{
        return q->n_jobs;
}

size_t action_queue_waiting(const struct action_queue *q)
{
        return q->n_jobs - q->n_running;
}

void action_queue_done(struct action_queue *q)
{
        while (q->head) {
                struct action_job *j = q->head;
                q->head = j->next;
                free(j);
        }
        *q = (struct action_queue) {};
}
