/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RAS capability structure (CXL r3.1 §8.2.4.17) decoded from a 0x58-byte copy. */
#include <errno.h>
#include <stdio.h>

#include "cxl-ras.h"

static uint32_t ras_read32(const uint8_t *ras, size_t off)
{
        return (uint32_t)ras[off] | (uint32_t)ras[off + 1] << 8 |
               (uint32_t)ras[off + 2] << 16 | (uint32_t)ras[off + 3] << 24;
}

uint32_t cxl_ras_first_error(uint32_t ue_status, uint8_t first_error_pointer)
{
        uint32_t status = ue_status & CXL_RAS_UE_VALID_MASK;

        /*
         * With several errors latched, the First Error Pointer tells which came
         * first; with one, the status is the answer. A pointer past bit 31 (the
         * field is 6 bits wide) names no status bit.
         */
        if (__builtin_popcount(status) > 1)
                return first_error_pointer < 32 ? 1u << first_error_pointer : 0;
        return status;
}

int cxl_ras_decode(const uint8_t *ras, size_t len, struct cxl_ras_snapshot *ret)
{
        struct cxl_ras_snapshot s = {};

        if (!ras || !ret)
                return -EINVAL;
        if (len < CXL_RAS_LENGTH)
                return -ERANGE;

        s.ue_status = ras_read32(ras, CXL_RAS_UE_STATUS);
        s.ue_mask = ras_read32(ras, CXL_RAS_UE_MASK);
        s.ue_severity = ras_read32(ras, CXL_RAS_UE_SEVERITY);
        s.ce_status = ras_read32(ras, CXL_RAS_CE_STATUS);
        s.ce_mask = ras_read32(ras, CXL_RAS_CE_MASK);
        s.cap_control = ras_read32(ras, CXL_RAS_CAP_CONTROL);

        /* A structure reading all-ones came from a device that is gone. */
        if (s.ue_status == REG_ALL_ONES && s.cap_control == REG_ALL_ONES)
                return -ENODEV;

        s.first_error_pointer = (uint8_t)CXL_RAS_FIRST_ERROR_PTR(s.cap_control);
        s.first_error = cxl_ras_first_error(s.ue_status, s.first_error_pointer);
        /* All 16 dwords from the device, not the kernel's 512-byte artefact. */
        for (unsigned i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++)
                s.header_log[i] = ras_read32(ras, CXL_RAS_HEADER_LOG + 4u * i);

        *ret = s;
        return 0;
}

const char *cxl_ras_ue_bit_to_string(unsigned bit)
{
        static const char *const names[] = {
                [0]  = "cache-data-parity",
                [1]  = "cache-address-parity",
                [2]  = "cache-byte-enable-parity",
                [3]  = "cache-data-ecc",
                [4]  = "mem-data-parity",
                [5]  = "mem-address-parity",
                [6]  = "mem-byte-enable-parity",
                [7]  = "mem-data-ecc",
                [8]  = "reinit-threshold",
                [9]  = "reserved-encoding-violation",
                [10] = "poison-received",
                [11] = "receiver-overflow",
                [14] = "internal-error",
                [15] = "cxl-ide-tx",
                [16] = "cxl-ide-rx",
        };

        if (bit < sizeof(names) / sizeof(names[0]))
                return names[bit];
        return NULL;
}

const char *cxl_ras_ce_bit_to_string(unsigned bit)
{
        static const char *const names[] = {
                [0] = "cache-data-ecc",
                [1] = "mem-data-ecc",
                [2] = "crc-threshold",
                [3] = "retry-threshold",
                [4] = "cache-poison-received",
                [5] = "mem-poison-received",
                [6] = "physical-layer-error",
        };

        if (bit < sizeof(names) / sizeof(names[0]))
                return names[bit];
        return NULL;
}

static const char *status_to_string(uint32_t status, uint32_t valid, const char *(*bit_name)(unsigned),
                                    char *buf, size_t len)
{
        size_t pos = 0;
        int n;

        if (!buf || len == 0)
                return buf;
        buf[0] = '\0';

        for (unsigned bit = 0; bit < 32; bit++) {
                const char *name;

                if (!(status & (1u << bit)))
                        continue;
                name = (valid & (1u << bit)) ? bit_name(bit) : NULL;
                if (name)
                        n = snprintf(buf + pos, len - pos, "%s%s", pos ? " " : "", name);
                else
                        n = snprintf(buf + pos, len - pos, "%sreserved-bit-%u", pos ? " " : "", bit);
                if (n < 0 || (size_t)n >= len - pos)
                        return buf;  /* truncated, still NUL-terminated */
                pos += (size_t)n;
        }
        return buf;
}

const char *cxl_ras_ue_status_to_string(uint32_t status, char *buf, size_t len)
{
        return status_to_string(status, CXL_RAS_UE_VALID_MASK, cxl_ras_ue_bit_to_string, buf, len);
}

const char *cxl_ras_ce_status_to_string(uint32_t status, char *buf, size_t len)
{
        return status_to_string(status, CXL_RAS_CE_VALID_MASK, cxl_ras_ce_bit_to_string, buf, len);
}
