/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Policy throttling: cooldown= (no second firing within that time) and
 * rate-limit=N/interval (at most N firings in any interval). Both count per
 * policy across all ports, because what they protect against (a reboot
 * loop, a paging storm) is per policy. A throttled policy is not dropped
 * silently: its steps are recorded as skipped, with the reason.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum throttle_verdict {
        THROTTLE_ALLOW,
        THROTTLE_COOLDOWN,
        THROTTLE_RATE_LIMIT,
};

/* Firing times of one policy, CLOCK_MONOTONIC usec, oldest first. */
struct policy_fires {
        char *policy;
        size_t n;
        uint64_t *times;
};

/*
 * Pure: may a policy fire at `now`, given its earlier firings? cooldown 0 and
 * burst 0 mean no limit. *ret_wait_usec (optional) says how long until it may.
 */
enum throttle_verdict policy_throttle_check(const struct policy_fires *f, uint64_t now, uint64_t cooldown,
                                            unsigned burst, uint64_t interval, uint64_t *ret_wait_usec);
/* Remember a firing; forgets those older than keep_usec (the longest window that matters). */
int policy_fires_add(struct policy_fires *f, uint64_t now, uint64_t keep_usec);
void policy_fires_done(struct policy_fires *f);
