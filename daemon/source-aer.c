/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * AER counters as an event source. The kernel counts every error it handles
 * on a port (aer_dev_* per error name, aer_rootport_total_err_* for what the
 * port collected from below); an isolation comes with one (a surprise down,
 * or the correctable error T&I signals with ERR_COR enabled). A change of any
 * counter is a reason to read the port now. The counters are re-read on a
 * slow timer, as a backstop for a missed uevent, and on every uevent of the
 * port; the text is compared as a whole, so a counter we do not know by name
 * counts too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "log.h"
#include "manager.h"
#include "source.h"

#define AER_TEXT_MAX 4096

static const char *const aer_files[] = {
        "aer_dev_correctable",
        "aer_dev_fatal",
        "aer_dev_nonfatal",
        "aer_rootport_total_err_cor",
        "aer_rootport_total_err_fatal",
        "aer_rootport_total_err_nonfatal",
};

struct aer_port {
        char bdf[16];
        char *text;             /* all counter files of the port, concatenated; NULL until read */
};

struct aer_source {
        struct source source;
        sd_event_source *timer;
        uint64_t interval_usec;
        size_t n_ports;
        struct aer_port *ports;
};

/* The counters of one port as one string. -ENOENT when the port has none (no AER, or not exported). */
static int aer_read_text(const char *sysfs_path, char **ret)
{
        /* Read into the stack, keep only what was read: a port holds its text for as long as it runs. */
        char text[AER_TEXT_MAX];
        size_t len = 0;
        unsigned n_files = 0;
        char *copy;

        for (size_t i = 0; i < sizeof(aer_files) / sizeof(aer_files[0]); i++) {
                _cleanup_close_ int fd = -1;
                char path[512];
                ssize_t n;

                snprintf(path, sizeof(path), "%s/%s", sysfs_path, aer_files[i]);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                n_files++;
                /* The file name separates the parts, so moving counts between files still differs. */
                len += (size_t)snprintf(text + len, AER_TEXT_MAX - len, "%s:", aer_files[i]);
                if (len >= AER_TEXT_MAX - 1)
                        break;
                n = read(fd, text + len, AER_TEXT_MAX - 1 - len);
                if (n > 0)
                        len += (size_t)n;
                if (len >= AER_TEXT_MAX - 1)
                        break;
        }
        if (n_files == 0)
                return -ENOENT;
        /* snprintf() counts what it would have written: never past the buffer. */
        if (len > AER_TEXT_MAX - 1)
                len = AER_TEXT_MAX - 1;
        copy = strndup(text, len);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

static struct aer_port *aer_port_find(struct aer_source *a, const char *bdf)
{
        for (size_t i = 0; i < a->n_ports; i++)
                if (strcmp(a->ports[i].bdf, bdf) == 0)
                        return &a->ports[i];
        return NULL;
}

static struct aer_port *aer_port_get(struct aer_source *a, const char *bdf)
{
        struct aer_port *ap = aer_port_find(a, bdf), *l;

        if (ap)
                return ap;
        l = realloc(a->ports, sizeof(*l) * (a->n_ports + 1));
        if (!l)
                return NULL;
        a->ports = l;
        ap = &a->ports[a->n_ports++];
        *ap = (struct aer_port) {};
        snprintf(ap->bdf, sizeof(ap->bdf), "%s", bdf);
        return ap;
}

/* Returns true when the counters changed since the last look (never on the first). */
static bool aer_port_changed(struct aer_source *a, struct port *p)
{
        _cleanup_free_ char *text = NULL;
        struct aer_port *ap;
        bool changed;

        if (aer_read_text(p->rp.sysfs_path, &text) < 0)
                return false;
        ap = aer_port_get(a, p->rp.bdf);
        if (!ap)
                return false;
        changed = ap->text && strcmp(ap->text, text) != 0;
        free(ap->text);
        ap->text = TAKE_PTR(text);
        return changed;
}

void source_aer_check_port(struct source *s, struct port *p)
{
        struct aer_source *a = s->data;

        if (!port_is_watchable(p))
                return;
        if (aer_port_changed(a, p)) {
                log_debug("%s: AER counters changed", p->rp.bdf);
                source_read_port(s->manager, p, "AER counters changed");
        }
}

static int on_aer_timer(sd_event_source *es, uint64_t usec, void *userdata)
{
        struct aer_source *a = userdata;
        struct manager *m = a->source.manager;

        for (size_t i = 0; i < m->n_ports; i++)
                source_aer_check_port(&a->source, m->ports[i]);
        (void)sd_event_source_set_time_relative(es, a->interval_usec);
        (void)sd_event_source_set_enabled(es, SD_EVENT_ONESHOT);
        return 0;
}

void source_aer_set_periodic(struct source *s, bool on)
{
        struct aer_source *a = s->data;
        int enabled = sd_event_source_get_enabled(a->timer, NULL);

        if (!on)
                (void)sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);
        else if (enabled == 0) {
                (void)sd_event_source_set_time_relative(a->timer, a->interval_usec);
                (void)sd_event_source_set_enabled(a->timer, SD_EVENT_ONESHOT);
        }
}

static void aer_port_reset(struct source *s, struct port *p)
{
        struct aer_source *a = s->data;
        struct aer_port *ap = aer_port_find(a, p->rp.bdf);

        /* A new sysfs device has counters of its own: take them as the new baseline. */
        if (ap) {
                free(ap->text);
                ap->text = NULL;
        }
        (void)aer_port_changed(a, p);
}

static void aer_free(struct source *s)
{
        struct aer_source *a = s->data;

        sd_event_source_disable_unref(a->timer);
        for (size_t i = 0; i < a->n_ports; i++)
                free(a->ports[i].text);
        free(a->ports);
        free(a);
}

int source_aer_new(struct manager *m, uint64_t interval_usec, struct source **ret)
{
        struct aer_source *a = calloc(1, sizeof(*a));
        size_t n_with = 0;
        int k;

        if (!a)
                return -ENOMEM;
        a->source = (struct source) {
                .name = "aer",
                .manager = m,
                .data = a,
                .free = aer_free,
                .port_changed = aer_port_reset,
        };
        a->interval_usec = interval_usec;

        /* Baseline now, so the first change is seen as one. */
        for (size_t i = 0; i < m->n_ports; i++) {
                _cleanup_free_ char *text = NULL;
                struct aer_port *ap;

                if (aer_read_text(m->ports[i]->rp.sysfs_path, &text) < 0)
                        continue;
                ap = aer_port_get(a, m->ports[i]->rp.bdf);
                if (!ap) {
                        aer_free(&a->source);
                        return -ENOMEM;
                }
                ap->text = TAKE_PTR(text);
                n_with++;
        }
        if (n_with == 0 && m->n_ports > 0)
                log_debug("No port exports AER counters (CONFIG_PCIEAER off?); AER source idle until one does");

        k = sd_event_add_time_relative(m->event, &a->timer, CLOCK_MONOTONIC, interval_usec, 0, on_aer_timer, a);
        if (k < 0) {
                aer_free(&a->source);
                return k;
        }
        (void)sd_event_source_set_description(a->timer, "aer");
        (void)sd_event_source_set_enabled(a->timer, SD_EVENT_ONESHOT);
        *ret = &a->source;
        return 0;
}
