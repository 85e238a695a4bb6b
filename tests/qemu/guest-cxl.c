/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest-side view of the library's discovery and topology code on a real
 * kernel's sysfs: the host script asserts on these lines.
 *
 *   guest-cxl ports                  one PORT line per root port, CAP lines
 *   guest-cxl topology <bdf>         MEMDEV/REGION/DAX lines below the port
 *   guest-cxl hold <dev> <seconds>   keep a devdax device mapped (a user of it); on
 *                                    SIGUSR1 read the mapping again: TOUCH value=... or
 *                                    TOUCH SIGBUS once the kernel revoked it
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cxl-caparray.h"
#include "discover.h"
#include "regwin.h"
#include "topology.h"

static int cmd_ports(void)
{
        struct cxl_rootport *ports = NULL;
        size_t n = 0;
        int r;

        r = cxl_discover_rootports(NULL, &ports, &n);
        if (r < 0) {
                printf("ERROR cxl_discover_rootports: %s\n", strerror(-r));
                return 1;
        }
        for (size_t i = 0; i < n; i++) {
                const struct cxl_rootport *p = &ports[i];

                printf("PORT bdf=%s id=%04x:%04x watchable=%s reason=%s error=%d mapped=%s",
                       p->bdf, p->vendor, p->device, p->reason == PORT_WATCHABLE ? "yes" : "no",
                       port_reason_to_string(p->reason), p->error,
                       p->win ? "yes" : "no");
                if (p->win)
                        printf(" window=%zu", regwin_size(p->win));
                if (p->reason > PORT_NO_COMPONENT_BLOCK)
                        printf(" component=bar%u+0x%" PRIx64, p->component.bir, p->component.offset);
                printf(" description=\"%s\"\n", port_reason_description(p->reason));
                for (size_t c = 0; c < p->decode->caps.n; c++) {
                        const char *name = cxl_cap_id_to_string(p->decode->caps.cap[c].id);
                        printf("CAP bdf=%s id=%u name=%s version=%u offset=0x%x\n", p->bdf,
                               p->decode->caps.cap[c].id, name ? name : "unknown", p->decode->caps.cap[c].version,
                               p->decode->caps.cap[c].offset);
                }
        }
        printf("PORTS %zu\n", n);
        cxl_rootports_free(ports, n);
        return 0;
}

static int cmd_topology(const char *bdf)
{
        struct port_topology t = {};
        char path[128];
        int r;

        (void)snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
        r = port_topology_read(path, &t);
        if (r < 0) {
                printf("ERROR port_topology_read(%s): %s\n", path, strerror(-r));
                return 1;
        }
        for (size_t i = 0; i < t.n_memdevs; i++)
                printf("MEMDEV port=%s name=%s\n", bdf, t.memdevs[i]);
        for (size_t i = 0; i < t.n_regions; i++)
                printf("REGION port=%s name=%s active=%s\n", bdf, t.regions[i],
                       t.region_info && port_region_is_active(&t.region_info[i]) ? "yes" : "no");
        for (size_t i = 0; i < t.n_dax; i++) {
                const struct dax_device *d = &t.dax[i];
                printf("DAX port=%s name=%s mode=%s region=%s memdev=%s size=0x%" PRIx64 " blocks=%zu users=%d\n",
                       bdf, d->name, dax_mode_to_string(d->mode), d->region[0] ? d->region : "-",
                       d->memdev[0] ? d->memdev : "-", d->size, d->n_blocks, d->users);
        }
        printf("TOPOLOGY port=%s memdevs=%zu regions=%zu dax=%zu\n", bdf, t.n_memdevs, t.n_regions, t.n_dax);
        port_topology_done(&t);
        return 0;
}

/* CXL.mem traffic through devdax: a shared mapping of one 2 MiB page (the device's alignment). */
static volatile sig_atomic_t touch_requested;
static sigjmp_buf touch_fault;

static void on_usr1(int sig)
{
        touch_requested = 1;
}

static void on_bus(int sig)
{
        siglongjmp(touch_fault, 1);
}

static int cmd_hold(const char *dev, unsigned seconds)
{
        const size_t len = 2u << 20;
        volatile uint8_t *p;
        time_t end;
        int fd;

        fd = open(dev, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                printf("ERROR open %s: %s\n", dev, strerror(errno));
                return 1;
        }
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
                printf("ERROR mmap %s: %s\n", dev, strerror(errno));
                return 1;
        }
        p[0] = 0x5a;
        /* Handlers before the HOLD line: whoever waits for it may signal at once. */
        signal(SIGUSR1, on_usr1);
        signal(SIGBUS, on_bus);
        printf("HOLD %s mapped pid=%d value=0x%02x\n", dev, (int)getpid(), p[0]);
        fflush(stdout);
        end = time(NULL) + seconds;
        while (time(NULL) < end) {
                sleep(1);       /* cut short by SIGUSR1 */
                if (!touch_requested)
                        continue;
                touch_requested = 0;
                /* A revoked devdax mapping faults with SIGBUS on the next access. */
                if (sigsetjmp(touch_fault, 1) == 0)
                        printf("TOUCH %s value=0x%02x\n", dev, p[0]);
                else
                        printf("TOUCH %s SIGBUS\n", dev);
                fflush(stdout);
        }
        return 0;
}

int main(int argc, char **argv)
{
        if (argc == 4 && !strcmp(argv[1], "hold"))
                return cmd_hold(argv[2], (unsigned)strtoul(argv[3], NULL, 0));
        if (argc == 2 && !strcmp(argv[1], "ports"))
                return cmd_ports();
        if (argc == 3 && !strcmp(argv[1], "topology"))
                return cmd_topology(argv[2]);
        fprintf(stderr, "usage: %s ports | topology BDF\n", argv[0]);
        return 2;
}
