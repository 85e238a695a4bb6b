/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Who maps a device file: a scan of /proc/<pid>/maps. A mapping of
 * /dev/daxX.Y shows the device node's own st_dev (major:minor of the
 * filesystem holding the node, devtmpfs) and inode, and its path. Matching
 * the (dev, inode) pair finds the mapping even when the node was opened
 * through another name (a bind mount, a container's /dev); matching the
 * path is the fallback when the node could not be stat'ed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_maps_entry {
        uint64_t start, end, offset;
        unsigned major, minor;
        uint64_t inode;
        char perms[5];
        const char *path;       /* points into the parsed line, "" for anonymous mappings; no trailing newline */
        size_t path_len;
};

/* One maps line ("start-end perms offset maj:min inode   path"). -EBADMSG if malformed. */
int proc_maps_parse_line(const char *line, struct proc_maps_entry *ret);

struct maps_target {
        const char *path;       /* "/dev/dax0.0" */
        bool have_id;           /* dev/ino below are valid */
        unsigned major, minor;
        uint64_t inode;
};

/* Does this mapping map target t? A " (deleted)" suffix still counts: the mapping is live. */
bool proc_maps_entry_matches(const struct proc_maps_entry *e, const struct maps_target *t);

struct proc_mapper {
        pid_t pid;
        char comm[17];          /* TASK_COMM_LEN + 1 */
        size_t target;          /* index into the targets array (the first one it maps) */
};

/*
 * Does process pid map one of the targets? 1 with *ret_target set, 0 if not,
 * negative errno if its maps cannot be read (-ENOENT: it is gone).
 */
int proc_maps_pid_matches(const char *proc_root, pid_t pid, const struct maps_target *targets, size_t n_targets,
                          size_t *ret_target);

/*
 * Scan proc_root ("/proc") for processes mapping any of the targets. Processes
 * that vanish while being read are skipped; those whose maps cannot be read are
 * counted in *ret_unreadable. Results in ascending pid order.
 */
int proc_maps_scan(const char *proc_root, const struct maps_target *targets, size_t n_targets,
                   struct proc_mapper **ret, size_t *ret_n, unsigned *ret_unreadable);
