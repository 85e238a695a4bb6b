/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Root port discovery: libpci lists the functions and reads their config
 * space; the decode helpers find the CXL DVSECs and the Register Locator; the
 * component block is mapped through the sysfs resource<BIR> file and its
 * capability array walked for T&I (ID 9) and RAS (ID 2).
 *
 * Each port gets exactly one reason. The pipeline stops at the first
 * problem of a port and records it; it never stops the scan.
 */
#include <endian.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * libpci's header.h and cxl-regs.h both define the PCI register names, with
 * the same values but different spellings (0x10 vs 0x10u), which the compiler
 * rejects as redefinitions. cxl-regs.h is the project's single source of
 * truth, so libpci's spellings give way.
 */
#undef PCI_CAP_ID_PM
#undef PCI_CAP_ID_MSI
#undef PCI_CAP_ID_EXP
#undef PCI_CAP_ID_MSIX
#undef PCI_EXP_FLAGS
#undef PCI_EXP_TYPE_ENDPOINT
#undef PCI_EXP_TYPE_ROOT_PORT
#undef PCI_EXP_TYPE_UPSTREAM
#undef PCI_EXP_TYPE_DOWNSTREAM
#undef PCI_EXT_CAP_ID_AER
#undef PCI_EXT_CAP_ID_ACS
#undef PCI_EXT_CAP_ID_DVSEC
#undef PCI_DVSEC_HEADER1
#undef PCI_DVSEC_HEADER2

#include "cleanup.h"
#include "cxl-regs.h"
#include "discover.h"
#include "pci-lib.h"
#include "pcie-caps.h"

/* From libpci's header.h: PCI_EXT_CAP_ID_DSN, PCI_CLASS_BRIDGE_PCI, PCI_HEADER_TYPE_BRIDGE. */

static const struct {
        const char *id, *description, *hint;
} port_reasons[_PORT_REASON_MAX] = {
        [PORT_WATCHABLE] = {
                "watchable", "CXL.mem isolation can be watched",
                "none needed" },
        [PORT_CONFIG_TRUNCATED] = {
                "config-truncated", "config space read was cut at 64 bytes, CXL DVSECs are invisible",
                "run with CAP_SYS_ADMIN (as root): the kernel hides config space beyond 64 bytes from other openers" },
        [PORT_NO_REGISTER_LOCATOR] = {
                "no-register-locator", "CXL port without a Register Locator DVSEC (ID 8)",
                "the port does not say where its registers are; check firmware/BIOS CXL settings" },
        [PORT_NO_COMPONENT_BLOCK] = {
                "no-component-block", "Register Locator lists no component register block",
                "the port exposes no CXL component registers; nothing to watch" },
        [PORT_BAD_CONFIG] = {
                "bad-config", "malformed capability chain, DVSEC or Register Locator",
                "compare with 'lspci -vvv'; a firmware or device defect is likely" },
        [PORT_RESOURCE_MISSING] = {
                "resource-missing", "the BAR holding the component block is absent or not a memory BAR",
                "check /sys/bus/pci/devices/<bdf>/resource<BIR> and 'lspci -v' for the BAR" },
        [PORT_MMAP_LOCKDOWN] = {
                "mmap-lockdown", "mapping the BAR was refused by kernel lockdown",
                "Secure Boot lockdown blocks BAR access; check /sys/kernel/security/lockdown "
                "(disable Secure Boot or validation to allow it)" },
        [PORT_MMAP_CLAIMED] = {
                "mmap-claimed", "mapping the BAR was refused: its first page is claimed by a driver under strict devmem",
                "boot with iomem=relaxed or unbind the owning driver; see /proc/iomem for the claim" },
        [PORT_MMAP_FAILED] = {
                "mmap-failed", "mapping the BAR failed",
                "see the error; the resource file must be readable (root or CAP_DAC_OVERRIDE)" },
        [PORT_DEVICE_GONE] = {
                "device-gone", "the device reads all-ones or vanished",
                "the port or its link is down; it is rediscovered when it comes back" },
        [PORT_BAD_CAPARRAY] = {
                "bad-caparray", "the CXL capability array is malformed",
                "the component block does not start a capability array at 0x1000; a firmware or device defect is likely" },
        [PORT_NO_TI_CAPABILITY] = {
                "no-ti-capability", "no Timeout & Isolation capability",
                "this port cannot isolate CXL.mem (stock QEMU and many pre-CXL-3 ports lack capability ID 9)" },
        [PORT_NO_MEM_ISOLATION] = {
                "no-mem-isolation", "Timeout & Isolation present, CXL.mem isolation not supported",
                "the port supports only timeouts or CXL.cache isolation; nothing to arm for CXL.mem" },
};

const char *port_reason_to_string(enum port_reason r)
{
        if ((unsigned)r >= _PORT_REASON_MAX)
                return NULL;
        return port_reasons[r].id;
}

const char *port_reason_description(enum port_reason r)
{
        if ((unsigned)r >= _PORT_REASON_MAX)
                return NULL;
        return port_reasons[r].description;
}

const char *port_reason_hint(enum port_reason r)
{
        if ((unsigned)r >= _PORT_REASON_MAX)
                return NULL;
        return port_reasons[r].hint;
}

/*
 * libpci's error callback must not return (the library carries on with
 * garbage otherwise) and its default exits the process. A daemon cannot
 * exit because a sysfs file vanished during a scan, so errors jump back to
 * the scan's entry point and become -EIO there.
 */
static __thread sigjmp_buf *pci_error_jump;

static _Noreturn void pci_error_to_jump(char *msg, ...)
{
        /* Every libpci call that can raise an error is guarded; reaching here unguarded is a bug. */
        if (!pci_error_jump)
                abort();
        siglongjmp(*pci_error_jump, 1);
}

/* Library code never logs: libpci's warnings are dropped, the reasons carry what matters. */
static void pci_quiet(char *msg, ...)
{
}

/* libpci loaded for one discovery, and its access handle; released in that order, then unloaded. */
struct pci_session {
        struct pci_lib *lib;
        struct pci_access *acc;
};

static void pci_session_done(struct pci_session *s)
{
        if (s->acc)
                s->lib->cleanup(s->acc);
        s->lib = pci_lib_close(s->lib);
}

/* Named apart from any regwin_freep regwin.h may grow. */
static void regwin_closep(struct regwin **w)
{
        *w = regwin_free(*w);
}

/*
 * Each libpci call that may raise an error runs in its own small frame with
 * its own jump target, so no local state is live across the longjmp.
 */
static int pci_guarded_scan(const struct pci_lib *pci, struct pci_access *a)
{
        sigjmp_buf jump, *saved = pci_error_jump;

        pci_error_jump = &jump;
        if (sigsetjmp(jump, 0)) {
                pci_error_jump = saved;
                return -EIO;
        }
        pci->init(a);
        pci->scan_bus(a);
        pci_error_jump = saved;
        return 0;
}

static int pci_guarded_fill(const struct pci_lib *pci, struct pci_dev *d, int flags)
{
        sigjmp_buf jump, *saved = pci_error_jump;

        pci_error_jump = &jump;
        if (sigsetjmp(jump, 0)) {
                pci_error_jump = saved;
                return -EIO;
        }
        pci->fill_info(d, flags);
        pci_error_jump = saved;
        return 0;
}

/* 1 if the read returned len bytes, 0 if it came back short, -EIO on a libpci error. */
static int pci_guarded_read(const struct pci_lib *pci, struct pci_dev *d, uint8_t *buf, int len)
{
        sigjmp_buf jump, *saved = pci_error_jump;
        int ok;

        pci_error_jump = &jump;
        if (sigsetjmp(jump, 0)) {
                pci_error_jump = saved;
                return -EIO;
        }
        ok = pci->read_block(d, 0, buf, len);
        pci_error_jump = saved;
        return ok ? 1 : 0;
}

static int read_config(const struct pci_lib *pci, struct pci_dev *d, uint8_t *cfg, size_t *ret_len)
{
        /*
         * sysfs serves as much as the opener may see: 4096 bytes for a PCIe
         * function with CAP_SYS_ADMIN, 64 without it. libpci fails a read that
         * comes back short, so try the sizes from large to small.
         */
        static const size_t sizes[] = { PCI_CFG_SIZE_PCIE, PCI_CFG_SIZE_PCI, PCI_CFG_SIZE_LEGACY };

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                int r = pci_guarded_read(pci, d, cfg, (int)sizes[i]);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret_len = sizes[i];
                        return 0;
                }
        }
        return -EIO;
}

static uint64_t read_dsn(const uint8_t *cfg, size_t len)
{
        uint16_t off;
        uint32_t lo, hi;

        if (pcie_ext_cap_find(cfg, len, PCI_EXT_CAP_ID_DSN, 0, &off) < 0)
                return 0;
        if (cfg_read32(cfg, len, off + 4u, &lo) < 0 || cfg_read32(cfg, len, off + 8u, &hi) < 0)
                return 0;
        return ((uint64_t)hi << 32) | lo;
}

/* error stays 0 for what the hardware simply lacks: no errno would say anything true about it. */
static void set_reason(struct cxl_rootport *p, enum port_reason r, int error)
{
        p->reason = r;
        p->error = error;
}

enum port_reason port_reason_from_map_error(int r)
{
        switch (r) {
        case -EPERM:
                return PORT_MMAP_LOCKDOWN;
        case -EINVAL:
                return PORT_MMAP_CLAIMED;
        case -ENODEV:
        case -ENXIO:
                return PORT_DEVICE_GONE;
        case -ENOENT:
                return PORT_RESOURCE_MISSING;
        default:
                return PORT_MMAP_FAILED;
        }
}

/*
 * Copy the part of the component block the capability array covers: from the
 * array header at 0x1000 to the end of the farthest structure its headers
 * point to, as aligned dwords (partial accesses are not allowed). The CXL.io
 * range below 0x1000 and the implementation-specific and ARB/MUX ranges
 * beyond are never read: their read side effects are unknown.
 */
static int copy_caparray_range(struct regwin *w, size_t win_len, uint8_t **ret_block, size_t *ret_len)
{
        _cleanup_free_ uint8_t *block = NULL;
        uint32_t hdr;
        size_t end;
        int r;

        if (win_len < CXL_CM_OFFSET + 4)
                return -EBADMSG;

        r = regwin_read32(w, CXL_CM_OFFSET, &hdr);
        if (r < 0)
                return r;
        if (hdr == REG_ALL_ONES)
                return -ENODEV;

        /* The headers follow the array header; a size past the window is the walk's to reject. */
        end = CXL_CM_OFFSET + 4u * (1u + CXL_CM_ARRAY_SIZE(hdr));
        if (end > win_len)
                end = win_len;

        block = calloc(1, win_len);
        if (!block)
                return -ENOMEM;

        r = regwin_copy(w, CXL_CM_OFFSET, end - CXL_CM_OFFSET, block + CXL_CM_OFFSET);
        if (r < 0)
                return r;

        size_t struct_end = end;
        for (size_t off = CXL_CM_OFFSET + 4; off < end; off += 4) {
                uint32_t h;

                memcpy(&h, block + off, sizeof(h));
                h = le32toh(h);
                if (CXL_CM_CAP_ID(h) == CXL_CM_CAP_NULL)
                        continue;
                size_t s = CXL_CM_OFFSET + CXL_CM_CAP_POINTER(h);
                size_t e = s + cxl_cap_min_length((uint16_t)CXL_CM_CAP_ID(h));
                if (e > struct_end)
                        struct_end = e;
        }
        if (struct_end > win_len)
                struct_end = win_len;
        /* Dword-align: the walk decides whether a structure fits, the copy never over-reads. */
        struct_end &= ~(size_t)3;

        if (struct_end > end) {
                r = regwin_copy(w, (uint32_t)end, struct_end - end, block + end);
                if (r < 0)
                        return r;
        }

        *ret_len = win_len;
        *ret_block = TAKE_PTR(block);
        return 0;
}

static uint64_t resource_size(const char *path, const struct pci_dev *d, unsigned bir)
{
        struct stat st;

        /* A sysfs resource file's size is the BAR size; libpci's view is the fallback. */
        if (stat(path, &st) == 0 && st.st_size > 0)
                return (uint64_t)st.st_size;
        return (uint64_t)d->size[bir];
}

static void probe_component_block(struct cxl_rootport *p, struct pci_dev *d, const struct discover_options *opts)
{
        char path[PATH_MAX];
        struct stat st;
        int r;

        if ((size_t)snprintf(path, sizeof(path), "%s/resource%u", p->sysfs_path, p->component.bir) >= sizeof(path))
                return set_reason(p, PORT_RESOURCE_MISSING, -ENAMETOOLONG);
        if (stat(path, &st) < 0)
                return set_reason(p, PORT_RESOURCE_MISSING, -errno);
        if (d->base_addr[p->component.bir] & PCI_BASE_ADDRESS_SPACE_IO)
                return set_reason(p, PORT_RESOURCE_MISSING, -EIO);

        uint64_t bar_size = resource_size(path, d, p->component.bir);
        if (bar_size <= p->component.offset)
                return set_reason(p, PORT_BAD_CONFIG, -ERANGE);
        /* Never map past the BAR: the kernel refuses that with EINVAL, which would look like a claim. */
        uint64_t len = bar_size - p->component.offset;
        if (len > CXL_COMPONENT_BLOCK_SIZE)
                len = CXL_COMPONENT_BLOCK_SIZE;

        _cleanup_(regwin_closep) struct regwin *w = NULL;
        r = regwin_open_resource(path, p->component.offset, (size_t)len, opts && opts->writable ? REGWIN_WRITABLE : 0, &w);
        if (r < 0)
                return set_reason(p, port_reason_from_map_error(r), r);

        _cleanup_free_ uint8_t *block = NULL;
        size_t block_len;
        /* regwin maps no more than the file holds, which may be less than asked. */
        r = copy_caparray_range(w, regwin_size(w), &block, &block_len);
        if (r == -ENODEV)
                return set_reason(p, PORT_DEVICE_GONE, r);
        if (r == -ENOMEM)
                return set_reason(p, PORT_MMAP_FAILED, r);
        if (r < 0)
                return set_reason(p, PORT_BAD_CAPARRAY, r);

        r = cxl_caparray_walk(block, block_len, &p->decode->caps);
        if (r == -ENODEV)
                return set_reason(p, PORT_DEVICE_GONE, r);
        if (r < 0)
                return set_reason(p, PORT_BAD_CAPARRAY, r);

        /* From here on the mapping is useful: RAS is worth reading even without T&I. */
        p->win = TAKE_PTR(w);

        struct cxl_cap cap;
        if (cxl_caparray_find(&p->decode->caps, CXL_CM_CAP_RAS, &cap) >= 0)
                p->ras_offset = cap.offset;

        r = cxl_caparray_find(&p->decode->caps, CXL_CM_CAP_TIMEOUT_ISOLATION, &cap);
        if (r < 0)
                return set_reason(p, PORT_NO_TI_CAPABILITY, 0);
        p->ti_offset = cap.offset;

        uint32_t raw;
        memcpy(&raw, block + cap.offset + CXL_TI_CAPABILITY, sizeof(raw));
        cxl_ti_capability_decode(le32toh(raw), &p->ti_cap);
        if (!p->ti_cap.mem_isolation)
                return set_reason(p, PORT_NO_MEM_ISOLATION, 0);

        set_reason(p, PORT_WATCHABLE, 0);
}

static int fill_sysfs_names(struct cxl_rootport *p, const char *sysfs_root)
{
        char link[PATH_MAX], real[PATH_MAX];

        if ((size_t)snprintf(link, sizeof(link), "%s/devices/%s", sysfs_root, p->bdf) >= sizeof(link))
                return -ENAMETOOLONG;
        if (!realpath(link, real))
                return -errno;
        if (strlen(real) >= sizeof(p->sysfs_path))
                return -ENAMETOOLONG;
        strcpy(p->sysfs_path, real);

        /* The root port's sysfs parent is its host bridge, e.g. "pci0000:0c". */
        char *slash = strrchr(real, '/');
        if (!slash || slash == real)
                return -EINVAL;
        *slash = '\0';
        const char *parent = strrchr(real, '/');
        parent = parent ? parent + 1 : real;
        if (strlen(parent) >= sizeof(p->host_bridge))
                return -ENAMETOOLONG;
        strcpy(p->host_bridge, parent);
        return 0;
}

/*
 * Without config space, the CXL driver's own view tells CXL root ports from
 * other bridges: each CXL port (host bridge or switch) links its downstream
 * ports as dportN. sysfs files are world-readable, unlike config space.
 */
#define SYSFS_CXL_DEVICES "/sys/bus/cxl/devices"

static int foreach_cxl_dport(int (*cb)(const char *real, void *userdata), void *userdata)
{
        _cleanup_closedir_ DIR *bus = opendir(SYSFS_CXL_DEVICES);
        struct dirent *de;

        if (!bus)
                return 0;
        while ((de = readdir(bus))) {
                char dir[PATH_MAX];

                if (strncmp(de->d_name, "port", 4) != 0)
                        continue;
                if ((size_t)snprintf(dir, sizeof(dir), SYSFS_CXL_DEVICES "/%s", de->d_name) >= sizeof(dir))
                        continue;
                _cleanup_closedir_ DIR *port = opendir(dir);
                struct dirent *pe;
                if (!port)
                        continue;
                while ((pe = readdir(port))) {
                        char link[PATH_MAX], real[PATH_MAX];

                        if (strncmp(pe->d_name, "dport", 5) != 0)
                                continue;
                        if ((size_t)snprintf(link, sizeof(link), "%s/%s", dir, pe->d_name) >= sizeof(link) ||
                            !realpath(link, real))
                                continue;
                        int r = cb(real, userdata);
                        if (r != 0)
                                return r;
                }
        }
        return 0;
}

static int dport_found(const char *real, void *userdata)
{
        return 1;
}

static int dport_matches(const char *real, void *userdata)
{
        return strcmp(real, (const char *)userdata) == 0;
}

static bool cxl_dports_known(void)
{
        return foreach_cxl_dport(dport_found, NULL) > 0;
}

static bool is_cxl_dport(const char *sysfs_path)
{
        return foreach_cxl_dport(dport_matches, (void *)sysfs_path) > 0;
}

/*
 * Fill one port. Returns 1 if d is a port to report (with p filled), 0 if it
 * is no CXL root port, negative errno only for -ENOMEM. Unless it returns 1,
 * the caller releases p with cxl_rootport_done().
 */
static int probe_device(const struct pci_lib *pci, struct pci_dev *d, const char *sysfs_root,
                        const struct discover_options *opts, struct cxl_rootport *p)
{
        uint8_t cfg[PCI_CFG_SIZE_PCIE];
        size_t len;
        unsigned type;
        int r;

        *p = (struct cxl_rootport) {};
        p->decode = calloc(1, sizeof(*p->decode));
        if (!p->decode)
                return -ENOMEM;
        snprintf(p->bdf, sizeof(p->bdf), "%04x:%02x:%02x.%u", (unsigned)d->domain, d->bus, d->dev, d->func);
        p->vendor = d->vendor_id;
        p->device = d->device_id;

        bool is_bridge = d->device_class == PCI_CLASS_BRIDGE_PCI;

        r = read_config(pci, d, cfg, &len);
        if (r < 0) {
                /* Listed a moment ago, unreadable now: it went away during the scan. */
                if (!is_bridge)
                        return 0;
                (void)fill_sysfs_names(p, sysfs_root);
                set_reason(p, PORT_DEVICE_GONE, r);
                return 1;
        }

        if (len <= PCI_CFG_SIZE_LEGACY) {
                /*
                 * The PCIe capability lies past the cut, so a root port cannot be
                 * told from other bridges by config space. The operator must learn
                 * that the daemon is blind, not see an empty list: report bridges,
                 * narrowed to the CXL driver's dports when it has any.
                 */
                uint8_t hdr = cfg[PCI_CFG_HEADER_TYPE] & 0x7f;
                if (!is_bridge && hdr != PCI_HEADER_TYPE_BRIDGE)
                        return 0;
                (void)fill_sysfs_names(p, sysfs_root);
                if (p->sysfs_path[0] && cxl_dports_known() && !is_cxl_dport(p->sysfs_path))
                        return 0;
                set_reason(p, PORT_CONFIG_TRUNCATED, -EPERM);
                return 1;
        }

        uint16_t vendor;
        if (cfg_read16(cfg, len, 0, &vendor) >= 0 && vendor == 0xffff) {
                if (!is_bridge)
                        return 0;
                (void)fill_sysfs_names(p, sysfs_root);
                set_reason(p, PORT_DEVICE_GONE, -ENODEV);
                return 1;
        }

        r = pcie_port_type(cfg, len, &type);
        if (r < 0 || type != PCI_EXP_TYPE_ROOT_PORT)
                return 0;

        r = cxl_dvsec_list(cfg, len, &p->decode->dvsecs);
        if (r == -ERANGE)
                return 0;       /* no extended space: a conventional PCI bridge, not CXL */
        if (r < 0) {
                (void)fill_sysfs_names(p, sysfs_root);
                set_reason(p, PORT_BAD_CONFIG, r);
                return 1;
        }

        const struct cxl_dvsec *locator = cxl_dvsec_list_find(&p->decode->dvsecs, CXL_DVSEC_REG_LOCATOR);
        if (!cxl_dvsec_list_is_cxl_port(&p->decode->dvsecs) && !locator)
                return 0;

        p->serial = read_dsn(cfg, len);

        r = fill_sysfs_names(p, sysfs_root);
        if (r < 0) {
                set_reason(p, PORT_DEVICE_GONE, r);
                return 1;
        }

        if (!locator) {
                set_reason(p, PORT_NO_REGISTER_LOCATOR, 0);
                return 1;
        }

        struct cxl_regloc loc;
        r = cxl_regloc_decode(cfg, len, locator, &loc);
        if (r < 0) {
                set_reason(p, PORT_BAD_CONFIG, r);
                return 1;
        }
        r = cxl_regloc_find(&loc, CXL_REGBLOCK_COMPONENT, &p->component);
        if (r < 0) {
                set_reason(p, PORT_NO_COMPONENT_BLOCK, 0);
                return 1;
        }

        probe_component_block(p, d, opts);
        return 1;
}

static int cmp_ports(const void *a, const void *b)
{
        return strcmp(((const struct cxl_rootport *)a)->bdf, ((const struct cxl_rootport *)b)->bdf);
}

void cxl_rootport_drop_decode(struct cxl_rootport *p)
{
        free(p->decode);
        p->decode = NULL;
}

void cxl_rootport_done(struct cxl_rootport *p)
{
        if (!p)
                return;
        p->win = regwin_free(p->win);
        cxl_rootport_drop_decode(p);
}

void cxl_rootports_free(struct cxl_rootport *ports, size_t n)
{
        for (size_t i = 0; i < n; i++)
                cxl_rootport_done(&ports[i]);
        free(ports);
}

struct rootport_array {
        struct cxl_rootport *ports;
        size_t n;
};

static void rootport_array_done(struct rootport_array *a)
{
        cxl_rootports_free(a->ports, a->n);
}

int cxl_discover_rootports(const struct discover_options *opts, struct cxl_rootport **ret_ports, size_t *ret_n)
{
        _cleanup_(rootport_array_done) struct rootport_array found = {};
        _cleanup_(pci_session_done) struct pci_session pci = {};
        struct pci_access *pacc;
        size_t allocated = 0;
        int r;

        r = pci_lib_open(&pci.lib);
        if (r < 0)
                return r;
        pacc = pci.acc = pci.lib->alloc();
        if (!pacc)
                return -ENOMEM;

        /*
         * Only the sysfs method: the BARs are reached through sysfs anyway,
         * and /proc/bus/pci or raw port I/O would bypass the kernel's view.
         */
        pacc->method = PCI_ACCESS_SYS_BUS_PCI;
        pacc->error = pci_error_to_jump;
        pacc->warning = pci_quiet;
        pacc->debug = pci_quiet;

        r = pci_guarded_scan(pci.lib, pacc);
        if (r < 0)
                return r;

        const char *sysfs_root = pci.lib->get_param(pacc, (char *)"sysfs.path");
        if (!sysfs_root)
                sysfs_root = "/sys/bus/pci";

        for (struct pci_dev *d = pacc->devices; d; d = d->next) {
                if (opts && opts->only_bdf) {
                        char bdf[16];
                        snprintf(bdf, sizeof(bdf), "%04x:%02x:%02x.%u", (unsigned)d->domain, d->bus, d->dev, d->func);
                        if (strcasecmp(bdf, opts->only_bdf) != 0)
                                continue;
                }

                /* A function whose sysfs files vanished since the scan is simply not there any more. */
                if (pci_guarded_fill(pci.lib, d, PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_BASES | PCI_FILL_SIZES) < 0)
                        continue;

                if (found.n == allocated) {
                        size_t na = allocated ? allocated * 2 : 8;
                        struct cxl_rootport *np = reallocarray(found.ports, na, sizeof(*np));
                        if (!np)
                                return -ENOMEM;
                        found.ports = np;
                        allocated = na;
                }

                r = probe_device(pci.lib, d, sysfs_root, opts, &found.ports[found.n]);
                if (r <= 0)
                        cxl_rootport_done(&found.ports[found.n]);
                if (r < 0)
                        return r;
                if (r > 0)
                        found.n++;
        }

        /* Stable order for logs, D-Bus object order and tests: by BDF. */
        if (found.n > 1)
                qsort(found.ports, found.n, sizeof(*found.ports), cmp_ports);

        *ret_n = found.n;
        *ret_ports = TAKE_PTR(found.ports);
        found.n = 0;
        return 0;
}

int cxl_rootport_rediscover(const char *bdf, const struct discover_options *opts, struct cxl_rootport *ret)
{
        struct discover_options o = opts ? *opts : (struct discover_options) {};
        _cleanup_(rootport_array_done) struct rootport_array found = {};
        int r;

        if (!bdf)
                return -EINVAL;
        o.only_bdf = bdf;
        r = cxl_discover_rootports(&o, &found.ports, &found.n);
        if (r < 0)
                return r;
        if (found.n == 0)
                return -ENODEV;

        *ret = found.ports[0];
        found.ports[0].win = NULL;      /* ownership moved to *ret */
        found.ports[0].decode = NULL;
        return 0;
}
