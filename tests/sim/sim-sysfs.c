/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>

#include "cleanup.h"
#include "sim-sysfs.h"

int sim_path(const char *root, const char *path, char *buf, size_t len)
{
        int n = snprintf(buf, len, "%s%s", root, path);

        if (n < 0 || (size_t)n >= len)
                return -ENAMETOOLONG;
        return 0;
}

int sim_mkdir_p(const char *root, const char *path)
{
        char p[4096];
        int r = sim_path(root, path, p, sizeof(p));

        if (r < 0)
                return r;
        for (char *s = p + strlen(root) + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Parent directories are created as needed: attributes live in device directories. */
static int mkdir_parent(const char *root, const char *path)
{
        char parent[4096];
        char *slash;

        if (strlen(path) >= sizeof(parent))
                return -ENAMETOOLONG;
        strcpy(parent, path);
        slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return 0;
        *slash = '\0';
        return sim_mkdir_p(root, parent);
}

int sim_write_file(const char *root, const char *path, const void *data, size_t len)
{
        char p[4096], tmp[4200];
        _cleanup_close_ int fd = -1;
        const uint8_t *d = data;
        int r;

        r = sim_path(root, path, p, sizeof(p));
        if (r < 0)
                return r;
        r = mkdir_parent(root, path);
        if (r < 0)
                return r;
        /* Replace atomically: readers in other processes never see half a file. */
        snprintf(tmp, sizeof(tmp), "%s.tmp.%d", p, (int)getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        while (len > 0) {
                ssize_t n = write(fd, d, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        (void)unlink(tmp);
                        return r;
                }
                d += n;
                len -= (size_t)n;
        }
        /* closed before the rename: watchers see the close under the temporary name, not ours */
        if (close(TAKE_FD(fd)) < 0) {
                r = -errno;
                (void)unlink(tmp);
                return r;
        }
        if (rename(tmp, p) < 0) {
                r = -errno;
                (void)unlink(tmp);
                return r;
        }
        return 0;
}

int sim_write_text(const char *root, const char *path, const char *fmt, ...)
{
        _cleanup_free_ char *text = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        return sim_write_file(root, path, text, (size_t)n);
}

int sim_read_text(const char *root, const char *path, char *buf, size_t len)
{
        char p[4096];
        _cleanup_close_ int fd = -1;
        ssize_t n;
        int r;

        if (len == 0)
                return -EINVAL;
        r = sim_path(root, path, p, sizeof(p));
        if (r < 0)
                return r;
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, len - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = '\0';
        return 0;
}

int sim_symlink(const char *root, const char *link, const char *target)
{
        char p[4096], rel[4096] = "";
        size_t common = 0, i;
        int r;

        r = sim_path(root, link, p, sizeof(p));
        if (r < 0)
                return r;
        r = mkdir_parent(root, link);
        if (r < 0)
                return r;

        /* Longest common directory prefix, then one ".." per remaining directory of the link. */
        for (i = 0; link[i] && link[i] == target[i]; i++)
                if (link[i] == '/')
                        common = i + 1;
        for (i = common; link[i]; i++)
                if (link[i] == '/')
                        strncat(rel, "../", sizeof(rel) - strlen(rel) - 1);
        if (strlen(rel) + strlen(target + common) + 1 > sizeof(rel))
                return -ENAMETOOLONG;
        strcat(rel, target + common);

        (void)unlink(p);
        if (symlink(rel, p) < 0)
                return -errno;
        return 0;
}

int sim_unlink(const char *root, const char *path)
{
        char p[4096];
        int r = sim_path(root, path, p, sizeof(p));

        if (r < 0)
                return r;
        if (unlink(p) < 0)
                return -errno;
        return 0;
}

static int rm_one(const char *fpath, const struct stat *sb, int typeflag, struct FTW *ftwbuf)
{
        return remove(fpath) < 0 ? -1 : 0;
}

int sim_rm_rf(const char *root, const char *path)
{
        char p[4096];
        int r = sim_path(root, path, p, sizeof(p));

        if (r < 0)
                return r;
        if (nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
                return errno ? -errno : -EIO;
        return 0;
}
