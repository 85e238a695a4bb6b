/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Capability list and extended capability chain walks over a copy of config
 * space. The copy may come from an unprivileged sysfs read (64 bytes), so
 * every read is bounds-checked against the copy, and every pointer is checked
 * against config space itself: a malformed or hostile device must not make
 * us read out of bounds or spin forever.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "cxl-regs.h"
#include "pcie-caps.h"

/* The legacy list lives in 0x40..0xFF: at most (256 - 64) / 4 dword-aligned entries. */
#define PCI_CAP_LIST_MAX_ENTRIES ((PCI_CFG_SIZE_PCI - 0x40u) / 4u)
/* Extended capabilities live in 0x100..0xFFF. */
#define PCI_EXT_CAP_MAX_ENTRIES ((PCI_CFG_SIZE_PCIE - PCI_EXT_CAP_START) / 4u)

static bool range_fits(size_t len, size_t off, size_t width)
{
        /* Written so that no addition can overflow. */
        return width <= len && off <= len - width;
}

int cfg_read8(const uint8_t *cfg, size_t len, size_t off, uint8_t *ret)
{
        if (!cfg || !ret)
                return -EINVAL;
        if (!range_fits(len, off, 1))
                return -ERANGE;
        *ret = cfg[off];
        return 0;
}

int cfg_read16(const uint8_t *cfg, size_t len, size_t off, uint16_t *ret)
{
        if (!cfg || !ret)
                return -EINVAL;
        if (!range_fits(len, off, 2))
                return -ERANGE;
        *ret = (uint16_t)(cfg[off] | (unsigned)cfg[off + 1] << 8);
        return 0;
}

int cfg_read32(const uint8_t *cfg, size_t len, size_t off, uint32_t *ret)
{
        if (!cfg || !ret)
                return -EINVAL;
        if (!range_fits(len, off, 4))
                return -ERANGE;
        *ret = (uint32_t)cfg[off] | (uint32_t)cfg[off + 1] << 8 |
               (uint32_t)cfg[off + 2] << 16 | (uint32_t)cfg[off + 3] << 24;
        return 0;
}

/*
 * The PCI spec reserves the low two bits of capability pointers and requires
 * them to be implemented as 0; a set bit means the copy is not what we think
 * it is, so it is rejected rather than masked (see pcie-caps.h).
 */
static int legacy_cap_pointer_check(uint8_t ptr)
{
        if (ptr & 0x3u)
                return -EBADMSG;
        if (ptr < 0x40u)        /* would point into the standard header */
                return -EBADMSG;
        return 0;
}

int pcie_cap_find(const uint8_t *cfg, size_t len, uint8_t cap_id, uint16_t *ret_offset)
{
        uint8_t visited[PCI_CFG_SIZE_PCI / 4u] = {};
        uint16_t status;
        uint8_t ptr;
        int r;

        if (!cfg)
                return -EINVAL;
        if (len < PCI_CFG_SIZE_LEGACY)
                return -ERANGE;

        r = cfg_read16(cfg, len, PCI_CFG_STATUS, &status);
        if (r < 0)
                return r;
        if (status == 0xffffu)
                return -ENODEV;  /* an all-ones copy: the device was gone when it was read */
        if (!(status & PCI_CFG_STATUS_CAP_LIST))
                return -ENOENT;

        r = cfg_read8(cfg, len, PCI_CFG_CAP_PTR, &ptr);
        if (r < 0)
                return r;

        for (unsigned n = 0; ptr != 0; n++) {
                uint8_t id, next;

                if (n >= PCI_CAP_LIST_MAX_ENTRIES)
                        return -ELOOP;
                r = legacy_cap_pointer_check(ptr);
                if (r < 0)
                        return r;
                if (visited[ptr / 4u])
                        return -ELOOP;
                visited[ptr / 4u] = 1;

                /* Inside config space but past a short (64-byte) copy. */
                r = cfg_read8(cfg, len, ptr, &id);
                if (r < 0)
                        return r;
                r = cfg_read8(cfg, len, (size_t)ptr + 1, &next);
                if (r < 0)
                        return r;

                if (id == cap_id) {
                        if (ret_offset)
                                *ret_offset = ptr;
                        return 0;
                }
                ptr = next;
        }

        return -ENOENT;
}

int pcie_port_type(const uint8_t *cfg, size_t len, unsigned *ret_type)
{
        uint16_t off, flags;
        int r;

        r = pcie_cap_find(cfg, len, PCI_CAP_ID_EXP, &off);
        if (r < 0)
                return r;
        r = cfg_read16(cfg, len, (size_t)off + PCI_EXP_FLAGS, &flags);
        if (r < 0)
                return r;

        if (ret_type)
                *ret_type = (flags & PCI_EXP_FLAGS_TYPE_MASK) >> PCI_EXP_FLAGS_TYPE_SHIFT;
        return 0;
}

int pcie_ext_cap_foreach(const uint8_t *cfg, size_t len, pcie_ext_cap_cb cb, void *userdata)
{
        uint8_t visited[PCI_CFG_SIZE_PCIE / 4u] = {};
        size_t off = PCI_EXT_CAP_START;
        uint32_t header;
        int r;

        if (!cfg || !cb)
                return -EINVAL;
        /* A 64- or 256-byte copy cannot show extended space: say so rather than "not found". */
        if (len < PCI_EXT_CAP_START + 4u)
                return -ERANGE;

        r = cfg_read32(cfg, len, off, &header);
        if (r < 0)
                return r;
        /* No extended capabilities at all: 0, or all-ones as conventional PCI devices read. */
        if (header == 0 || header == REG_ALL_ONES)
                return 0;

        for (unsigned n = 0;; n++) {
                uint32_t next;

                if (n >= PCI_EXT_CAP_MAX_ENTRIES)
                        return -ELOOP;
                if (visited[off / 4u])
                        return -ELOOP;
                visited[off / 4u] = 1;

                r = cfg_read32(cfg, len, off, &header);
                if (r < 0)
                        return r;
                /* All-ones mid-chain is not a capability: the copy is torn or garbage. */
                if (header == REG_ALL_ONES)
                        return -EBADMSG;
                if (header == 0)
                        return 0;

                r = cb((uint16_t)off, header, userdata);
                if (r != 0)
                        return r;

                /* Take the raw 12-bit field so that set reserved low bits are seen, not masked away. */
                next = header >> 20;
                if (next == 0)
                        return 0;
                if (next & 0x3u)
                        return -EBADMSG;
                if (next < PCI_EXT_CAP_START)
                        return -EBADMSG;
                off = next;
                /* Inside config space (12-bit pointer) but maybe past the copy. */
                if (!range_fits(len, off, 4))
                        return -ERANGE;
        }
}

struct ext_cap_find_state {
        uint16_t cap_id;
        uint16_t after;
        bool started;
        uint16_t found;
};

static int ext_cap_find_cb(uint16_t offset, uint32_t header, void *userdata)
{
        struct ext_cap_find_state *s = userdata;

        if (!s->started) {
                if (offset == s->after)
                        s->started = true;
                return 0;
        }
        if (PCI_EXT_CAP_ID(header) == s->cap_id) {
                s->found = offset;
                return 1;  /* stop early: the rest of the chain is not needed */
        }
        return 0;
}

int pcie_ext_cap_find(const uint8_t *cfg, size_t len, uint16_t cap_id, uint16_t after, uint16_t *ret_offset)
{
        struct ext_cap_find_state s = {
                .cap_id = cap_id,
                .after = after,
                .started = after == 0,
        };
        int r;

        r = pcie_ext_cap_foreach(cfg, len, ext_cap_find_cb, &s);
        if (r < 0)
                return r;
        if (s.found == 0)
                return -ENOENT;
        if (ret_offset)
                *ret_offset = s.found;
        return 0;
}
