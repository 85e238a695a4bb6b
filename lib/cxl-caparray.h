/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The CXL.cache/mem capability array at component block offset 0x1000. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct cxl_cap {
        uint16_t id;            /* CXL_CM_CAP_* */
        uint8_t version;
        uint32_t offset;        /* from the start of the component block: 0x1000 + pointer */
};

#define CXL_CAPARRAY_MAX 255

struct cxl_caparray {
        uint8_t cap_version;            /* of the array header */
        uint8_t cachemem_version;
        uint8_t array_size;             /* headers announced */
        unsigned n_null;                /* NULL (id 0) headers skipped */
        size_t n;                       /* non-NULL capabilities below */
        struct cxl_cap cap[CXL_CAPARRAY_MAX];
};

/*
 * Walk the array over a copy of the component block (`block[0]` is block
 * offset 0; len <= 64 KiB, at least 0x1004). Checks: header id 1 at 0x1000
 * (-EBADMSG otherwise; all-ones there is -ENODEV: the device is gone), every
 * header inside the block, every structure start + its known minimum length
 * inside the block (-EBADMSG naming nothing: callers report which port).
 * NULL entries are skipped and counted.
 * Also: a structure pointer that is not dword aligned, or that lands inside
 * the header array (pointer 0 included), is -EBADMSG; an all-ones header in
 * the array is -ENODEV; len < 0x1004 is -ERANGE, len > 64 KiB -EINVAL.
 * *ret is written only on success.
 */
int cxl_caparray_walk(const uint8_t *block, size_t len, struct cxl_caparray *ret);
/* First capability with the given id, -ENOENT if none. */
int cxl_caparray_find(const struct cxl_caparray *a, uint16_t id, struct cxl_cap *ret);
/* "ras", "timeout-isolation", ...; NULL for ids above 0x10. */
const char *cxl_cap_id_to_string(uint16_t id);
/* Minimum structure length we rely on for an id (RAS 0x58, T&I 0x10, ...), 4 for unknown ids. */
uint32_t cxl_cap_min_length(uint16_t id);
