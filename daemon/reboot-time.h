/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * When the reboot action asks logind to reboot: at once, or at a realtime
 * instant for ScheduleShutdown(). Pure apart from the local time zone, which
 * is what an operator means by "reboot-window=02:00-04:00".
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * now + delay, moved forward to the start of the next window if it falls
 * outside [start, end) (local minutes of the day; end < start crosses
 * midnight; start == end is the whole day). A window start of -1 means no
 * window. *ret_scheduled is false when neither a delay nor a window applies:
 * reboot now, *ret_usec = now. -EINVAL for minutes outside 0..1439.
 */
int reboot_time_compute(uint64_t now_usec, uint64_t delay_usec, int window_start_min, int window_end_min,
                        bool *ret_scheduled, uint64_t *ret_usec);

/* Is the local time of t inside the window? (Exposed for tests.) */
bool reboot_time_in_window(uint64_t t_usec, int window_start_min, int window_end_min);
