/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Uevents as an event source: a libudev monitor ("udev" netlink group, so
 * sysfs is settled and rules have run) on the subsystems that matter, in the
 * sd-event loop:
 *   pci  "change" with ERROR_EVENT= (AER/DPC recovery: BEGIN_RECOVERY,
 *        SUCCESSFUL_RECOVERY, FAILED_RECOVERY) or DEVICE_ONLINE= on a port or
 *        a function below it -> read that port now, not at the next tick;
 *        any event of a port or below it -> its AER counters are re-read;
 *        add/bind of a function that is no known port -> look for new ports;
 *        add/bind below a port that is not watchable -> rediscover it;
 *        remove of a port -> read it now (it reads as gone).
 *   dax, memory  any event -> the arming gate looks again (kmem rebinds,
 *        blocks going online), after a short settle so one change that
 *        sends several uevents costs one look.
 *   cxl  add/remove (ports, decoders, regions, memdevs) -> gate again, and
 *        look for new root ports.
 * The event only says where to look: registers and topology are re-read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libudev.h>
#include <systemd/sd-event.h>

#include "cleanup.h"
#include "log.h"
#include "manager.h"
#include "source.h"

static const char *const subsystems[] = { "pci", "dax", "memory", "cxl" };

struct udev_source {
        struct source source;
        struct udev *udev;
        struct udev_monitor *monitor;
        sd_event_source *io;
        uint64_t n_events;
};

static bool streq_ptr(const char *a, const char *b)
{
        return a && b && strcmp(a, b) == 0;
}

static void handle_pci(struct udev_source *u, struct udev_device *d, const char *action)
{
        struct manager *m = u->source.manager;
        const char *syspath = udev_device_get_syspath(d);
        struct port *p = source_port_for_syspath(m, syspath);
        const char *error_event = udev_device_get_property_value(d, "ERROR_EVENT");
        const char *device_online = udev_device_get_property_value(d, "DEVICE_ONLINE");

        if (!p) {
                /* A function we do not know: maybe a root port that just appeared. */
                if (streq_ptr(action, "add") || streq_ptr(action, "bind"))
                        source_rediscover(m, NULL, "pci device added");
                return;
        }

        if (streq_ptr(action, "change") && (error_event || device_online)) {
                char why[96];

                snprintf(why, sizeof(why), "uevent %s%s%s", error_event ? "ERROR_EVENT=" : "DEVICE_ONLINE=",
                         error_event ?: device_online, strcmp(syspath, p->rp.sysfs_path) == 0 ? "" : " below the port");
                source_read_port(m, p, why);
        } else if (streq_ptr(action, "remove") && strcmp(syspath, p->rp.sysfs_path) == 0)
                source_read_port(m, p, "port removed");

        if (!port_is_watchable(p)) {
                if (streq_ptr(action, "add") || streq_ptr(action, "bind") || device_online)
                        source_rediscover(m, p, "pci uevent");
                return;
        }
        source_aer_forward(m, p);
        /* A function below the port went or came: its memdev, and so the gate's view, changed. */
        if (strcmp(syspath, p->rp.sysfs_path) != 0 && !streq_ptr(action, "change"))
                source_topology_changed(m, p, "pci function below the port");
}

static void handle_device(struct udev_source *u, struct udev_device *d)
{
        struct manager *m = u->source.manager;
        const char *subsystem = udev_device_get_subsystem(d);
        const char *action = udev_device_get_action(d);

        u->n_events++;
        log_debug("uevent %s %s %s", action ?: "?", subsystem ?: "?", udev_device_get_syspath(d) ?: "?");
        if (!subsystem)
                return;
        if (strcmp(subsystem, "pci") == 0)
                handle_pci(u, d, action);
        else if (strcmp(subsystem, "dax") == 0 || strcmp(subsystem, "memory") == 0)
                source_topology_changed(m, NULL, subsystem);
        else if (strcmp(subsystem, "cxl") == 0) {
                source_topology_changed(m, NULL, "cxl");
                if (streq_ptr(action, "add"))
                        source_rediscover(m, NULL, "cxl device added");
        }
}

static int on_udev_io(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
        struct udev_source *u = userdata;

        /* Drain what is queued; each receive returns one event or NULL when none is left. */
        for (unsigned i = 0; i < 256; i++) {
                struct udev_device *d = udev_monitor_receive_device(u->monitor);

                if (!d)
                        break;
                handle_device(u, d);
                udev_device_unref(d);
        }
        return 0;
}

static void udev_source_free(struct source *s)
{
        struct udev_source *u = s->data;

        sd_event_source_disable_unref(u->io);
        udev_monitor_unref(u->monitor);
        udev_unref(u->udev);
        free(u);
}

int source_udev_new(struct manager *m, struct source **ret)
{
        struct udev_source *u = calloc(1, sizeof(*u));
        int k, fd;

        if (!u)
                return -ENOMEM;
        u->source = (struct source) {
                .name = "udev",
                .manager = m,
                .data = u,
                .free = udev_source_free,
        };
        u->udev = udev_new();
        if (!u->udev) {
                k = errno > 0 ? -errno : -ENOMEM;
                goto fail;
        }
        u->monitor = udev_monitor_new_from_netlink(u->udev, "udev");
        if (!u->monitor) {
                k = errno > 0 ? -errno : -EIO;
                goto fail;
        }
        for (size_t i = 0; i < sizeof(subsystems) / sizeof(subsystems[0]); i++) {
                k = udev_monitor_filter_add_match_subsystem_devtype(u->monitor, subsystems[i], NULL);
                if (k < 0)
                        goto fail;
        }
        /* Bursts (a region with many blocks going online) must not be dropped before we drain them. */
        (void)udev_monitor_set_receive_buffer_size(u->monitor, 4 * 1024 * 1024);
        k = udev_monitor_enable_receiving(u->monitor);
        if (k < 0)
                goto fail;
        fd = udev_monitor_get_fd(u->monitor);
        if (fd < 0) {
                k = fd;
                goto fail;
        }
        k = sd_event_add_io(m->event, &u->io, fd, EPOLLIN, on_udev_io, u);
        if (k < 0)
                goto fail;
        (void)sd_event_source_set_description(u->io, "udev");
        *ret = &u->source;
        return 0;
fail:
        udev_source_free(&u->source);
        return k;
}
