/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest-side test of the interrupt event sources against QEMU devices that
 * raise an interrupt on a register write: "edu" (MSI, INTx; register 0x60)
 * and "ivshmem-doorbell" (MSI-X; a doorbell to its own peer ID). Each raise
 * must wake an sd-event loop through the source's fd, as the daemon would
 * use it, exactly once.
 *
 *   guest-irq vfio-msi|vfio-intx|vfio-msi-nobm|vfio-msix|vfio-msgnum|uio <bdf> <count> [vector]
 *
 * vfio-msgnum arms by message number, as for a T&I interrupt: MSI-X if the
 * function has it, else MSI.
 *
 * Prints one line "<mode> <received>/<count> interrupts ..." and exits 0 only
 * if every interrupt arrived once. Negative controls, which must see nothing:
 * vfio-msi-nobm (MSI with Bus Master Enable cleared), and in vfio-msix mode
 * doorbells to another vector than the armed one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "cleanup.h"
#include "evsource-uio.h"
#include "evsource-vfio.h"
#include "regwin.h"

#define PCI_COMMAND_REG         0x04
#define PCI_COMMAND_MASTER_BIT  0x4

#define EDU_VENDOR_DEVICE       0x11e81234u
#define EDU_ID                  0x00
#define EDU_ID_VALUE            0x010000ed      /* version 1.0, 0xed */
#define EDU_IRQ_STATUS          0x24
#define EDU_IRQ_RAISE           0x60
#define EDU_IRQ_ACK             0x64

#define IVSHMEM_VENDOR_DEVICE   0x11101af4u
#define IVSHMEM_IVPOSITION      0x08            /* our peer ID, once the server assigned one */
#define IVSHMEM_DOORBELL        0x0c            /* (peer << 16) | vector */
#define IVSHMEM_PEER            0               /* run-guest.py's server makes us peer 0 */

#define TEST_BAR                0

enum mode { MODE_VFIO_MSI, MODE_VFIO_INTX, MODE_VFIO_MSI_NOBM, MODE_VFIO_MSIX, MODE_VFIO_MSGNUM, MODE_UIO };
enum device { DEV_EDU, DEV_IVSHMEM };

struct ctx {
        enum mode mode;
        enum device device;
        unsigned vector;
        enum vfio_irq_kind kind;        /* what vfio armed */
        struct vfio_source *vfio;
        struct uio_source *uio;
        struct regwin *win;     /* BAR0 as a register window, used once set */
        unsigned woken;         /* handler runs */
        uint64_t events;        /* total reported by the source */
        int error;
        struct timespec raised, seen;
};

static int bar_read(struct ctx *c, uint64_t off, uint32_t *v)
{
        if (c->win)
                return regwin_read32(c->win, (uint32_t)off, v);
        return c->vfio ? vfio_source_bar_read32(c->vfio, TEST_BAR, off, v) : uio_source_bar_read32(c->uio, TEST_BAR, off, v);
}

static int bar_write(struct ctx *c, uint64_t off, uint32_t v)
{
        if (c->win)
                return regwin_write32(c->win, (uint32_t)off, v);
        return c->vfio ? vfio_source_bar_write32(c->vfio, TEST_BAR, off, v) : uio_source_bar_write32(c->uio, TEST_BAR, off, v);
}

/* The device answers as expected: edu's identification, ivshmem's peer ID. */
static int device_check(struct ctx *c, uint32_t *ret)
{
        uint32_t v = 0;
        int r = bar_read(c, c->device == DEV_EDU ? EDU_ID : IVSHMEM_IVPOSITION, &v);

        *ret = v;
        if (r < 0)
                return r;
        return v == (c->device == DEV_EDU ? EDU_ID_VALUE : IVSHMEM_PEER) ? 0 : -EIO;
}

/* edu has no reset and keeps its status across drivers: clear it before counting. */
static int device_ack(struct ctx *c)
{
        uint32_t st;
        int r;

        if (c->device != DEV_EDU)
                return 0;       /* a doorbell is an edge: nothing to acknowledge */
        r = bar_read(c, EDU_IRQ_STATUS, &st);
        if (r < 0)
                return r;
        return st ? bar_write(c, EDU_IRQ_ACK, st) : 0;
}

static int device_raise(struct ctx *c, unsigned vector)
{
        if (c->device == DEV_EDU)
                return bar_write(c, EDU_IRQ_RAISE, 1);
        return bar_write(c, IVSHMEM_DOORBELL, (IVSHMEM_PEER << 16) | vector);
}

static int on_irq(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
        struct ctx *c = userdata;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &c->seen);
        if (c->vfio) {
                uint64_t n;
                r = vfio_source_consume(c->vfio, &n);
                if (r == -EAGAIN)
                        return 0;
                if (r >= 0)
                        c->events += n;
        } else {
                uint32_t n;
                r = uio_source_consume(c->uio, &n);
                if (r == -EAGAIN)
                        return 0;
                if (r >= 0)
                        c->events++;
        }
        if (r < 0) {
                c->error = r;
                return 0;
        }
        c->woken++;
        /* Acknowledge at the device first, then unmask: the reverse re-fires a still-asserted INTx. */
        r = device_ack(c);
        if (r >= 0 && c->mode == MODE_VFIO_INTX)
                r = vfio_source_unmask_intx(c->vfio);
        else if (r >= 0 && c->mode == MODE_UIO)
                r = uio_source_unmask(c->uio);
        if (r < 0)
                c->error = r;
        return 0;
}

/* Raise on `vector` and wait up to wait_usec for the handler; 1 if it ran, 0 if not. */
static int raise_and_wait(struct ctx *c, sd_event *e, unsigned vector, uint64_t wait_usec)
{
        unsigned before = c->woken;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &c->raised);
        r = device_raise(c, vector);
        if (r < 0)
                return r;
        while (c->woken == before && !c->error) {
                r = sd_event_run(e, wait_usec);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
        }
        return c->error ? c->error : c->woken > before;
}

/* Lines of /proc/interrupts vfio-pci requested for this function ("vfio-msi[0](0000:00:05.0)"). */
static int vfio_irq_lines(const char *bdf)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/interrupts", "re");
        char line[1024];
        int n = 0;

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (strstr(line, "vfio-") && strstr(line, bdf))
                        n++;
        return n;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static void ctx_done(struct ctx *c)
{
        regwin_free(c->win);
        vfio_source_free(c->vfio);
        uio_source_free(c->uio);
}

static int parse_mode(const char *s, enum mode *ret)
{
        static const char *const names[] = {
                [MODE_VFIO_MSI] = "vfio-msi", [MODE_VFIO_INTX] = "vfio-intx",
                [MODE_VFIO_MSI_NOBM] = "vfio-msi-nobm", [MODE_VFIO_MSIX] = "vfio-msix",
                [MODE_VFIO_MSGNUM] = "vfio-msgnum", [MODE_UIO] = "uio",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (!strcmp(s, names[i])) {
                        *ret = (enum mode)i;
                        return 0;
                }
        return -EINVAL;
}

/* Open the source, recognise the device, pick the register path, arm the vector. */
static int setup(struct ctx *c, const char *mode, const char *bdf, int *ret_fd)
{
        uint32_t id = 0;
        int r;

        if (c->mode == MODE_UIO) {
                r = uio_source_open(bdf, &c->uio);
                if (r < 0) {
                        printf("%s uio_source_open(%s): %s\n", mode, bdf, strerror(-r));
                        return r;
                }
                c->device = DEV_EDU;
        } else {
                r = vfio_source_open(bdf, &c->vfio);
                if (r < 0) {
                        printf("%s vfio_source_open(%s): %s\n", mode, bdf, strerror(-r));
                        return r;
                }
                r = vfio_source_config_read(c->vfio, 0, &id, sizeof(id));
                if (r < 0 || (id != EDU_VENDOR_DEVICE && id != IVSHMEM_VENDOR_DEVICE)) {
                        printf("%s %s: unknown device 0x%08x %s\n", mode, bdf, id, r < 0 ? strerror(-r) : "");
                        return r < 0 ? r : -ENODEV;
                }
                c->device = id == EDU_VENDOR_DEVICE ? DEV_EDU : DEV_IVSHMEM;
        }

        /* The source's own BAR access first, then the register window the daemon would use. */
        r = device_check(c, &id);
        if (r < 0) {
                printf("%s BAR0 check: %s 0x%08x\n", mode, strerror(-r), id);
                return r;
        }
        r = c->vfio ? vfio_source_bar_regwin(c->vfio, TEST_BAR, &c->win) : uio_source_bar_regwin(c->uio, TEST_BAR, &c->win);
        /* A BAR VFIO will not let us mmap stays on pread/pwrite. */
        if (r < 0 && !(r == -EOPNOTSUPP && c->vfio)) {
                printf("%s BAR0 register window: %s\n", mode, strerror(-r));
                return r;
        }
        if (c->win) {
                r = device_check(c, &id);
                if (r < 0) {
                        printf("%s BAR0 check through the window: %s 0x%08x\n", mode, strerror(-r), id);
                        return r;
                }
        }
        r = device_ack(c);
        if (r < 0) {
                printf("%s drain status: %s\n", mode, strerror(-r));
                return r;
        }

        switch (c->mode) {
        case MODE_UIO:
                /* A previous interrupt may have left INTx disabled. */
                r = uio_source_unmask(c->uio);
                if (r < 0) {
                        printf("uio unmask: %s\n", strerror(-r));
                        return r;
                }
                *ret_fd = uio_source_fd(c->uio);
                return 0;
        case MODE_VFIO_MSI_NOBM: {
                uint16_t cmd;
                r = vfio_source_config_read(c->vfio, PCI_COMMAND_REG, &cmd, sizeof(cmd));
                if (r >= 0) {
                        cmd &= (uint16_t)~PCI_COMMAND_MASTER_BIT;
                        r = vfio_source_config_write(c->vfio, PCI_COMMAND_REG, &cmd, sizeof(cmd));
                }
                break;
        }
        default:
                r = vfio_source_enable_bus_master(c->vfio);
                break;
        }
        if (r >= 0 && c->mode == MODE_VFIO_MSGNUM)
                r = vfio_source_arm_message_number(c->vfio, c->vector, &c->kind);
        else if (r >= 0) {
                c->kind = c->mode == MODE_VFIO_INTX ? VFIO_SOURCE_INTX :
                          c->mode == MODE_VFIO_MSIX ? VFIO_SOURCE_MSIX : VFIO_SOURCE_MSI;
                r = vfio_source_arm(c->vfio, c->kind, c->vector);
        }
        if (r < 0) {
                printf("%s arm vector %u: %s\n", mode, c->vector, strerror(-r));
                return r;
        }
        *ret_fd = vfio_source_eventfd(c->vfio);
        return 0;
}

int main(int argc, char **argv)
{
        _cleanup_(ctx_done) struct ctx c = {};
        _cleanup_free_ uint64_t *lat = NULL;
        sd_event *e = NULL;
        sd_event_source *es = NULL;
        unsigned count, received = 0, extra = 0, other_wakes = 0, other_tries = 0, misses = 0;
        bool negative;
        const char *path;
        int fd = -1, r, lines_armed = -1, lines_disarmed = -1;

        if (argc < 4 || parse_mode(argv[1], &c.mode) < 0) {
                fprintf(stderr, "usage: %s vfio-msi|vfio-intx|vfio-msi-nobm|vfio-msix|uio BDF COUNT [VECTOR]\n", argv[0]);
                return 2;
        }
        count = (unsigned)strtoul(argv[3], NULL, 0);
        if (argc > 4)
                c.vector = (unsigned)strtoul(argv[4], NULL, 0);
        if (count == 0) {
                fprintf(stderr, "count must be > 0\n");
                return 2;
        }
        negative = c.mode == MODE_VFIO_MSI_NOBM;
        lat = calloc(count, sizeof(*lat));
        if (!lat)
                return 1;

        if (setup(&c, argv[1], argv[2], &fd) < 0)
                return 1;
        if (c.mode == MODE_VFIO_MSIX && c.device != DEV_IVSHMEM) {
                printf("%s needs ivshmem-doorbell (the only MSI-X device here)\n", argv[1]);
                return 1;
        }

        r = sd_event_new(&e);
        if (r >= 0)
                r = sd_event_add_io(e, &es, fd, EPOLLIN, on_irq, &c);
        if (r < 0) {
                printf("%s sd-event: %s\n", argv[1], strerror(-r));
                return 1;
        }

        for (unsigned i = 0; i < count && !c.error; i++) {
                unsigned before = c.woken;

                /* Wait up to 1 s for an interrupt; the negative control needs less to see nothing. */
                r = raise_and_wait(&c, e, c.vector, negative ? 100000 : 1000000);
                if (r < 0) {
                        c.error = r;
                        break;
                }
                /* Five in a row lost: the path is broken, do not spend a second on each of the rest. */
                if (r == 0 && !negative && ++misses >= 5)
                        break;
                if (r > 0) {
                        misses = 0;
                        lat[received++] = (uint64_t)((c.seen.tv_sec - c.raised.tv_sec) * 1000000000LL +
                                                     (c.seen.tv_nsec - c.raised.tv_nsec));
                        extra += c.woken - before - 1;
                }
        }
        /* A spurious second wake (INTx unmasked before the ack) shows up here. */
        while (!c.error && sd_event_run(e, 50000) > 0)
                extra++;

        /* MSI-X: a doorbell on another vector than the armed one must not reach our eventfd. */
        if (c.mode == MODE_VFIO_MSIX && !c.error)
                for (other_tries = 0; other_tries < 5; other_tries++) {
                        r = raise_and_wait(&c, e, c.vector ? c.vector - 1 : c.vector + 1, 100000);
                        if (r < 0) {
                                c.error = r;
                                break;
                        }
                        other_wakes += (unsigned)r;
                }

        qsort(lat, received, sizeof(*lat), cmp_u64);
        /* How the source itself reached BAR0; the loop above went through the window when there is one. */
        path = c.vfio ? (vfio_source_bar_is_mapped(c.vfio, TEST_BAR) > 0 ? "mmap" : "pread") :
               (uio_source_bar_via_uio(c.uio, TEST_BAR) > 0 ? "uio-map" : "resource0");
        printf("%s %u/%u interrupts (device=%s vector=%u events=%llu extra=%u) median-latency-us=%.1f bar0=%s",
               argv[1], received, count, c.device == DEV_EDU ? "edu" : "ivshmem", c.vector,
               (unsigned long long)c.events, extra, received ? lat[received / 2] / 1000.0 : 0.0, path);
        printf(" regwin=%zu", c.win ? regwin_size(c.win) : 0);
        if (c.vfio)
                printf(" armed=%s", c.kind == VFIO_SOURCE_MSIX ? "msix" : c.kind == VFIO_SOURCE_MSI ? "msi" : "intx");
        if (c.mode == MODE_VFIO_MSIX)
                printf(" other-vector=%u wakes=%u/%u", c.vector ? c.vector - 1 : c.vector + 1, other_wakes, other_tries);
        if (c.error)
                printf(" error=%s", strerror(-c.error));
        printf("\n");

        sd_event_source_unref(es);
        sd_event_unref(e);
        if (c.vfio) {
                /* Teardown must hand the vectors back: the kernel's handlers go away with them. */
                lines_armed = vfio_irq_lines(argv[2]);
                r = vfio_source_disarm(c.vfio);
                if (r < 0) {
                        printf("%s disarm: %s\n", argv[1], strerror(-r));
                        return 1;
                }
                lines_disarmed = vfio_irq_lines(argv[2]);
                printf("%s teardown: /proc/interrupts lines armed=%d disarmed=%d\n", argv[1], lines_armed, lines_disarmed);
                if (lines_armed < 1 || lines_disarmed != 0)
                        return 1;
        }
        if (c.error)
                return 1;
        if (negative)
                return received == 0 && c.events == 0 ? 0 : 1;
        if (c.mode == MODE_VFIO_MSIX && (other_tries != 5 || other_wakes != 0))
                return 1;
        return received == count && extra == 0 && c.events == count ? 0 : 1;
}
