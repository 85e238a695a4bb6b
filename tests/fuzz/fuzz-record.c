/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the event-record reader: events.jsonl is read back at
 * every start, after crashes that may have torn its last line, so the reader
 * must survive anything. Beyond "no crash, no leak", it checks what restarts
 * rely on: every event it accepts can be written out again, and reading that
 * line back gives the same event (id, port, kind, registers, drill flag,
 * plan length), so a resumed daemon acts on what was recorded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "isolation-event.h"
#include "record.h"

static void check_round_trip(const struct isolation_event *e)
{
        char *line = NULL;
        struct record_history again = {};

        if (record_format_event(e, &line) < 0)
                return;         /* e.g. -ENOMEM: not a property violation */
        if (record_parse_buffer(line, strlen(line), &again) < 0 || again.n_events != 1)
                abort();
        const struct isolation_event *r = again.events[0];
        if (strcmp(r->id, e->id) != 0 || strcmp(r->port, e->port) != 0 || r->kind != e->kind ||
            r->status != e->status || r->control != e->control || r->capability != e->capability ||
            r->drill != e->drill || r->n_plan != e->n_plan)
                abort();
        record_history_done(&again);
        free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct record_history h = {};

        if (record_parse_buffer((const char *)data, size, &h) < 0)
                return 0;
        for (size_t i = 0; i < h.n_events; i++)
                if (h.events[i])
                        check_round_trip(h.events[i]);
        record_history_done(&h);
        return 0;
}
