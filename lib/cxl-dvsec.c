/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CXL DVSECs and the Register Locator, decoded from a config-space copy.
 * A DVSEC's own length field is untrusted: it is checked against its headers,
 * against the copy and against config space before anything inside is read.
 */
#include <errno.h>
#include <string.h>

#include "cxl-dvsec.h"
#include "cxl-regs.h"
#include "pcie-caps.h"

/* Extended capability header + DVSEC header 1 + DVSEC header 2 (16 bits). */
#define DVSEC_HEADERS_LENGTH 0xau
/* BAR indices 0..5; 6 and 7 of the 3-bit BIR field do not name a BAR. */
#define PCI_BAR_INDEX_MAX 5u

struct dvsec_collect {
        const uint8_t *cfg;
        size_t len;
        struct cxl_dvsec_list list;
};

static int dvsec_collect_cb(uint16_t offset, uint32_t header, void *userdata)
{
        struct dvsec_collect *c = userdata;
        uint32_t h1;
        uint16_t h2, length;
        int r;

        if (PCI_EXT_CAP_ID(header) != PCI_EXT_CAP_ID_DVSEC)
                return 0;

        r = cfg_read32(c->cfg, c->len, (size_t)offset + PCI_DVSEC_HEADER1, &h1);
        if (r < 0)
                return -EBADMSG;  /* the DVSEC headers themselves are cut off */
        if (PCI_DVSEC_VENDOR(h1) != CXL_DVSEC_VENDOR_ID)
                return 0;         /* some other vendor's DVSEC: not ours to judge */

        length = (uint16_t)PCI_DVSEC_LEN(h1);
        if (length < DVSEC_HEADERS_LENGTH)
                return -EBADMSG;
        if ((size_t)offset + length > c->len || (size_t)offset + length > PCI_CFG_SIZE_PCIE)
                return -EBADMSG;

        r = cfg_read16(c->cfg, c->len, (size_t)offset + PCI_DVSEC_HEADER2, &h2);
        if (r < 0)
                return -EBADMSG;

        if (c->list.n >= CXL_DVSEC_MAX)
                return -E2BIG;
        c->list.dvsec[c->list.n++] = (struct cxl_dvsec) {
                .offset = offset,
                .id = (uint16_t)PCI_DVSEC_ID(h2),
                .revision = (uint8_t)PCI_DVSEC_REV(h1),
                .length = length,
        };
        return 0;
}

int cxl_dvsec_list(const uint8_t *cfg, size_t len, struct cxl_dvsec_list *ret)
{
        struct dvsec_collect c = { .cfg = cfg, .len = len };
        int r;

        if (!cfg || !ret)
                return -EINVAL;
        if (len < PCI_CFG_SIZE_PCI)
                return -ERANGE;

        r = pcie_ext_cap_foreach(cfg, len, dvsec_collect_cb, &c);
        if (r < 0)
                return r;

        *ret = c.list;
        return 0;
}

const struct cxl_dvsec *cxl_dvsec_list_find(const struct cxl_dvsec_list *l, uint16_t id)
{
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n && i < CXL_DVSEC_MAX; i++)
                if (l->dvsec[i].id == id)
                        return &l->dvsec[i];
        return NULL;
}

bool cxl_dvsec_list_is_cxl_port(const struct cxl_dvsec_list *l)
{
        return cxl_dvsec_list_find(l, CXL_DVSEC_PORT_EXTENSIONS) ||
               cxl_dvsec_list_find(l, CXL_DVSEC_FLEXBUS_PORT);
}

const char *cxl_dvsec_id_to_string(uint16_t id)
{
        static const char *const names[] = {
                [CXL_DVSEC_PCIE_DEVICE]     = "pcie-dvsec-for-cxl-devices",
                [CXL_DVSEC_FUNCTION_MAP]    = "non-cxl-function-map",
                [CXL_DVSEC_PORT_EXTENSIONS] = "cxl-extensions-for-ports",
                [CXL_DVSEC_PORT_GPF]        = "gpf-for-cxl-ports",
                [CXL_DVSEC_DEVICE_GPF]      = "gpf-for-cxl-devices",
                [CXL_DVSEC_FLEXBUS_PORT]    = "pcie-dvsec-for-flex-bus-port",
                [CXL_DVSEC_REG_LOCATOR]     = "register-locator",
                [CXL_DVSEC_MLD]             = "mld",
                [CXL_DVSEC_TEST]            = "pcie-dvsec-for-test-capability",
        };

        if (id < sizeof(names) / sizeof(names[0]) && names[id])
                return names[id];
        return NULL;
}

int cxl_regloc_decode(const uint8_t *cfg, size_t len, const struct cxl_dvsec *locator, struct cxl_regloc *ret)
{
        struct cxl_regloc l = {};
        size_t end, entries;

        if (!cfg || !locator || !ret)
                return -EINVAL;
        if (locator->id != CXL_DVSEC_REG_LOCATOR)
                return -EINVAL;
        if (locator->length < CXL_REGLOC_ENTRIES_OFFSET)
                return -EBADMSG;

        end = (size_t)locator->offset + locator->length;
        if (end > len || end > PCI_CFG_SIZE_PCIE)
                return -EBADMSG;

        /* As the kernel's cxl_find_regblock(): a trailing partial entry is ignored. */
        entries = (locator->length - CXL_REGLOC_ENTRIES_OFFSET) / CXL_REGLOC_ENTRY_SIZE;

        for (size_t i = 0; i < entries; i++) {
                size_t off = (size_t)locator->offset + CXL_REGLOC_ENTRIES_OFFSET + i * CXL_REGLOC_ENTRY_SIZE;
                uint32_t lo, hi;
                uint8_t block_id, bir;

                /* Guaranteed by the end check above; kept so a wrong length can never read past the copy. */
                if (cfg_read32(cfg, len, off, &lo) < 0 || cfg_read32(cfg, len, off + 4, &hi) < 0)
                        return -EBADMSG;

                block_id = (uint8_t)CXL_REGLOC_BLOCK_ID(lo);
                if (block_id == CXL_REGBLOCK_EMPTY)
                        continue;

                bir = (uint8_t)(lo & CXL_REGLOC_BIR_MASK);
                if (bir > PCI_BAR_INDEX_MAX)
                        return -EBADMSG;
                if (l.n >= CXL_REGLOC_MAX)
                        return -E2BIG;

                l.block[l.n++] = (struct cxl_regblock) {
                        .bir = bir,
                        .block_id = block_id,
                        /* The low offset bits sit in place (64 KiB aligned): mask, never shift. */
                        .offset = (uint64_t)hi << 32 | (lo & CXL_REGLOC_OFFSET_LO_MASK),
                };
        }

        *ret = l;
        return 0;
}

int cxl_regloc_find(const struct cxl_regloc *l, uint8_t block_id, struct cxl_regblock *ret)
{
        if (!l)
                return -EINVAL;
        for (size_t i = 0; i < l->n && i < CXL_REGLOC_MAX; i++)
                if (l->block[i].block_id == block_id) {
                        if (ret)
                                *ret = l->block[i];
                        return 0;
                }
        return -ENOENT;
}

const char *cxl_regblock_id_to_string(uint8_t id)
{
        switch (id) {
        case CXL_REGBLOCK_EMPTY:     return "empty";
        case CXL_REGBLOCK_COMPONENT: return "component";
        case CXL_REGBLOCK_VIRT_ACL:  return "bar-virtualization-acl";
        case CXL_REGBLOCK_MEMDEV:    return "memory-device";
        case CXL_REGBLOCK_CPMU:      return "cpmu";
        default:                     return NULL;
        }
}
