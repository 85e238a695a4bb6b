/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy-throttle.h"

enum throttle_verdict policy_throttle_check(const struct policy_fires *f, uint64_t now, uint64_t cooldown,
                                            unsigned burst, uint64_t interval, uint64_t *ret_wait_usec)
{
        uint64_t wait = 0;
        enum throttle_verdict v = THROTTLE_ALLOW;

        if (cooldown > 0 && f->n > 0) {
                uint64_t last = f->times[f->n - 1];
                if (now - last < cooldown) {
                        v = THROTTLE_COOLDOWN;
                        wait = cooldown - (now - last);
                }
        }
        if (v == THROTTLE_ALLOW && burst > 0 && interval > 0) {
                size_t in_window = 0, first = f->n;
                for (size_t i = f->n; i > 0; i--) {
                        if (now - f->times[i - 1] >= interval)
                                break;
                        in_window++;
                        first = i - 1;
                }
                if (in_window >= burst) {
                        v = THROTTLE_RATE_LIMIT;
                        /* Allowed again when the oldest firing that still counts leaves the window. */
                        wait = interval - (now - f->times[first + in_window - burst]);
                }
        }
        if (ret_wait_usec)
                *ret_wait_usec = wait;
        return v;
}

int policy_fires_add(struct policy_fires *f, uint64_t now, uint64_t keep_usec)
{
        uint64_t *t;
        size_t drop = 0;

        while (drop < f->n && now - f->times[drop] > keep_usec)
                drop++;
        if (drop > 0) {
                memmove(f->times, f->times + drop, sizeof(uint64_t) * (f->n - drop));
                f->n -= drop;
        }
        t = realloc(f->times, sizeof(uint64_t) * (f->n + 1));
        if (!t)
                return -ENOMEM;
        f->times = t;
        f->times[f->n++] = now;
        return 0;
}

void policy_fires_done(struct policy_fires *f)
{
        free(f->policy);
        free(f->times);
        *f = (struct policy_fires) {};
}
