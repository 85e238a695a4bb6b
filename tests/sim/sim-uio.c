/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "sim-sysfs.h"
#include "sim-uio.h"

/* Type 0 header fields of the PCI spec (linux/pci_regs.h would clash with lib/cxl-regs.h's names). */
#define CFG_COMMAND                     0x04u
#define CFG_COMMAND_INTX_DISABLE        0x0400u
#define CFG_STATUS_INTERRUPT            0x0008u

int sim_uio_fifo_path(const char *root, const char *uio_name, char *buf, size_t len)
{
        char path[64];

        if ((size_t)snprintf(path, sizeof(path), "/sim/uio/%s", uio_name) >= sizeof(path))
                return -ENAMETOOLONG;
        return sim_path(root, path, buf, len);
}

int sim_uio_create(const char *root, const struct sim_port_layout *l)
{
        char dev[256], path[320], link[320], fifo[4096];
        int r;

        snprintf(dev, sizeof(dev), "%s/uio/%s", l->uio_sysfs, l->uio_name);
        if ((r = sim_mkdir_p(root, dev)) < 0)
                return r;
        snprintf(path, sizeof(path), "%s/name", dev);
        if ((r = sim_write_text(root, path, "uio_pci_generic\n")) < 0)
                return r;
        snprintf(path, sizeof(path), "%s/version", dev);
        if ((r = sim_write_text(root, path, "0.01.0\n")) < 0)
                return r;
        snprintf(path, sizeof(path), "%s/event", dev);
        if ((r = sim_write_text(root, path, "0\n")) < 0)
                return r;
        snprintf(path, sizeof(path), "%s/dev", dev);
        if ((r = sim_write_text(root, path, "%u:%u\n", SIM_UIO_MAJOR, l->index)) < 0)
                return r;
        snprintf(path, sizeof(path), "%s/uevent", dev);
        if ((r = sim_write_text(root, path, "MAJOR=%u\nMINOR=%u\nDEVNAME=%s\n", SIM_UIO_MAJOR, l->index,
                                l->uio_name)) < 0)
                return r;
        snprintf(link, sizeof(link), "%s/subsystem", dev);
        if ((r = sim_symlink(root, link, "/sys/class/uio")) < 0)
                return r;
        snprintf(link, sizeof(link), "%s/device", dev);
        if ((r = sim_symlink(root, link, l->uio_sysfs)) < 0)
                return r;
        snprintf(link, sizeof(link), "/sys/class/uio/%s", l->uio_name);
        if ((r = sim_symlink(root, link, dev)) < 0)
                return r;
        snprintf(link, sizeof(link), "/sys/dev/char/%u:%u", SIM_UIO_MAJOR, l->index);
        if ((r = sim_symlink(root, link, dev)) < 0)
                return r;

        if ((r = sim_mkdir_p(root, "/sim/uio")) < 0)
                return r;
        if ((r = sim_uio_fifo_path(root, l->uio_name, fifo, sizeof(fifo))) < 0)
                return r;
        (void)unlink(fifo);
        if (mkfifo(fifo, 0600) < 0)
                return -errno;
        return 0;
}

static int config_rw16(int fd, unsigned offset, uint16_t *v, bool write)
{
        ssize_t n = write ? pwrite(fd, v, sizeof(*v), offset) : pread(fd, v, sizeof(*v), offset);

        if (n < 0)
                return -errno;
        return n == sizeof(*v) ? 0 : -EIO;
}

int sim_uio_fire(const char *root, const struct sim_port_layout *l, uint32_t *ret_count)
{
        _cleanup_close_ int cfg = -1, fifo = -1;
        char path[4096], rel[320], text[32];
        uint16_t cmd, status;
        uint32_t count;
        int r;

        snprintf(rel, sizeof(rel), "%s/config", l->uio_sysfs);
        if ((r = sim_path(root, rel, path, sizeof(path))) < 0)
                return r;
        cfg = open(path, O_RDWR | O_CLOEXEC);
        if (cfg < 0)
                return -errno;
        if ((r = config_rw16(cfg, CFG_COMMAND, &cmd, false)) < 0 ||
            (r = config_rw16(cfg, PCI_CFG_STATUS, &status, false)) < 0)
                return r;
        if (cmd & CFG_COMMAND_INTX_DISABLE)
                return -EAGAIN;

        /* pci_check_and_mask_intx(): the line is ours (status bit 3), so mask it until the handler is done */
        status |= CFG_STATUS_INTERRUPT;
        cmd |= CFG_COMMAND_INTX_DISABLE;
        if ((r = config_rw16(cfg, PCI_CFG_STATUS, &status, true)) < 0 ||
            (r = config_rw16(cfg, CFG_COMMAND, &cmd, true)) < 0)
                return r;

        /* uio_event_notify(): count, then wake the readers */
        snprintf(rel, sizeof(rel), "%s/uio/%s/event", l->uio_sysfs, l->uio_name);
        if ((r = sim_read_text(root, rel, text, sizeof(text))) < 0)
                return r;
        count = (uint32_t)strtoul(text, NULL, 10) + 1;
        if ((r = sim_write_text(root, rel, "%" PRIu32 "\n", count)) < 0)
                return r;

        if ((r = sim_uio_fifo_path(root, l->uio_name, path, sizeof(path))) < 0)
                return r;
        /* Non-blocking: with no reader the open fails with ENXIO instead of waiting for one. */
        fifo = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fifo < 0)
                return -errno;
        ssize_t n = write(fifo, &count, sizeof(count));
        if (n < 0)
                return -errno;
        if (n != sizeof(count))
                return -EIO;
        *ret_count = count;
        return 0;
}
