/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Interrupts as an event source, through lib/evsource-vfio.h (an eventfd the
 * kernel signals) or lib/evsource-uio.h (/dev/uioN readable), in the sd-event
 * loop. Each is configured per port: "PORT=vfio:FUNCTION[:intx|:msi:N|:msix:N]"
 * or "PORT=uio:FUNCTION", where FUNCTION is a function below PORT that signals
 * isolation with an interrupt and is bound to vfio-pci or uio_pci_generic.
 *
 * Why not the root port's own T&I interrupt: vfio-pci refuses type-1 headers
 * and a UIO driver would have to replace pcieport (losing AER, DPC, hotplug),
 * so a root port never binds to either; its MSI stays with the kernel. An
 * interrupt is only a hint: the port's status register is read, as for a poll.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "evsource-uio.h"
#include "evsource-vfio.h"
#include "log.h"
#include "manager.h"
#include "source.h"
#include "source-irq.h"

struct irq_source {
        struct source source;
        struct irq_spec spec;
        struct vfio_source *vfio;
        struct uio_source *uio;
        sd_event_source *io;
        uint64_t n_interrupts;
};

static int parse_uint(const char *s, unsigned max, unsigned *ret)
{
        char *end;
        unsigned long v;

        if (!*s)
                return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || v > max)
                return -EINVAL;
        *ret = (unsigned)v;
        return 0;
}

/* "dddd:bb:dd.f": the form sysfs names functions by, so lookups by name work. */
static bool bdf_valid(const char *s, size_t len)
{
        static const char shape[] = "xxxx:xx:xx.x";

        if (len != sizeof(shape) - 1)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (shape[i] == 'x' ? !strchr("0123456789abcdefABCDEF", s[i]) || !s[i] : s[i] != shape[i])
                        return false;
        }
        return true;
}

int irq_spec_parse(const char *s, struct irq_spec *ret)
{
        struct irq_spec spec = { .kind = IRQ_SPEC_INTX };
        const char *eq, *fn, *rest;

        if (!s)
                return -EINVAL;
        eq = strchr(s, '=');
        if (!eq || !bdf_valid(s, (size_t)(eq - s)))
                return -EINVAL;
        memcpy(spec.port, s, (size_t)(eq - s));

        fn = eq + 1;
        if (strncmp(fn, "vfio:", 5) == 0)
                spec.driver = IRQ_DRIVER_VFIO;
        else if (strncmp(fn, "uio:", 4) == 0)
                spec.driver = IRQ_DRIVER_UIO;
        else
                return -EINVAL;
        fn = strchr(fn, ':') + 1;
        if (strlen(fn) < 12 || !bdf_valid(fn, 12))
                return -EINVAL;
        memcpy(spec.function, fn, 12);

        rest = fn + 12;
        if (*rest == '\0') {
                *ret = spec;
                return 0;
        }
        /* UIO has INTx only (uio_pci_generic): no vector to choose. */
        if (spec.driver == IRQ_DRIVER_UIO || *rest != ':')
                return -EINVAL;
        rest++;
        if (strcmp(rest, "intx") == 0)
                spec.kind = IRQ_SPEC_INTX;
        else if (strncmp(rest, "msi:", 4) == 0) {
                spec.kind = IRQ_SPEC_MSI;
                if (parse_uint(rest + 4, 31, &spec.vector) < 0)
                        return -EINVAL;
        } else if (strncmp(rest, "msix:", 5) == 0) {
                spec.kind = IRQ_SPEC_MSIX;
                if (parse_uint(rest + 5, 2047, &spec.vector) < 0)
                        return -EINVAL;
        } else
                return -EINVAL;
        *ret = spec;
        return 0;
}

static int on_irq(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
        struct irq_source *q = userdata;
        struct manager *m = q->source.manager;
        struct port *p;
        int k;

        if (q->vfio) {
                uint64_t n;
                k = vfio_source_consume(q->vfio, &n);
                if (k == -EAGAIN)
                        return 0;
                if (k >= 0)
                        q->n_interrupts += n;
        } else {
                uint32_t n;
                k = uio_source_consume(q->uio, &n);
                if (k == -EAGAIN)
                        return 0;
                if (k >= 0)
                        q->n_interrupts = n;
        }
        if (k < 0) {
                /* The function went away: stop listening rather than spin on an error. */
                log_warning_errno(k, "%s: interrupt source %s failed, polling only from now: %m", q->spec.port,
                                  q->spec.function);
                (void)sd_event_source_set_enabled(es, SD_EVENT_OFF);
                /* The port is no longer served: back to poll-interval= if poll-backstop= applied. */
                manager_reschedule_poll(m);
                return 0;
        }

        p = manager_find_port(m, q->spec.port);
        if (p)
                source_read_port(m, p, "interrupt");

        /* The kernel masked INTx on delivery; unmask only after the read, or a level interrupt fires at once. */
        if (q->uio)
                (void)uio_source_unmask(q->uio);
        else if (q->spec.kind == IRQ_SPEC_INTX)
                (void)vfio_source_unmask_intx(q->vfio);
        return 0;
}

static bool irq_serves(struct source *s, const struct port *p)
{
        struct irq_source *q = s->data;

        return strcmp(q->spec.port, p->rp.bdf) == 0 && q->io &&
               sd_event_source_get_enabled(q->io, NULL) > 0;
}

static void irq_free(struct source *s)
{
        struct irq_source *q = s->data;

        sd_event_source_disable_unref(q->io);
        if (q->vfio) {
                (void)vfio_source_disarm(q->vfio);
                vfio_source_free(q->vfio);
        }
        uio_source_free(q->uio);
        free(q);
}

static int irq_open(struct irq_source *q, int *ret_fd)
{
        static const enum vfio_irq_kind kinds[] = {
                [IRQ_SPEC_INTX] = VFIO_SOURCE_INTX,
                [IRQ_SPEC_MSI] = VFIO_SOURCE_MSI,
                [IRQ_SPEC_MSIX] = VFIO_SOURCE_MSIX,
        };
        int k;

        if (q->spec.driver == IRQ_DRIVER_UIO) {
                k = uio_source_open(q->spec.function, &q->uio);
                if (k < 0)
                        return k;
                /* An interrupt pending from before we started is read as one, which costs only a status read. */
                (void)uio_source_unmask(q->uio);
                *ret_fd = uio_source_fd(q->uio);
                return *ret_fd < 0 ? *ret_fd : 0;
        }

        k = vfio_source_open(q->spec.function, &q->vfio);
        if (k < 0)
                return k;
        /* MSI/MSI-X are memory writes by the function: without Bus Master Enable they never arrive. */
        if (q->spec.kind != IRQ_SPEC_INTX) {
                k = vfio_source_enable_bus_master(q->vfio);
                if (k < 0)
                        return k;
        }
        k = vfio_source_arm(q->vfio, kinds[q->spec.kind], q->spec.vector);
        if (k < 0)
                return k;
        *ret_fd = vfio_source_eventfd(q->vfio);
        return *ret_fd < 0 ? *ret_fd : 0;
}

int source_irq_new(struct manager *m, const char *spec, struct source **ret)
{
        struct irq_source *q;
        int k, fd;

        q = calloc(1, sizeof(*q));
        if (!q)
                return log_oom();
        q->source = (struct source) {
                .name = "irq",
                .manager = m,
                .data = q,
                .free = irq_free,
                .serves_interrupt = irq_serves,
        };
        k = irq_spec_parse(spec, &q->spec);
        if (k < 0) {
                irq_free(&q->source);
                return log_error_errno(k, "Invalid interrupt source \"%s\" (PORT=vfio:FUNCTION[:intx|:msi:N|:msix:N] "
                                       "or PORT=uio:FUNCTION), ignoring it", spec);
        }
        if (!manager_find_port(m, q->spec.port))
                log_warning("Interrupt source %s names %s, which is not a CXL root port found here; its interrupts "
                            "will read that port if it appears", spec, q->spec.port);

        k = irq_open(q, &fd);
        if (k < 0) {
                const char *hint = k == -ENOENT ? "not bound to the driver, or no IOMMU group" :
                                   k == -EPERM ? "the IOMMU refused it (interrupt remapping?)" :
                                   k == -EBUSY ? "another function of its IOMMU group is bound to a host driver" :
                                   k == -ENXIO ? "the function has no such vector" : "cannot open it";
                log_warning_errno(k, "%s: interrupt source %s: %s, polling that port only: %m", spec,
                                  q->spec.function, hint);
                irq_free(&q->source);
                return k;
        }
        k = sd_event_add_io(m->event, &q->io, fd, EPOLLIN, on_irq, q);
        if (k < 0) {
                irq_free(&q->source);
                return log_warning_errno(k, "%s: cannot watch the interrupt source: %m", spec);
        }
        (void)sd_event_source_set_description(q->io, "irq");
        log_info("%s: interrupts of %s (%s) read the port at once", q->spec.port, q->spec.function,
                 q->spec.driver == IRQ_DRIVER_UIO ? "uio" : "vfio");
        *ret = &q->source;
        return 0;
}
