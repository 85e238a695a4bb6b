/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small sysfs reads and writes for the actions, each reporting the kernel's own errno. */
#pragma once

#include <stddef.h>

/* Write value (no newline added) in one write(); the errno is what the kernel's store() returned. */
int sysfs_write(const char *path, const char *value);
/* First line of the attribute without its newline. */
int sysfs_read_line(const char *path, char *buf, size_t size);
/* Basename of the symlink at path ("device_dax" for .../driver); -ENOENT if there is no link. */
int sysfs_link_basename(const char *path, char *buf, size_t size);
