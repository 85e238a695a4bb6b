/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "memblock-select.h"

static int pick_cmp(const void *a, const void *b)
{
        const struct memblock_pick *x = a, *y = b;

        return (x->index > y->index) - (x->index < y->index);
}

int memblock_select(const struct port_topology *t, struct memblock_pick **ret, size_t *ret_n)
{
        _cleanup_free_ struct memblock_pick *picks = NULL;
        size_t n = 0;

        for (size_t i = 0; i < t->n_dax; i++) {
                const struct dax_device *d = &t->dax[i];

                if (d->mode == DAX_MODE_DEVDAX)
                        continue;
                for (size_t j = 0; j < d->n_blocks; j++) {
                        bool dup = false;

                        for (size_t k = 0; k < n && !dup; k++)
                                if (picks[k].index == d->blocks[j].index) {
                                        /* Shared block: online if either view saw it online. */
                                        picks[k].online = picks[k].online || d->blocks[j].online;
                                        dup = true;
                                }
                        if (dup)
                                continue;
                        struct memblock_pick *l = realloc(picks, sizeof(*l) * (n + 1));
                        if (!l)
                                return -ENOMEM;
                        picks = l;
                        picks[n++] = (struct memblock_pick) {
                                .index = d->blocks[j].index,
                                .online = d->blocks[j].online,
                                .dax = d->name,
                                .memmap_on_memory = d->memmap_on_memory > 0,
                        };
                }
        }
        if (n > 1)
                qsort(picks, n, sizeof(*picks), pick_cmp);
        *ret = TAKE_PTR(picks);
        *ret_n = n;
        return 0;
}
