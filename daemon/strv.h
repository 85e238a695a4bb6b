/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NULL-terminated string arrays, as the environment, argv and dax device lists are. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"

char **strv_free(char **l);
size_t strv_length(char *const *l);
/* Append a copy of s; the array is reallocated. */
int strv_extend(char ***l, const char *s);
/* Append s itself, taking ownership (freed on failure). */
int strv_consume(char ***l, char *s);
/* Append "KEY=value" built with printf. */
int strv_extendf(char ***l, const char *format, ...) __attribute__((format(printf, 2, 3)));
char **strv_copy(char *const *l);
bool strv_contains(char *const *l, const char *s);
/* Elements joined with sep; "" for an empty or NULL array. */
char *strv_join(char *const *l, const char *sep);

DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)
