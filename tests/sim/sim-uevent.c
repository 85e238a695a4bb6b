/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "sim-sysfs.h"
#include "sim-uevent.h"

#define UDEV_MONITOR_MAGIC 0xfeedcafeu

/* Layout libudev/sd-device expects in front of the properties (sd-device/device-monitor.c). */
struct monitor_header {
        char prefix[8];                 /* "libudev" */
        uint32_t magic;                 /* big-endian */
        uint32_t header_size;
        uint32_t properties_off;
        uint32_t properties_len;
        uint32_t filter_subsystem_hash; /* big-endian, MurmurHash2 of SUBSYSTEM */
        uint32_t filter_devtype_hash;
        uint32_t filter_tag_bloom_hi;
        uint32_t filter_tag_bloom_lo;
};

/*
 * MurmurHash2 (seed = length), the hash a monitor's socket filter compares
 * against for subsystem/devtype matches; a wrong value drops the event.
 */
static uint32_t murmur2(const char *s)
{
        const uint32_t m = 0x5bd1e995u;
        size_t len = strlen(s);
        const unsigned char *p = (const unsigned char *)s;
        uint32_t h = (uint32_t)len;

        for (; len >= 4; len -= 4, p += 4) {
                uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
                k *= m;
                k ^= k >> 24;
                k *= m;
                h = h * m ^ k;
        }
        switch (len) {
        case 3:
                h ^= (uint32_t)p[2] << 16;
                /* fall through */
        case 2:
                h ^= (uint32_t)p[1] << 8;
                /* fall through */
        case 1:
                h ^= p[0];
                h *= m;
        }
        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return h;
}

/* Sequence numbers keep rising across invocations: monitors may use them to order events. */
static int next_seqnum(const char *root, unsigned long long *ret)
{
        char path[4096], buf[32] = "";
        _cleanup_close_ int fd = -1;
        unsigned long long n;
        ssize_t len;
        int r;

        r = sim_path(root, "/sim/seqnum", path, sizeof(path));
        if (r < 0)
                return r;
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX) < 0)
                return -errno;
        len = pread(fd, buf, sizeof(buf) - 1, 0);
        if (len < 0)
                return -errno;
        n = strtoull(buf, NULL, 10);
        if (n == 0)
                n = 1;
        len = snprintf(buf, sizeof(buf), "%llu\n", n + 1);
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len)
                return -errno;
        *ret = n;
        return 0;
}

struct props {
        char buf[4096];
        size_t len;
};

/* Replace KEY if present, else append; entries are NUL-separated "KEY=VALUE". */
static int props_set(struct props *p, const char *kv)
{
        const char *eq = strchr(kv, '=');
        size_t klen, n = strlen(kv) + 1;

        if (!eq || eq == kv)
                return -EINVAL;
        klen = (size_t)(eq - kv) + 1;
        for (size_t off = 0; off < p->len;) {
                size_t elen = strlen(p->buf + off) + 1;
                if (strncmp(p->buf + off, kv, klen) == 0) {
                        memmove(p->buf + off, p->buf + off + elen, p->len - off - elen);
                        p->len -= elen;
                        continue;
                }
                off += elen;
        }
        if (p->len + n > sizeof(p->buf))
                return -E2BIG;
        memcpy(p->buf + p->len, kv, n);
        p->len += n;
        return 0;
}

static const char *props_get(const struct props *p, const char *key)
{
        size_t klen = strlen(key);

        for (size_t off = 0; off < p->len; off += strlen(p->buf + off) + 1)
                if (strncmp(p->buf + off, key, klen) == 0 && p->buf[off + klen] == '=')
                        return p->buf + off + klen + 1;
        return NULL;
}

int sim_uevent_send(const char *root, const char *devpath, const char *action, const char *subsystem,
                    char *const *extra, size_t n_extra)
{
        struct props p = {};
        struct monitor_header h = {};
        char path[4096], text[2048], kv[4200], sub[64];
        unsigned long long seqnum = 0;
        glob_t gl = {};
        int r, reached = 0;

        if (strncmp(devpath, "/sys/", 5) != 0)
                return -EINVAL;

        if (!subsystem) {
                char target[512];
                ssize_t n;

                snprintf(kv, sizeof(kv), "%s/subsystem", devpath);
                r = sim_path(root, kv, path, sizeof(path));
                if (r < 0)
                        return r;
                n = readlink(path, target, sizeof(target) - 1);
                if (n < 0)
                        return -errno;
                target[n] = '\0';
                const char *base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
                if (strlen(base) >= sizeof(sub))
                        return -ENAMETOOLONG;
                strcpy(sub, base);
                subsystem = sub;
        }
        r = next_seqnum(root, &seqnum);
        if (r < 0)
                return r;

        snprintf(kv, sizeof(kv), "ACTION=%s", action);
        if ((r = props_set(&p, kv)) < 0)
                return r;
        snprintf(kv, sizeof(kv), "DEVPATH=%s", devpath + 4);
        if ((r = props_set(&p, kv)) < 0)
                return r;
        snprintf(kv, sizeof(kv), "SUBSYSTEM=%s", subsystem);
        if ((r = props_set(&p, kv)) < 0)
                return r;
        /* the kernel adds the device's uevent properties (DRIVER=, PCI_SLOT_NAME=, ...) */
        snprintf(kv, sizeof(kv), "%s/uevent", devpath);
        if (sim_read_text(root, kv, text, sizeof(text)) == 0) {
                char *save = NULL;
                for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                        if (strchr(line, '=') && (r = props_set(&p, line)) < 0)
                                return r;
        }
        for (size_t i = 0; i < n_extra; i++)
                if ((r = props_set(&p, extra[i])) < 0)
                        return r;
        snprintf(kv, sizeof(kv), "SEQNUM=%llu", seqnum);
        if ((r = props_set(&p, kv)) < 0)
                return r;

        memcpy(h.prefix, "libudev", 8);
        h.magic = htonl(UDEV_MONITOR_MAGIC);
        h.header_size = sizeof(h);
        h.properties_off = sizeof(h);
        h.properties_len = (uint32_t)p.len;
        h.filter_subsystem_hash = htonl(murmur2(subsystem));
        if (props_get(&p, "DEVTYPE"))
                h.filter_devtype_hash = htonl(murmur2(props_get(&p, "DEVTYPE")));

        /* one socket per monitoring fd of each process: $UMOCKDEV_DIR/event<fd> */
        r = sim_path(root, "/event[0-9]*", path, sizeof(path));
        if (r < 0)
                return r;
        r = glob(path, GLOB_NOSORT, NULL, &gl);
        if (r == GLOB_NOMATCH)
                return 0;
        if (r != 0)
                return -EIO;
        for (size_t i = 0; i < gl.gl_pathc; i++) {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                struct iovec iov[2] = { { &h, sizeof(h) }, { p.buf, p.len } };
                struct msghdr msg = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = iov, .msg_iovlen = 2 };
                _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

                if (fd < 0) {
                        globfree(&gl);
                        return -errno;
                }
                if (strlen(gl.gl_pathv[i]) >= sizeof(sa.sun_path))
                        continue;
                strcpy(sa.sun_path, gl.gl_pathv[i]);
                if (sendmsg(fd, &msg, MSG_DONTWAIT) < 0) {
                        /* the process closed its monitor: its socket file stays behind */
                        if (errno == ECONNREFUSED)
                                (void)unlink(gl.gl_pathv[i]);
                        continue;
                }
                reached++;
        }
        globfree(&gl);
        return reached;
}
