/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the input is a copy of config space (up to 4 KiB, any
 * length). Walks the capability list and the extended chain, collects CXL
 * DVSECs and decodes the Register Locator, then checks what callers rely on:
 * every reported structure lies inside the copy and every BIR names a BAR.
 * ASan catches reads outside the copy; the checks catch wrong answers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cxl-dvsec.h"
#include "cxl-regs.h"
#include "pcie-caps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static int count_cb(uint16_t offset, uint32_t header, void *userdata)
{
        unsigned *n = userdata;

        CHECK(offset >= PCI_EXT_CAP_START && offset % 4 == 0 && offset <= PCI_CFG_SIZE_PCIE - 4);
        CHECK(header != 0 && header != REG_ALL_ONES);
        CHECK(++*n <= (PCI_CFG_SIZE_PCIE - PCI_EXT_CAP_START) / 4);
        return 0;
}

static void decode(const uint8_t *cfg, size_t len)
{
        struct cxl_dvsec_list l;
        struct cxl_regloc rl;
        uint16_t off;
        unsigned type, n = 0;
        int r;

        if (pcie_cap_find(cfg, len, PCI_CAP_ID_EXP, &off) == 0)
                CHECK(off >= 0x40 && off % 4 == 0 && off < len);
        (void)pcie_port_type(cfg, len, &type);
        r = pcie_ext_cap_foreach(cfg, len, count_cb, &n);
        if (len < PCI_EXT_CAP_START + 4)
                CHECK(r == -ERANGE);

        for (uint16_t after = 0; pcie_ext_cap_find(cfg, len, PCI_EXT_CAP_ID_DVSEC, after, &off) == 0; after = off)
                CHECK(off > 0 && off + 4u <= len);

        if (cxl_dvsec_list(cfg, len, &l) < 0)
                return;
        CHECK(l.n <= CXL_DVSEC_MAX);
        for (size_t i = 0; i < l.n; i++) {
                const struct cxl_dvsec *d = &l.dvsec[i];

                CHECK(d->length >= 0xa && (size_t)d->offset + d->length <= len);
                (void)cxl_dvsec_id_to_string(d->id);
                if (d->id != CXL_DVSEC_REG_LOCATOR)
                        continue;
                if (cxl_regloc_decode(cfg, len, d, &rl) < 0)
                        continue;
                CHECK(rl.n <= CXL_REGLOC_MAX);
                CHECK(rl.n <= (size_t)(d->length >= 0xc ? (d->length - 0xc) / 8 : 0));
                for (size_t j = 0; j < rl.n; j++) {
                        CHECK(rl.block[j].bir <= 5);
                        CHECK(rl.block[j].block_id != CXL_REGBLOCK_EMPTY);
                        CHECK((rl.block[j].offset & 0xffff) == 0);
                        (void)cxl_regblock_id_to_string(rl.block[j].block_id);
                }
                (void)cxl_regloc_find(&rl, CXL_REGBLOCK_COMPONENT, NULL);
        }
        (void)cxl_dvsec_list_is_cxl_port(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t len = size < PCI_CFG_SIZE_PCIE ? size : PCI_CFG_SIZE_PCIE;
        /* An exact-size heap copy, so that one byte too far is an ASan report. */
        _cleanup_free_ uint8_t *cfg = malloc(len ? len : 1);

        if (!cfg)
                return 0;
        memcpy(cfg, data, len);

        decode(cfg, len);
        /* The same bytes as an unprivileged (64-byte) and a conventional (256-byte) read would show them. */
        if (len > PCI_CFG_SIZE_LEGACY)
                decode(cfg, PCI_CFG_SIZE_LEGACY);
        if (len > PCI_CFG_SIZE_PCI)
                decode(cfg, PCI_CFG_SIZE_PCI);
        return 0;
}
