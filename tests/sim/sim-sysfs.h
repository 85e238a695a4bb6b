/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * File-level helpers for writing a fake sysfs below a testbed root. Paths are
 * given as the tested program sees them ("/sys/..."); links are made
 * relative, like the kernel's, so a testbed directory can be moved.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* "<root><path>" into buf; -ENAMETOOLONG if it does not fit. */
int sim_path(const char *root, const char *path, char *buf, size_t len);
int sim_mkdir_p(const char *root, const char *path);
/* Create or replace a file with exactly these bytes (mode 0644). */
int sim_write_file(const char *root, const char *path, const void *data, size_t len);
int sim_write_text(const char *root, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Read up to len-1 bytes as a string, trailing newline stripped. */
int sim_read_text(const char *root, const char *path, char *buf, size_t len);
/* Symlink at `link` pointing to `target` (both "/sys/..."), written relative; replaces an existing link. */
int sim_symlink(const char *root, const char *link, const char *target);
int sim_unlink(const char *root, const char *path);
/* Remove a directory tree (a device that went away). */
int sim_rm_rf(const char *root, const char *path);
