/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The action queue: jobs (one per event) keyed by port. Jobs of one key run
 * one at a time in arrival order; jobs of different keys run concurrently.
 * Nothing is ever dropped: the queue grows, and its depth is reported.
 * Pure data structure, no I/O, so ordering rules are unit-tested.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct action_job {
        char key[32];                   /* port BDF */
        void *data;                     /* the event */
        bool running;
        struct action_job *next;
};

struct action_queue {
        struct action_job *head, *tail;
        size_t n_jobs;                  /* waiting + running */
        size_t n_running;
};

/* Allocates the job; *ret_job (optional) lets the caller find it again. */
int action_queue_push(struct action_queue *q, const char *key, void *data, struct action_job **ret_job);
/* The oldest waiting job whose key has nothing running, marked running; NULL if none. */
struct action_job *action_queue_next_runnable(struct action_queue *q);
/* Remove a finished (running) job and free it. */
void action_queue_remove(struct action_queue *q, struct action_job *job);
size_t action_queue_depth(const struct action_queue *q);
size_t action_queue_waiting(const struct action_queue *q);
bool action_queue_key_busy(const struct action_queue *q, const char *key);
void action_queue_done(struct action_queue *q);
