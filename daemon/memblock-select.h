/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which memory blocks the offline-memory action works on: every block of the
 * port's dax ranges that was added as System RAM, each once (two small dax
 * ranges can share a block), in block order so results read predictably.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "topology.h"

struct memblock_pick {
        unsigned index;         /* memoryN */
        bool online;            /* at topology time; the action re-reads the state before writing */
        const char *dax;        /* the first dax device whose range holds it (points into the topology) */
        bool memmap_on_memory;  /* its struct pages live on the block itself */
};

/*
 * Blocks of every dax device except devdax ones (device_dax never adds
 * memory; an unbound device may still hold blocks kmem could not remove).
 * *ret is NULL when there are none.
 */
int memblock_select(const struct port_topology *t, struct memblock_pick **ret, size_t *ret_n);
