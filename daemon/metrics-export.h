/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Keeps <[daemon] metrics-dir>/cxl_isold.prom current (metrics.h formats and
 * writes it). A manager observer: counts events and action results as they
 * happen, and rewrites the file when something changed, coalesced so a burst
 * of changes costs one write per METRICS_EXPORT_MIN_GAP_USEC. While nothing
 * changes, the file is rewritten only every METRICS_EXPORT_REFRESH_USEC to
 * advance the last-poll timestamp, never per poll: the idle daemon must stay
 * cheap. Without metrics-dir it does nothing (no timer, no file).
 */
#pragma once

#include <stdint.h>

struct manager;
struct metrics_export;

#define METRICS_EXPORT_MIN_GAP_USEC (250ULL * 1000ULL)
#define METRICS_EXPORT_REFRESH_USEC (5ULL * 1000000ULL)
/* Timer slack: lets the refresh share a wake-up with the poll timer instead of adding its own. */
#define METRICS_EXPORT_ACCURACY_USEC (10ULL * 1000ULL)

/* Register as an observer of m. Call before manager_startup(), so startup's port changes are seen. */
int metrics_export_new(struct manager *m, struct metrics_export **ret);
struct metrics_export *metrics_export_free(struct metrics_export *x);
