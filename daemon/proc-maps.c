/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "proc-maps.h"

#define DELETED_SUFFIX " (deleted)"

static const char *skip_spaces(const char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* Parse a hex number ending at `stop`; returns the position after it, NULL if none. */
static const char *parse_hex(const char *p, char stop, uint64_t *ret)
{
        uint64_t v = 0;
        const char *s = p;

        for (; *p && *p != stop; p++) {
                int d;

                if (*p >= '0' && *p <= '9')
                        d = *p - '0';
                else if (*p >= 'a' && *p <= 'f')
                        d = *p - 'a' + 10;
                else if (*p >= 'A' && *p <= 'F')
                        d = *p - 'A' + 10;
                else
                        return NULL;
                if (v > (UINT64_MAX >> 4))
                        return NULL;
                v = (v << 4) | (uint64_t)d;
        }
        if (p == s || *p != stop)
                return NULL;
        *ret = v;
        return p + 1;
}

int proc_maps_parse_line(const char *line, struct proc_maps_entry *ret)
{
        struct proc_maps_entry e = {};
        uint64_t major, minor;
        const char *p = line;
        char *end;
        size_t n;

        if (!(p = parse_hex(p, '-', &e.start)) || !(p = parse_hex(p, ' ', &e.end)))
                return -EBADMSG;
        if (strspn(p, "rwxsp-") != 4 || p[4] != ' ')
                return -EBADMSG;
        memcpy(e.perms, p, 4);
        p += 5;
        if (!(p = parse_hex(p, ' ', &e.offset)) || !(p = parse_hex(p, ':', &major)) || !(p = parse_hex(p, ' ', &minor)))
                return -EBADMSG;
        if (major > UINT_MAX || minor > UINT_MAX)
                return -EBADMSG;
        e.major = (unsigned)major;
        e.minor = (unsigned)minor;
        if (*p < '0' || *p > '9')
                return -EBADMSG;
        errno = 0;
        e.inode = strtoull(p, &end, 10);
        if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
                return -EBADMSG;
        p = skip_spaces(end);
        n = strcspn(p, "\n");
        e.path = p;
        e.path_len = n;
        *ret = e;
        return 0;
}

bool proc_maps_entry_matches(const struct proc_maps_entry *e, const struct maps_target *t)
{
        size_t len = e->path_len, plen;

        /* Anonymous memory and [heap]-style pseudo paths have inode 0 and never match by id. */
        if (t->have_id && e->inode != 0 && e->inode == t->inode && e->major == t->major && e->minor == t->minor)
                return true;
        if (!t->path)
                return false;
        if (len >= STRLEN(DELETED_SUFFIX) && memcmp(e->path + len - STRLEN(DELETED_SUFFIX), DELETED_SUFFIX,
                                                    STRLEN(DELETED_SUFFIX)) == 0)
                len -= STRLEN(DELETED_SUFFIX);
        plen = strlen(t->path);
        return len == plen && memcmp(e->path, t->path, len) == 0;
}

static int read_comm(const char *proc_root, const char *pid, char ret[static 17])
{
        _cleanup_fclose_ FILE *f = NULL;
        char path[PATH_MAX];
        char buf[64];

        snprintf(path, sizeof(path), "%s/%s/comm", proc_root, pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        if (!fgets(buf, sizeof(buf), f))
                return -EIO;
        buf[strcspn(buf, "\n")] = '\0';
        /* The kernel caps comm at 15 characters; cut anything longer a fake /proc might hold. */
        buf[15] = '\0';
        memcpy(ret, buf, strlen(buf) + 1);
        return 0;
}

static int mapper_cmp(const void *a, const void *b)
{
        const struct proc_mapper *x = a, *y = b;

        return (x->pid > y->pid) - (x->pid < y->pid);
}

static int maps_file_matches(FILE *f, const struct maps_target *targets, size_t n_targets, size_t *ret_target)
{
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;

        /* getline: a maps path may be as long as PATH_MAX, a fixed buffer would split it. */
        while (getline(&line, &cap, f) >= 0) {
                struct proc_maps_entry e;

                if (proc_maps_parse_line(line, &e) < 0)
                        continue;
                for (size_t i = 0; i < n_targets; i++)
                        if (proc_maps_entry_matches(&e, &targets[i])) {
                                *ret_target = i;
                                return 1;
                        }
        }
        return 0;
}

int proc_maps_pid_matches(const char *proc_root, pid_t pid, const struct maps_target *targets, size_t n_targets,
                          size_t *ret_target)
{
        _cleanup_fclose_ FILE *f = NULL;
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%d/maps", proc_root, (int)pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        return maps_file_matches(f, targets, n_targets, ret_target);
}

int proc_maps_scan(const char *proc_root, const struct maps_target *targets, size_t n_targets,
                   struct proc_mapper **ret, size_t *ret_n, unsigned *ret_unreadable)
{
        _cleanup_closedir_ DIR *d = NULL;
        _cleanup_free_ struct proc_mapper *found = NULL;
        size_t n_found = 0;
        unsigned unreadable = 0;
        struct dirent *de;

        d = opendir(proc_root);
        if (!d)
                return -errno;

        while ((de = readdir(d))) {
                size_t which = 0;
                long pid;
                char *end;
                int k;

                errno = 0;
                pid = strtol(de->d_name, &end, 10);
                if (errno != 0 || *end != '\0' || pid <= 0 || de->d_name[0] == '0')
                        continue;

                k = proc_maps_pid_matches(proc_root, (pid_t)pid, targets, n_targets, &which);
                if (k == -EACCES || k == -EPERM)
                        unreadable++;
                if (k <= 0)
                        continue;       /* ENOENT/ESRCH: it exited meanwhile */

                struct proc_mapper *l = realloc(found, sizeof(*l) * (n_found + 1));
                if (!l)
                        return -ENOMEM;
                found = l;
                found[n_found] = (struct proc_mapper) { .pid = (pid_t)pid, .target = which };
                if (read_comm(proc_root, de->d_name, found[n_found].comm) < 0)
                        snprintf(found[n_found].comm, sizeof(found[n_found].comm), "?");
                n_found++;
        }

        if (n_found > 1)
                qsort(found, n_found, sizeof(*found), mapper_cmp);
        *ret = TAKE_PTR(found);
        *ret_n = n_found;
        if (ret_unreadable)
                *ret_unreadable = unreadable;
        return 0;
}
