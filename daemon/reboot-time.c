/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <time.h>

#include "reboot-time.h"

#define USEC_PER_SEC 1000000ULL
#define MINUTES_PER_DAY (24 * 60)

bool reboot_time_in_window(uint64_t t_usec, int window_start_min, int window_end_min)
{
        time_t t = (time_t)(t_usec / USEC_PER_SEC);
        struct tm tm;
        int m;

        if (window_start_min < 0)
                return true;
        if (!localtime_r(&t, &tm))
                return false;
        m = tm.tm_hour * 60 + tm.tm_min;
        if (window_start_min == window_end_min)
                return true;
        if (window_start_min < window_end_min)
                return m >= window_start_min && m < window_end_min;
        return m >= window_start_min || m < window_end_min;
}

int reboot_time_compute(uint64_t now_usec, uint64_t delay_usec, int window_start_min, int window_end_min,
                        bool *ret_scheduled, uint64_t *ret_usec)
{
        uint64_t t = now_usec + delay_usec;
        time_t secs;
        struct tm base;

        if (window_start_min >= MINUTES_PER_DAY || window_end_min >= MINUTES_PER_DAY ||
            (window_start_min >= 0 && window_end_min < 0))
                return -EINVAL;

        if (window_start_min < 0 || reboot_time_in_window(t, window_start_min, window_end_min)) {
                *ret_scheduled = delay_usec > 0 || window_start_min >= 0;
                *ret_usec = t;
                return 0;
        }

        /*
         * Outside: the window's next start. Built from the calendar date with
         * tm_isdst = -1 so mktime() applies whatever DST rule holds that day;
         * a start inside a DST gap normalizes to just after it, still >= t.
         */
        secs = (time_t)(t / USEC_PER_SEC);
        if (!localtime_r(&secs, &base))
                return -EINVAL;
        for (int day = 0; day <= 2; day++) {
                struct tm c = base;
                time_t s;

                c.tm_mday += day;
                c.tm_hour = window_start_min / 60;
                c.tm_min = window_start_min % 60;
                c.tm_sec = 0;
                c.tm_isdst = -1;
                s = mktime(&c);
                if (s == (time_t)-1)
                        return -EINVAL;
                if ((uint64_t)s * USEC_PER_SEC >= t) {
                        *ret_scheduled = true;
                        *ret_usec = (uint64_t)s * USEC_PER_SEC;
                        return 0;
                }
        }
        return -ERANGE;
}
