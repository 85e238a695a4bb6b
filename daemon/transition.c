/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stddef.h>

#include "cxl-regs.h"
#include "transition.h"

static const char *const transition_names[_STATUS_TRANSITION_MAX] = {
        [STATUS_UNCHANGED] = "unchanged",
        [STATUS_ISOLATION_RAISED] = "isolation-raised",
        [STATUS_ISOLATION_CLEARED] = "isolation-cleared",
        [STATUS_ISOLATION_CHANGED] = "isolation-changed",
        [STATUS_DEVICE_GONE] = "device-gone",
        [STATUS_DEVICE_BACK] = "device-back",
};

const char *status_transition_to_string(enum status_transition t)
{
        if ((unsigned)t >= _STATUS_TRANSITION_MAX)
                return NULL;
        return transition_names[t];
}

bool status_is_isolated(uint32_t status)
{
        return status != REG_ALL_ONES && (status & CXL_TI_STS_ISOLATED_MASK) != 0;
}

/* The bits whose change means something to a watcher: isolation and its cause. Timeouts alone and RP Busy do not. */
#define ISOLATION_BITS (CXL_TI_STS_MEM_ISOLATION | CXL_TI_STS_MEM_ISOLATION_LINKDOWN | \
                        CXL_TI_STS_CACHE_ISOLATION | CXL_TI_STS_CACHE_ISOLATION_LINKDOWN)

enum status_transition status_transition_detect(bool have_previous, uint32_t previous, uint32_t current)
{
        if (current == REG_ALL_ONES)
                return have_previous && previous == REG_ALL_ONES ? STATUS_UNCHANGED : STATUS_DEVICE_GONE;

        if (have_previous && previous == REG_ALL_ONES) {
                /* The device came back: judge it as a first read would, an isolation it shows is new to us. */
                if (status_is_isolated(current))
                        return STATUS_ISOLATION_RAISED;
                return STATUS_DEVICE_BACK;
        }

        if (!have_previous)
                return status_is_isolated(current) ? STATUS_ISOLATION_RAISED : STATUS_UNCHANGED;

        /* A rising bit 8 or 12 is a new isolation even if the other one was already set. */
        if ((current & ~previous) & CXL_TI_STS_ISOLATED_MASK) {
                if (status_is_isolated(previous))
                        return STATUS_ISOLATION_CHANGED;
                return STATUS_ISOLATION_RAISED;
        }
        if (status_is_isolated(previous) && !status_is_isolated(current))
                return STATUS_ISOLATION_CLEARED;
        if (status_is_isolated(current) && ((previous ^ current) & ISOLATION_BITS))
                return STATUS_ISOLATION_CHANGED;
        return STATUS_UNCHANGED;
}
