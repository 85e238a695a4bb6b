/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fleet metrics for the node_exporter textfile collector: <dir>/cxl_isold.prom
 * in the Prometheus text format. Pure: the caller (the daemon, on each poll
 * cycle or change) fills a snapshot; this file only formats and writes it.
 *
 * Families (HELP and TYPE always present, even without samples, so a scrape
 * sees the same set of families whatever state the host is in):
 *   cxl_isold_build_info{version}                        gauge, always 1
 *   cxl_isold_last_poll_timestamp_seconds                gauge (omitted before the first poll)
 *   cxl_isold_port_isolated{port}                        gauge 0/1
 *   cxl_isold_port_watchable{port}                       gauge 0/1
 *   cxl_isold_port_armed{port}                           gauge 0/1
 *   cxl_isold_events_total{port,kind}                    counter
 *   cxl_isold_action_results_total{policy,action,result} counter
 *
 * Label cardinality stays bounded because labels are ports, isolation kinds,
 * configured policies, action types and outcomes, never event ids.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define METRICS_FILE_NAME "cxl_isold.prom"

struct metrics_port {
        const char *port;               /* BDF, "0000:0c:00.0" */
        bool isolated;
        bool watchable;
        bool armed;
};

struct metrics_event_count {
        const char *port;
        const char *kind;               /* cxl_isolation_kind_to_string(): "mem-link-down", ... */
        uint64_t count;
};

struct metrics_action_count {
        const char *policy;
        const char *action;             /* action_type_to_string() */
        const char *result;             /* action_outcome_to_string() */
        uint64_t count;
};

struct metrics_snapshot {
        const char *version;
        uint64_t last_poll_realtime_usec;       /* CLOCK_REALTIME; 0 = no poll yet */
        size_t n_ports;
        const struct metrics_port *ports;
        size_t n_events;
        const struct metrics_event_count *events;
        size_t n_action_results;
        const struct metrics_action_count *action_results;
};

/*
 * Counters for the two labelled counter families, kept by the daemon between
 * writes (observer callbacks add to them) and handed to a snapshot as they
 * are: .n_events/.events and .n_action_results/.action_results. Label
 * strings are copied. At most METRICS_COUNTER_SERIES_MAX label sets per
 * family: one more is refused with -E2BIG, so a misbehaving caller cannot
 * grow the file without bound.
 */
#define METRICS_COUNTER_SERIES_MAX 1024

struct metrics_counters {
        size_t n_events;
        struct metrics_event_count *events;
        size_t n_action_results;
        struct metrics_action_count *action_results;
};

int metrics_counters_add_event(struct metrics_counters *c, const char *port, const char *kind);
int metrics_counters_add_action_result(struct metrics_counters *c, const char *policy, const char *action,
                                       const char *result);
void metrics_counters_done(struct metrics_counters *c);

/*
 * The text for s. -EINVAL for a NULL or empty label value or the same label
 * set twice in one family (the exposition would be invalid), -EILSEQ for a
 * label value that is not UTF-8, -EIO when the stream fails.
 */
int metrics_format(FILE *f, const struct metrics_snapshot *s);

/*
 * Replace <dir>/cxl_isold.prom atomically: a temporary file in the same
 * directory (the collector only reads "*.prom", so it never sees it),
 * fsync, rename, fsync of the directory. Mode 0644, because node_exporter
 * usually runs as another user. On failure the previous file stays and no
 * temporary file is left behind.
 */
int metrics_write(const char *dir, const struct metrics_snapshot *s);
