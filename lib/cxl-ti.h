/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Timeout & Isolation capability structure: decoding and the pure arming/clearing logic. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cxl_ti_capability {
        uint32_t raw;
        uint8_t mem_timeout_ranges;     /* bitmap A=bit0 .. D=bit3 */
        bool mem_timeout;
        uint8_t cache_timeout_ranges;
        bool cache_timeout;
        bool mem_isolation;
        bool mem_isolation_linkdown;
        bool cache_isolation;
        bool cache_isolation_linkdown;
        bool errcor_signaling;
        bool interrupt;
        uint8_t interrupt_msgnum;       /* valid only when interrupt */
};

struct cxl_ti_control {
        uint32_t raw;
        uint8_t mem_timeout_value;
        bool mem_timeout_enable;
        uint8_t cache_timeout_value;
        bool cache_timeout_enable;
        bool mem_isolation_enable;
        bool mem_isolation_linkdown_enable;
        bool cache_isolation_enable;
        bool cache_isolation_linkdown_enable;
        bool errcor_signaling_enable;
        bool interrupt_enable;
};

struct cxl_ti_status {
        uint32_t raw;
        bool mem_timeout;
        bool cache_timeout;
        bool mem_isolated;
        bool mem_isolated_linkdown;
        bool cache_isolated;
        bool cache_isolated_linkdown;
        bool rp_busy;
};

/* What caused an isolation, as named in records, journal fields, D-Bus and config ("match-reason="). */
enum cxl_isolation_kind {
        CXL_ISOLATION_NONE,
        CXL_ISOLATION_MEM_LINK_DOWN,    /* "mem-link-down"   bit 8 + bit 9 */
        CXL_ISOLATION_MEM_TIMEOUT,      /* "mem-timeout"     bit 8, not 9 */
        CXL_ISOLATION_CACHE_LINK_DOWN,  /* "cache-link-down" bit 12 + 13 */
        CXL_ISOLATION_CACHE_TIMEOUT,    /* "cache-timeout"   bit 12, not 13 */
        _CXL_ISOLATION_KIND_MAX,
        _CXL_ISOLATION_KIND_INVALID = -22,
};

void cxl_ti_capability_decode(uint32_t raw, struct cxl_ti_capability *ret);
void cxl_ti_control_decode(uint32_t raw, struct cxl_ti_control *ret);
void cxl_ti_status_decode(uint32_t raw, struct cxl_ti_status *ret);
/* CXL.mem isolation wins over CXL.cache when both are set; all-ones (device gone) is NONE.
 * Strings: "none", "mem-link-down", "mem-timeout", "cache-link-down", "cache-timeout";
 * from_string is exact (case-sensitive) and returns _CXL_ISOLATION_KIND_INVALID otherwise. */
enum cxl_isolation_kind cxl_ti_status_kind(uint32_t status);
const char *cxl_isolation_kind_to_string(enum cxl_isolation_kind k);
enum cxl_isolation_kind cxl_isolation_kind_from_string(const char *s);

/* Timeout value encodings (control 3:0 / 11:8). */
struct cxl_ti_timeout_range {
        uint8_t value;          /* 0x0, 0x1, 0x2, 0x5, 0x6, 0x9, 0xa, 0xd, 0xe */
        char range;             /* 'A'..'D', or 0 for the default (0h) */
        uint64_t min_usec, max_usec;
};
/* -EINVAL for a reserved encoding. */
int cxl_ti_timeout_value_decode(uint8_t value, struct cxl_ti_timeout_range *ret);
/* Legal bitmaps are 0h,1h,2h,3h,6h,7h,Eh,Fh. */
bool cxl_ti_timeout_ranges_legal(uint8_t ranges_bitmap);
/* 0h always; otherwise the value's range must be in the supported bitmap. */
bool cxl_ti_timeout_value_supported(uint8_t ranges_bitmap, uint8_t value);

/* What arming should enable. Fields the capability lacks are refused, not silently dropped. */
struct cxl_ti_arm_request {
        bool mem_isolation;             /* control 16 */
        bool mem_isolation_linkdown;    /* control 17 */
        bool interrupt;                 /* control 26: only with an interrupt source */
        bool errcor_signaling;          /* control 25 */
        bool mem_timeout;               /* control 4, with mem_timeout_value */
        uint8_t mem_timeout_value;
};

/*
 * Compute the control value to write: read-modify-write of `current`,
 * preserving reserved bits, setting only bits whose capability bit is set
 * (defined bits whose capability is absent are written 0). Bits not named in
 * the request keep their current value.
 * -EOPNOTSUPP if the request needs a capability the port lacks (the bit is
 * never set); -EINVAL for an unsupported timeout value, or link-down enable
 * without CXL.mem isolation (requested or already on); -ENODEV if capability
 * or current is all-ones.
 */
int cxl_ti_control_arm(uint32_t capability, uint32_t current, const struct cxl_ti_arm_request *req, uint32_t *ret_control);
/* Control value with every isolation/timeout/interrupt enable cleared, reserved bits preserved. */
uint32_t cxl_ti_control_disarm(uint32_t current);
/*
 * The RW1C value that clears the isolation described by `status` (bits 8/9/0
 * and/or 12/13/4, whichever are set), RsvdZ and RP Busy zero; 0 for an
 * all-ones (device gone) status. Check cxl_ti_status_clear_allowed() first.
 */
uint32_t cxl_ti_status_clear_value(uint32_t status);
/* False while RP Busy (bit 14) is set with bit 8 or 12, or for an all-ones status. */
bool cxl_ti_status_clear_allowed(uint32_t status);

/*
 * Format "0x%08x (mem-isolated mem-link-down rp-busy ...)" for logs; "(clear)"
 * for 0, "(device-gone)" for all-ones, "reserved" if a RsvdZ bit is set.
 * Truncates to len (always NUL-terminated when len > 0). Returns buf.
 */
const char *cxl_ti_status_to_string(uint32_t status, char *buf, size_t len);
