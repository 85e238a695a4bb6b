/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel messages around an event, for the evidence bundle: from /dev/kmsg
 * (records from KMSG_BEFORE_USEC before the event on), or, where it
 * cannot be read (Debian's dmesg_restrict wants CAP_SYSLOG, which the unit
 * does not grant), the journal's kernel messages of the event's boot. Either
 * way the newest KMSG_RECORDS_MAX records within KMSG_BYTES_MAX are kept: a
 * storm of messages must not make the bundle unbounded.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define KMSG_BEFORE_USEC (10ULL * 60ULL * 1000000ULL)
#define KMSG_RECORDS_MAX 4096
#define KMSG_BYTES_MAX ((size_t)512 * 1024)

/*
 * Write the messages to f, headed by one "# <source>..." line. *ret_note: a
 * one-line summary for the manifest; *ret_partial set when neither source
 * could be read.
 */
void kernel_log_collect(const char *kmsg_path, uint64_t event_monotonic_usec, uint64_t event_realtime_usec,
                        const char *boot_id, FILE *f, char **ret_note, bool *ret_partial);
