/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz the configuration loader with arbitrary file contents. Beyond "no
 * crash, no leak": diagnostics stay within their bounds, a load either yields
 * a configuration or diagnostics (never both, never neither), and whatever
 * loads dumps to text that loads back to the very same dump.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/config.h"   /* not the generated build config.h of the same name */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dump(const struct config *c)
{
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        if (!f || config_dump(f, c) < 0)
                abort();
        fclose(f);
        return out;
}

/* Drop comment lines: they name source files and lines, which differ between the two loads. */
static void strip_comments(char *s)
{
        char *w = s;

        for (char *line = s; *line;) {
                char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);

                if (line[0] != '#') {
                        memmove(w, line, len);
                        w += len;
                }
                line += len;
        }
        *w = '\0';
}

static size_t count_lines(const uint8_t *data, size_t size)
{
        size_t n = 1;

        for (size_t i = 0; i < size; i++)
                n += data[i] == '\n';
        return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct config_diags d = {}, d2 = {};
        struct config *c = NULL, *again = NULL;
        char *first, *second;
        int r;

        r = config_load_string("fuzz.conf", (const char *)data, size, &c, &d);
        if (r < 0) {
                /* Counted once, not per diagnostic: up to 100 scans of 4 KiB dominated the run time. */
                size_t n_lines = count_lines(data, size);

                if (c || d.n == 0 || d.n > CONFIG_DIAGS_MAX)
                        abort();
                for (size_t i = 0; i < d.n; i++)
                        if (!d.diag[i].message[0] || d.diag[i].line > n_lines)
                                abort();
                config_diags_done(&d);
                return 0;
        }
        if (!c || d.n != 0)
                abort();

        first = dump(c);
        r = config_load_string("dump", first, strlen(first), &again, &d2);
        if (r < 0) {
                config_diags_print(stderr, &d2);
                abort();
        }
        second = dump(again);
        strip_comments(first);
        strip_comments(second);
        if (strcmp(first, second) != 0) {
                fprintf(stderr, "dump changed on reload:\n%s\n----\n%s\n", first, second);
                abort();
        }
        free(first);
        free(second);
        config_free(again);
        config_free(c);
        return 0;
}
