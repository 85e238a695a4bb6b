/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Timeout & Isolation (CXL r3.1/r3.2 §8.2.4.24): field decoding and the pure
 * register arithmetic for arming, disarming and releasing a port. Kept free
 * of I/O so that every rule (read-modify-write, never set an unsupported bit,
 * RW1C with RsvdZ zero) is testable on plain u32 values.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cxl-regs.h"
#include "cxl-ti.h"

void cxl_ti_capability_decode(uint32_t raw, struct cxl_ti_capability *ret)
{
        if (!ret)
                return;
        *ret = (struct cxl_ti_capability) {
                .raw = raw,
                .mem_timeout_ranges = (uint8_t)(raw & CXL_TI_CAP_MEM_TIMEOUT_RANGES),
                .mem_timeout = raw & CXL_TI_CAP_MEM_TIMEOUT,
                .cache_timeout_ranges = (uint8_t)((raw & CXL_TI_CAP_CACHE_TIMEOUT_RANGES) >> 8),
                .cache_timeout = raw & CXL_TI_CAP_CACHE_TIMEOUT,
                .mem_isolation = raw & CXL_TI_CAP_MEM_ISOLATION,
                .mem_isolation_linkdown = raw & CXL_TI_CAP_MEM_ISOLATION_LINKDOWN,
                .cache_isolation = raw & CXL_TI_CAP_CACHE_ISOLATION,
                .cache_isolation_linkdown = raw & CXL_TI_CAP_CACHE_ISOLATION_LINKDOWN,
                .errcor_signaling = raw & CXL_TI_CAP_ERRCOR_SIGNALING,
                .interrupt = raw & CXL_TI_CAP_INTERRUPT,
                /* Only meaningful with bit 26; zero otherwise so nobody uses a stale number. */
                .interrupt_msgnum = (raw & CXL_TI_CAP_INTERRUPT) ? (uint8_t)CXL_TI_CAP_INTERRUPT_MSGNUM(raw) : 0,
        };
}

void cxl_ti_control_decode(uint32_t raw, struct cxl_ti_control *ret)
{
        if (!ret)
                return;
        *ret = (struct cxl_ti_control) {
                .raw = raw,
                .mem_timeout_value = (uint8_t)(raw & CXL_TI_CTL_MEM_TIMEOUT_VALUE),
                .mem_timeout_enable = raw & CXL_TI_CTL_MEM_TIMEOUT_ENABLE,
                .cache_timeout_value = (uint8_t)((raw & CXL_TI_CTL_CACHE_TIMEOUT_VALUE) >> 8),
                .cache_timeout_enable = raw & CXL_TI_CTL_CACHE_TIMEOUT_ENABLE,
                .mem_isolation_enable = raw & CXL_TI_CTL_MEM_ISOLATION_ENABLE,
                .mem_isolation_linkdown_enable = raw & CXL_TI_CTL_MEM_ISOLATION_LINKDOWN_ENABLE,
                .cache_isolation_enable = raw & CXL_TI_CTL_CACHE_ISOLATION_ENABLE,
                .cache_isolation_linkdown_enable = raw & CXL_TI_CTL_CACHE_ISOLATION_LINKDOWN_ENABLE,
                .errcor_signaling_enable = raw & CXL_TI_CTL_ERRCOR_SIGNALING_ENABLE,
                .interrupt_enable = raw & CXL_TI_CTL_INTERRUPT_ENABLE,
        };
}

void cxl_ti_status_decode(uint32_t raw, struct cxl_ti_status *ret)
{
        if (!ret)
                return;
        *ret = (struct cxl_ti_status) {
                .raw = raw,
                .mem_timeout = raw & CXL_TI_STS_MEM_TIMEOUT,
                .cache_timeout = raw & CXL_TI_STS_CACHE_TIMEOUT,
                .mem_isolated = raw & CXL_TI_STS_MEM_ISOLATION,
                .mem_isolated_linkdown = raw & CXL_TI_STS_MEM_ISOLATION_LINKDOWN,
                .cache_isolated = raw & CXL_TI_STS_CACHE_ISOLATION,
                .cache_isolated_linkdown = raw & CXL_TI_STS_CACHE_ISOLATION_LINKDOWN,
                .rp_busy = raw & CXL_TI_STS_RP_BUSY,
        };
}

enum cxl_isolation_kind cxl_ti_status_kind(uint32_t status)
{
        /* All-ones is a vanished device, not every isolation at once. */
        if (status == REG_ALL_ONES)
                return CXL_ISOLATION_NONE;
        if (status & CXL_TI_STS_MEM_ISOLATION)
                return (status & CXL_TI_STS_MEM_ISOLATION_LINKDOWN) ? CXL_ISOLATION_MEM_LINK_DOWN : CXL_ISOLATION_MEM_TIMEOUT;
        if (status & CXL_TI_STS_CACHE_ISOLATION)
                return (status & CXL_TI_STS_CACHE_ISOLATION_LINKDOWN) ? CXL_ISOLATION_CACHE_LINK_DOWN : CXL_ISOLATION_CACHE_TIMEOUT;
        return CXL_ISOLATION_NONE;
}

static const char *const isolation_kind_names[_CXL_ISOLATION_KIND_MAX] = {
        [CXL_ISOLATION_NONE]            = "none",
        [CXL_ISOLATION_MEM_LINK_DOWN]   = "mem-link-down",
        [CXL_ISOLATION_MEM_TIMEOUT]     = "mem-timeout",
        [CXL_ISOLATION_CACHE_LINK_DOWN] = "cache-link-down",
        [CXL_ISOLATION_CACHE_TIMEOUT]   = "cache-timeout",
};

const char *cxl_isolation_kind_to_string(enum cxl_isolation_kind k)
{
        if ((int)k < 0 || k >= _CXL_ISOLATION_KIND_MAX)
                return NULL;
        return isolation_kind_names[k];
}

enum cxl_isolation_kind cxl_isolation_kind_from_string(const char *s)
{
        if (!s)
                return _CXL_ISOLATION_KIND_INVALID;
        for (int k = 0; k < _CXL_ISOLATION_KIND_MAX; k++)
                if (strcmp(s, isolation_kind_names[k]) == 0)
                        return (enum cxl_isolation_kind)k;
        return _CXL_ISOLATION_KIND_INVALID;
}

/* Spec Table 8-147 (control 3:0 / 11:8). Every other encoding is reserved. */
static const struct cxl_ti_timeout_range timeout_ranges[] = {
        { 0x0, 0,   50,         10000 },
        { 0x1, 'A', 50,         100 },
        { 0x2, 'A', 1000,       10000 },
        { 0x5, 'B', 16000,      55000 },
        { 0x6, 'B', 65000,      210000 },
        { 0x9, 'C', 260000,     900000 },
        { 0xa, 'C', 1000000,    3500000 },
        { 0xd, 'D', 4000000,    13000000 },
        { 0xe, 'D', 17000000,   64000000 },
};

int cxl_ti_timeout_value_decode(uint8_t value, struct cxl_ti_timeout_range *ret)
{
        for (size_t i = 0; i < sizeof(timeout_ranges) / sizeof(timeout_ranges[0]); i++)
                if (timeout_ranges[i].value == value) {
                        if (ret)
                                *ret = timeout_ranges[i];
                        return 0;
                }
        return -EINVAL;
}

bool cxl_ti_timeout_ranges_legal(uint8_t ranges_bitmap)
{
        /* Ranges come in contiguous, nested sets: 0h,1h,2h,3h,6h,7h,Eh,Fh. */
        switch (ranges_bitmap) {
        case 0x0: case 0x1: case 0x2: case 0x3:
        case 0x6: case 0x7: case 0xe: case 0xf:
                return true;
        default:
                return false;
        }
}

bool cxl_ti_timeout_value_supported(uint8_t ranges_bitmap, uint8_t value)
{
        struct cxl_ti_timeout_range r;

        if (cxl_ti_timeout_value_decode(value, &r) < 0)
                return false;
        /* 0h is the default every port has, programmable ranges or not (the v1 series got this wrong). */
        if (r.range == 0)
                return true;
        return ranges_bitmap & (1u << (r.range - 'A'));
}

/* Which capability bit makes each defined control bit writable. */
static uint32_t control_bits_allowed(uint32_t capability)
{
        uint32_t allowed = 0;

        if (capability & CXL_TI_CAP_MEM_TIMEOUT)
                allowed |= CXL_TI_CTL_MEM_TIMEOUT_VALUE | CXL_TI_CTL_MEM_TIMEOUT_ENABLE;
        if (capability & CXL_TI_CAP_CACHE_TIMEOUT)
                allowed |= CXL_TI_CTL_CACHE_TIMEOUT_VALUE | CXL_TI_CTL_CACHE_TIMEOUT_ENABLE;
        if (capability & CXL_TI_CAP_MEM_ISOLATION)
                allowed |= CXL_TI_CTL_MEM_ISOLATION_ENABLE;
        if (capability & CXL_TI_CAP_MEM_ISOLATION_LINKDOWN)
                allowed |= CXL_TI_CTL_MEM_ISOLATION_LINKDOWN_ENABLE;
        if (capability & CXL_TI_CAP_CACHE_ISOLATION)
                allowed |= CXL_TI_CTL_CACHE_ISOLATION_ENABLE;
        if (capability & CXL_TI_CAP_CACHE_ISOLATION_LINKDOWN)
                allowed |= CXL_TI_CTL_CACHE_ISOLATION_LINKDOWN_ENABLE;
        if (capability & CXL_TI_CAP_ERRCOR_SIGNALING)
                allowed |= CXL_TI_CTL_ERRCOR_SIGNALING_ENABLE;
        if (capability & CXL_TI_CAP_INTERRUPT)
                allowed |= CXL_TI_CTL_INTERRUPT_ENABLE;
        return allowed;
}

int cxl_ti_control_arm(uint32_t capability, uint32_t current, const struct cxl_ti_arm_request *req, uint32_t *ret_control)
{
        uint32_t allowed, set = 0, control;

        if (!req)
                return -EINVAL;
        if (capability == REG_ALL_ONES || current == REG_ALL_ONES)
                return -ENODEV;

        allowed = control_bits_allowed(capability);

        if (req->mem_isolation)
                set |= CXL_TI_CTL_MEM_ISOLATION_ENABLE;
        if (req->mem_isolation_linkdown) {
                /* Forcing the link down only means something as part of CXL.mem isolation. */
                if (!req->mem_isolation && !(current & CXL_TI_CTL_MEM_ISOLATION_ENABLE))
                        return -EINVAL;
                set |= CXL_TI_CTL_MEM_ISOLATION_LINKDOWN_ENABLE;
        }
        if (req->interrupt)
                set |= CXL_TI_CTL_INTERRUPT_ENABLE;
        if (req->errcor_signaling)
                set |= CXL_TI_CTL_ERRCOR_SIGNALING_ENABLE;
        if (req->mem_timeout)
                set |= CXL_TI_CTL_MEM_TIMEOUT_ENABLE;

        /* Refuse, rather than silently drop, what the port cannot do. */
        if (set & ~allowed)
                return -EOPNOTSUPP;

        if (req->mem_timeout &&
            !cxl_ti_timeout_value_supported((uint8_t)(capability & CXL_TI_CAP_MEM_TIMEOUT_RANGES), req->mem_timeout_value))
                return -EINVAL;

        /*
         * Start from the current value: reserved bits are preserved as read.
         * Defined bits whose capability is absent are written as 0 even if
         * they read 1, because software must never set them.
         */
        control = current & ~(CXL_TI_CTL_DEFINED_MASK & ~allowed);
        control |= set;
        if (req->mem_timeout)
                control = (control & ~CXL_TI_CTL_MEM_TIMEOUT_VALUE) | (req->mem_timeout_value & CXL_TI_CTL_MEM_TIMEOUT_VALUE);

        if (ret_control)
                *ret_control = control;
        return 0;
}

uint32_t cxl_ti_control_disarm(uint32_t current)
{
        const uint32_t enables = CXL_TI_CTL_MEM_TIMEOUT_ENABLE | CXL_TI_CTL_CACHE_TIMEOUT_ENABLE |
                                 CXL_TI_CTL_MEM_ISOLATION_ENABLE | CXL_TI_CTL_MEM_ISOLATION_LINKDOWN_ENABLE |
                                 CXL_TI_CTL_CACHE_ISOLATION_ENABLE | CXL_TI_CTL_CACHE_ISOLATION_LINKDOWN_ENABLE |
                                 CXL_TI_CTL_ERRCOR_SIGNALING_ENABLE | CXL_TI_CTL_INTERRUPT_ENABLE;

        /* "&= ~", not "&=": the v1 series cleared everything but the enable. */
        return current & ~enables;
}

uint32_t cxl_ti_status_clear_value(uint32_t status)
{
        if (status == REG_ALL_ONES)
                return 0;
        /* Write 1 only to the latched RW1CS bits that are set; RsvdZ and RP Busy (RO) get 0. */
        return status & CXL_TI_STS_RW1C_MASK;
}

bool cxl_ti_status_clear_allowed(uint32_t status)
{
        if (status == REG_ALL_ONES)
                return false;
        /* Spec §12.3: clearing isolation while RP Busy reads 1 is undefined. */
        if ((status & CXL_TI_STS_ISOLATED_MASK) && (status & CXL_TI_STS_RP_BUSY))
                return false;
        return true;
}

const char *cxl_ti_status_to_string(uint32_t status, char *buf, size_t len)
{
        static const struct {
                uint32_t bit;
                const char *name;
        } flags[] = {
                { CXL_TI_STS_MEM_TIMEOUT,              "mem-timeout" },
                { CXL_TI_STS_CACHE_TIMEOUT,            "cache-timeout" },
                { CXL_TI_STS_MEM_ISOLATION,            "mem-isolated" },
                { CXL_TI_STS_MEM_ISOLATION_LINKDOWN,   "mem-link-down" },
                { CXL_TI_STS_CACHE_ISOLATION,          "cache-isolated" },
                { CXL_TI_STS_CACHE_ISOLATION_LINKDOWN, "cache-link-down" },
                { CXL_TI_STS_RP_BUSY,                  "rp-busy" },
        };
        const uint32_t defined = CXL_TI_STS_RW1C_MASK | CXL_TI_STS_RP_BUSY;
        size_t pos = 0;
        bool first = true;
        int n;

        if (!buf || len == 0)
                return buf;

#define APPEND(...)                                                             \
        do {                                                                    \
                n = snprintf(buf + pos, len - pos, __VA_ARGS__);                \
                if (n < 0 || (size_t)n >= len - pos)                            \
                        return buf;  /* truncated, still NUL-terminated */      \
                pos += (size_t)n;                                               \
        } while (0)

        APPEND("0x%08x (", status);
        if (status == REG_ALL_ONES)
                APPEND("device-gone");
        else if (status == 0)
                APPEND("clear");
        else {
                for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
                        if (status & flags[i].bit) {
                                APPEND("%s%s", first ? "" : " ", flags[i].name);
                                first = false;
                        }
                if (status & ~defined)
                        APPEND("%sreserved", first ? "" : " ");
        }
        APPEND(")");
#undef APPEND
        return buf;
}
