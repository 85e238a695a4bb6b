/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Event sources: everything that can tell the daemon "read port P now".
 *
 *   poll  - the manager's own timer (manager.c, on_poll): every port, every
 *           interval. It is the baseline and the only source that needs
 *           nothing from the kernel beyond the mapped registers; every other
 *           source only shortens the time to detection.
 *   udev  - kernel uevents (source-udev.c): "change" with ERROR_EVENT= or
 *           DEVICE_ONLINE= on a port or a function below it (AER recovery,
 *           DPC) -> read that port at once; ports, cxl and dax devices added
 *           or removed -> rediscovery; dax rebinds and memory blocks going
 *           online -> the arming gate looks again.
 *   aer   - the AER counters of each port (source-aer.c), re-read on a slow
 *           timer and on every uevent of the port; a change -> read the port.
 *   irq   - an eventfd (VFIO) or /dev/uioN (UIO) of a function that signals
 *           isolation with an interrupt (source-irq.c). vfio-pci refuses
 *           type-1 headers and uio_pci_generic would have to replace
 *           pcieport, so a root port itself never binds: this applies only to
 *           functions that raise the interrupt themselves.
 *
 * A source never decides anything from its event: it only asks for a read of
 * the register (or of the topology), which is what is trusted.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct manager;
struct port;
struct sources;

struct source {
        const char *name;                       /* "udev", "aer", "irq" */
        struct manager *manager;
        void *data;
        void (*free)(struct source *s);
        /* Optional: a port was added or rediscovered (its sysfs path and window may be new). */
        void (*port_changed)(struct source *s, struct port *p);
        /* Optional: does this source deliver an interrupt for p? (arming sets control bit 26 only then) */
        bool (*serves_interrupt)(struct source *s, const struct port *p);
};

/* What every source says: read p's status now. why is for the debug log. */
void source_read_port(struct manager *m, struct port *p, const char *why);
/* A port may be back: rediscover p (with backoff while it keeps failing); p NULL: look for new ports. */
void source_rediscover(struct manager *m, struct port *p, const char *why);
/* Something below p (NULL: below any port) changed driver or state: the arming gate looks again. */
void source_topology_changed(struct manager *m, struct port *p, const char *why);
/* The watchable port whose sysfs path is path or an ancestor of it (a function below the port). NULL if none. */
struct port *source_port_for_syspath(struct manager *m, const char *syspath);
/* Does an interrupt source serve p? */
bool sources_serve_interrupt(struct manager *m, const struct port *p);

/*
 * Start every source that can run here (a missing udev or unreadable AER
 * counters leave the poll timer doing the work, with a notice), arm the ports
 * through the gate (arming.h), and keep re-discovering ports that went away.
 */
int sources_start(struct manager *m);
void sources_free(struct manager *m);

int source_udev_new(struct manager *m, struct source **ret);
int source_aer_new(struct manager *m, uint64_t interval_usec, struct source **ret);
/* Re-read p's AER counters now (a uevent for p arrived); a change reads p's status. */
void source_aer_check_port(struct source *aer, struct port *p);
/* Re-read every port's counters on the slow timer (on), or only on uevents (off: nothing polls at all). */
void source_aer_set_periodic(struct source *aer, bool on);
void source_aer_forward(struct manager *m, struct port *p);
/*
 * spec: "PORT=vfio:BDF" or "PORT=uio:BDF", PORT the root port to read when
 * BDF (a function below it, bound to vfio-pci or uio_pci_generic) signals.
 */
int source_irq_new(struct manager *m, const char *spec, struct source **ret);
