/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hardware semantics for a simulated component block. The block is a file
 * mapped MAP_SHARED by several processes (daemon, injector, tests), so every
 * read-modify-write is a compare-and-swap loop on the shared dword: a
 * software RW1C clear racing the injector setting RP Busy must come out the
 * way one ordering of the two would on hardware, never as a lost update.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cxl-caparray.h"
#include "cxl-regs.h"
#include "regmodel.h"

struct regmodel {
        volatile uint32_t *block;
        size_t len;
        uint32_t ti;    /* block offset of T&I, 0 if none */
        uint32_t ras;   /* block offset of RAS, 0 if none */
};

/* Control bits that are RW, by the capability bit that makes them so. */
static const struct {
        uint32_t cap, ctl;
} ti_control_rw[] = {
        { CXL_TI_CAP_MEM_TIMEOUT, CXL_TI_CTL_MEM_TIMEOUT_VALUE | CXL_TI_CTL_MEM_TIMEOUT_ENABLE },
        { CXL_TI_CAP_CACHE_TIMEOUT, CXL_TI_CTL_CACHE_TIMEOUT_VALUE | CXL_TI_CTL_CACHE_TIMEOUT_ENABLE },
        { CXL_TI_CAP_MEM_ISOLATION, CXL_TI_CTL_MEM_ISOLATION_ENABLE },
        { CXL_TI_CAP_MEM_ISOLATION_LINKDOWN, CXL_TI_CTL_MEM_ISOLATION_LINKDOWN_ENABLE },
        { CXL_TI_CAP_CACHE_ISOLATION, CXL_TI_CTL_CACHE_ISOLATION_ENABLE },
        { CXL_TI_CAP_CACHE_ISOLATION_LINKDOWN, CXL_TI_CTL_CACHE_ISOLATION_LINKDOWN_ENABLE },
        { CXL_TI_CAP_ERRCOR_SIGNALING, CXL_TI_CTL_ERRCOR_SIGNALING_ENABLE },
        { CXL_TI_CAP_INTERRUPT, CXL_TI_CTL_INTERRUPT_ENABLE },
};

static uint32_t load(const struct regmodel *m, uint32_t off)
{
        return __atomic_load_n(&m->block[off / 4], __ATOMIC_SEQ_CST);
}

static void store(struct regmodel *m, uint32_t off, uint32_t v)
{
        __atomic_store_n(&m->block[off / 4], v, __ATOMIC_SEQ_CST);
}

/* Apply f(old, arg) atomically; returns the value written. */
static uint32_t update(struct regmodel *m, uint32_t off, uint32_t (*f)(uint32_t old, uint32_t arg, const void *ctx),
                       uint32_t arg, const void *ctx)
{
        volatile uint32_t *p = &m->block[off / 4];
        uint32_t old = __atomic_load_n(p, __ATOMIC_SEQ_CST), new;

        do
                new = f(old, arg, ctx);
        while (!__atomic_compare_exchange_n(p, &old, new, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
        return new;
}

static bool gone(const struct regmodel *m)
{
        return m->len >= CXL_CM_OFFSET + 4 && load(m, CXL_CM_OFFSET) == REG_ALL_ONES;
}

int regmodel_attach_snapshot(volatile uint32_t *block, size_t len, const uint8_t *snapshot, struct regmodel **ret)
{
        _cleanup_free_ struct regmodel *m = NULL;
        struct cxl_caparray *a = NULL;
        struct cxl_cap cap;

        if (!block || !snapshot || !ret || len == 0 || len % 4 || len > CXL_COMPONENT_BLOCK_SIZE)
                return -EINVAL;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->block = block;
        m->len = len;

        /* The array is large (255 entries); keep it off the stack of callers with small ones. */
        a = malloc(sizeof(*a));
        if (!a)
                return -ENOMEM;
        if (cxl_caparray_walk(snapshot, len, a) >= 0) {
                if (cxl_caparray_find(a, CXL_CM_CAP_TIMEOUT_ISOLATION, &cap) >= 0)
                        m->ti = cap.offset;
                if (cxl_caparray_find(a, CXL_CM_CAP_RAS, &cap) >= 0)
                        m->ras = cap.offset;
        }
        free(a);

        *ret = TAKE_PTR(m);
        return 0;
}

int regmodel_attach(volatile uint32_t *block, size_t len, struct regmodel **ret)
{
        _cleanup_free_ uint8_t *snapshot = NULL;

        if (!block || len == 0 || len % 4 || len > CXL_COMPONENT_BLOCK_SIZE)
                return -EINVAL;
        snapshot = malloc(len);
        if (!snapshot)
                return -ENOMEM;
        for (size_t i = 0; i < len / 4; i++) {
                uint32_t v = __atomic_load_n(&block[i], __ATOMIC_SEQ_CST);
                /* registers are little-endian */
                snapshot[4 * i] = (uint8_t)v;
                snapshot[4 * i + 1] = (uint8_t)(v >> 8);
                snapshot[4 * i + 2] = (uint8_t)(v >> 16);
                snapshot[4 * i + 3] = (uint8_t)(v >> 24);
        }
        return regmodel_attach_snapshot(block, len, snapshot, ret);
}

struct regmodel *regmodel_free(struct regmodel *m)
{
        free(m);
        return NULL;
}

uint32_t regmodel_ti_offset(const struct regmodel *m)
{
        return m ? m->ti : 0;
}

uint32_t regmodel_ras_offset(const struct regmodel *m)
{
        return m ? m->ras : 0;
}

static int check_offset(const struct regmodel *m, uint32_t offset)
{
        if (!m || offset % 4 || (size_t)offset + 4 > m->len)
                return -EINVAL;
        return 0;
}

int regmodel_read32(struct regmodel *m, uint32_t offset, uint32_t *ret)
{
        int r = check_offset(m, offset);

        if (r < 0)
                return r;
        *ret = load(m, offset);
        return 0;
}

/* --- software writes --- */

static uint32_t ti_control_write(uint32_t old, uint32_t value, const void *ctx)
{
        uint32_t cap = *(const uint32_t *)ctx, rw = 0;

        for (size_t i = 0; i < ELEMENTSOF(ti_control_rw); i++)
                if (cap & ti_control_rw[i].cap)
                        rw |= ti_control_rw[i].ctl;
        /* Ranges bitmap 0h: the timeout is fixed at the default, its value field is not programmable. */
        if (!(cap & CXL_TI_CAP_MEM_TIMEOUT_RANGES))
                rw &= ~CXL_TI_CTL_MEM_TIMEOUT_VALUE;
        if (!(cap & CXL_TI_CAP_CACHE_TIMEOUT_RANGES))
                rw &= ~CXL_TI_CTL_CACHE_TIMEOUT_VALUE;
        /* Defined bits without their capability stay hard-wired; reserved bits keep what they hold. */
        return (old & ~rw) | (value & rw);
}

static uint32_t ti_status_write(uint32_t old, uint32_t value, const void *ctx)
{
        uint32_t clear = value & CXL_TI_STS_RW1C_MASK;

        /* Clearing isolation while the port is still busy is undefined: this port ignores it. */
        if (old & CXL_TI_STS_RP_BUSY)
                clear &= ~(CXL_TI_STS_MEM_ISOLATION | CXL_TI_STS_MEM_ISOLATION_LINKDOWN |
                           CXL_TI_STS_CACHE_ISOLATION | CXL_TI_STS_CACHE_ISOLATION_LINKDOWN);
        return old & ~clear;
}

static uint32_t rw1c(uint32_t old, uint32_t value, const void *ctx)
{
        return old & ~value;
}

static uint32_t rw_masked(uint32_t old, uint32_t value, const void *ctx)
{
        uint32_t mask = *(const uint32_t *)ctx;

        return (old & ~mask) | (value & mask);
}

int regmodel_write32(struct regmodel *m, uint32_t offset, uint32_t value)
{
        int r = check_offset(m, offset);

        if (r < 0)
                return r;
        if (gone(m))
                return 0;

        if (m->ti && offset >= m->ti && offset < m->ti + CXL_TI_LENGTH) {
                uint32_t cap;

                switch (offset - m->ti) {
                case CXL_TI_CONTROL:
                        cap = load(m, m->ti + CXL_TI_CAPABILITY);
                        update(m, offset, ti_control_write, value, &cap);
                        break;
                case CXL_TI_STATUS:
                        update(m, offset, ti_status_write, value, NULL);
                        break;
                default:
                        break;  /* capability RO, +0x4 reserved */
                }
                return 0;
        }

        if (m->ras && offset >= m->ras && offset < m->ras + CXL_RAS_LENGTH) {
                static const uint32_t ue_valid = CXL_RAS_UE_VALID_MASK, ce_valid = CXL_RAS_CE_VALID_MASK;

                switch (offset - m->ras) {
                case CXL_RAS_UE_STATUS:
                case CXL_RAS_CE_STATUS:
                        update(m, offset, rw1c, value, NULL);
                        break;
                case CXL_RAS_UE_MASK:
                case CXL_RAS_UE_SEVERITY:
                        update(m, offset, rw_masked, value, &ue_valid);
                        break;
                case CXL_RAS_CE_MASK:
                        update(m, offset, rw_masked, value, &ce_valid);
                        break;
                default:
                        break;  /* capability/control (First Error Pointer) and header log are RO */
                }
                return 0;
        }

        store(m, offset, value);
        return 0;
}

/* --- hardware side --- */

static uint32_t set_bits(uint32_t old, uint32_t bits, const void *ctx)
{
        return old | bits;
}

static uint32_t clear_bits(uint32_t old, uint32_t bits, const void *ctx)
{
        return old & ~bits;
}

int regmodel_hw_isolate(struct regmodel *m, enum regmodel_isolation what)
{
        uint32_t cap, ctl, sts = 0;
        bool mem = what == REGMODEL_MEM_LINK_DOWN || what == REGMODEL_MEM_TIMEOUT;
        bool link_down = what == REGMODEL_MEM_LINK_DOWN || what == REGMODEL_CACHE_LINK_DOWN;
        uint32_t cap_iso = mem ? CXL_TI_CAP_MEM_ISOLATION : CXL_TI_CAP_CACHE_ISOLATION;
        uint32_t cap_ld = mem ? CXL_TI_CAP_MEM_ISOLATION_LINKDOWN : CXL_TI_CAP_CACHE_ISOLATION_LINKDOWN;
        uint32_t cap_to = mem ? CXL_TI_CAP_MEM_TIMEOUT : CXL_TI_CAP_CACHE_TIMEOUT;
        uint32_t ctl_iso = mem ? CXL_TI_CTL_MEM_ISOLATION_ENABLE : CXL_TI_CTL_CACHE_ISOLATION_ENABLE;
        uint32_t ctl_to = mem ? CXL_TI_CTL_MEM_TIMEOUT_ENABLE : CXL_TI_CTL_CACHE_TIMEOUT_ENABLE;
        uint32_t sts_iso = mem ? CXL_TI_STS_MEM_ISOLATION : CXL_TI_STS_CACHE_ISOLATION;
        uint32_t sts_ld = mem ? CXL_TI_STS_MEM_ISOLATION_LINKDOWN : CXL_TI_STS_CACHE_ISOLATION_LINKDOWN;
        uint32_t sts_to = mem ? CXL_TI_STS_MEM_TIMEOUT : CXL_TI_STS_CACHE_TIMEOUT;

        if (!m || (unsigned)what > REGMODEL_CACHE_TIMEOUT)
                return -EINVAL;
        if (!m->ti)
                return -EOPNOTSUPP;
        if (gone(m))
                return -ENODEV;
        cap = load(m, m->ti + CXL_TI_CAPABILITY);
        ctl = load(m, m->ti + CXL_TI_CONTROL);

        if (link_down) {
                if (!(cap & cap_iso))
                        return -EOPNOTSUPP;
                /* With isolation enabled, link down always isolates. */
                if (ctl & ctl_iso)
                        sts = sts_iso | (cap & cap_ld ? sts_ld : 0);
        } else {
                if (!(cap & cap_to))
                        return -EOPNOTSUPP;
                /* An undetected timeout leaves no trace; a detected one isolates only if enabled. */
                if (ctl & ctl_to)
                        sts = sts_to | (ctl & ctl_iso ? sts_iso : 0);
        }
        if (sts)
                update(m, m->ti + CXL_TI_STATUS, set_bits, sts, NULL);
        return (sts & sts_iso) ? 1 : 0;
}

int regmodel_hw_set_busy(struct regmodel *m, int busy)
{
        if (!m)
                return -EINVAL;
        if (!m->ti)
                return -EOPNOTSUPP;
        if (gone(m))
                return -ENODEV;
        update(m, m->ti + CXL_TI_STATUS, busy ? set_bits : clear_bits, CXL_TI_STS_RP_BUSY, NULL);
        return 0;
}

int regmodel_hw_ras_error(struct regmodel *m, uint32_t ue_bits, const uint32_t header_log[16])
{
        uint32_t bits = ue_bits & CXL_RAS_UE_VALID_MASK, old;
        unsigned first = 0;

        if (!m || !header_log || bits == 0)
                return -EINVAL;
        if (!m->ras)
                return -EOPNOTSUPP;
        if (gone(m))
                return -ENODEV;

        old = load(m, m->ras + CXL_RAS_UE_STATUS);
        if ((old & CXL_RAS_UE_VALID_MASK) == 0) {
                /* First error: log its header and point at it before the status shows it. */
                while (!(bits & (1u << first)))
                        first++;
                for (unsigned i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++)
                        store(m, m->ras + CXL_RAS_HEADER_LOG + 4 * i, header_log[i]);
                static const uint32_t fep_mask = 0x3fu;
                update(m, m->ras + CXL_RAS_CAP_CONTROL, rw_masked, first, &fep_mask);
        }
        update(m, m->ras + CXL_RAS_UE_STATUS, set_bits, bits, NULL);
        return 0;
}

int regmodel_hw_gone(struct regmodel *m)
{
        if (!m)
                return -EINVAL;
        for (size_t i = 0; i < m->len / 4; i++)
                __atomic_store_n(&m->block[i], REG_ALL_ONES, __ATOMIC_SEQ_CST);
        return 0;
}
