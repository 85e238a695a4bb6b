/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "sysfs-attr.h"

int sysfs_write(const char *path, const char *value)
{
        _cleanup_close_ int fd = -1;
        size_t len = strlen(value);
        ssize_t n;
        int k;

        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = write(fd, value, len);
        if (n < 0)
                return -errno;
        if ((size_t)n != len)
                return -EIO;
        k = close(TAKE_FD(fd));
        return k < 0 ? -errno : 0;
}

int sysfs_read_line(const char *path, char *buf, size_t size)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");

        if (!f)
                return -errno;
        if (!fgets(buf, (int)size, f))
                return ferror(f) ? -EIO : -ENODATA;
        buf[strcspn(buf, "\n")] = '\0';
        return 0;
}

int sysfs_link_basename(const char *path, char *buf, size_t size)
{
        char target[PATH_MAX];
        const char *base;
        ssize_t n;

        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = '\0';
        base = strrchr(target, '/');
        base = base ? base + 1 : target;
        if (strlen(base) >= size)
                return -ENAMETOOLONG;
        strcpy(buf, base);
        return 0;
}
