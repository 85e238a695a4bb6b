/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CXL DVSECs (vendor 0x1E98) and the Register Locator DVSEC (ID 8). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cxl_dvsec {
        uint16_t offset;        /* config offset of the extended capability header */
        uint16_t id;            /* CXL_DVSEC_* */
        uint8_t revision;
        uint16_t length;        /* bytes, from DVSEC header 1 */
};

#define CXL_DVSEC_MAX 32

struct cxl_dvsec_list {
        size_t n;
        struct cxl_dvsec dvsec[CXL_DVSEC_MAX];
};

/*
 * Collect every CXL DVSEC. A DVSEC whose length is shorter than its headers,
 * or that runs past `len`, is rejected with -EBADMSG (truncated DVSEC).
 * -ERANGE when the copy shows no extended space (64- or 256-byte copies).
 * Chain errors from pcie_ext_cap_foreach() (-ELOOP, -EBADMSG) pass through;
 * -E2BIG past CXL_DVSEC_MAX. DVSECs of other vendors are skipped unchecked.
 */
int cxl_dvsec_list(const uint8_t *cfg, size_t len, struct cxl_dvsec_list *ret);
const struct cxl_dvsec *cxl_dvsec_list_find(const struct cxl_dvsec_list *l, uint16_t id);
/* A CXL port carries DVSEC 3 or 7; a root port per Table 8-2 carries 3, 4, 7 and 8. */
bool cxl_dvsec_list_is_cxl_port(const struct cxl_dvsec_list *l);
/* "register-locator", ...; NULL for unassigned ids. */
const char *cxl_dvsec_id_to_string(uint16_t id);

struct cxl_regblock {
        uint8_t bir;            /* BAR index 0..5 */
        uint8_t block_id;       /* CXL_REGBLOCK_* */
        uint64_t offset;        /* (high << 32) | (low & 0xFFFF0000) */
};

#define CXL_REGLOC_MAX 32

struct cxl_regloc {
        size_t n;               /* entries with block id != 0 */
        struct cxl_regblock block[CXL_REGLOC_MAX];
};

/* Decode the Register Locator: entries = (length - 0xC) / 8, empty (id 0) entries skipped.
 * -EBADMSG: BIR > 5 in a non-empty entry, length < 0xC, or the DVSEC past len.
 * -EINVAL: `locator` is not DVSEC 8. -E2BIG past CXL_REGLOC_MAX blocks. */
int cxl_regloc_decode(const uint8_t *cfg, size_t len, const struct cxl_dvsec *locator, struct cxl_regloc *ret);
/* First block with the given id, -ENOENT if none. */
int cxl_regloc_find(const struct cxl_regloc *l, uint8_t block_id, struct cxl_regblock *ret);
/* "component", "memory-device", ...; NULL for unknown ids. */
const char *cxl_regblock_id_to_string(uint8_t id);
