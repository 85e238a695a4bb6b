/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How often the poll timer fires, from what serves the ports. Pure, so it is
 * unit-tested on its own; the manager applies it (manager.c,
 * manager_reschedule_poll()).
 *
 * Polling at poll-interval= is the baseline. When every watchable port has a
 * working interrupt source, the timer falls back to poll-backstop=: the
 * interrupt comes from a function below the port, on the far side of the
 * link, and the link loss that isolates the port may silence it, so a slow
 * poll stays the default; 0 turns periodic polling off. No watchable port at
 * all is not "every port served": nothing changes then. A service watchdog
 * is fed only after a completed poll cycle, so with one the interval is at
 * most half the watchdog's, backstop 0 included.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* poll-backstop= not set: the backstop is poll-interval= itself (interrupts only shorten detection). */
#define POLL_BACKSTOP_UNSET UINT64_MAX

/*
 * The poll timer's interval in µs, 0 for "no periodic poll". watchdog_usec 0:
 * no watchdog.
 */
uint64_t poll_schedule_interval(uint64_t poll_interval_usec, uint64_t backstop_usec, size_t n_watchable,
                                size_t n_served, uint64_t watchdog_usec);
