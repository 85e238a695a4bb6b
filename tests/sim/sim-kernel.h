/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's reaction to writes into a testbed. In a testbed, sysfs
 * control files are plain files: writing "dax0.0" to a driver's unbind file
 * or "offline" to memoryN/state changes nothing by itself. sim_kernel_run()
 * watches those files (inotify) and applies what the kernel would: rebinding
 * dax devices, offlining or onlining blocks, each with its uevents, so the
 * daemon's actions can be tested end to end. A writer cannot be handed an
 * error through a plain file: a refused unbind shows the way it does on a
 * real host when read back, the driver link still there. A refused offline
 * cannot be shown without a race (the writer's "offline" is in the file until
 * we react), so it is not emulated.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim-host.h"

#define SIM_KERNEL_MAX_REFUSALS 16

struct sim_kernel_options {
        /* dax devices whose unbind fails (a driver that cannot let go) */
        size_t n_refuse_unbind;
        const char *refuse_unbind[SIM_KERNEL_MAX_REFUSALS];
        /* stop after this many handled writes, 0 = until killed */
        unsigned max_events;
        /* called once the watches are in place */
        void (*ready)(void *userdata);
        void *userdata;
};

/* Send the uevents the kernel sends for a dax rebind (remove/unbind/bind/add/online). */
int sim_kernel_emit_dax_change(const char *root, const struct sim_dax_change *c, bool unbound, bool bound);

/* Watch and react until killed (or max_events). Returns a negative errno on setup failure. */
int sim_kernel_run(const char *root, const struct sim_kernel_options *o);
