/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target: the input is a component register block from offset
 * 0x1000 on (the CXL.io page below it is never read by the decoders, so it is
 * zero-filled rather than spent on mutation); block length = 0x1000 + input,
 * at most 64 KiB. Walks the capability array, then decodes T&I and RAS
 * wherever they are announced and checks the arming/release arithmetic's
 * promises on the values found there.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cxl-caparray.h"
#include "cxl-ras.h"
#include "cxl-regs.h"
#include "cxl-ti.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static uint32_t get32(const uint8_t *b, size_t off)
{
        return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 | (uint32_t)b[off + 3] << 24;
}

/* Control bit -> capability bit that must be set for us ever to write it 1 (spec Table 8-146). */
static const struct { uint32_t ctl, cap; } ctl_needs[] = {
        { CXL_TI_CTL_MEM_TIMEOUT_ENABLE,              CXL_TI_CAP_MEM_TIMEOUT },
        { CXL_TI_CTL_MEM_TIMEOUT_VALUE,               CXL_TI_CAP_MEM_TIMEOUT },
        { CXL_TI_CTL_CACHE_TIMEOUT_ENABLE,            CXL_TI_CAP_CACHE_TIMEOUT },
        { CXL_TI_CTL_CACHE_TIMEOUT_VALUE,             CXL_TI_CAP_CACHE_TIMEOUT },
        { CXL_TI_CTL_MEM_ISOLATION_ENABLE,            CXL_TI_CAP_MEM_ISOLATION },
        { CXL_TI_CTL_MEM_ISOLATION_LINKDOWN_ENABLE,   CXL_TI_CAP_MEM_ISOLATION_LINKDOWN },
        { CXL_TI_CTL_CACHE_ISOLATION_ENABLE,          CXL_TI_CAP_CACHE_ISOLATION },
        { CXL_TI_CTL_CACHE_ISOLATION_LINKDOWN_ENABLE, CXL_TI_CAP_CACHE_ISOLATION_LINKDOWN },
        { CXL_TI_CTL_ERRCOR_SIGNALING_ENABLE,         CXL_TI_CAP_ERRCOR_SIGNALING },
        { CXL_TI_CTL_INTERRUPT_ENABLE,                CXL_TI_CAP_INTERRUPT },
};

static void check_ti(uint32_t cap, uint32_t ctl, uint32_t sts)
{
        struct cxl_ti_capability c;
        struct cxl_ti_control k;
        struct cxl_ti_status s;
        char buf[160];
        uint32_t out;

        cxl_ti_capability_decode(cap, &c);
        cxl_ti_control_decode(ctl, &k);
        cxl_ti_status_decode(sts, &s);
        CHECK(c.interrupt || c.interrupt_msgnum == 0);
        (void)cxl_ti_timeout_ranges_legal(c.mem_timeout_ranges);
        (void)cxl_ti_timeout_value_decode(k.mem_timeout_value, NULL);
        (void)cxl_isolation_kind_to_string(cxl_ti_status_kind(sts));
        (void)cxl_ti_status_to_string(sts, buf, sizeof(buf));

        /* The request comes from the control bits read (so the fuzzer steers it). */
        const struct cxl_ti_arm_request req = {
                .mem_isolation = k.mem_isolation_enable,
                .mem_isolation_linkdown = k.mem_isolation_linkdown_enable,
                .interrupt = k.interrupt_enable,
                .errcor_signaling = k.errcor_signaling_enable,
                .mem_timeout = k.mem_timeout_enable,
                .mem_timeout_value = k.cache_timeout_value,
        };
        if (cxl_ti_control_arm(cap, ctl, &req, &out) == 0) {
                /* Reserved bits exactly as read. */
                CHECK((out & ~CXL_TI_CTL_DEFINED_MASK) == (ctl & ~CXL_TI_CTL_DEFINED_MASK));
                for (size_t i = 0; i < sizeof(ctl_needs) / sizeof(ctl_needs[0]); i++)
                        if (!(cap & ctl_needs[i].cap))
                                CHECK(!(out & ctl_needs[i].ctl));
                if (req.mem_isolation)
                        CHECK(out & CXL_TI_CTL_MEM_ISOLATION_ENABLE);
                if (req.mem_timeout)
                        CHECK(cxl_ti_timeout_value_supported(cap & 0xf, out & 0xf));
        }

        out = cxl_ti_control_disarm(ctl);
        CHECK((out & ~CXL_TI_CTL_DEFINED_MASK) == (ctl & ~CXL_TI_CTL_DEFINED_MASK));
        CHECK(!(out & (CXL_TI_CTL_MEM_ISOLATION_ENABLE | CXL_TI_CTL_INTERRUPT_ENABLE | CXL_TI_CTL_MEM_TIMEOUT_ENABLE)));

        out = cxl_ti_status_clear_value(sts);
        CHECK((out & ~CXL_TI_STS_RW1C_MASK) == 0);      /* RsvdZ and RP Busy written 0 */
        CHECK((out & ~sts) == 0);                       /* never clears what is not latched */
        if (cxl_ti_status_clear_allowed(sts))
                CHECK(!((sts & CXL_TI_STS_RP_BUSY) && (sts & CXL_TI_STS_ISOLATED_MASK)));
}

static void check_ras(const uint8_t *p, size_t len)
{
        struct cxl_ras_snapshot s;
        char buf[512];

        if (cxl_ras_decode(p, len, &s) < 0)
                return;
        CHECK(s.first_error_pointer < 64);
        /* The first error is one valid status bit, the single latched one, or nothing. */
        CHECK((s.first_error & (s.first_error - 1)) == 0 || s.first_error == (s.ue_status & CXL_RAS_UE_VALID_MASK));
        (void)cxl_ras_ue_status_to_string(s.ue_status, buf, sizeof(buf));
        (void)cxl_ras_ce_status_to_string(s.ce_status, buf, sizeof(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        size_t payload = size < CXL_COMPONENT_BLOCK_SIZE - CXL_CM_OFFSET ? size : CXL_COMPONENT_BLOCK_SIZE - CXL_CM_OFFSET;
        size_t len = CXL_CM_OFFSET + payload;
        /* Exact size, so one byte past the block is an ASan report. */
        _cleanup_free_ uint8_t *block = calloc(1, len);
        _cleanup_free_ struct cxl_caparray *a = malloc(sizeof(*a));

        if (!block || !a)
                return 0;
        memcpy(block + CXL_CM_OFFSET, data, payload);

        if (cxl_caparray_walk(block, len, a) < 0)
                return 0;

        CHECK(a->n + a->n_null == a->array_size);
        for (size_t i = 0; i < a->n; i++) {
                const struct cxl_cap *c = &a->cap[i];

                CHECK(c->id != CXL_CM_CAP_NULL);
                CHECK(c->offset % 4 == 0);
                CHECK(c->offset >= CXL_CM_OFFSET + 4u * (a->array_size + 1u));
                CHECK((size_t)c->offset + cxl_cap_min_length(c->id) <= len);
                (void)cxl_cap_id_to_string(c->id);

                if (c->id == CXL_CM_CAP_TIMEOUT_ISOLATION)
                        check_ti(get32(block, c->offset + CXL_TI_CAPABILITY),
                                 get32(block, c->offset + CXL_TI_CONTROL),
                                 get32(block, c->offset + CXL_TI_STATUS));
                else if (c->id == CXL_CM_CAP_RAS)
                        check_ras(block + c->offset, len - c->offset);
        }
        return 0;
}
