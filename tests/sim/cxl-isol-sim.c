/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cxl-isol-sim: a simulated CXL host for tests and demos, and the injector
 * that plays the hardware's part. See tests/sim/README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cxl-caparray.h"
#include "cxl-ras.h"
#include "cxl-regs.h"
#include "cxl-ti-ops.h"
#include "cxl-ti.h"
#include "regmodel.h"
#include "regwin.h"
#include "sim-host.h"
#include "sim-kernel.h"
#include "sim-sysfs.h"
#include "sim-uevent.h"
#include "sim-uio.h"

#ifndef UMOCKDEV_PRELOAD
#define UMOCKDEV_PRELOAD "libumockdev-preload.so.0"
#endif
#ifndef SIM_KERNEL_PRELOAD
#define SIM_KERNEL_PRELOAD "libcxlisolsim-kernel.so"
#endif

static const char *arg_testbed;

static void usage(FILE *f)
{
        fputs("Usage: cxl-isol-sim COMMAND [OPTIONS]\n"
              "\n"
              "Testbed (a directory; found by --testbed DIR, else $CXL_ISOL_SIM_TESTBED, else $UMOCKDEV_DIR):\n"
              "  create --dir DIR [--ports N] [--dax-per-port K] [--port-opt I:OPT[,OPT...]]...\n"
              "         N <= 256 (16 per PCI domain), K <= 4 regions with a dax device each per port\n"
              "         OPT: no-ti no-mem-isolation no-interrupt msgnum=0|1 config-64 no-resource bir1\n"
              "              offset=HEX mem=devdax|system-ram|none\n"
              "              uio (a function DDDD:BB+1:00.1 below the port, bound to uio_pci_generic)\n"
              "  run [--testbed DIR] [--kernel] -- CMD [ARGS...]\n"
              "         run CMD with the testbed as /sys; with --kernel, writes to dax bind/unbind and\n"
              "         memoryN/state act synchronously as in the kernel\n"
              "         ($CXL_ISOL_SIM_REFUSE=unbind:daxX.Y,offline:N makes those fail with EBUSY)\n"
              "  env [--testbed DIR]                    print UMOCKDEV_DIR=... LD_PRELOAD=...\n"
              "\n"
              "Hardware side (the port itself):\n"
              "  inject --port BDF --kind mem-link-down|mem-timeout|cache-link-down|cache-timeout\n"
              "         [--uevents] [--busy-ms N] [--irq]   (--busy-ms: RP Busy held N ms after isolating)\n"
              "         --irq: then the function below the port (--port-opt I:uio) raises its interrupt\n"
              "         --uevents: then the kernel's failed AER recovery (BEGIN_RECOVERY on the\n"
              "         memory device, FAILED_RECOVERY on the root port)\n"
              "  irq    --port BDF                        the uio function below the port raises its interrupt\n"
              "  busy   --port BDF (--ms N | --on | --off)   RP Busy held N ms, or set/cleared\n"
              "  gone   --port BDF                        config and registers read all-ones\n"
              "  truncate --port BDF                      BAR file truncated: mappers get SIGBUS\n"
              "  restore --port BDF                       the port is back at reset values (new files)\n"
              "\n"
              "Software side (what an operator or the daemon would do):\n"
              "  status --port BDF                        decoded T&I and RAS registers\n"
              "  clear  --port BDF [--timeout-ms N]       cxl_ti_clear_isolation()\n"
              "  arm    --port BDF [--no-interrupt] [--timeout-value HEX] [--cache]\n"
              "         CXL.mem isolation (+ link down, interrupt, ERR_COR where supported);\n"
              "         --cache also CXL.cache isolation and timeout, as firmware might\n"
              "\n"
              "Kernel side (sysfs changes with their uevents):\n"
              "  dax --name daxX.Y --mode devdax|system-ram\n"
              "  memblock --index N --state online|offline\n"
              "  uevent --sysfs PATH --action ACTION [KEY=VALUE...]\n"
              "  kernel [--refuse-unbind daxX.Y]... [--max-events N]\n"
              "         stay in the foreground and act on writes to dax driver bind/unbind files and\n"
              "         memoryN/state as the kernel would (prints \"ready\" once watching)\n"
              "\n"
              "Exit status: 0 done, 1 failed, 2 usage, 3 clear: not isolated, 4 clear: RP Busy timeout;\n"
              "irq and inject --irq: 3 INTx still masked (not delivered), 4 no process has /dev/uioN open.\n",
              f);
}

static const char *testbed(void)
{
        const char *t = arg_testbed;

        if (!t)
                t = getenv("CXL_ISOL_SIM_TESTBED");
        if (!t)
                t = getenv("UMOCKDEV_DIR");
        return t;
}

static int fail(int r, const char *what)
{
        fprintf(stderr, "cxl-isol-sim: %s: %s\n", what, strerror(r < 0 ? -r : r));
        return 1;
}

/* --- create --- */

static int apply_port_opt(struct sim_host_spec *spec, const char *arg)
{
        _cleanup_free_ char *copy = strdup(arg);
        char *colon, *save = NULL;
        unsigned long i;

        if (!copy)
                return -ENOMEM;
        colon = strchr(copy, ':');
        if (!colon)
                return -EINVAL;
        *colon = '\0';
        i = strtoul(copy, NULL, 10);
        if (i >= spec->n_ports)
                return -ERANGE;
        struct sim_port_spec *p = &spec->port[i];

        for (char *o = strtok_r(colon + 1, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
                if (strcmp(o, "no-ti") == 0)
                        p->regs.ti = false;
                else if (strcmp(o, "no-mem-isolation") == 0)
                        p->regs.mem_isolation = false;
                else if (strcmp(o, "no-interrupt") == 0)
                        p->regs.interrupt = false;
                else if (strcmp(o, "config-64") == 0)
                        p->config_truncated = true;
                else if (strcmp(o, "no-resource") == 0)
                        p->resource_missing = true;
                else if (strcmp(o, "bir1") == 0)
                        p->regs.bir = 1;
                else if (strncmp(o, "msgnum=", 7) == 0)
                        p->regs.interrupt_msgnum = (uint8_t)strtoul(o + 7, NULL, 10);
                else if (strncmp(o, "offset=", 7) == 0)
                        p->regs.block_offset = strtoull(o + 7, NULL, 16);
                else if (strcmp(o, "mem=devdax") == 0)
                        p->mem = SIM_MEM_DEVDAX;
                else if (strcmp(o, "mem=system-ram") == 0)
                        p->mem = SIM_MEM_SYSTEM_RAM;
                else if (strcmp(o, "mem=none") == 0)
                        p->mem = SIM_MEM_NONE;
                else if (strcmp(o, "uio") == 0)
                        p->uio = true;
                else
                        return -EINVAL;
        }
        return 0;
}

static int cmd_create(int argc, char **argv)
{
        static const struct option opts[] = {
                { "dir", required_argument, NULL, 'd' },
                { "ports", required_argument, NULL, 'n' },
                { "port-opt", required_argument, NULL, 'o' },
                { "dax-per-port", required_argument, NULL, 'k' },
                {}
        };
        const char *dir = NULL;
        unsigned n = 4, k = 1;
        char *port_opts[SIM_MAX_PORTS * 2];
        unsigned n_opts = 0;
        struct sim_host_spec spec;
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'd':
                        dir = optarg;
                        break;
                case 'n':
                        n = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'k':
                        k = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'o':
                        if (n_opts == ELEMENTSOF(port_opts))
                                return fail(-E2BIG, "--port-opt");
                        port_opts[n_opts++] = optarg;
                        break;
                default:
                        return 2;
                }
        }
        if (!dir)
                dir = arg_testbed;
        if (!dir || n == 0 || n > SIM_MAX_PORTS || k == 0 || k > SIM_MAX_DAX_PER_PORT) {
                fprintf(stderr, "cxl-isol-sim create: need --dir DIR, 1..%u --ports and 1..%u --dax-per-port\n",
                        SIM_MAX_PORTS, SIM_MAX_DAX_PER_PORT);
                return 2;
        }
        sim_host_spec_default(n, &spec);
        spec.dax_per_port = k;
        for (unsigned i = 0; i < n_opts; i++) {
                r = apply_port_opt(&spec, port_opts[i]);
                if (r < 0)
                        return fail(r, port_opts[i]);
        }
        r = sim_host_create(dir, &spec);
        if (r < 0)
                return fail(r, dir);
        {
                /* uevent sockets live at DIR/event<fd>: an AF_UNIX path has 107 usable bytes */
                char abs[PATH_MAX];
                if (realpath(dir, abs) && strlen(abs) + STRLEN("/event65535") >= 108)
                        fprintf(stderr, "cxl-isol-sim: warning: %s is too long a path for uevent sockets; "
                                "monitors in this testbed will not receive uevents\n", abs);
        }
        for (unsigned i = 0; i < n; i++) {
                struct sim_port_layout l;
                sim_port_layout(i, &l);
                printf("port %s %s\n", l.bdf, l.sysfs);
        }
        return 0;
}

/* --- run / env --- */

/*
 * UMOCKDEV_DIR and LD_PRELOAD for a process in the testbed: the kernel side
 * of sysfs writes first (it must see "/sys/..." paths before umockdev
 * redirects them), then umockdev's library, then whatever was there.
 */
static int preload_env(const char *tb, bool kernel, char **ret_preload)
{
        const char *old = getenv("LD_PRELOAD");
        bool want_kernel = kernel && !(old && strstr(old, "libcxlisolsim-kernel"));
        bool want_umockdev = !(old && strstr(old, "libumockdev-preload"));

        if (setenv("UMOCKDEV_DIR", tb, 1) < 0)
                return -errno;
        if (asprintf(ret_preload, "%s%s%s%s%s", want_kernel ? SIM_KERNEL_PRELOAD : "",
                     want_kernel && want_umockdev ? ":" : "", want_umockdev ? UMOCKDEV_PRELOAD : "",
                     (want_kernel || want_umockdev) && old && *old ? ":" : "", old ? old : "") < 0)
                return -ENOMEM;
        return 0;
}

static int cmd_run(int argc, char **argv)
{
        _cleanup_free_ char *preload = NULL;
        char abs[PATH_MAX];
        const char *tb = testbed();
        bool kernel = false;
        int i, r;

        /* opt-in: tests written before it existed play the kernel themselves, from the file contents */
        for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (strcmp(argv[i], "--kernel") == 0)
                        kernel = true;
        if (!tb || i + 1 >= argc) {
                fprintf(stderr, "cxl-isol-sim run: need a testbed and -- CMD\n");
                return 2;
        }
        if (!realpath(tb, abs))
                return fail(-errno, tb);
        r = preload_env(abs, kernel, &preload);
        if (r < 0)
                return fail(r, "environment");
        if (setenv("LD_PRELOAD", preload, 1) < 0)
                return fail(-errno, "environment");
        execvp(argv[i + 1], argv + i + 1);
        /* the shell's convention: 127 command not found, 126 found but not runnable */
        r = -errno;
        (void)fail(r, argv[i + 1]);
        return r == -ENOENT ? 127 : 126;
}

static int cmd_env(void)
{
        _cleanup_free_ char *preload = NULL;
        char abs[PATH_MAX];
        const char *tb = testbed();
        int r;

        if (!tb)
                return fail(-ENOENT, "no testbed");
        if (!realpath(tb, abs))
                return fail(-errno, tb);
        r = preload_env(abs, false, &preload);
        if (r < 0)
                return fail(r, "environment");
        printf("UMOCKDEV_DIR=%s\nLD_PRELOAD=%s\n", abs, preload);
        return 0;
}

/* --- the port's registers, as the hardware sees them --- */

struct port_regs {
        struct sim_port_record rec;
        char resource[PATH_MAX];
        int fd;
        uint8_t *map;
        size_t map_len;
        struct regmodel *model;
};

static void port_regs_done(struct port_regs *p)
{
        regmodel_free(p->model);
        if (p->map)
                (void)munmap(p->map, p->map_len);
        if (p->fd >= 0)
                (void)close(p->fd);
}

/* Map the whole BAR file of a port and attach the model to its component block. */
static int port_regs_open(const char *tb, const char *bdf, struct port_regs *ret)
{
        struct port_regs p = { .fd = -1 };
        struct stat st;
        int r;

        r = sim_port_lookup(tb, bdf, &p.rec);
        if (r < 0)
                return r;
        r = sim_path(tb, p.rec.resource_path, p.resource, sizeof(p.resource));
        if (r < 0)
                return r;
        p.fd = open(p.resource, O_RDWR | O_CLOEXEC);
        if (p.fd < 0)
                return -errno;
        if (fstat(p.fd, &st) < 0 || (uint64_t)st.st_size < p.rec.block_offset + CXL_COMPONENT_BLOCK_SIZE) {
                r = st.st_size == 0 ? -ENXIO : -EBADMSG;      /* truncated before */
                port_regs_done(&p);
                return r;
        }
        p.map_len = (size_t)st.st_size;
        p.map = mmap(NULL, p.map_len, PROT_READ | PROT_WRITE, MAP_SHARED, p.fd, 0);
        if (p.map == MAP_FAILED) {
                p.map = NULL;
                r = -errno;
                port_regs_done(&p);
                return r;
        }
        r = regmodel_attach((volatile uint32_t *)(p.map + p.rec.block_offset), CXL_COMPONENT_BLOCK_SIZE, &p.model);
        if (r < 0) {
                port_regs_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

static const char *port_arg(int argc, char **argv, const struct option *extra, size_t n_extra,
                            void (*cb)(int c, const char *arg, void *ud), void *ud)
{
        struct option opts[16] = { { "port", required_argument, NULL, 'p' } };
        const char *port = NULL;
        int c;

        for (size_t i = 0; i < n_extra && i + 2 < ELEMENTSOF(opts); i++)
                opts[i + 1] = extra[i];
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 'p')
                        port = optarg;
                else if (c == '?')
                        return NULL;
                else if (cb)
                        cb(c, optarg, ud);
        }
        return port;
}

static int parse_kind(const char *s, enum regmodel_isolation *ret)
{
        static const struct {
                const char *name;
                enum regmodel_isolation kind;
        } kinds[] = {
                { "mem-link-down", REGMODEL_MEM_LINK_DOWN },
                { "mem-timeout", REGMODEL_MEM_TIMEOUT },
                { "cache-link-down", REGMODEL_CACHE_LINK_DOWN },
                { "cache-timeout", REGMODEL_CACHE_TIMEOUT },
        };

        for (size_t i = 0; s && i < ELEMENTSOF(kinds); i++)
                if (strcmp(s, kinds[i].name) == 0) {
                        *ret = kinds[i].kind;
                        return 0;
                }
        return -EINVAL;
}

struct inject_args {
        const char *kind;
        bool uevents;
        bool irq;
        long busy_ms;
};

static void take_inject(int c, const char *arg, void *ud)
{
        struct inject_args *a = ud;

        if (c == 'k')
                a->kind = arg;
        else if (c == 'u')
                a->uevents = true;
        else if (c == 'b')
                a->busy_ms = strtol(arg, NULL, 10);
        else if (c == 'i')
                a->irq = true;
}

/* The interrupt of the uio function below port `index`; the exit status of `irq` (README). */
static int fire_irq(const char *tb, const char *bdf, unsigned index)
{
        struct sim_port_layout l;
        uint32_t count = 0;
        int r;

        sim_port_layout(index, &l);
        r = sim_uio_fire(tb, &l, &count);
        if (r == -EAGAIN) {
                printf("%s: interrupt of %s not delivered: INTx is masked (not unmasked since the last one)\n", bdf,
                       l.uio_bdf);
                return 3;
        }
        if (r == -ENXIO) {
                printf("%s: interrupt of %s counted, but no process has /dev/%s open\n", bdf, l.uio_bdf, l.uio_name);
                return 4;
        }
        if (r < 0)
                return fail(r, l.uio_bdf);
        printf("%s: interrupt of %s delivered (/dev/%s count %" PRIu32 ")\n", bdf, l.uio_bdf, l.uio_name, count);
        return 0;
}

static int send_uevent(const char *tb, const char *devpath, const char *action, const char *subsystem,
                       char *const *extra, size_t n);

/* What pcie_do_recovery() sends when a fatal error on the link cannot be recovered. */
static int send_failed_recovery(const char *tb, unsigned index)
{
        struct sim_port_layout l;
        char *begin[] = { "ERROR_EVENT=BEGIN_RECOVERY", "DEVICE_ONLINE=0" };
        char *failed[] = { "ERROR_EVENT=FAILED_RECOVERY", "DEVICE_ONLINE=0" };
        int r;

        sim_port_layout(index, &l);
        r = send_uevent(tb, l.ep_sysfs, "change", "pci", begin, ELEMENTSOF(begin));
        if (r != 0)
                return r;
        return send_uevent(tb, l.sysfs, "change", "pci", failed, ELEMENTSOF(failed));
}

static int cmd_inject(int argc, char **argv)
{
        static const struct option extra[] = {
                { "kind", required_argument, NULL, 'k' },
                { "uevents", no_argument, NULL, 'u' },
                { "busy-ms", required_argument, NULL, 'b' },
                { "irq", no_argument, NULL, 'i' },
        };
        struct inject_args a = {};
        const char *bdf = port_arg(argc, argv, extra, ELEMENTSOF(extra), take_inject, &a), *kind_s = a.kind;
        const char *tb = testbed();
        enum regmodel_isolation kind;
        struct port_regs p;
        uint32_t ctl = 0;
        int r, isolated;

        if (!bdf || !tb || parse_kind(kind_s, &kind) < 0) {
                fprintf(stderr, "cxl-isol-sim inject: need a testbed, --port BDF and a valid --kind\n");
                return 2;
        }
        r = port_regs_open(tb, bdf, &p);
        if (r < 0)
                return fail(r, bdf);

        if (kind == REGMODEL_MEM_LINK_DOWN || kind == REGMODEL_CACHE_LINK_DOWN) {
                /* Link loss: the port's RAS logs it (REINIT threshold, the retry that gave up) with a flit header. */
                uint32_t log[CXL_RAS_HEADER_LOG_DWORDS];
                for (unsigned i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++)
                        log[i] = 0x5100d000u + i;
                r = regmodel_hw_ras_error(p.model, 1u << 8, log);
                if (r < 0 && r != -EOPNOTSUPP) {
                        port_regs_done(&p);
                        return fail(r, "RAS");
                }
                /* and AER sees a surprise down (fatal by the default severity) */
                (void)sim_aer_count(tb, &p.rec, "fatal", "SDES");
        }

        isolated = regmodel_hw_isolate(p.model, kind);
        if (isolated < 0) {
                port_regs_done(&p);
                return fail(isolated, "isolate");
        }
        if (isolated && a.busy_ms > 0)
                (void)regmodel_hw_set_busy(p.model, 1);
        if (regmodel_ti_offset(p.model))
                (void)regmodel_read32(p.model, regmodel_ti_offset(p.model) + CXL_TI_CONTROL, &ctl);
        if (isolated && (ctl & CXL_TI_CTL_ERRCOR_SIGNALING_ENABLE))
                (void)sim_aer_count(tb, &p.rec, "correctable", "CorrIntErr");

        printf("%s: %s\n", bdf, isolated ? "isolated" : "not isolated (isolation not enabled for this event)");
        fflush(stdout);
        if (a.uevents && (r = send_failed_recovery(tb, p.rec.index)) != 0) {
                port_regs_done(&p);
                return r;
        }
        /* The function signals after the port isolated: whoever reads the status then sees it set. */
        if (a.irq && isolated && (!p.rec.spec.uio || (r = fire_irq(tb, bdf, p.rec.index)) != 0)) {
                if (!p.rec.spec.uio)
                        fprintf(stderr, "cxl-isol-sim inject: %s has no uio function (--port-opt I:uio)\n", bdf);
                port_regs_done(&p);
                return p.rec.spec.uio ? r : 1;
        }
        fflush(stdout);
        if (isolated && a.busy_ms > 0) {
                /* the port drains what was in flight before it lets software end isolation */
                struct timespec ts = { .tv_sec = a.busy_ms / 1000, .tv_nsec = (a.busy_ms % 1000) * 1000000L };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
                (void)regmodel_hw_set_busy(p.model, 0);
        }
        port_regs_done(&p);
        return 0;
}

static int cmd_irq(int argc, char **argv)
{
        const char *bdf = port_arg(argc, argv, NULL, 0, NULL, NULL);
        const char *tb = testbed();
        struct sim_port_record rec;
        int r;

        if (!bdf || !tb) {
                fprintf(stderr, "cxl-isol-sim irq: need a testbed and --port BDF\n");
                return 2;
        }
        r = sim_port_lookup(tb, bdf, &rec);
        if (r < 0)
                return fail(r, bdf);
        if (!rec.spec.uio) {
                fprintf(stderr, "cxl-isol-sim irq: %s has no uio function (--port-opt I:uio)\n", bdf);
                return 1;
        }
        return fire_irq(tb, bdf, rec.index);
}

struct busy_args {
        long ms;
        int on;         /* -1 unset, 0 off, 1 on */
};

static void take_busy(int c, const char *arg, void *ud)
{
        struct busy_args *b = ud;

        if (c == 'm')
                b->ms = strtol(arg, NULL, 10);
        else if (c == '1')
                b->on = 1;
        else if (c == '0')
                b->on = 0;
}

static int cmd_busy(int argc, char **argv)
{
        static const struct option extra[] = {
                { "ms", required_argument, NULL, 'm' },
                { "on", no_argument, NULL, '1' },
                { "off", no_argument, NULL, '0' },
        };
        struct busy_args b = { .ms = -1, .on = -1 };
        const char *bdf = port_arg(argc, argv, extra, ELEMENTSOF(extra), take_busy, &b);
        const char *tb = testbed();
        struct port_regs p;
        int r;

        if (!bdf || !tb || (b.ms < 0 && b.on < 0)) {
                fprintf(stderr, "cxl-isol-sim busy: need a testbed, --port BDF and --ms N, --on or --off\n");
                return 2;
        }
        r = port_regs_open(tb, bdf, &p);
        if (r < 0)
                return fail(r, bdf);
        r = regmodel_hw_set_busy(p.model, b.ms >= 0 ? 1 : b.on);
        if (r >= 0 && b.ms >= 0) {
                struct timespec ts = { .tv_sec = b.ms / 1000, .tv_nsec = (b.ms % 1000) * 1000000L };
                while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                        ;
                r = regmodel_hw_set_busy(p.model, 0);
        }
        port_regs_done(&p);
        return r < 0 ? fail(r, "RP Busy") : 0;
}

static int cmd_gone(int argc, char **argv)
{
        const char *bdf = port_arg(argc, argv, NULL, 0, NULL, NULL), *tb = testbed();
        struct port_regs p;
        char cfg_path[PATH_MAX];
        _cleanup_free_ uint8_t *ones = NULL;
        struct stat st;
        int r;

        if (!bdf || !tb)
                return 2;
        r = port_regs_open(tb, bdf, &p);
        if (r < 0)
                return fail(r, bdf);
        /* every dword of the BAR, not only the block: nothing answers any more */
        memset(p.map, 0xff, p.map_len);
        port_regs_done(&p);

        r = sim_path(tb, p.rec.config_path, cfg_path, sizeof(cfg_path));
        if (r < 0 || stat(cfg_path, &st) < 0)
                return fail(r < 0 ? r : -errno, "config");
        ones = malloc((size_t)st.st_size);
        if (!ones)
                return fail(-ENOMEM, "config");
        memset(ones, 0xff, (size_t)st.st_size);
        r = sim_write_file(tb, p.rec.config_path, ones, (size_t)st.st_size);
        return r < 0 ? fail(r, "config") : 0;
}

static int cmd_truncate(int argc, char **argv)
{
        const char *bdf = port_arg(argc, argv, NULL, 0, NULL, NULL), *tb = testbed();
        struct sim_port_record rec;
        char path[PATH_MAX];
        int r;

        if (!bdf || !tb)
                return 2;
        r = sim_port_lookup(tb, bdf, &rec);
        if (r < 0)
                return fail(r, bdf);
        r = sim_path(tb, rec.resource_path, path, sizeof(path));
        if (r < 0)
                return fail(r, bdf);
        /* Same inode: processes that mapped it fault on their next access. */
        if (truncate(path, 0) < 0)
                return fail(-errno, path);
        return 0;
}

static int cmd_restore(int argc, char **argv)
{
        const char *bdf = port_arg(argc, argv, NULL, 0, NULL, NULL), *tb = testbed();
        struct sim_port_record rec;
        int r;

        if (!bdf || !tb)
                return 2;
        r = sim_port_lookup(tb, bdf, &rec);
        if (r < 0)
                return fail(r, bdf);
        r = sim_port_restore(tb, &rec);
        return r < 0 ? fail(r, bdf) : 0;
}

/* --- software side --- */

/* Open the port's block the way the daemon does: through a register window. */
static int open_window(const char *tb, const char *bdf, unsigned flags, struct regwin **ret_w, uint32_t *ret_ti,
                       uint32_t *ret_ras)
{
        struct sim_port_record rec;
        char path[PATH_MAX];
        _cleanup_free_ uint8_t *block = malloc(CXL_COMPONENT_BLOCK_SIZE);
        _cleanup_free_ struct cxl_caparray *a = malloc(sizeof(*a));
        struct regwin *w = NULL;
        struct cxl_cap cap;
        int r;

        if (!block || !a)
                return -ENOMEM;
        r = sim_port_lookup(tb, bdf, &rec);
        if (r < 0)
                return r;
        r = sim_path(tb, rec.resource_path, path, sizeof(path));
        if (r < 0)
                return r;
        r = regwin_open_resource(path, rec.block_offset, CXL_COMPONENT_BLOCK_SIZE, flags, &w);
        if (r < 0)
                return r;
        r = regwin_copy(w, 0, regwin_size(w), block);
        if (r >= 0)
                r = cxl_caparray_walk(block, regwin_size(w), a);
        if (r < 0) {
                regwin_free(w);
                return r;
        }
        *ret_ti = cxl_caparray_find(a, CXL_CM_CAP_TIMEOUT_ISOLATION, &cap) >= 0 ? cap.offset : 0;
        *ret_ras = cxl_caparray_find(a, CXL_CM_CAP_RAS, &cap) >= 0 ? cap.offset : 0;
        *ret_w = w;
        return 0;
}

static int cmd_status(int argc, char **argv)
{
        const char *bdf = port_arg(argc, argv, NULL, 0, NULL, NULL), *tb = testbed();
        struct regwin *w;
        uint32_t ti, ras, cap, ctl, sts;
        char buf[256];
        int r;

        if (!bdf || !tb)
                return 2;
        r = open_window(tb, bdf, 0, &w, &ti, &ras);
        if (r < 0)
                return fail(r, bdf);
        printf("port=%s\n", bdf);
        if (ti) {
                struct cxl_ti_capability c;
                if ((r = regwin_read32(w, ti + CXL_TI_CAPABILITY, &cap)) < 0 ||
                    (r = regwin_read32(w, ti + CXL_TI_CONTROL, &ctl)) < 0 ||
                    (r = regwin_read32(w, ti + CXL_TI_STATUS, &sts)) < 0) {
                        regwin_free(w);
                        return fail(r, "T&I");
                }
                cxl_ti_capability_decode(cap, &c);
                printf("ti_offset=0x%x\ncapability=0x%08x mem_isolation=%d link_down=%d interrupt=%d msgnum=%u\n",
                       ti, cap, c.mem_isolation, c.mem_isolation_linkdown, c.interrupt, c.interrupt_msgnum);
                printf("control=0x%08x\n", ctl);
                printf("status=%s\n", cxl_ti_status_to_string(sts, buf, sizeof(buf)));
                printf("kind=%s\n", cxl_isolation_kind_to_string(cxl_ti_status_kind(sts)));
        } else
                printf("ti_offset=none\n");
        if (ras) {
                _cleanup_free_ uint8_t *raw = malloc(CXL_RAS_LENGTH);
                struct cxl_ras_snapshot s;
                if (!raw || (r = regwin_copy(w, ras, CXL_RAS_LENGTH, raw)) < 0 ||
                    (r = cxl_ras_decode(raw, CXL_RAS_LENGTH, &s)) < 0) {
                        regwin_free(w);
                        return fail(raw ? r : -ENOMEM, "RAS");
                }
                printf("ras_ue_status=0x%08x (%s)\n", s.ue_status,
                       cxl_ras_ue_status_to_string(s.ue_status, buf, sizeof(buf)));
                printf("ras_first_error=0x%08x\nras_header_log=", s.first_error);
                for (unsigned i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++)
                        printf("%s%08x", i ? " " : "", s.header_log[i]);
                printf("\n");
        }
        regwin_free(w);
        return 0;
}

static void take_long(int c, const char *arg, void *ud)
{
        *(long *)ud = strtol(arg, NULL, 10);
}

static int cmd_clear(int argc, char **argv)
{
        static const struct option extra[] = { { "timeout-ms", required_argument, NULL, 't' } };
        long timeout_ms = 2000;
        const char *bdf = port_arg(argc, argv, extra, 1, take_long, &timeout_ms), *tb = testbed();
        struct regwin *w;
        uint32_t ti, ras, after = 0;
        char buf[128];
        int r;

        if (!bdf || !tb || timeout_ms < 0)
                return 2;
        r = open_window(tb, bdf, REGWIN_WRITABLE, &w, &ti, &ras);
        if (r < 0)
                return fail(r, bdf);
        if (!ti) {
                regwin_free(w);
                return fail(-EOPNOTSUPP, "no Timeout & Isolation capability");
        }
        r = cxl_ti_clear_isolation(w, ti, (uint64_t)timeout_ms * 1000, 1000, &after);
        regwin_free(w);
        if (r == -EALREADY) {
                fprintf(stderr, "cxl-isol-sim: clear: %s is not isolated\n", bdf);
                return 3;
        }
        if (r == -ETIMEDOUT) {
                fprintf(stderr, "cxl-isol-sim: clear: RP Busy stayed set for %ld ms, nothing written\n", timeout_ms);
                return 4;
        }
        if (r < 0)
                return fail(r, "clear");
        printf("%s: cleared, status %s\n", bdf, cxl_ti_status_to_string(after, buf, sizeof(buf)));
        return 0;
}

struct arm_args {
        bool no_interrupt;
        bool cache;
        long timeout_value;
};

static void take_arm(int c, const char *arg, void *ud)
{
        struct arm_args *a = ud;

        if (c == 'n')
                a->no_interrupt = true;
        else if (c == 'c')
                a->cache = true;
        else if (c == 't')
                a->timeout_value = strtol(arg, NULL, 16);
}

static int cmd_arm(int argc, char **argv)
{
        static const struct option extra[] = {
                { "no-interrupt", no_argument, NULL, 'n' },
                { "cache", no_argument, NULL, 'c' },
                { "timeout-value", required_argument, NULL, 't' },
        };
        struct arm_args a = { .timeout_value = -1 };
        const char *bdf = port_arg(argc, argv, extra, ELEMENTSOF(extra), take_arm, &a), *tb = testbed();
        struct regwin *w;
        uint32_t ti, ras, cap, ctl;
        int r;

        if (!bdf || !tb)
                return 2;
        r = open_window(tb, bdf, REGWIN_WRITABLE, &w, &ti, &ras);
        if (r < 0)
                return fail(r, bdf);
        if (!ti || regwin_read32(w, ti + CXL_TI_CAPABILITY, &cap) < 0) {
                regwin_free(w);
                return fail(-EOPNOTSUPP, "no Timeout & Isolation capability");
        }
        struct cxl_ti_arm_request req = {
                .mem_isolation = true,
                .mem_isolation_linkdown = !!(cap & CXL_TI_CAP_MEM_ISOLATION_LINKDOWN),
                .interrupt = !a.no_interrupt && (cap & CXL_TI_CAP_INTERRUPT),
                .errcor_signaling = !!(cap & CXL_TI_CAP_ERRCOR_SIGNALING),
                .mem_timeout = a.timeout_value >= 0,
                .mem_timeout_value = a.timeout_value >= 0 ? (uint8_t)a.timeout_value : 0,
        };
        r = cxl_ti_arm(w, ti, &req, &ctl);
        if (r >= 0 && a.cache) {
                /* CXL.cache isolation: not something cxl-isold arms; firmware may have */
                uint32_t bits = 0;
                if (cap & CXL_TI_CAP_CACHE_ISOLATION)
                        bits |= CXL_TI_CTL_CACHE_ISOLATION_ENABLE;
                if (cap & CXL_TI_CAP_CACHE_ISOLATION_LINKDOWN)
                        bits |= CXL_TI_CTL_CACHE_ISOLATION_LINKDOWN_ENABLE;
                if (cap & CXL_TI_CAP_CACHE_TIMEOUT)
                        bits |= CXL_TI_CTL_CACHE_TIMEOUT_ENABLE;
                r = bits ? regwin_write32(w, ti + CXL_TI_CONTROL, ctl | bits) : -EOPNOTSUPP;
                if (r >= 0)
                        r = regwin_read32(w, ti + CXL_TI_CONTROL, &ctl);
        }
        regwin_free(w);
        if (r < 0)
                return fail(r, "arm");
        printf("%s: armed, control 0x%08x\n", bdf, ctl);
        return 0;
}

/* --- kernel side --- */

static int send_uevent(const char *tb, const char *devpath, const char *action, const char *subsystem,
                       char *const *extra, size_t n)
{
        int r = sim_uevent_send(tb, devpath, action, subsystem, extra, n);

        if (r < 0)
                return fail(r, devpath);
        printf("uevent %s %s -> %d listener(s)\n", action, devpath, r);
        return 0;
}

static int cmd_dax(int argc, char **argv)
{
        static const struct option opts[] = {
                { "name", required_argument, NULL, 'n' },
                { "mode", required_argument, NULL, 'm' },
                {}
        };
        const char *name = NULL, *mode_s = NULL, *tb = testbed();
        struct sim_dax_change ch;
        enum sim_mem_mode mode;
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 'n')
                        name = optarg;
                else if (c == 'm')
                        mode_s = optarg;
                else
                        return 2;
        }
        if (!name || !mode_s || !tb)
                return 2;
        if (strcmp(mode_s, "devdax") == 0)
                mode = SIM_MEM_DEVDAX;
        else if (strcmp(mode_s, "system-ram") == 0)
                mode = SIM_MEM_SYSTEM_RAM;
        else
                return 2;
        r = sim_dax_set_mode(tb, name, mode, &ch);
        if (r < 0)
                return fail(r, name);
        if (strcmp(ch.old_driver, ch.new_driver) == 0) {
                printf("%s: already %s\n", name, mode_s);
                return 0;
        }

        r = sim_kernel_emit_dax_change(tb, &ch, ch.old_driver[0] != '\0', true);
        if (r < 0)
                return fail(r, "uevents");
        printf("%s: %s -> %s\n", name, ch.old_driver[0] ? ch.old_driver : "(none)", ch.new_driver);
        return 0;
}

static int cmd_memblock(int argc, char **argv)
{
        static const struct option opts[] = {
                { "index", required_argument, NULL, 'i' },
                { "state", required_argument, NULL, 's' },
                {}
        };
        const char *index_s = NULL, *state = NULL, *tb = testbed();
        char dev[128];
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 'i')
                        index_s = optarg;
                else if (c == 's')
                        state = optarg;
                else
                        return 2;
        }
        if (!index_s || !state || !tb || (strcmp(state, "online") != 0 && strcmp(state, "offline") != 0))
                return 2;
        r = sim_memblock_set_state(tb, strtoull(index_s, NULL, 10), strcmp(state, "online") == 0, dev);
        if (r < 0)
                return fail(r, index_s);
        /* memory_block_change_state() sends KOBJ_ONLINE / KOBJ_OFFLINE */
        return send_uevent(tb, dev, state, "memory", NULL, 0);
}

static void print_ready(void *userdata)
{
        printf("ready\n");
        fflush(stdout);
}

static int cmd_kernel(int argc, char **argv)
{
        static const struct option opts[] = {
                { "refuse-unbind", required_argument, NULL, 'r' },
                { "max-events", required_argument, NULL, 'm' },
                {}
        };
        struct sim_kernel_options o = { .ready = print_ready };
        const char *tb = testbed();
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 'r') {
                        if (o.n_refuse_unbind == SIM_KERNEL_MAX_REFUSALS)
                                return fail(-E2BIG, "--refuse-unbind");
                        o.refuse_unbind[o.n_refuse_unbind++] = optarg;
                } else if (c == 'm')
                        o.max_events = (unsigned)strtoul(optarg, NULL, 10);
                else
                        return 2;
        }
        if (!tb)
                return 2;
        r = sim_kernel_run(tb, &o);
        return r < 0 ? fail(r, "kernel") : 0;
}

static int cmd_uevent(int argc, char **argv)
{
        static const struct option opts[] = {
                { "sysfs", required_argument, NULL, 's' },
                { "action", required_argument, NULL, 'a' },
                { "subsystem", required_argument, NULL, 'u' },
                {}
        };
        const char *sysfs = NULL, *action = NULL, *subsystem = NULL, *tb = testbed();
        char full[PATH_MAX], real[PATH_MAX], abs_tb[PATH_MAX];
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 's')
                        sysfs = optarg;
                else if (c == 'a')
                        action = optarg;
                else if (c == 'u')
                        subsystem = optarg;
                else
                        return 2;
        }
        if (!sysfs || !action || !tb || strncmp(sysfs, "/sys/", 5) != 0)
                return 2;
        /* /sys/bus/pci/devices/X is a link: events carry the device's real path */
        if (!realpath(tb, abs_tb))
                return fail(-errno, tb);
        r = sim_path(abs_tb, sysfs, full, sizeof(full));
        if (r < 0)
                return fail(r, sysfs);
        if (realpath(full, real) && strncmp(real, abs_tb, strlen(abs_tb)) == 0)
                sysfs = real + strlen(abs_tb);
        return send_uevent(abs_tb, sysfs, action, subsystem, argv + optind, (size_t)(argc - optind));
}

int main(int argc, char **argv)
{
        const char *cmd;
        int i;

        /* a global --testbed DIR may come before the command */
        for (i = 1; i + 1 < argc && strcmp(argv[i], "--testbed") == 0; i += 2)
                arg_testbed = argv[i + 1];
        if (i >= argc) {
                usage(stderr);
                return 2;
        }
        cmd = argv[i];
        argc -= i;
        argv += i;

        /* and also after it */
        for (int j = 1; j + 1 < argc; j++)
                if (strcmp(argv[j], "--testbed") == 0 && (j == 1 || strcmp(argv[j - 1], "--") != 0)) {
                        arg_testbed = argv[j + 1];
                        memmove(argv + j, argv + j + 2, sizeof(char *) * (size_t)(argc - j - 1));
                        argc -= 2;
                        break;
                }
        optind = 1;

        if (strcmp(cmd, "create") == 0)
                return cmd_create(argc, argv);
        if (strcmp(cmd, "run") == 0)
                return cmd_run(argc, argv);
        if (strcmp(cmd, "env") == 0)
                return cmd_env();
        if (strcmp(cmd, "inject") == 0)
                return cmd_inject(argc, argv);
        if (strcmp(cmd, "irq") == 0)
                return cmd_irq(argc, argv);
        if (strcmp(cmd, "busy") == 0)
                return cmd_busy(argc, argv);
        if (strcmp(cmd, "gone") == 0)
                return cmd_gone(argc, argv);
        if (strcmp(cmd, "truncate") == 0)
                return cmd_truncate(argc, argv);
        if (strcmp(cmd, "restore") == 0)
                return cmd_restore(argc, argv);
        if (strcmp(cmd, "status") == 0)
                return cmd_status(argc, argv);
        if (strcmp(cmd, "clear") == 0)
                return cmd_clear(argc, argv);
        if (strcmp(cmd, "arm") == 0)
                return cmd_arm(argc, argv);
        if (strcmp(cmd, "dax") == 0)
                return cmd_dax(argc, argv);
        if (strcmp(cmd, "memblock") == 0)
                return cmd_memblock(argc, argv);
        if (strcmp(cmd, "uevent") == 0)
                return cmd_uevent(argc, argv);
        if (strcmp(cmd, "kernel") == 0)
                return cmd_kernel(argc, argv);
        if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
                usage(stdout);
                return 0;
        }
        usage(stderr);
        return 2;
}
