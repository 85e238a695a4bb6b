/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Writes the simulated host as sysfs. Paths, attribute names and formats
 * follow the kernel's (drivers/pci/pci-sysfs.c, pcie/aer.c, Documentation/ABI
 * sysfs-bus-cxl, sysfs-bus-dax, memory-hotplug.rst), so libpci, libudev and
 * the daemon's own sysfs readers need no knowledge of the simulator.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "sim-host.h"
#include "sim-sysfs.h"
#include "sim-uio.h"

#define CXL_ACPI        "/sys/devices/platform/ACPI0017:00"
#define CXL_ROOT        CXL_ACPI "/root0"
#define MEMORY_DIR      "/sys/devices/system/memory"
#define NODE_DIR        "/sys/devices/system/node"
#define BOOT_BLOCKS     8u      /* 1 GiB of ordinary RAM on node 0 that nothing may touch */
#define SIM_CXL_WINDOW  0x100000000ull
#define SIM_CXL_MEM_MAJOR 250u  /* dynamic majors on a real host; fixed here */
#define SIM_DAX_MAJOR   252u

/* Resource flags as the kernel prints them in "resource" (include/linux/ioport.h). */
#define RES_MEM         0x00000200ull
#define RES_MEM_64      0x00100000ull
#define RES_SIZEALIGN   0x00040000ull

#define TRY(expr)                               \
        do {                                    \
                int _r = (expr);                \
                if (_r < 0)                     \
                        return _r;              \
        } while (0)

void sim_port_layout(unsigned index, struct sim_port_layout *ret)
{
        struct sim_port_layout l = { .index = index };
        unsigned in_domain = index % SIM_PORTS_PER_DOMAIN;

        l.domain = index / SIM_PORTS_PER_DOMAIN;
        l.bus = (uint8_t)(0x0c + 0x10 * in_domain);
        l.secondary = (uint8_t)(l.bus + 1);
        snprintf(l.bdf, sizeof(l.bdf), "%04x:%02x:00.0", l.domain, l.bus);
        snprintf(l.ep_bdf, sizeof(l.ep_bdf), "%04x:%02x:00.0", l.domain, l.secondary);
        snprintf(l.host_bridge, sizeof(l.host_bridge), "pci%04x:%02x", l.domain, l.bus);
        /* slot names are physical slot numbers, unique per host, whatever the domain */
        snprintf(l.slot, sizeof(l.slot), "%u", l.domain * 256 + l.secondary);
        snprintf(l.sysfs, sizeof(l.sysfs), "/sys/devices/%s/%s", l.host_bridge, l.bdf);
        snprintf(l.ep_sysfs, sizeof(l.ep_sysfs), "%s/%s", l.sysfs, l.ep_bdf);
        snprintf(l.uio_bdf, sizeof(l.uio_bdf), "%04x:%02x:00.1", l.domain, l.secondary);
        snprintf(l.uio_sysfs, sizeof(l.uio_sysfs), "%s/%s", l.sysfs, l.uio_bdf);
        snprintf(l.uio_name, sizeof(l.uio_name), "uio%u", index);
        /*
         * BARs and bridge windows stay below 4 GiB (bir1 makes a 32-bit BAR, and the
         * non-prefetchable window is 32-bit): ports 0..15 at 0xf0000000 as always,
         * the others below them, 4 MiB each, in one CPU address space whatever the domain.
         */
        if (index < SIM_PORTS_PER_DOMAIN)
                l.bar_address = 0xf0000000ull + 0x400000ull * index;
        else
                l.bar_address = 0x80000000ull + 0x400000ull * (index - SIM_PORTS_PER_DOMAIN);
        l.ep_bar_address = l.bar_address + 0x200000ull;
        l.hpa_base = 0x1000000000ull + SIM_CXL_WINDOW * index;
        l.node = 1 + index;
        /*
         * cxl port ids come from one allocator in the kernel, so they must not collide:
         * ports 0..15 keep port 1..16 / endpoint 17..32, the rest take 33.. and 289..
         */
        if (index < SIM_PORTS_PER_DOMAIN) {
                l.port_id = 1 + index;
                l.endpoint_id = SIM_PORTS_PER_DOMAIN + 1 + index;
        } else {
                l.port_id = SIM_PORTS_PER_DOMAIN + 1 + index;
                l.endpoint_id = SIM_PORTS_PER_DOMAIN + 1 + SIM_MAX_PORTS + index;
        }
        snprintf(l.memdev, sizeof(l.memdev), "mem%u", index);

        struct sim_region_layout r;
        sim_region_layout(&l, 0, &r);
        memcpy(l.region, r.region, sizeof(l.region));
        memcpy(l.dax_region, r.dax_region, sizeof(l.dax_region));
        memcpy(l.dax, r.dax, sizeof(l.dax));
        *ret = l;
}

void sim_region_layout(const struct sim_port_layout *l, unsigned k, struct sim_region_layout *ret)
{
        struct sim_region_layout r = { .port = l->index, .k = k, .id = l->index + SIM_MAX_PORTS * k };

        snprintf(r.region, sizeof(r.region), "region%u", r.id);
        snprintf(r.dax_region, sizeof(r.dax_region), "dax_region%u", r.id);
        snprintf(r.dax, sizeof(r.dax), "dax%u.0", r.id);
        r.hpa = l->hpa_base + SIM_REGION_SIZE * k;
        r.dpa = SIM_REGION_SIZE * k;
        *ret = r;
}

void sim_host_spec_default(unsigned n_ports, struct sim_host_spec *ret)
{
        static const enum sim_mem_mode cycle[] = { SIM_MEM_DEVDAX, SIM_MEM_SYSTEM_RAM, SIM_MEM_DEVDAX, SIM_MEM_NONE };

        *ret = (struct sim_host_spec) { .n_ports = n_ports > SIM_MAX_PORTS ? SIM_MAX_PORTS : n_ports,
                                        .dax_per_port = 1 };
        for (unsigned i = 0; i < ret->n_ports; i++) {
                sim_rootport_options_default(&ret->port[i].regs);
                ret->port[i].regs.serial = 0x53494d0000000000ull | i;       /* "SIM" */
                ret->port[i].mem = cycle[i % ELEMENTSOF(cycle)];
        }
}

/* --- PCI functions --- */

static const char aer_correctable[] =
        "RxErr BadTLP BadDLLP Rollover Timeout NonFatalErr CorrIntErr HeaderOF";
static const char aer_uncorrectable[] =
        "Undefined DLP SDES TLP FCP CmpltTO CmpltAbrt UnxCmplt RxOF MalfTLP ECRC UnsupReq ACSViol "
        "UncorrIntErr BlockedTLP AtomicOpBlocked TLPBlockedErr PoisonTLPBlocked";

/* aer_dev_* as pcie/aer.c prints them: one "name count" line per status bit, then the total. */
static int write_aer_file(const char *root, const char *dev, const char *kind, const char *names, const char *total)
{
        char path[256], text[1024] = "", copy[512];
        char *save = NULL;

        snprintf(copy, sizeof(copy), "%s", names);
        for (char *n = strtok_r(copy, " ", &save); n; n = strtok_r(NULL, " ", &save)) {
                strncat(text, n, sizeof(text) - strlen(text) - 1);
                strncat(text, " 0\n", sizeof(text) - strlen(text) - 1);
        }
        strncat(text, total, sizeof(text) - strlen(text) - 1);
        strncat(text, " 0\n", sizeof(text) - strlen(text) - 1);
        snprintf(path, sizeof(path), "%s/aer_dev_%s", dev, kind);
        return sim_write_file(root, path, text, strlen(text));
}

static int write_aer_files(const char *root, const char *dev, bool rootport)
{
        char path[256];

        TRY(write_aer_file(root, dev, "correctable", aer_correctable, "TOTAL_ERR_COR"));
        TRY(write_aer_file(root, dev, "fatal", aer_uncorrectable, "TOTAL_ERR_FATAL"));
        TRY(write_aer_file(root, dev, "nonfatal", aer_uncorrectable, "TOTAL_ERR_NONFATAL"));
        if (!rootport)
                return 0;
        static const char *const totals[] = { "cor", "fatal", "nonfatal" };
        for (size_t i = 0; i < ELEMENTSOF(totals); i++) {
                snprintf(path, sizeof(path), "%s/aer_rootport_total_err_%s", dev, totals[i]);
                TRY(sim_write_text(root, path, "0\n"));
        }
        return 0;
}

struct resource_line {
        uint64_t start, end, flags;
};

static int write_resource_file(const char *root, const char *dev, const struct resource_line *lines, size_t n)
{
        char text[2048] = "", path[256];

        for (size_t i = 0; i < n; i++) {
                char line[80];
                snprintf(line, sizeof(line), "0x%016" PRIx64 " 0x%016" PRIx64 " 0x%016" PRIx64 "\n",
                         lines[i].start, lines[i].end, lines[i].flags);
                strncat(text, line, sizeof(text) - strlen(text) - 1);
        }
        snprintf(path, sizeof(path), "%s/resource", dev);
        return sim_write_file(root, path, text, strlen(text));
}

static int attr(const char *root, const char *dev, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int attr(const char *root, const char *dev, const char *name, const char *fmt, ...)
{
        _cleanup_free_ char *value = NULL;
        char path[320];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&value, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dev, name) >= sizeof(path))
                return -ENAMETOOLONG;
        return sim_write_file(root, path, value, (size_t)n);
}

static int bind_driver(const char *root, const char *dev, const char *bus, const char *driver)
{
        char link[320], drv[160];
        const char *name = strrchr(dev, '/') + 1;

        snprintf(drv, sizeof(drv), "/sys/bus/%s/drivers/%s", bus, driver);
        TRY(sim_mkdir_p(root, drv));
        snprintf(link, sizeof(link), "%s/driver", dev);
        TRY(sim_symlink(root, link, drv));
        snprintf(link, sizeof(link), "%s/%s", drv, name);
        return sim_symlink(root, link, dev);
}

/* A device on a bus: directory, uevent, subsystem link and /sys/bus/<bus>/devices entry. */
static int add_bus_device(const char *root, const char *dev, const char *bus, const char *uevent)
{
        char link[320], target[64];
        const char *name = strrchr(dev, '/') + 1;

        TRY(sim_mkdir_p(root, dev));
        TRY(attr(root, dev, "uevent", "%s", uevent));
        snprintf(target, sizeof(target), "/sys/bus/%s", bus);
        snprintf(link, sizeof(link), "%s/subsystem", dev);
        TRY(sim_symlink(root, link, target));
        snprintf(link, sizeof(link), "/sys/bus/%s/devices/%s", bus, name);
        return sim_symlink(root, link, dev);
}

static int add_pci_function(const char *root, const char *dev, const char *bdf, uint16_t vendor, uint16_t device,
                            uint32_t class, const char *driver, const uint8_t *cfg, size_t cfg_len, unsigned irq)
{
        char uevent[512];

        snprintf(uevent, sizeof(uevent),
                 "DRIVER=%s\nPCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=0000:0000\nPCI_SLOT_NAME=%s\n"
                 "MODALIAS=pci:v%08Xd%08Xsv00000000sd00000000bc%02Xsc%02Xi%02X\n",
                 driver, class, vendor, device, bdf, vendor, device, class >> 16, (class >> 8) & 0xff, class & 0xff);
        TRY(add_bus_device(root, dev, "pci", uevent));
        TRY(bind_driver(root, dev, "pci", driver));
        TRY(attr(root, dev, "vendor", "0x%04x\n", vendor));
        TRY(attr(root, dev, "device", "0x%04x\n", device));
        TRY(attr(root, dev, "subsystem_vendor", "0x0000\n"));
        TRY(attr(root, dev, "subsystem_device", "0x0000\n"));
        TRY(attr(root, dev, "class", "0x%06x\n", class));
        TRY(attr(root, dev, "revision", "0x%02x\n", cfg[0x08]));
        TRY(attr(root, dev, "irq", "%u\n", irq));
        TRY(attr(root, dev, "numa_node", "0\n"));
        TRY(attr(root, dev, "local_cpulist", "0-1\n"));
        TRY(attr(root, dev, "enable", "1\n"));
        TRY(attr(root, dev, "msi_bus", "1\n"));
        TRY(attr(root, dev, "power_state", "D0\n"));
        TRY(attr(root, dev, "driver_override", "(null)\n"));
        TRY(attr(root, dev, "current_link_speed", "32.0 GT/s PCIe\n"));
        TRY(attr(root, dev, "current_link_width", "16\n"));
        TRY(attr(root, dev, "max_link_speed", "32.0 GT/s PCIe\n"));
        TRY(attr(root, dev, "max_link_width", "16\n"));

        char path[320];
        snprintf(path, sizeof(path), "%s/config", dev);
        return sim_write_file(root, path, cfg, cfg_len);
}

static int write_port_record(const char *root, const struct sim_port_layout *l, const struct sim_port_spec *s)
{
        char path[128];

        /* everything needed to rebuild the port's registers later (restore) */
        snprintf(path, sizeof(path), "/sim/ports/%s", l->bdf);
        return sim_write_text(root, path,
                              "index=%u\nbir=%u\noffset=0x%" PRIx64 "\nconfig_truncated=%d\nresource_missing=%d\n"
                              "ti=%d\nmem_isolation=%d\ncache_isolation=%d\ninterrupt=%d\nmsgnum=%u\nerrcor=%d\n"
                              "ranges=%u\nserial=0x%" PRIx64 "\nresource=%s/resource%u\nconfig=%s/config\nuio=%d\n",
                              l->index, s->regs.bir, s->regs.block_offset, s->config_truncated, s->resource_missing,
                              s->regs.ti, s->regs.mem_isolation, s->regs.cache_isolation, s->regs.interrupt,
                              s->regs.interrupt_msgnum, s->regs.errcor_signaling, s->regs.mem_timeout_ranges,
                              s->regs.serial, l->sysfs, s->regs.bir, l->sysfs, s->uio);
}

/*
 * The files holding the port's registers: config and the BAR with the
 * component block, at reset values. Written by rename, so a process that
 * still maps the old BAR keeps the old (gone) file: it has to re-open, as
 * after a real surprise removal.
 */
static int write_rootport_registers(const char *root, const struct sim_port_layout *l, const struct sim_port_spec *s)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        _cleanup_free_ uint8_t *bar = NULL;
        uint64_t bar_size = sim_component_bar_size(&s->regs);
        char path[320];

        TRY(sim_rootport_config_build(&s->regs, l->bar_address, l->bus, l->secondary, l->ep_bar_address, 0x100000,
                                      cfg));
        snprintf(path, sizeof(path), "%s/config", l->sysfs);
        TRY(sim_write_file(root, path, cfg, s->config_truncated ? PCI_CFG_SIZE_LEGACY : sizeof(cfg)));
        if (s->resource_missing)
                return 0;

        bar = calloc(1, bar_size);
        if (!bar)
                return -ENOMEM;
        TRY(sim_component_block_build(&s->regs, bar + s->regs.block_offset));
        snprintf(path, sizeof(path), "%s/resource%u", l->sysfs, s->regs.bir);
        TRY(sim_write_file(root, path, bar, bar_size));
        if (s->regs.bir == 1) {
                /* BAR0 exists too, as a small register window of its own */
                uint8_t small[4096] = {};
                snprintf(path, sizeof(path), "%s/resource0", l->sysfs);
                TRY(sim_write_file(root, path, small, sizeof(small)));
        }
        return 0;
}

static int create_rootport(const char *root, const struct sim_port_layout *l, const struct sim_port_spec *s)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        uint64_t bar_size = sim_component_bar_size(&s->regs);
        struct resource_line res[17] = {};
        char path[320];

        TRY(sim_mkdir_p(root, "/sys/devices"));
        snprintf(path, sizeof(path), "/sys/devices/%s", l->host_bridge);
        TRY(sim_mkdir_p(root, path));
        TRY(attr(root, path, "uevent", "%s", ""));

        TRY(sim_rootport_config_build(&s->regs, l->bar_address, l->bus, l->secondary, l->ep_bar_address, 0x100000,
                                      cfg));
        TRY(add_pci_function(root, l->sysfs, l->bdf, SIM_RP_VENDOR, SIM_RP_DEVICE, SIM_RP_CLASS, "pcieport", cfg,
                             sizeof(cfg), 24 + l->index));
        TRY(attr(root, l->sysfs, "secondary_bus_number", "%u\n", l->secondary));
        TRY(attr(root, l->sysfs, "subordinate_bus_number", "%u\n", l->secondary));
        TRY(write_aer_files(root, l->sysfs, true));

        /* resource: 6 BARs, ROM, 6 IOV, then the 4 bridge windows (I/O, mem, prefetchable, -) */
        if (s->regs.bir == 0)
                res[0] = (struct resource_line) { l->bar_address, l->bar_address + bar_size - 1,
                                                  RES_MEM | RES_MEM_64 | RES_SIZEALIGN };
        else {
                res[0] = (struct resource_line) { l->bar_address + bar_size, l->bar_address + bar_size + 0xfff,
                                                  RES_MEM | RES_SIZEALIGN };
                res[1] = (struct resource_line) { l->bar_address, l->bar_address + bar_size - 1,
                                                  RES_MEM | RES_SIZEALIGN };
        }
        res[14] = (struct resource_line) { l->ep_bar_address, l->ep_bar_address + 0xfffff, RES_MEM };
        TRY(write_resource_file(root, l->sysfs, res, ELEMENTSOF(res)));
        TRY(write_rootport_registers(root, l, s));

        snprintf(path, sizeof(path), "/sys/bus/pci/slots/%s", l->slot);
        TRY(sim_mkdir_p(root, path));
        TRY(attr(root, path, "address", "%04x:%02x:00\n", l->domain, l->secondary));

        return write_port_record(root, l, s);
}

static int create_memdev_function(const char *root, const struct sim_port_layout *l, const struct sim_port_spec *s)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        struct resource_line res[13] = {};

        TRY(sim_memdev_config_build(l->ep_bar_address, s->regs.serial | 0x100, cfg));
        TRY(add_pci_function(root, l->ep_sysfs, l->ep_bdf, SIM_EP_VENDOR, SIM_EP_DEVICE, SIM_EP_CLASS, "cxl_pci", cfg,
                             sizeof(cfg), 0));
        TRY(write_aer_files(root, l->ep_sysfs, false));
        res[0] = (struct resource_line) { l->ep_bar_address, l->ep_bar_address + 0x1ffff,
                                          RES_MEM | RES_MEM_64 | RES_SIZEALIGN };
        return write_resource_file(root, l->ep_sysfs, res, ELEMENTSOF(res));
}

/* A function that signals with INTx, bound to uio_pci_generic, next to the memdev (sim-uio.h). */
static int create_irq_function(const char *root, const struct sim_port_layout *l)
{
        uint8_t cfg[PCI_CFG_SIZE_PCI];
        struct resource_line res[13] = {};
        uint64_t bar = l->ep_bar_address + 0x80000;     /* inside the port's window, above the memdev's BAR */
        unsigned irq = 100 + l->index % 100;
        uint8_t bar0[4096] = {};
        char path[320];

        TRY(sim_irq_function_config_build(bar, (uint8_t)irq, cfg));
        TRY(add_pci_function(root, l->uio_sysfs, l->uio_bdf, SIM_IRQ_FN_VENDOR, SIM_IRQ_FN_DEVICE, SIM_IRQ_FN_CLASS,
                             "uio_pci_generic", cfg, sizeof(cfg), irq));
        res[0] = (struct resource_line) { bar, bar + sizeof(bar0) - 1, RES_MEM | RES_SIZEALIGN };
        TRY(write_resource_file(root, l->uio_sysfs, res, ELEMENTSOF(res)));
        snprintf(path, sizeof(path), "%s/resource0", l->uio_sysfs);
        TRY(sim_write_file(root, path, bar0, sizeof(bar0)));
        return sim_uio_create(root, l);
}

/*
 * A character device node the way umockdev's preload presents one: a file
 * under <root>/dev plus <root>/dev/.node/<name, '/' as '_'> -> "major:minor",
 * which makes stat() report S_IFCHR with that st_rdev; and the kernel's
 * "dev" attribute with its /sys/dev/char link. libcxl and libdaxctl stat the
 * node before they accept a memdev or dax device.
 */
static int add_char_node(const char *root, const char *dev, const char *node, unsigned major, unsigned minor)
{
        char path[256], link[128], target[64], mangled[64];

        TRY(attr(root, dev, "dev", "%u:%u\n", major, minor));
        snprintf(link, sizeof(link), "/sys/dev/char/%u:%u", major, minor);
        TRY(sim_symlink(root, link, dev));
        snprintf(path, sizeof(path), "/dev/%s", node);
        TRY(sim_write_file(root, path, "", 0));
        snprintf(mangled, sizeof(mangled), "%s", node);
        for (char *c = mangled; *c; c++)
                if (*c == '/')
                        *c = '_';
        snprintf(path, sizeof(path), "%s/dev/.node/%s", root, mangled);
        TRY(sim_mkdir_p(root, "/dev/.node"));
        snprintf(target, sizeof(target), "%u:%u", major, minor);
        (void)unlink(path);
        if (symlink(target, path) < 0)
                return -errno;
        return 0;
}

/* --- the cxl bus --- */

static int add_cxl_device(const char *root, const char *dev, const char *devtype, unsigned modalias_type,
                          const char *driver)
{
        char uevent[256];

        if (driver)
                snprintf(uevent, sizeof(uevent), "DEVTYPE=%s\nDRIVER=%s\nMODALIAS=cxl:t%u\n", devtype, driver,
                         modalias_type);
        else
                snprintf(uevent, sizeof(uevent), "DEVTYPE=%s\nMODALIAS=cxl:t%u\n", devtype, modalias_type);
        TRY(add_bus_device(root, dev, "cxl", uevent));
        if (driver)
                TRY(bind_driver(root, dev, "cxl", driver));
        return 0;
}

static int add_decoder(const char *root, const char *dev, const char *devtype, uint64_t start, uint64_t size,
                       const char *extra_mode, uint64_t dpa)
{
        TRY(add_cxl_device(root, dev, devtype, 4, NULL));
        TRY(attr(root, dev, "start", "0x%" PRIx64 "\n", start));
        TRY(attr(root, dev, "size", "0x%" PRIx64 "\n", size));
        TRY(attr(root, dev, "interleave_ways", "1\n"));
        TRY(attr(root, dev, "interleave_granularity", "256\n"));
        TRY(attr(root, dev, "locked", "0\n"));
        TRY(attr(root, dev, "target_type", "expander\n"));
        if (extra_mode) {
                TRY(attr(root, dev, "mode", "%s\n", extra_mode));
                TRY(attr(root, dev, "dpa_resource", "0x%" PRIx64 "\n", dpa));
                TRY(attr(root, dev, "dpa_size", "0x%" PRIx64 "\n", size));
        }
        return 0;
}

static int add_memory_block(const char *root, uint64_t index, unsigned node, bool online, const char *zone)
{
        char dev[128], link[192], target[128];

        snprintf(dev, sizeof(dev), MEMORY_DIR "/memory%" PRIu64, index);
        TRY(add_bus_device(root, dev, "memory", ""));
        TRY(attr(root, dev, "state", "%s\n", online ? "online" : "offline"));
        TRY(attr(root, dev, "online", "%d\n", online));
        TRY(attr(root, dev, "phys_index", "%08" PRIx64 "\n", index));
        TRY(attr(root, dev, "phys_device", "0\n"));
        TRY(attr(root, dev, "removable", "1\n"));
        TRY(attr(root, dev, "valid_zones", "%s\n", zone));
        snprintf(target, sizeof(target), NODE_DIR "/node%u", node);
        TRY(sim_mkdir_p(root, target));
        snprintf(link, sizeof(link), "%s/node%u", dev, node);
        TRY(sim_symlink(root, link, target));
        snprintf(link, sizeof(link), NODE_DIR "/node%u/memory%" PRIu64, node, index);
        return sim_symlink(root, link, dev);
}

static int remove_memory_block(const char *root, uint64_t index, unsigned node)
{
        char path[192];

        snprintf(path, sizeof(path), NODE_DIR "/node%u/memory%" PRIu64, node, index);
        (void)sim_unlink(root, path);
        snprintf(path, sizeof(path), "/sys/bus/memory/devices/memory%" PRIu64, index);
        (void)sim_unlink(root, path);
        snprintf(path, sizeof(path), MEMORY_DIR "/memory%" PRIu64, index);
        return sim_rm_rf(root, path);
}

static void dax_path(const struct sim_port_layout *l, const struct sim_region_layout *r, char *buf, size_t len)
{
        snprintf(buf, len, CXL_ROOT "/decoder0.%u/%s/%s/%s", l->index, r->region, r->dax_region, r->dax);
}

/* Region k of a port: regionZ under the root decoder, dax_regionZ, daxZ.0 and, with kmem, its blocks. */
static int create_region(const char *root, const struct sim_port_layout *l, const struct sim_port_spec *s,
                         unsigned k)
{
        char region[192], daxr[224], dax[256], path[320];
        struct sim_region_layout r;

        sim_region_layout(l, k, &r);
        /* one target, the endpoint decoder k */
        snprintf(region, sizeof(region), CXL_ROOT "/decoder0.%u/%s", l->index, r.region);
        TRY(add_cxl_device(root, region, "cxl_region", 6, "cxl_region"));
        TRY(attr(root, region, "uuid", "\n"));
        TRY(attr(root, region, "resource", "0x%" PRIx64 "\n", r.hpa));
        TRY(attr(root, region, "size", "0x%llx\n", SIM_REGION_SIZE));
        TRY(attr(root, region, "interleave_ways", "1\n"));
        TRY(attr(root, region, "interleave_granularity", "256\n"));
        TRY(attr(root, region, "mode", "ram\n"));
        TRY(attr(root, region, "commit", "1\n"));
        TRY(attr(root, region, "target0", "decoder%u.%u\n", l->endpoint_id, k));

        snprintf(daxr, sizeof(daxr), "%s/%s", region, r.dax_region);
        TRY(add_cxl_device(root, daxr, "cxl_dax_region", 8, "cxl_dax_region"));
        snprintf(path, sizeof(path), "%s/dax_region/id", daxr);
        TRY(sim_write_text(root, path, "%u\n", r.id));
        snprintf(path, sizeof(path), "%s/dax_region/size", daxr);
        TRY(sim_write_text(root, path, "%llu\n", SIM_REGION_SIZE));
        snprintf(path, sizeof(path), "%s/dax_region/align", daxr);
        TRY(sim_write_text(root, path, "2097152\n"));

        bool ram = s->mem == SIM_MEM_SYSTEM_RAM;
        dax_path(l, &r, dax, sizeof(dax));
        TRY(add_bus_device(root, dax, "dax", ram ? "DRIVER=kmem\nMODALIAS=dax:t0*\n"
                                                 : "DRIVER=device_dax\nMODALIAS=dax:t0*\n"));
        TRY(bind_driver(root, dax, "dax", ram ? "kmem" : "device_dax"));
        TRY(attr(root, dax, "resource", "0x%" PRIx64 "\n", r.hpa));
        TRY(attr(root, dax, "size", "%llu\n", SIM_REGION_SIZE));
        TRY(attr(root, dax, "target_node", "%u\n", l->node));
        TRY(attr(root, dax, "numa_node", "%u\n", l->node));
        TRY(attr(root, dax, "align", "2097152\n"));
        TRY(attr(root, dax, "memmap_on_memory", "0\n"));
        TRY(attr(root, dax, "modalias", "dax:t0*\n"));
        /* the node exists whichever driver is bound: the device's devt is set at creation */
        TRY(add_char_node(root, dax, r.dax, SIM_DAX_MAJOR, r.id));

        if (ram)
                for (uint64_t b = 0; b < SIM_REGION_SIZE / SIM_BLOCK_SIZE; b++)
                        TRY(add_memory_block(root, r.hpa / SIM_BLOCK_SIZE + b, l->node, true, "Movable"));
        return 0;
}

static int create_cxl_port(const char *root, const struct sim_port_layout *l, const struct sim_port_spec *s,
                           unsigned n_regions)
{
        char port[128], ep[192], dec[256], mem[256], link[320], target[256];
        bool has_region = s->mem != SIM_MEM_NONE;
        /* without memory in use, one idle decoder each, as the kernel enumerates them */
        unsigned n_decoders = has_region ? n_regions : 1;

        /* root0/dport<i> -> host bridge; CXL window = root decoder 0.<i> */
        snprintf(link, sizeof(link), CXL_ROOT "/dport%u", l->index);
        snprintf(target, sizeof(target), "/sys/devices/%s", l->host_bridge);
        TRY(sim_symlink(root, link, target));
        snprintf(dec, sizeof(dec), CXL_ROOT "/decoder0.%u", l->index);
        TRY(add_decoder(root, dec, "cxl_decoder_root", l->hpa_base, SIM_CXL_WINDOW, NULL, 0));
        TRY(attr(root, dec, "target_list", "%u\n", l->index));
        TRY(attr(root, dec, "cap_type2", "0\n"));
        TRY(attr(root, dec, "cap_type3", "1\n"));
        TRY(attr(root, dec, "cap_ram", "1\n"));
        TRY(attr(root, dec, "cap_pmem", "0\n"));

        /* portN: the host bridge as a CXL port, its root port as dport */
        snprintf(port, sizeof(port), CXL_ROOT "/port%u", l->port_id);
        TRY(add_cxl_device(root, port, "cxl_port", 3, "cxl_port"));
        snprintf(link, sizeof(link), "%s/uport", port);
        TRY(sim_symlink(root, link, target));
        snprintf(link, sizeof(link), "%s/dport0", port);
        TRY(sim_symlink(root, link, l->sysfs));
        for (unsigned k = 0; k < n_decoders; k++) {
                struct sim_region_layout r;

                sim_region_layout(l, k, &r);
                snprintf(dec, sizeof(dec), "%s/decoder%u.%u", port, l->port_id, k);
                TRY(add_decoder(root, dec, "cxl_decoder_switch", has_region ? r.hpa : 0,
                                has_region ? SIM_REGION_SIZE : 0, NULL, 0));
                TRY(attr(root, dec, "target_list", "0\n"));
                TRY(attr(root, dec, "region", "%s\n", has_region ? r.region : ""));
        }

        /* memM below the PCI function, endpointN below portN */
        snprintf(mem, sizeof(mem), "%s/%s", l->ep_sysfs, l->memdev);
        TRY(add_cxl_device(root, mem, "cxl_memdev", 5, "cxl_mem"));
        TRY(attr(root, mem, "serial", "0x%" PRIx64 "\n", s->regs.serial | 0x100));
        TRY(attr(root, mem, "numa_node", "0\n"));
        TRY(attr(root, mem, "firmware_version", "SIM 1.0\n"));
        TRY(attr(root, mem, "payload_max", "1048576\n"));
        TRY(attr(root, mem, "label_storage_size", "0\n"));
        snprintf(link, sizeof(link), "cxl/%s", l->memdev);
        TRY(add_char_node(root, mem, link, SIM_CXL_MEM_MAJOR, l->index));
        /* capacity for every region the host's ports carry, used or not */
        snprintf(link, sizeof(link), "%s/ram/size", mem);
        TRY(sim_write_text(root, link, "0x%llx\n", SIM_REGION_SIZE * n_regions));
        snprintf(link, sizeof(link), "%s/pmem/size", mem);
        TRY(sim_write_text(root, link, "0x0\n"));

        snprintf(ep, sizeof(ep), "%s/endpoint%u", port, l->endpoint_id);
        TRY(add_cxl_device(root, ep, "cxl_port", 3, "cxl_port"));
        snprintf(link, sizeof(link), "%s/uport", ep);
        TRY(sim_symlink(root, link, mem));
        snprintf(link, sizeof(link), "%s/parent_dport", ep);
        TRY(sim_symlink(root, link, l->sysfs));
        for (unsigned k = 0; k < n_decoders; k++) {
                struct sim_region_layout r;

                sim_region_layout(l, k, &r);
                snprintf(dec, sizeof(dec), "%s/decoder%u.%u", ep, l->endpoint_id, k);
                TRY(add_decoder(root, dec, "cxl_decoder_endpoint", has_region ? r.hpa : 0,
                                has_region ? SIM_REGION_SIZE : 0, "ram", has_region ? r.dpa : 0));
                TRY(attr(root, dec, "region", "%s\n", has_region ? r.region : ""));
        }
        snprintf(link, sizeof(link), "%s/endpoint%u", mem, l->endpoint_id);
        TRY(sim_symlink(root, link, ep));

        for (unsigned k = 0; has_region && k < n_regions; k++)
                TRY(create_region(root, l, s, k));
        return 0;
}

static int create_static_tree(const char *root)
{
        static const char *const bus_drivers[][2] = {
                { "pci", "pcieport" }, { "pci", "cxl_pci" }, { "cxl", "cxl_port" }, { "cxl", "cxl_mem" },
                { "cxl", "cxl_region" }, { "cxl", "cxl_dax_region" }, { "dax", "device_dax" }, { "dax", "kmem" },
        };
        char path[128];

        TRY(sim_mkdir_p(root, "/sys/bus/pci/devices"));
        TRY(sim_mkdir_p(root, "/sys/bus/cxl/devices"));
        TRY(sim_mkdir_p(root, "/sys/bus/dax/devices"));
        TRY(sim_mkdir_p(root, "/sys/bus/memory/devices"));
        for (size_t i = 0; i < ELEMENTSOF(bus_drivers); i++) {
                /* Writable control files exist, as on a real bus; the simulator does not act on them. */
                static const char *const files[] = { "bind", "unbind", "new_id", "remove_id" };
                for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                        snprintf(path, sizeof(path), "/sys/bus/%s/drivers/%s/%s", bus_drivers[i][0],
                                 bus_drivers[i][1], files[f]);
                        TRY(sim_write_text(root, path, "%s", ""));
                }
        }

        TRY(add_bus_device(root, CXL_ACPI, "platform", "DRIVER=cxl_acpi\nMODALIAS=acpi:ACPI0017:\n"));
        TRY(add_cxl_device(root, CXL_ROOT, "cxl_port", 3, NULL));
        TRY(sim_symlink(root, CXL_ROOT "/uport", CXL_ACPI));

        TRY(sim_write_text(root, MEMORY_DIR "/block_size_bytes", "%llx\n", SIM_BLOCK_SIZE));
        TRY(sim_write_text(root, MEMORY_DIR "/auto_online_blocks", "offline\n"));
        TRY(sim_mkdir_p(root, NODE_DIR "/node0"));
        for (unsigned b = 0; b < BOOT_BLOCKS; b++)
                TRY(add_memory_block(root, b, 0, true, "Normal"));
        return 0;
}

int sim_host_create(const char *root, const struct sim_host_spec *spec)
{
        char path[4096];
        struct stat st;

        unsigned n_regions = spec->dax_per_port ? spec->dax_per_port : 1;

        if (spec->n_ports == 0 || spec->n_ports > SIM_MAX_PORTS || n_regions > SIM_MAX_DAX_PER_PORT)
                return -EINVAL;
        if (mkdir(root, 0755) < 0 && errno != EEXIST)
                return -errno;
        TRY(sim_path(root, "/sys", path, sizeof(path)));
        if (lstat(path, &st) == 0)
                return -EEXIST;

        TRY(create_static_tree(root));
        for (unsigned i = 0; i < spec->n_ports; i++) {
                struct sim_port_layout l;

                sim_port_layout(i, &l);
                TRY(create_rootport(root, &l, &spec->port[i]));
                TRY(create_memdev_function(root, &l, &spec->port[i]));
                if (spec->port[i].uio)
                        TRY(create_irq_function(root, &l));
                TRY(create_cxl_port(root, &l, &spec->port[i], n_regions));
        }
        return sim_write_text(root, "/sim/seqnum", "1\n");
}

/* --- lookups and changes after creation --- */

static int record_value(const char *text, const char *key, char *buf, size_t len)
{
        size_t klen = strlen(key);

        for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
                        const char *v = line + klen + 1;
                        size_t n = strcspn(v, "\n");
                        if (n >= len)
                                return -ENAMETOOLONG;
                        memcpy(buf, v, n);
                        buf[n] = '\0';
                        return 0;
                }
        }
        return -EBADMSG;
}

int sim_port_lookup(const char *root, const char *bdf, struct sim_port_record *ret)
{
        struct sim_port_record p = {};
        char path[128], text[1024], v[64];
        const char *full = bdf;
        char buf[32];

        if (strlen(bdf) == 7) {         /* "0c:00.0" -> domain 0000 */
                snprintf(buf, sizeof(buf), "0000:%s", bdf);
                full = buf;
        }
        if (strlen(full) != 12 || strchr(full, '/'))
                return -EINVAL;
        snprintf(path, sizeof(path), "/sim/ports/%s", full);
        TRY(sim_read_text(root, path, text, sizeof(text)));
        TRY(record_value(text, "index", v, sizeof(v)));
        p.index = (unsigned)strtoul(v, NULL, 10);
        TRY(record_value(text, "bir", v, sizeof(v)));
        p.bir = (uint8_t)strtoul(v, NULL, 10);
        TRY(record_value(text, "offset", v, sizeof(v)));
        p.block_offset = strtoull(v, NULL, 0);
        TRY(record_value(text, "config_truncated", v, sizeof(v)));
        p.config_truncated = strcmp(v, "1") == 0;

        static const struct {
                const char *key;
                size_t off;
        } flags[] = {
                { "resource_missing", offsetof(struct sim_port_spec, resource_missing) },
                { "ti", offsetof(struct sim_port_spec, regs.ti) },
                { "mem_isolation", offsetof(struct sim_port_spec, regs.mem_isolation) },
                { "cache_isolation", offsetof(struct sim_port_spec, regs.cache_isolation) },
                { "interrupt", offsetof(struct sim_port_spec, regs.interrupt) },
                { "errcor", offsetof(struct sim_port_spec, regs.errcor_signaling) },
                { "uio", offsetof(struct sim_port_spec, uio) },
        };
        for (size_t i = 0; i < ELEMENTSOF(flags); i++) {
                TRY(record_value(text, flags[i].key, v, sizeof(v)));
                *(bool *)((uint8_t *)&p.spec + flags[i].off) = strcmp(v, "1") == 0;
        }
        p.spec.config_truncated = p.config_truncated;
        p.spec.regs.bir = p.bir;
        p.spec.regs.block_offset = p.block_offset;
        TRY(record_value(text, "msgnum", v, sizeof(v)));
        p.spec.regs.interrupt_msgnum = (uint8_t)strtoul(v, NULL, 10);
        TRY(record_value(text, "ranges", v, sizeof(v)));
        p.spec.regs.mem_timeout_ranges = (uint8_t)strtoul(v, NULL, 10);
        TRY(record_value(text, "serial", v, sizeof(v)));
        p.spec.regs.serial = strtoull(v, NULL, 0);
        TRY(record_value(text, "resource", p.resource_path, sizeof(p.resource_path)));
        TRY(record_value(text, "config", p.config_path, sizeof(p.config_path)));
        *ret = p;
        return 0;
}

int sim_port_restore(const char *root, const struct sim_port_record *p)
{
        struct sim_port_layout l;

        sim_port_layout(p->index, &l);
        return write_rootport_registers(root, &l, &p->spec);
}

int sim_aer_count(const char *root, const struct sim_port_record *p, const char *kind, const char *counter)
{
        struct sim_port_layout l;
        char path[256], text[2048], out[2048] = "";
        const char *total = strcmp(kind, "correctable") == 0 ? "TOTAL_ERR_COR" :
                            strcmp(kind, "fatal") == 0 ? "TOTAL_ERR_FATAL" : "TOTAL_ERR_NONFATAL";
        const char *rp_total = strcmp(kind, "correctable") == 0 ? "cor" : kind;
        bool found = false;
        char *save = NULL;

        sim_port_layout(p->index, &l);
        snprintf(path, sizeof(path), "%s/aer_dev_%s", l.sysfs, kind);
        TRY(sim_read_text(root, path, text, sizeof(text)));
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char name[64], o[96];
                unsigned long long n;

                if (sscanf(line, "%63s %llu", name, &n) != 2)
                        return -EBADMSG;
                if (strcmp(name, counter) == 0 || strcmp(name, total) == 0) {
                        found |= strcmp(name, counter) == 0;
                        n++;
                }
                snprintf(o, sizeof(o), "%s %llu\n", name, n);
                strncat(out, o, sizeof(out) - strlen(out) - 1);
        }
        if (!found)
                return -ENOENT;
        TRY(sim_write_file(root, path, out, strlen(out)));

        /* the root port's own totals (pcie/aer.c counts them in the root port's ISR) */
        snprintf(path, sizeof(path), "%s/aer_rootport_total_err_%s", l.sysfs, rp_total);
        TRY(sim_read_text(root, path, text, sizeof(text)));
        return sim_write_text(root, path, "%llu\n", strtoull(text, NULL, 10) + 1);
}

/* daxZ.0 -> its port and region (Z = index + SIM_MAX_PORTS * k); -ENOENT unless the testbed has it. */
static int dax_lookup(const char *root, const char *dax, struct sim_port_layout *ret_port,
                      struct sim_region_layout *ret_region)
{
        unsigned id, sub;
        char tail;

        if (sscanf(dax, "dax%u.%u%c", &id, &sub, &tail) != 2 || sub != 0 ||
            id >= SIM_MAX_PORTS * SIM_MAX_DAX_PER_PORT)
                return -ENOENT;
        sim_port_layout(id % SIM_MAX_PORTS, ret_port);
        sim_region_layout(ret_port, id / SIM_MAX_PORTS, ret_region);
        char path[256], real[8];
        dax_path(ret_port, ret_region, path, sizeof(path));
        strncat(path, "/size", sizeof(path) - strlen(path) - 1);
        return sim_read_text(root, path, real, sizeof(real));
}

static int dax_driver(const char *root, const char *dax_sysfs, char ret[16])
{
        char path[320], link[320], target[320];
        ssize_t len;

        ret[0] = '\0';
        snprintf(path, sizeof(path), "%s/driver", dax_sysfs);
        TRY(sim_path(root, path, link, sizeof(link)));
        len = readlink(link, target, sizeof(target) - 1);
        if (len < 0)
                return errno == ENOENT ? 0 : -errno;
        target[len] = '\0';
        const char *base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
        if (strlen(base) >= 16)
                return -ENAMETOOLONG;
        strcpy(ret, base);
        return 0;
}

static bool any_block_online(const char *root, uint64_t first, unsigned n)
{
        for (unsigned b = 0; b < n; b++) {
                char path[128], state[32];
                snprintf(path, sizeof(path), MEMORY_DIR "/memory%" PRIu64 "/state", first + b);
                if (sim_read_text(root, path, state, sizeof(state)) == 0 && strcmp(state, "offline") != 0)
                        return true;
        }
        return false;
}

static int dax_prepare(const char *root, const char *dax, struct sim_port_layout *l, struct sim_dax_change *c)
{
        struct sim_region_layout r;

        *c = (struct sim_dax_change) {};
        TRY(dax_lookup(root, dax, l, &r));
        dax_path(l, &r, c->dax_sysfs, sizeof(c->dax_sysfs));
        c->first_block = r.hpa / SIM_BLOCK_SIZE;
        return dax_driver(root, c->dax_sysfs, c->old_driver);
}

int sim_dax_unbind(const char *root, const char *dax, const char *driver, struct sim_dax_change *ret)
{
        struct sim_dax_change c;
        struct sim_port_layout l;
        unsigned n = (unsigned)(SIM_REGION_SIZE / SIM_BLOCK_SIZE);
        char path[320];

        TRY(dax_prepare(root, dax, &l, &c));
        if (!c.old_driver[0] || (driver && strcmp(driver, c.old_driver) != 0))
                return -ENODEV;

        /* kmem's remove_memory() fails while a block is online: then the blocks stay, and leak */
        if (strcmp(c.old_driver, "kmem") == 0 && !any_block_online(root, c.first_block, n)) {
                for (unsigned b = 0; b < n; b++)
                        (void)remove_memory_block(root, c.first_block + b, l.node);
                c.n_blocks = n;
        }
        snprintf(path, sizeof(path), "/sys/bus/dax/drivers/%s/%s", c.old_driver, strrchr(c.dax_sysfs, '/') + 1);
        (void)sim_unlink(root, path);
        snprintf(path, sizeof(path), "%s/driver", c.dax_sysfs);
        (void)sim_unlink(root, path);
        TRY(attr(root, c.dax_sysfs, "uevent", "MODALIAS=dax:t0*\n"));
        *ret = c;
        return 0;
}

int sim_dax_bind(const char *root, const char *dax, const char *driver, bool online, struct sim_dax_change *ret)
{
        struct sim_dax_change c;
        struct sim_port_layout l;
        unsigned n = (unsigned)(SIM_REGION_SIZE / SIM_BLOCK_SIZE);
        char path[128];
        struct stat st;

        if (strcmp(driver, "kmem") != 0 && strcmp(driver, "device_dax") != 0)
                return -EINVAL;
        TRY(dax_prepare(root, dax, &l, &c));
        if (c.old_driver[0])
                return -EBUSY;
        snprintf(c.new_driver, sizeof(c.new_driver), "%s", driver);
        TRY(bind_driver(root, c.dax_sysfs, "dax", driver));
        TRY(attr(root, c.dax_sysfs, "uevent", "DRIVER=%s\nMODALIAS=dax:t0*\n", driver));

        if (strcmp(driver, "kmem") == 0) {
                char full[4096];
                /* blocks a failed earlier unbind left behind are still there: only add the missing ones */
                for (unsigned b = 0; b < n; b++) {
                        snprintf(path, sizeof(path), MEMORY_DIR "/memory%" PRIu64, c.first_block + b);
                        TRY(sim_path(root, path, full, sizeof(full)));
                        if (stat(full, &st) == 0)
                                continue;
                        TRY(add_memory_block(root, c.first_block + b, l.node, online, "Movable"));
                        c.n_blocks++;
                }
                c.blocks_added = true;
        }
        *ret = c;
        return 0;
}

int sim_dax_set_mode(const char *root, const char *dax, enum sim_mem_mode mode, struct sim_dax_change *ret)
{
        struct sim_dax_change c, u = {}, b = {};
        struct sim_port_layout l;
        const char *driver = mode == SIM_MEM_SYSTEM_RAM ? "kmem" : "device_dax";

        if (mode != SIM_MEM_DEVDAX && mode != SIM_MEM_SYSTEM_RAM)
                return -EINVAL;
        TRY(dax_prepare(root, dax, &l, &c));
        snprintf(c.new_driver, sizeof(c.new_driver), "%s", driver);
        if (strcmp(c.old_driver, driver) == 0) {
                *ret = c;
                return 0;
        }
        /* as daxctl reconfigure-device: refused while memory of the device is online */
        if (strcmp(c.old_driver, "kmem") == 0 &&
            any_block_online(root, c.first_block, (unsigned)(SIM_REGION_SIZE / SIM_BLOCK_SIZE)))
                return -EBUSY;
        if (c.old_driver[0])
                TRY(sim_dax_unbind(root, dax, c.old_driver, &u));
        /* daxctl onlines what kmem added (auto_online_blocks=offline) */
        TRY(sim_dax_bind(root, dax, driver, true, &b));
        c.blocks_added = b.blocks_added;
        c.n_blocks = b.blocks_added ? b.n_blocks : u.n_blocks;
        *ret = c;
        return 0;
}

int sim_memblock_set_state(const char *root, uint64_t index, bool online, char ret_sysfs[128])
{
        char dev[128], state[32];

        snprintf(dev, sizeof(dev), MEMORY_DIR "/memory%" PRIu64, index);
        {
                char path[160];
                snprintf(path, sizeof(path), "%s/state", dev);
                TRY(sim_read_text(root, path, state, sizeof(state)));
        }
        /* "online" first: whoever sees the new state also sees the attribute that follows it */
        TRY(attr(root, dev, "online", "%d\n", online));
        TRY(attr(root, dev, "state", "%s\n", online ? "online" : "offline"));
        snprintf(ret_sysfs, 128, "%s", dev);
        return 0;
}
