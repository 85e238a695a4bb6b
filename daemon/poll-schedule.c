/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "poll-schedule.h"

uint64_t poll_schedule_interval(uint64_t poll_interval_usec, uint64_t backstop_usec, size_t n_watchable,
                                size_t n_served, uint64_t watchdog_usec)
{
        uint64_t interval = poll_interval_usec;

        if (n_watchable > 0 && n_served >= n_watchable && backstop_usec != POLL_BACKSTOP_UNSET)
                interval = backstop_usec;
        if (watchdog_usec > 0 && (interval == 0 || interval > watchdog_usec / 2))
                interval = watchdog_usec / 2 ?: 1;
        return interval;
}
