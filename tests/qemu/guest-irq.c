/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest-side test of the interrupt event sources against QEMU's "edu" device:
 * raise an interrupt N times (register 0x60) and count how often the source's
 * fd woke an sd-event loop, as the daemon would use it.
 *
 *   guest-irq vfio-msi|vfio-intx|vfio-msi-nobm|uio <bdf> <count> [vector]
 *
 * Prints one line "<mode> <received>/<count> ..." and exits 0 only if every
 * interrupt arrived, each exactly once. vfio-msi-nobm is the negative
 * control: MSI with Bus Master Enable cleared must deliver nothing, which
 * shows the count comes from the device and not from the loop.
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

#define EDU_ID          0x00
#define EDU_ID_VALUE    0x010000ed      /* version 1.0, 0xed */
#define EDU_IRQ_STATUS  0x24
#define EDU_IRQ_RAISE   0x60
#define EDU_IRQ_ACK     0x64
#define EDU_BAR         0

enum mode { MODE_VFIO_MSI, MODE_VFIO_INTX, MODE_VFIO_MSI_NOBM, MODE_UIO };

struct ctx {
        enum mode mode;
        struct vfio_source *vfio;
        struct uio_source *uio;
        struct regwin *win;     /* BAR0 as a register window, used once set */
        unsigned woken;         /* handler runs for the current raise */
        uint64_t events;        /* total reported by the source */
        int error;
        struct timespec raised, seen;
};

static int bar_read(struct ctx *c, uint64_t off, uint32_t *v)
{
        if (c->win)
                return regwin_read32(c->win, (uint32_t)off, v);
        return c->vfio ? vfio_source_bar_read32(c->vfio, EDU_BAR, off, v) : uio_source_bar_read32(c->uio, EDU_BAR, off, v);
}

static int bar_write(struct ctx *c, uint64_t off, uint32_t v)
{
        if (c->win)
                return regwin_write32(c->win, (uint32_t)off, v);
        return c->vfio ? vfio_source_bar_write32(c->vfio, EDU_BAR, off, v) : uio_source_bar_write32(c->uio, EDU_BAR, off, v);
}

/* edu has no reset and keeps its status across drivers: clear it before counting. */
static int edu_ack_all(struct ctx *c)
{
        uint32_t st;
        int r = bar_read(c, EDU_IRQ_STATUS, &st);

        if (r < 0)
                return r;
        return st ? bar_write(c, EDU_IRQ_ACK, st) : 0;
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
        r = edu_ack_all(c);
        if (r >= 0 && c->mode == MODE_VFIO_INTX)
                r = vfio_source_unmask_intx(c->vfio);
        else if (r >= 0 && c->mode == MODE_UIO)
                r = uio_source_unmask(c->uio);
        if (r < 0)
                c->error = r;
        return 0;
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

int main(int argc, char **argv)
{
        _cleanup_(ctx_done) struct ctx c = {};
        _cleanup_free_ uint64_t *lat = NULL;
        sd_event *e = NULL;
        sd_event_source *es = NULL;
        unsigned count, vector = 0, received = 0, extra = 0;
        uint64_t wait_usec;
        const char *bdf;
        uint32_t id;
        int fd = -1, r;

        if (argc < 4) {
                fprintf(stderr, "usage: %s vfio-msi|vfio-intx|uio BDF COUNT [VECTOR]\n", argv[0]);
                return 2;
        }
        if (!strcmp(argv[1], "vfio-msi"))
                c.mode = MODE_VFIO_MSI;
        else if (!strcmp(argv[1], "vfio-intx"))
                c.mode = MODE_VFIO_INTX;
        else if (!strcmp(argv[1], "vfio-msi-nobm"))
                c.mode = MODE_VFIO_MSI_NOBM;
        else if (!strcmp(argv[1], "uio"))
                c.mode = MODE_UIO;
        else {
                fprintf(stderr, "unknown mode %s\n", argv[1]);
                return 2;
        }
        bdf = argv[2];
        count = (unsigned)strtoul(argv[3], NULL, 0);
        if (argc > 4)
                vector = (unsigned)strtoul(argv[4], NULL, 0);
        if (count == 0) {
                fprintf(stderr, "count must be > 0\n");
                return 2;
        }
        lat = calloc(count, sizeof(*lat));
        if (!lat)
                return 1;

        if (c.mode == MODE_UIO) {
                r = uio_source_open(bdf, &c.uio);
                if (r < 0) {
                        printf("%s uio_source_open(%s): %s\n", argv[1], bdf, strerror(-r));
                        return 1;
                }
                fd = uio_source_fd(c.uio);
        } else {
                r = vfio_source_open(bdf, &c.vfio);
                if (r < 0) {
                        printf("%s vfio_source_open(%s): %s\n", argv[1], bdf, strerror(-r));
                        return 1;
                }
        }

        /* The source's own BAR access first, then the register window the daemon would use. */
        r = bar_read(&c, EDU_ID, &id);
        if (r < 0 || id != EDU_ID_VALUE) {
                printf("%s BAR0 id register: %s 0x%08x\n", argv[1], r < 0 ? strerror(-r) : "unexpected", id);
                return 1;
        }
        r = c.vfio ? vfio_source_bar_regwin(c.vfio, EDU_BAR, &c.win) : uio_source_bar_regwin(c.uio, EDU_BAR, &c.win);
        if (r >= 0) {
                id = 0;
                r = bar_read(&c, EDU_ID, &id);
        }
        if (r < 0 || id != EDU_ID_VALUE) {
                printf("%s BAR0 register window: %s 0x%08x\n", argv[1], r < 0 ? strerror(-r) : "unexpected id", id);
                return 1;
        }
        r = edu_ack_all(&c);
        if (r < 0) {
                printf("%s drain edu status: %s\n", argv[1], strerror(-r));
                return 1;
        }

        if (c.mode == MODE_VFIO_MSI_NOBM) {
                uint16_t cmd;
                r = vfio_source_config_read(c.vfio, 0x04, &cmd, sizeof(cmd));
                if (r >= 0) {
                        cmd &= (uint16_t)~0x4;  /* PCI_COMMAND_MASTER */
                        r = vfio_source_config_write(c.vfio, 0x04, &cmd, sizeof(cmd));
                }
                if (r >= 0)
                        r = vfio_source_arm(c.vfio, VFIO_SOURCE_MSI, vector);
                if (r < 0) {
                        printf("%s arm vector %u: %s\n", argv[1], vector, strerror(-r));
                        return 1;
                }
                fd = vfio_source_eventfd(c.vfio);
        } else if (c.vfio) {
                r = vfio_source_enable_bus_master(c.vfio);
                if (r >= 0)
                        r = vfio_source_arm(c.vfio, c.mode == MODE_VFIO_MSI ? VFIO_SOURCE_MSI : VFIO_SOURCE_INTX, vector);
                if (r < 0) {
                        printf("%s arm vector %u: %s\n", argv[1], vector, strerror(-r));
                        return 1;
                }
                fd = vfio_source_eventfd(c.vfio);
        } else {
                /* A previous interrupt may have left INTx disabled. */
                r = uio_source_unmask(c.uio);
                if (r < 0) {
                        printf("uio unmask: %s\n", strerror(-r));
                        return 1;
                }
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

                clock_gettime(CLOCK_MONOTONIC, &c.raised);
                r = bar_write(&c, EDU_IRQ_RAISE, 1);
                if (r < 0) {
                        c.error = r;
                        break;
                }
                /* Wait up to 1 s for this interrupt; the negative control needs less to see nothing. */
                wait_usec = c.mode == MODE_VFIO_MSI_NOBM ? 100000 : 1000000;
                while (c.woken == before && !c.error) {
                        r = sd_event_run(e, wait_usec);
                        if (r <= 0)
                                break;
                }
                if (c.woken > before) {
                        lat[received++] = (uint64_t)((c.seen.tv_sec - c.raised.tv_sec) * 1000000000LL +
                                                     (c.seen.tv_nsec - c.raised.tv_nsec));
                        extra += c.woken - before - 1;
                }
        }
        /* A spurious second wake (INTx unmasked before the ack) shows up here. */
        while (!c.error && sd_event_run(e, 50000) > 0)
                extra++;

        qsort(lat, received, sizeof(*lat), cmp_u64);
        printf("%s %u/%u interrupts (events=%llu extra=%u) median-latency-us=%.1f bar0=%s regwin=%zu%s%s\n",
               argv[1], received, count, (unsigned long long)c.events, extra,
               received ? lat[received / 2] / 1000.0 : 0.0,
               c.vfio ? (vfio_source_bar_is_mapped(c.vfio, EDU_BAR) > 0 ? "mmap" : "pread") :
                        (uio_source_bar_via_uio(c.uio, EDU_BAR) > 0 ? "uio-map" : "resource0"),
               regwin_size(c.win),
               c.error ? " error=" : "", c.error ? strerror(-c.error) : "");

        sd_event_source_unref(es);
        sd_event_unref(e);
        if (c.vfio) {
                r = vfio_source_disarm(c.vfio);
                if (r < 0) {
                        printf("%s disarm: %s\n", argv[1], strerror(-r));
                        return 1;
                }
        }
        if (c.mode == MODE_VFIO_MSI_NOBM)
                return received == 0 && c.events == 0 && !c.error ? 0 : 1;
        return received == count && extra == 0 && c.events == count && !c.error ? 0 : 1;
}
