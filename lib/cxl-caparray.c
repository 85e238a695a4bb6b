/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Walk of the CXL.cache/mem capability array (component block + 0x1000).
 * The block comes from a device we are watching because it may be failing,
 * so every header and every structure is bounds-checked before use; nothing
 * here trusts Array_Size or a pointer.
 */
#include <errno.h>
#include <string.h>

#include "cxl-caparray.h"
#include "cxl-regs.h"

/* Structure lengths we know; an id we do not use only needs its first dword inside the block. */
#define CXL_HDM_CAP_HEADER_LENGTH       0x10u   /* capability + global control, before the decoders */
#define CXL_SNOOP_FILTER_LENGTH         0x08u

static uint32_t block_read32(const uint8_t *block, size_t off)
{
        return (uint32_t)block[off] | (uint32_t)block[off + 1] << 8 |
               (uint32_t)block[off + 2] << 16 | (uint32_t)block[off + 3] << 24;
}

uint32_t cxl_cap_min_length(uint16_t id)
{
        switch (id) {
        case CXL_CM_CAP_RAS:                return CXL_RAS_LENGTH;
        case CXL_CM_CAP_TIMEOUT_ISOLATION:  return CXL_TI_LENGTH;
        case CXL_CM_CAP_HDM:                return CXL_HDM_CAP_HEADER_LENGTH;
        case CXL_CM_CAP_SNOOP_FILTER:       return CXL_SNOOP_FILTER_LENGTH;
        default:                            return 4;
        }
}

int cxl_caparray_walk(const uint8_t *block, size_t len, struct cxl_caparray *ret)
{
        struct cxl_caparray a = {};
        uint32_t header;
        size_t headers_end;

        if (!block || !ret)
                return -EINVAL;
        if (len > CXL_COMPONENT_BLOCK_SIZE)
                return -EINVAL;
        if (len < CXL_CM_OFFSET + 4u)
                return -ERANGE;

        header = block_read32(block, CXL_CM_OFFSET);
        if (header == REG_ALL_ONES)
                return -ENODEV;   /* surprise removal, or a BAR that no longer decodes */
        if (CXL_CM_CAP_ID(header) != CXL_CM_CAP_ARRAY)
                return -EBADMSG;

        a.cap_version = (uint8_t)CXL_CM_CAP_VERSION(header);
        a.cachemem_version = (uint8_t)CXL_CM_CACHEMEM_VERSION(header);
        a.array_size = (uint8_t)CXL_CM_ARRAY_SIZE(header);

        /* Headers 1..Array_Size follow the array header, all inside the block. */
        headers_end = CXL_CM_OFFSET + 4u * ((size_t)a.array_size + 1u);
        if (headers_end > len)
                return -EBADMSG;

        for (unsigned i = 1; i <= a.array_size; i++) {
                uint32_t h = block_read32(block, CXL_CM_OFFSET + 4u * i);
                uint16_t id = (uint16_t)CXL_CM_CAP_ID(h);
                size_t off;

                if (h == REG_ALL_ONES)
                        return -ENODEV;
                if (id == CXL_CM_CAP_NULL) {
                        /* Newer QEMU leaves NULL headers in fixed slots: skip and keep walking. */
                        a.n_null++;
                        continue;
                }

                off = CXL_CM_OFFSET + (size_t)CXL_CM_CAP_POINTER(h);
                /* Registers are accessed as aligned dwords only. */
                if (off & 0x3u)
                        return -EBADMSG;
                /* A structure inside the header array (pointer 0 included) is not a structure. */
                if (off < headers_end)
                        return -EBADMSG;
                if (off + cxl_cap_min_length(id) > len)
                        return -EBADMSG;

                a.cap[a.n++] = (struct cxl_cap) {
                        .id = id,
                        .version = (uint8_t)CXL_CM_CAP_VERSION(h),
                        .offset = (uint32_t)off,
                };
        }

        *ret = a;
        return 0;
}

int cxl_caparray_find(const struct cxl_caparray *a, uint16_t id, struct cxl_cap *ret)
{
        if (!a)
                return -EINVAL;
        for (size_t i = 0; i < a->n && i < CXL_CAPARRAY_MAX; i++)
                if (a->cap[i].id == id) {
                        if (ret)
                                *ret = a->cap[i];
                        return 0;
                }
        return -ENOENT;
}

const char *cxl_cap_id_to_string(uint16_t id)
{
        static const char *const names[] = {
                [CXL_CM_CAP_NULL]              = "null",
                [CXL_CM_CAP_ARRAY]             = "capability",
                [CXL_CM_CAP_RAS]               = "ras",
                [CXL_CM_CAP_SECURITY]          = "security",
                [CXL_CM_CAP_LINK]              = "link",
                [CXL_CM_CAP_HDM]               = "hdm-decoder",
                [CXL_CM_CAP_EXT_SECURITY]      = "extended-security",
                [CXL_CM_CAP_IDE]               = "ide",
                [CXL_CM_CAP_SNOOP_FILTER]      = "snoop-filter",
                [CXL_CM_CAP_TIMEOUT_ISOLATION] = "timeout-isolation",
                [CXL_CM_CAP_EXTENDED_RANGE]    = "cachemem-extended-range",
                [CXL_CM_CAP_BI_ROUTE_TABLE]    = "bi-route-table",
                [CXL_CM_CAP_BI_DECODER]        = "bi-decoder",
                [CXL_CM_CAP_CACHE_ID_RT]       = "cache-id-route-table",
                [CXL_CM_CAP_CACHE_ID_DECODER]  = "cache-id-decoder",
                [CXL_CM_CAP_EXT_HDM]           = "extended-hdm-decoder",
                [CXL_CM_CAP_EXT_METADATA]      = "extended-metadata",
        };

        if (id < sizeof(names) / sizeof(names[0]))
                return names[id];
        return NULL;
}
