/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The set of event sources of one manager, and what they may ask for: a read
 * of one port, a rediscovery (with backoff for a port that stays gone), a new
 * look by the arming gate. Sources hold no port pointers across events: ports
 * are looked up again each time, so a rediscovery never leaves one dangling.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "arming.h"
#include "cleanup.h"
#include "cxl-regs.h"
#include "log.h"
#include "manager.h"
#include "source.h"

/* A port that went away is looked for again after 1 s, doubling up to 5 min: cheap, and quick when it comes back. */
#define REDISCOVER_FIRST_USEC (1ULL * 1000000ULL)
#define REDISCOVER_MAX_USEC (300ULL * 1000000ULL)
/* Several uevents for one change (unbind, bind, online...) cost one look; short enough for "within a poll". */
#define SETTLE_USEC (20ULL * 1000ULL)
/* AER counters are a backstop for a missed uevent, not the fast path. */
#define AER_INTERVAL_USEC (30ULL * 1000000ULL)
/*
 * The gate looks again this often even without a uevent: udevd may not run
 * (containers, early boot) or a monitor may overflow. Uevents stay the way a
 * change is seen within one poll interval.
 */
#define GATE_RECHECK_USEC (60ULL * 1000000ULL)

struct rediscovery {
        char bdf[16];
        uint64_t backoff_usec;
        uint64_t attempts;
        sd_event_source *timer;
        struct sources *sources;
};

struct sources {
        struct manager *manager;
        size_t n_sources;
        struct source **sources;
        struct source *aer;                     /* also in sources[]; the udev source feeds it */
        bool udev;                              /* the udev source runs */

        size_t n_rediscoveries;
        struct rediscovery **rediscoveries;

        /* Coalescing of topology changes and of "look for new ports". */
        sd_event_source *settle_timer;
        sd_event_source *gate_timer;
        bool topology_dirty;
        bool scan_new_ports;
};

static uint64_t now_monotonic(sd_event *e)
{
        uint64_t t = 0;

        (void)sd_event_now(e, CLOCK_MONOTONIC, &t);
        return t;
}

struct port *source_port_for_syspath(struct manager *m, const char *syspath)
{
        if (!syspath)
                return NULL;
        for (size_t i = 0; i < m->n_ports; i++) {
                const char *base = m->ports[i]->rp.sysfs_path;
                size_t n = strlen(base);

                if (n > 0 && strncmp(syspath, base, n) == 0 && (syspath[n] == '\0' || syspath[n] == '/'))
                        return m->ports[i];
        }
        return NULL;
}

void source_read_port(struct manager *m, struct port *p, const char *why)
{
        int k;

        if (!port_is_watchable(p))
                return;
        log_debug("%s: reading status now (%s)", p->rp.bdf, why);
        k = manager_read_port(m, p);
        if (k < 0 && k != -ENODEV)
                log_warning_errno(k, "%s: status read after %s failed, the next poll retries: %m", p->rp.bdf, why);
}

bool sources_serve_interrupt(struct manager *m, const struct port *p)
{
        struct sources *s = m->sources;

        for (size_t i = 0; s && i < s->n_sources; i++)
                if (s->sources[i]->serves_interrupt && s->sources[i]->serves_interrupt(s->sources[i], p))
                        return true;
        return false;
}

static void sources_port_changed(struct sources *s, struct port *p)
{
        for (size_t i = 0; i < s->n_sources; i++)
                if (s->sources[i]->port_changed)
                        s->sources[i]->port_changed(s->sources[i], p);
}

/* --- rediscovery --- */

static struct rediscovery *rediscovery_find(struct sources *s, const char *bdf)
{
        for (size_t i = 0; i < s->n_rediscoveries; i++)
                if (strcmp(s->rediscoveries[i]->bdf, bdf) == 0)
                        return s->rediscoveries[i];
        return NULL;
}

static void rediscovery_remove(struct sources *s, struct rediscovery *r)
{
        for (size_t i = 0; i < s->n_rediscoveries; i++)
                if (s->rediscoveries[i] == r) {
                        s->rediscoveries[i] = s->rediscoveries[--s->n_rediscoveries];
                        break;
                }
        sd_event_source_disable_unref(r->timer);
        free(r);
}

/* Like the startup scan: writable for arming, read-only when that is all the kernel allows. */
static int rediscover_one(const char *bdf, struct cxl_rootport *ret)
{
        struct discover_options rw = { .writable = true, .only_bdf = bdf }, ro = { .writable = false, .only_bdf = bdf };
        struct cxl_rootport found;
        int k;

        k = cxl_rootport_rediscover(bdf, &rw, &found);
        if (k < 0)
                return k;
        if (found.reason == PORT_MMAP_FAILED &&
            (found.error == -EACCES || found.error == -EROFS || found.error == -EPERM)) {
                struct cxl_rootport again;
                if (cxl_rootport_rediscover(bdf, &ro, &again) >= 0) {
                        cxl_rootport_done(&found);
                        found = again;
                }
        }
        *ret = found;
        return 0;
}

/* Install a fresh discovery result into a port that was not watchable. */
static void port_take_rediscovered(struct manager *m, struct port *p, struct cxl_rootport *rp)
{
        uint32_t control;

        cxl_rootport_done(&p->rp);
        p->rp = *rp;
        memset(rp, 0, sizeof(*rp));
        cxl_rootport_drop_decode(&p->rp);       /* as port_new() does */
        p->have_status = false;
        p->status = 0;
        p->armed = false;
        p->gate_decided = false;
        p->state = p->rp.reason == PORT_WATCHABLE && p->rp.win ? PORT_STATE_WATCHING : PORT_STATE_NOT_WATCHABLE;
        if (p->state == PORT_STATE_WATCHING &&
            regwin_read32(p->rp.win, p->rp.ti_offset + CXL_TI_CONTROL, &control) >= 0 && control != REG_ALL_ONES) {
                p->control = control;
                p->armed = (control & CXL_TI_CTL_MEM_ISOLATION_ENABLE) != 0;
        }
        (void)m;
}

static int on_rediscover_timer(sd_event_source *es, uint64_t usec, void *userdata);

/* reset: a uevent says something changed, so try soon again instead of backing off further. */
static int rediscovery_schedule(struct sources *s, const char *bdf, bool reset)
{
        struct manager *m = s->manager;
        struct rediscovery *r = rediscovery_find(s, bdf), **l;
        int k;

        if (r) {
                if (reset)
                        r->backoff_usec = REDISCOVER_FIRST_USEC;
                else
                        r->backoff_usec = r->backoff_usec * 2 > REDISCOVER_MAX_USEC ? REDISCOVER_MAX_USEC :
                                                                                     r->backoff_usec * 2;
        } else {
                l = realloc(s->rediscoveries, sizeof(*l) * (s->n_rediscoveries + 1));
                if (!l)
                        return -ENOMEM;
                s->rediscoveries = l;
                r = calloc(1, sizeof(*r));
                if (!r)
                        return -ENOMEM;
                snprintf(r->bdf, sizeof(r->bdf), "%s", bdf);
                r->sources = s;
                r->backoff_usec = REDISCOVER_FIRST_USEC;
                s->rediscoveries[s->n_rediscoveries++] = r;
        }
        if (!r->timer) {
                k = sd_event_add_time(m->event, &r->timer, CLOCK_MONOTONIC, now_monotonic(m->event) + r->backoff_usec,
                                      0, on_rediscover_timer, r);
                if (k < 0) {
                        rediscovery_remove(s, r);
                        return k;
                }
                (void)sd_event_source_set_description(r->timer, "rediscover");
        } else {
                (void)sd_event_source_set_time(r->timer, now_monotonic(m->event) + r->backoff_usec);
                (void)sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
        }
        return 0;
}

static int on_rediscover_timer(sd_event_source *es, uint64_t usec, void *userdata)
{
        struct rediscovery *r = userdata;
        struct sources *s = r->sources;
        struct manager *m = s->manager;
        struct port *p = manager_find_port(m, r->bdf);
        struct cxl_rootport rp;
        int k;

        if (!p || port_is_watchable(p)) {
                rediscovery_remove(s, r);
                return 0;
        }
        r->attempts++;
        k = rediscover_one(r->bdf, &rp);
        if (k >= 0 && rp.reason == PORT_WATCHABLE) {
                port_take_rediscovered(m, p, &rp);
                log_notice("%s: back after %" PRIu64 " rediscovery attempt%s, watching again", p->rp.bdf, r->attempts,
                           r->attempts == 1 ? "" : "s");
                rediscovery_remove(s, r);
                sources_port_changed(s, p);
                manager_port_changed(m, p);
                source_read_port(m, p, "rediscovery");
                (void)arming_evaluate_port(m, p);
                return 0;
        }
        /* Still gone: debug only, the device-gone message was logged once already. */
        if (k >= 0) {
                log_debug("%s: rediscovery attempt %" PRIu64 ": %s, next in %" PRIu64 " s", r->bdf, r->attempts,
                          port_reason_to_string(rp.reason) ?: "?", r->backoff_usec * 2 / 1000000);
                cxl_rootport_done(&rp);
        } else
                log_debug_errno(k, "%s: rediscovery attempt %" PRIu64 " failed: %m", r->bdf, r->attempts);
        k = rediscovery_schedule(s, r->bdf, false);
        if (k < 0)
                log_warning_errno(k, "%s: cannot schedule the next rediscovery: %m", r->bdf);
        return 0;
}

/* New root ports (hotplug, a driver loaded late): add them; known ones are left to their own rediscovery. */
static void scan_new_ports(struct sources *s)
{
        struct manager *m = s->manager;
        struct discover_options opts = { .writable = true };
        struct cxl_rootport *found = NULL;
        size_t n = 0, first_new = m->n_ports;
        int k;

        k = cxl_discover_rootports(&opts, &found, &n);
        if (k < 0) {
                log_warning_errno(k, "Rescan for new CXL root ports failed: %m");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                struct port *p = manager_find_port(m, found[i].bdf), **l;

                if (p) {
                        if (!port_is_watchable(p))
                                (void)rediscovery_schedule(s, p->rp.bdf, true);
                        continue;
                }
                l = realloc(m->ports, sizeof(*l) * (m->n_ports + 1));
                if (!l || port_new(m, &found[i], &p) < 0) {
                        if (l)
                                m->ports = l;
                        log_oom();
                        break;
                }
                m->ports = l;
                m->ports[m->n_ports++] = p;
                log_notice("%s (host bridge %s): new CXL root port, %s", p->rp.bdf, p->rp.host_bridge,
                           port_is_watchable(p) ? "watching" : port_reason_description(p->rp.reason));
                sources_port_changed(s, p);
                manager_port_changed(m, p);
                source_read_port(m, p, "new port");
        }
        cxl_rootports_free(found, n);
        /* All new ports with one walk of the buses: a driver loaded late may bring hundreds at once. */
        arming_evaluate_ports(m, first_new, m->n_ports - first_new);
}

static int on_settle(sd_event_source *es, uint64_t usec, void *userdata)
{
        struct sources *s = userdata;

        if (s->scan_new_ports) {
                s->scan_new_ports = false;
                scan_new_ports(s);
        }
        if (s->topology_dirty) {
                s->topology_dirty = false;
                arming_evaluate_all(s->manager);
        }
        return 0;
}

static void settle_soon(struct sources *s)
{
        struct manager *m = s->manager;

        if (!s->settle_timer) {
                if (sd_event_add_time(m->event, &s->settle_timer, CLOCK_MONOTONIC,
                                      now_monotonic(m->event) + SETTLE_USEC, 0, on_settle, s) < 0) {
                        /* No timer: do it now rather than not at all. */
                        on_settle(NULL, 0, s);
                        return;
                }
                (void)sd_event_source_set_description(s->settle_timer, "settle");
                return;
        }
        if (sd_event_source_get_enabled(s->settle_timer, NULL) > 0)
                return;         /* already pending: this change rides along */
        (void)sd_event_source_set_time(s->settle_timer, now_monotonic(m->event) + SETTLE_USEC);
        (void)sd_event_source_set_enabled(s->settle_timer, SD_EVENT_ONESHOT);
}

void source_rediscover(struct manager *m, struct port *p, const char *why)
{
        struct sources *s = m->sources;

        if (!s)
                return;
        if (p) {
                if (port_is_watchable(p))
                        return;
                log_debug("%s: rediscovery requested (%s)", p->rp.bdf, why);
                if (rediscovery_schedule(s, p->rp.bdf, true) < 0)
                        log_oom();
                return;
        }
        log_debug("Looking for new CXL root ports (%s)", why);
        s->scan_new_ports = true;
        settle_soon(s);
}

void source_topology_changed(struct manager *m, struct port *p, const char *why)
{
        struct sources *s = m->sources;

        if (!s)
                return;
        log_debug("%s: topology changed (%s)", p ? p->rp.bdf : "some port", why);
        s->topology_dirty = true;
        settle_soon(s);
}

static int on_gate_recheck(sd_event_source *es, uint64_t usec, void *userdata)
{
        struct sources *s = userdata;

        arming_evaluate_all(s->manager);
        (void)sd_event_source_set_time_relative(es, GATE_RECHECK_USEC);
        (void)sd_event_source_set_enabled(es, SD_EVENT_ONESHOT);
        return 0;
}

/* --- observers --- */

static void on_port_changed(struct manager *m, struct port *p, void *userdata)
{
        /* A port found gone (all-ones, SIGBUS) by any read: look for it again, with backoff. */
        if (p->state == PORT_STATE_NOT_WATCHABLE && p->rp.reason == PORT_DEVICE_GONE && m->sources &&
            !rediscovery_find(m->sources, p->rp.bdf))
                source_rediscover(m, p, "device gone");
}

static void on_config_reloaded(struct manager *m, void *userdata)
{
        /* arm= or on-unsafe= may have changed. */
        arming_evaluate_all(m);
}

/*
 * No periodic poll (poll-backstop=0 with an interrupt for every port): the slow timers that back up
 * uevents stop too, so the idle daemon does not wake at all; uevents still re-read the AER counters
 * and make the gate look again. Without a udev monitor they stay: nothing else would notice.
 */
static void on_polling_changed(struct manager *m, void *userdata)
{
        struct sources *s = m->sources;
        bool periodic = m->poll_timer_usec > 0 || !s->udev;

        if (s->aer)
                source_aer_set_periodic(s->aer, periodic);
        if (!s->gate_timer)
                return;
        if (!periodic)
                (void)sd_event_source_set_enabled(s->gate_timer, SD_EVENT_OFF);
        else if (sd_event_source_get_enabled(s->gate_timer, NULL) == 0) {
                (void)sd_event_source_set_time_relative(s->gate_timer, GATE_RECHECK_USEC);
                (void)sd_event_source_set_enabled(s->gate_timer, SD_EVENT_ONESHOT);
        }
}

static int sources_add(struct sources *s, struct source *src)
{
        struct source **l = realloc(s->sources, sizeof(*l) * (s->n_sources + 1));

        if (!l)
                return -ENOMEM;
        s->sources = l;
        s->sources[s->n_sources++] = src;
        return 0;
}

int sources_start(struct manager *m)
{
        struct manager_observer o = {
                .port_changed = on_port_changed,
                .config_reloaded = on_config_reloaded,
                .polling_changed = on_polling_changed,
        };
        struct sources *s;
        struct source *src;
        int k;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->manager = m;
        m->sources = s;

        /* Interrupt sources first: arming sets control bit 26 only for a port one of them serves. */
        for (char **spec = m->options.irq_sources; spec && *spec; spec++) {
                k = source_irq_new(m, *spec, &src);
                if (k < 0)
                        continue;       /* logged with the reason; polling covers the port */
                if (sources_add(s, src) < 0) {
                        src->free(src);
                        return -ENOMEM;
                }
        }

        k = source_aer_new(m, AER_INTERVAL_USEC, &src);
        if (k < 0)
                log_notice_errno(k, "AER counters cannot be watched, relying on polling and uevents: %m");
        else if (sources_add(s, src) < 0) {
                src->free(src);
                return -ENOMEM;
        } else
                s->aer = src;

        k = source_udev_new(m, &src);
        if (k < 0)
                log_notice_errno(k, "Cannot watch uevents (dax, memory, pci, cxl), relying on polling; the arming "
                                 "gate looks again every minute and after a reload: %m");
        else if (sources_add(s, src) < 0) {
                src->free(src);
                return -ENOMEM;
        } else
                s->udev = true;

        k = manager_add_observer(m, &o);
        if (k < 0)
                return k;

        k = sd_event_add_time_relative(m->event, &s->gate_timer, CLOCK_MONOTONIC, GATE_RECHECK_USEC, 0,
                                       on_gate_recheck, s);
        if (k < 0)
                return k;
        (void)sd_event_source_set_description(s->gate_timer, "gate-recheck");
        (void)sd_event_source_set_enabled(s->gate_timer, SD_EVENT_ONESHOT);

        arming_evaluate_all(m);
        /* Ports already gone at startup get the same rediscovery as those that go later. */
        for (size_t i = 0; i < m->n_ports; i++)
                on_port_changed(m, m->ports[i], NULL);
        return 0;
}

void source_aer_forward(struct manager *m, struct port *p)
{
        if (m->sources && m->sources->aer)
                source_aer_check_port(m->sources->aer, p);
}

void sources_free(struct manager *m)
{
        struct sources *s = m ? m->sources : NULL;

        if (!s)
                return;
        for (size_t i = 0; i < s->n_sources; i++)
                s->sources[i]->free(s->sources[i]);
        free(s->sources);
        while (s->n_rediscoveries > 0)
                rediscovery_remove(s, s->rediscoveries[0]);
        free(s->rediscoveries);
        sd_event_source_disable_unref(s->settle_timer);
        sd_event_source_disable_unref(s->gate_timer);
        free(s);
        m->sources = NULL;
}
