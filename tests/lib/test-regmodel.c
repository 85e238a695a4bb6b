/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The register model must behave like the hardware the daemon will meet:
 * if it let software clear isolation while RP Busy is set, or kept a control
 * bit the port cannot implement, tests against the simulator would pass code
 * that fails on a real port.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cxl-regs.h"
#include "regmodel.h"
#include "sim-image.h"

struct fixture {
        uint32_t *block;
        struct regmodel *m;
};

static int setup_with(void **state, const struct sim_rootport_options *o)
{
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->block = aligned_alloc(4096, CXL_COMPONENT_BLOCK_SIZE);
        assert_non_null(f->block);
        assert_int_equal(sim_component_block_build(o, (uint8_t *)f->block), 0);
        assert_int_equal(regmodel_attach(f->block, CXL_COMPONENT_BLOCK_SIZE, &f->m), 0);
        *state = f;
        return 0;
}

static int setup_default(void **state)
{
        struct sim_rootport_options o;

        sim_rootport_options_default(&o);
        return setup_with(state, &o);
}

/* A port with CXL.mem isolation only: no CXL.cache, no interrupt. */
static int setup_mem_only(void **state)
{
        struct sim_rootport_options o;

        sim_rootport_options_default(&o);
        o.cache_isolation = false;
        o.interrupt = false;
        return setup_with(state, &o);
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        regmodel_free(f->m);
        free(f->block);
        free(f);
        return 0;
}

static uint32_t reg(struct fixture *f, uint32_t off)
{
        uint32_t v;

        assert_int_equal(regmodel_read32(f->m, off, &v), 0);
        return v;
}

static void put(struct fixture *f, uint32_t off, uint32_t v)
{
        assert_int_equal(regmodel_write32(f->m, off, v), 0);
}

#define TI(off) (SIM_TI_OFFSET + (off))
#define RAS(off) (SIM_RAS_OFFSET + (off))

static void test_attach_finds_structures(void **state)
{
        struct fixture *f = *state;
        struct sim_rootport_options o;
        uint32_t *block = aligned_alloc(4096, CXL_COMPONENT_BLOCK_SIZE);
        struct regmodel *m;

        assert_int_equal(regmodel_ti_offset(f->m), SIM_TI_OFFSET);
        assert_int_equal(regmodel_ras_offset(f->m), SIM_RAS_OFFSET);

        /* QEMU-like port: no T&I, so isolation cannot be injected */
        sim_rootport_options_default(&o);
        o.ti = false;
        assert_non_null(block);
        assert_int_equal(sim_component_block_build(&o, (uint8_t *)block), 0);
        assert_int_equal(regmodel_attach(block, CXL_COMPONENT_BLOCK_SIZE, &m), 0);
        assert_int_equal(regmodel_ti_offset(m), 0);
        assert_int_equal(regmodel_hw_isolate(m, REGMODEL_MEM_LINK_DOWN), -EOPNOTSUPP);
        regmodel_free(m);
        free(block);

        assert_int_equal(regmodel_attach(f->block, 6, &m), -EINVAL);
        assert_int_equal(regmodel_write32(f->m, 0x2, 0), -EINVAL);
        assert_int_equal(regmodel_write32(f->m, CXL_COMPONENT_BLOCK_SIZE, 0), -EINVAL);
}

static void test_capability_is_read_only(void **state)
{
        struct fixture *f = *state;
        uint32_t cap = reg(f, TI(CXL_TI_CAPABILITY));

        assert_true(cap & CXL_TI_CAP_MEM_ISOLATION);
        put(f, TI(CXL_TI_CAPABILITY), 0);
        put(f, TI(CXL_TI_CAPABILITY), REG_ALL_ONES);
        assert_int_equal(reg(f, TI(CXL_TI_CAPABILITY)), cap);
}

static void test_control_needs_capability(void **state)
{
        struct fixture *f = *state;
        uint32_t expected = CXL_TI_CTL_MEM_TIMEOUT_VALUE | CXL_TI_CTL_MEM_TIMEOUT_ENABLE |
                            CXL_TI_CTL_MEM_ISOLATION_ENABLE | CXL_TI_CTL_MEM_ISOLATION_LINKDOWN_ENABLE |
                            CXL_TI_CTL_ERRCOR_SIGNALING_ENABLE;

        /* every defined bit requested: only those the capability backs stick */
        put(f, TI(CXL_TI_CONTROL), CXL_TI_CTL_DEFINED_MASK);
        assert_int_equal(reg(f, TI(CXL_TI_CONTROL)), expected);
        assert_false(reg(f, TI(CXL_TI_CONTROL)) & CXL_TI_CTL_INTERRUPT_ENABLE);
        assert_false(reg(f, TI(CXL_TI_CONTROL)) & CXL_TI_CTL_CACHE_ISOLATION_ENABLE);

        /* reserved bits keep whatever they hold, whatever software writes */
        f->block[TI(CXL_TI_CONTROL) / 4] |= 1u << 31;
        put(f, TI(CXL_TI_CONTROL), 0);
        assert_int_equal(reg(f, TI(CXL_TI_CONTROL)), 1u << 31);
        put(f, TI(CXL_TI_CONTROL), 1u << 30);
        assert_int_equal(reg(f, TI(CXL_TI_CONTROL)), 1u << 31);
}

static void test_status_rw1c(void **state)
{
        struct fixture *f = *state;

        put(f, TI(CXL_TI_CONTROL), CXL_TI_CTL_MEM_ISOLATION_ENABLE | CXL_TI_CTL_MEM_TIMEOUT_ENABLE);
        assert_int_equal(regmodel_hw_isolate(f->m, REGMODEL_MEM_TIMEOUT), 1);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), CXL_TI_STS_MEM_TIMEOUT | CXL_TI_STS_MEM_ISOLATION);

        /* writing 0 changes nothing; RsvdZ and RP Busy cannot be set by software */
        put(f, TI(CXL_TI_STATUS), 0);
        put(f, TI(CXL_TI_STATUS), ~CXL_TI_STS_RW1C_MASK);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), CXL_TI_STS_MEM_TIMEOUT | CXL_TI_STS_MEM_ISOLATION);

        /* a 1 clears exactly its bit */
        put(f, TI(CXL_TI_STATUS), CXL_TI_STS_MEM_TIMEOUT);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), CXL_TI_STS_MEM_ISOLATION);
        put(f, TI(CXL_TI_STATUS), CXL_TI_STS_MEM_ISOLATION);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), 0);
}

static void test_clear_refused_while_rp_busy(void **state)
{
        struct fixture *f = *state;
        uint32_t isolated = CXL_TI_STS_MEM_ISOLATION | CXL_TI_STS_MEM_ISOLATION_LINKDOWN;

        put(f, TI(CXL_TI_CONTROL), CXL_TI_CTL_MEM_ISOLATION_ENABLE);
        assert_int_equal(regmodel_hw_isolate(f->m, REGMODEL_MEM_LINK_DOWN), 1);
        assert_int_equal(regmodel_hw_set_busy(f->m, 1), 0);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), isolated | CXL_TI_STS_RP_BUSY);

        put(f, TI(CXL_TI_STATUS), isolated);
        put(f, TI(CXL_TI_STATUS), CXL_TI_STS_MEM_ISOLATION);
        /* RP Busy is RO: software cannot clear it either */
        put(f, TI(CXL_TI_STATUS), CXL_TI_STS_RP_BUSY | isolated);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), isolated | CXL_TI_STS_RP_BUSY);

        assert_int_equal(regmodel_hw_set_busy(f->m, 0), 0);
        put(f, TI(CXL_TI_STATUS), isolated);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), 0);
}

static void test_isolation_needs_enable(void **state)
{
        struct fixture *f = *state;

        /* not armed: the link goes down, but the port does not isolate */
        assert_int_equal(regmodel_hw_isolate(f->m, REGMODEL_MEM_LINK_DOWN), 0);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), 0);
        /* a timeout nobody enabled is not even detected */
        assert_int_equal(regmodel_hw_isolate(f->m, REGMODEL_MEM_TIMEOUT), 0);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), 0);
        /* detected but not isolating */
        put(f, TI(CXL_TI_CONTROL), CXL_TI_CTL_MEM_TIMEOUT_ENABLE);
        assert_int_equal(regmodel_hw_isolate(f->m, REGMODEL_MEM_TIMEOUT), 0);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), CXL_TI_STS_MEM_TIMEOUT);
        /* the mem-only port cannot isolate CXL.cache */
        assert_int_equal(regmodel_hw_isolate(f->m, REGMODEL_CACHE_LINK_DOWN), -EOPNOTSUPP);
}

static void test_fixed_timeout_range(void **state)
{
        struct sim_rootport_options o;
        uint32_t *block = aligned_alloc(4096, CXL_COMPONENT_BLOCK_SIZE);
        struct regmodel *m;
        uint32_t v;

        /* ranges 0h: timeout supported but not programmable, the value field stays 0 */
        sim_rootport_options_default(&o);
        o.mem_timeout_ranges = 0;
        assert_non_null(block);
        assert_int_equal(sim_component_block_build(&o, (uint8_t *)block), 0);
        assert_int_equal(regmodel_attach(block, CXL_COMPONENT_BLOCK_SIZE, &m), 0);
        assert_int_equal(regmodel_write32(m, SIM_TI_OFFSET + CXL_TI_CONTROL, CXL_TI_CTL_MEM_TIMEOUT_ENABLE | 0x2), 0);
        assert_int_equal(regmodel_read32(m, SIM_TI_OFFSET + CXL_TI_CONTROL, &v), 0);
        assert_int_equal(v, CXL_TI_CTL_MEM_TIMEOUT_ENABLE);
        regmodel_free(m);
        free(block);
}

static void test_no_mem_isolation_capability(void **state)
{
        struct sim_rootport_options o;
        uint32_t *block = aligned_alloc(4096, CXL_COMPONENT_BLOCK_SIZE);
        struct regmodel *m;
        uint32_t v;

        sim_rootport_options_default(&o);
        o.mem_isolation = false;
        assert_non_null(block);
        assert_int_equal(sim_component_block_build(&o, (uint8_t *)block), 0);
        assert_int_equal(regmodel_attach(block, CXL_COMPONENT_BLOCK_SIZE, &m), 0);
        assert_int_equal(regmodel_hw_isolate(m, REGMODEL_MEM_LINK_DOWN), -EOPNOTSUPP);
        assert_int_equal(regmodel_write32(m, SIM_TI_OFFSET + CXL_TI_CONTROL, CXL_TI_CTL_MEM_ISOLATION_ENABLE), 0);
        assert_int_equal(regmodel_read32(m, SIM_TI_OFFSET + CXL_TI_CONTROL, &v), 0);
        assert_int_equal(v, 0);
        regmodel_free(m);
        free(block);
}

static void test_ras_semantics(void **state)
{
        struct fixture *f = *state;
        uint32_t log[CXL_RAS_HEADER_LOG_DWORDS], other[CXL_RAS_HEADER_LOG_DWORDS];

        for (unsigned i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++) {
                log[i] = 0xa0000000u + i;
                other[i] = 0xb0000000u + i;
        }
        assert_int_equal(regmodel_hw_ras_error(f->m, 0, log), -EINVAL);
        assert_int_equal(regmodel_hw_ras_error(f->m, 1u << 8, log), 0);
        assert_int_equal(reg(f, RAS(CXL_RAS_UE_STATUS)), 1u << 8);
        assert_int_equal(CXL_RAS_FIRST_ERROR_PTR(reg(f, RAS(CXL_RAS_CAP_CONTROL))), 8);
        for (unsigned i = 0; i < CXL_RAS_HEADER_LOG_DWORDS; i++)
                assert_int_equal(reg(f, RAS(CXL_RAS_HEADER_LOG) + 4 * i), log[i]);

        /* a second error does not overwrite the first one's log or pointer */
        assert_int_equal(regmodel_hw_ras_error(f->m, 1u << 10, other), 0);
        assert_int_equal(reg(f, RAS(CXL_RAS_UE_STATUS)), 1u << 8 | 1u << 10);
        assert_int_equal(CXL_RAS_FIRST_ERROR_PTR(reg(f, RAS(CXL_RAS_CAP_CONTROL))), 8);
        assert_int_equal(reg(f, RAS(CXL_RAS_HEADER_LOG)), log[0]);

        /* header log and capability/control are RO for software */
        put(f, RAS(CXL_RAS_HEADER_LOG), 0);
        put(f, RAS(CXL_RAS_CAP_CONTROL), 0);
        assert_int_equal(reg(f, RAS(CXL_RAS_HEADER_LOG)), log[0]);
        assert_int_equal(CXL_RAS_FIRST_ERROR_PTR(reg(f, RAS(CXL_RAS_CAP_CONTROL))), 8);

        /* UE status is RW1C */
        put(f, RAS(CXL_RAS_UE_STATUS), 0);
        assert_int_equal(reg(f, RAS(CXL_RAS_UE_STATUS)), 1u << 8 | 1u << 10);
        put(f, RAS(CXL_RAS_UE_STATUS), 1u << 8);
        assert_int_equal(reg(f, RAS(CXL_RAS_UE_STATUS)), 1u << 10);

        /* masks are RW over their valid bits only */
        put(f, RAS(CXL_RAS_UE_MASK), REG_ALL_ONES);
        assert_int_equal(reg(f, RAS(CXL_RAS_UE_MASK)), CXL_RAS_UE_VALID_MASK);
}

static void test_gone_reads_all_ones(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(regmodel_hw_gone(f->m), 0);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), REG_ALL_ONES);
        assert_int_equal(reg(f, 0), REG_ALL_ONES);
        /* writes are dropped, as by a port that no longer answers */
        put(f, TI(CXL_TI_STATUS), CXL_TI_STS_RW1C_MASK);
        put(f, 0x10, 0);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), REG_ALL_ONES);
        assert_int_equal(reg(f, 0x10), REG_ALL_ONES);
        assert_int_equal(regmodel_hw_isolate(f->m, REGMODEL_MEM_LINK_DOWN), -ENODEV);
}

/*
 * The injector and the daemon update the same status dword from different
 * processes. One thread toggles RP Busy as the hardware would while another
 * raises and clears the timeout bit as software would; with a plain
 * read-modify-write the toggler writes back stale values and the other
 * thread sees its own bit come back or vanish.
 */
#define RACE_ROUNDS 100000

static void *toggle_busy(void *arg)
{
        struct regmodel *m = arg;

        for (int i = 0; i < RACE_ROUNDS; i++) {
                (void)regmodel_hw_set_busy(m, 1);
                (void)regmodel_hw_set_busy(m, 0);
        }
        return NULL;
}

static void test_concurrent_updates_are_not_lost(void **state)
{
        struct fixture *f = *state;
        pthread_t t;
        int lost = 0;

        put(f, TI(CXL_TI_CONTROL), CXL_TI_CTL_MEM_TIMEOUT_ENABLE);
        assert_int_equal(pthread_create(&t, NULL, toggle_busy, f->m), 0);
        for (int i = 0; i < RACE_ROUNDS; i++) {
                assert_int_equal(regmodel_hw_isolate(f->m, REGMODEL_MEM_TIMEOUT), 0);
                if (!(reg(f, TI(CXL_TI_STATUS)) & CXL_TI_STS_MEM_TIMEOUT))
                        lost++;
                put(f, TI(CXL_TI_STATUS), CXL_TI_STS_MEM_TIMEOUT);
                if (reg(f, TI(CXL_TI_STATUS)) & CXL_TI_STS_MEM_TIMEOUT)
                        lost++;
        }
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(lost, 0);
        assert_int_equal(reg(f, TI(CXL_TI_STATUS)), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_attach_finds_structures, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_capability_is_read_only, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_control_needs_capability, setup_mem_only, teardown),
                cmocka_unit_test_setup_teardown(test_status_rw1c, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_clear_refused_while_rp_busy, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_isolation_needs_enable, setup_mem_only, teardown),
                cmocka_unit_test(test_no_mem_isolation_capability),
                cmocka_unit_test(test_fixed_timeout_range),
                cmocka_unit_test_setup_teardown(test_ras_semantics, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_gone_reads_all_ones, setup_default, teardown),
                cmocka_unit_test_setup_teardown(test_concurrent_updates_are_not_lost, setup_default, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
