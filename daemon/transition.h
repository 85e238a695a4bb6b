/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What changed between two reads of a T&I status register. Pure, so it can be tested exhaustively. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum status_transition {
        STATUS_UNCHANGED,               /* nothing a watcher acts on changed */
        STATUS_ISOLATION_RAISED,        /* bit 8 or 12 rose: a new isolation event */
        STATUS_ISOLATION_CLEARED,       /* bits 8 and 12 both fell: isolation ended */
        STATUS_ISOLATION_CHANGED,       /* still isolated, but which bits changed (e.g. cache joined mem) */
        STATUS_DEVICE_GONE,             /* all-ones: the device vanished, not "every bit set" */
        STATUS_DEVICE_BACK,             /* a real value after all-ones */
        _STATUS_TRANSITION_MAX,
};

const char *status_transition_to_string(enum status_transition t);

/*
 * have_previous=false is the first read after (re)discovery: an isolation
 * already present then counts as raised, so it is never missed; the caller
 * decides whether the record already covers it.
 */
enum status_transition status_transition_detect(bool have_previous, uint32_t previous, uint32_t current);
bool status_is_isolated(uint32_t status);
