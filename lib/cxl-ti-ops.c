/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The only writes to T&I control and status. The spec (CXL r3.1 §12.3) makes
 * two demands software can get wrong: never clear isolation while RP Busy
 * reads 1, and quiesce before changing an isolation enable. Both come down to
 * a bounded wait for RP Busy = 0 before writing, and to not writing at all
 * when that wait runs out.
 */
#include <errno.h>
#include <stdbool.h>
#include <time.h>

#include "cxl-regs.h"
#include "cxl-ti-ops.h"

#define DEFAULT_POLL_USEC 1000u

static uint64_t now_usec(void)
{
        struct timespec ts;

        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_usec(uint64_t usec)
{
        struct timespec ts = { .tv_sec = (time_t)(usec / 1000000u), .tv_nsec = (long)(usec % 1000000u) * 1000 };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int read_status(struct regwin *w, uint32_t ti_offset, uint32_t *ret)
{
        uint32_t v;
        int r = regwin_read32(w, ti_offset + CXL_TI_STATUS, &v);

        if (r < 0)
                return r;
        if (v == REG_ALL_ONES)
                return -ENODEV;
        *ret = v;
        return 0;
}

/*
 * Re-read status until RP Busy is clear or `keep_waiting` says the busy bit
 * no longer matters. -ETIMEDOUT when the deadline passes with it still set.
 */
static int wait_not_busy(struct regwin *w, uint32_t ti_offset, uint64_t timeout_usec, uint64_t poll_usec,
                         uint32_t *status)
{
        uint64_t deadline = now_usec() + timeout_usec;
        int r;

        if (poll_usec == 0)
                poll_usec = DEFAULT_POLL_USEC;
        /* RP Busy is meaningful only while bit 8 or 12 is set; otherwise its value is undefined. */
        while ((*status & CXL_TI_STS_RP_BUSY) && (*status & CXL_TI_STS_ISOLATED_MASK)) {
                uint64_t now = now_usec();

                if (now >= deadline)
                        return -ETIMEDOUT;
                sleep_usec(deadline - now < poll_usec ? deadline - now : poll_usec);
                r = read_status(w, ti_offset, status);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cxl_ti_clear_isolation(struct regwin *w, uint32_t ti_offset, uint64_t timeout_usec, uint64_t poll_usec,
                           uint32_t *ret_status_after)
{
        uint32_t status, after;
        int r;

        if (!w)
                return -EINVAL;
        r = read_status(w, ti_offset, &status);
        if (r < 0)
                return r;
        if (!(status & CXL_TI_STS_ISOLATED_MASK))
                return -EALREADY;

        r = wait_not_busy(w, ti_offset, timeout_usec, poll_usec, &status);
        if (r < 0)
                return r;
        /* Someone else (another tool, the port itself) may have ended isolation while we waited. */
        if (!(status & CXL_TI_STS_ISOLATED_MASK))
                return -EALREADY;
        if (!cxl_ti_status_clear_allowed(status))
                return -EBUSY;

        r = regwin_write32(w, ti_offset + CXL_TI_STATUS, cxl_ti_status_clear_value(status));
        if (r < 0)
                return r;
        r = read_status(w, ti_offset, &after);
        if (r < 0)
                return r;
        if (after & CXL_TI_STS_ISOLATED_MASK)
                return -EIO;
        if (ret_status_after)
                *ret_status_after = after;
        return 0;
}

static int read_capability_control(struct regwin *w, uint32_t ti_offset, uint32_t *ret_cap, uint32_t *ret_ctl)
{
        uint32_t cap, ctl;
        int r;

        r = regwin_read32(w, ti_offset + CXL_TI_CAPABILITY, &cap);
        if (r < 0)
                return r;
        r = regwin_read32(w, ti_offset + CXL_TI_CONTROL, &ctl);
        if (r < 0)
                return r;
        if (cap == REG_ALL_ONES || ctl == REG_ALL_ONES)
                return -ENODEV;
        *ret_cap = cap;
        *ret_ctl = ctl;
        return 0;
}

/* Write control and read it back: hardware that drops the write must not look armed. */
static int write_control(struct regwin *w, uint32_t ti_offset, uint32_t value, uint32_t *ret_control)
{
        uint32_t back;
        int r;

        r = regwin_write32(w, ti_offset + CXL_TI_CONTROL, value);
        if (r < 0)
                return r;
        r = regwin_read32(w, ti_offset + CXL_TI_CONTROL, &back);
        if (r < 0)
                return r;
        if (back == REG_ALL_ONES)
                return -ENODEV;
        if (back != value)
                return -EIO;
        if (ret_control)
                *ret_control = back;
        return 0;
}

int cxl_ti_arm(struct regwin *w, uint32_t ti_offset, const struct cxl_ti_arm_request *req, uint32_t *ret_control)
{
        uint32_t cap, ctl, new;
        int r;

        if (!w || !req)
                return -EINVAL;
        r = read_capability_control(w, ti_offset, &cap, &ctl);
        if (r < 0)
                return r;
        r = cxl_ti_control_arm(cap, ctl, req, &new);
        if (r < 0)
                return r;
        return write_control(w, ti_offset, new, ret_control);
}

int cxl_ti_disarm(struct regwin *w, uint32_t ti_offset, uint64_t timeout_usec, uint64_t poll_usec, uint32_t *ret_control)
{
        uint32_t cap, ctl, status;
        int r;

        if (!w)
                return -EINVAL;
        r = read_capability_control(w, ti_offset, &cap, &ctl);
        if (r < 0)
                return r;
        r = read_status(w, ti_offset, &status);
        if (r < 0)
                return r;
        r = wait_not_busy(w, ti_offset, timeout_usec, poll_usec, &status);
        if (r < 0)
                return r;
        return write_control(w, ti_offset, cxl_ti_control_disarm(ctl), ret_control);
}
