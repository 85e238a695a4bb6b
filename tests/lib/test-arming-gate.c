/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The arming gate: which topologies let a port arm, and what the refusal says. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arming-gate.h"
#include "cleanup.h"
#include "cxl-regs.h"
#include "cxl-ti.h"

/* A production-like port: CXL.mem isolation with link down, ERR_COR and an interrupt, ranges A+B. */
#define CAP_FULL (CXL_TI_CAP_MEM_ISOLATION | CXL_TI_CAP_MEM_ISOLATION_LINKDOWN | CXL_TI_CAP_ERRCOR_SIGNALING | \
                  CXL_TI_CAP_INTERRUPT | CXL_TI_CAP_MEM_TIMEOUT | 0x3u)

struct fixture {
        struct mem_block blocks[2];
        struct dax_device dax[2];
        char regions[2][32];
        struct port_region region_info[2];
        char memdevs[1][32];
        struct port_topology topo;
        struct cxl_ti_capability cap;
};

/* One committed region0 with dax0.0 in devdax mode, nobody mapping it, its one block offline. */
static struct fixture *fixture_devdax(void)
{
        struct fixture *f = calloc(1, sizeof(*f));
        assert_non_null(f);

        strcpy(f->regions[0], "region0");
        f->region_info[0] = (struct port_region) { .name = "region0", .start = 0x1000000000, .size = 0x10000000,
                                                   .committed = true, .driver_bound = true };
        strcpy(f->memdevs[0], "mem0");
        f->blocks[0] = (struct mem_block) { .index = 0x200, .online = false };
        f->dax[0] = (struct dax_device) {
                .name = "dax0.0", .region = "region0", .memdev = "mem0", .mode = DAX_MODE_DEVDAX,
                .start = 0x1000000000, .size = 0x10000000, .target_node = 1, .memmap_on_memory = 0,
                .n_blocks = 1, .blocks = f->blocks, .users = 0,
        };
        f->topo = (struct port_topology) {
                .n_dax = 1, .dax = f->dax, .n_regions = 1, .regions = f->regions, .n_memdevs = 1,
                .memdevs = f->memdevs, .region_info = f->region_info,
        };
        cxl_ti_capability_decode(CAP_FULL, &f->cap);
        return f;
}

static void decide(struct fixture *f, enum gate_arm_mode mode, struct arming_decision *d)
{
        assert_int_equal(arming_gate_decide(&f->cap, mode, &f->topo, d), 0);
}

static void test_devdax_only_arms(void **state)
{
        _cleanup_free_ struct fixture *f = fixture_devdax();
        struct arming_decision d;
        char buf[256];

        decide(f, GATE_ARM_AUTO, &d);
        assert_true(d.arm);
        assert_int_equal(d.reason, GATE_OK);
        assert_string_equal(arming_decision_to_string(&d, buf, sizeof(buf)), "ok");
        /* The request asks for CXL.mem isolation and is accepted by the decoder's arm logic. */
        assert_true(d.request.mem_isolation);
        uint32_t ctl;
        assert_int_equal(cxl_ti_control_arm(f->cap.raw, 0, &d.request, &ctl), 0);
        assert_true(ctl & CXL_TI_CTL_MEM_ISOLATION_ENABLE);
        assert_false(ctl & CXL_TI_CTL_INTERRUPT_ENABLE);

        /* A port with nothing below arms too: there is nothing to protect and no traffic. */
        struct port_topology empty = {};
        assert_int_equal(arming_gate_decide(&f->cap, GATE_ARM_AUTO, &empty, &d), 0);
        assert_true(d.arm);
}

static void test_kmem_refused(void **state)
{
        _cleanup_free_ struct fixture *f = fixture_devdax();
        struct arming_decision d;
        char buf[256];

        f->dax[0].mode = DAX_MODE_SYSTEM_RAM;
        decide(f, GATE_ARM_AUTO, &d);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_DAX_SYSTEM_RAM);
        assert_string_equal(arming_decision_to_string(&d, buf, sizeof(buf)),
                            "dax-system-ram: dax0.0 (region0) is bound to kmem (system-ram)");
}

static void test_second_device_kmem_refused(void **state)
{
        _cleanup_free_ struct fixture *f = fixture_devdax();
        struct arming_decision d;

        /* One bad device among good ones is enough. */
        f->dax[1] = f->dax[0];
        strcpy(f->dax[1].name, "dax0.1");
        f->dax[1].mode = DAX_MODE_SYSTEM_RAM;
        f->dax[1].n_blocks = 0;
        f->topo.n_dax = 2;
        decide(f, GATE_ARM_AUTO, &d);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_DAX_SYSTEM_RAM);
        assert_non_null(strstr(d.detail, "dax0.1"));
}

static void test_online_block_refused(void **state)
{
        _cleanup_free_ struct fixture *f = fixture_devdax();
        struct arming_decision d;
        char buf[256];

        f->blocks[0].online = true;
        decide(f, GATE_ARM_AUTO, &d);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_MEMORY_ONLINE);
        assert_string_equal(arming_decision_to_string(&d, buf, sizeof(buf)), "memory-online: memory512 of dax0.0 is online");
}

static void test_memmap_on_memory_refused(void **state)
{
        _cleanup_free_ struct fixture *f = fixture_devdax();
        struct arming_decision d;

        f->dax[0].memmap_on_memory = 1;
        decide(f, GATE_ARM_AUTO, &d);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_MEMMAP_ON_MEMORY);

        /* Absent attribute (kernels before 6.8) is not a refusal. */
        f->dax[0].memmap_on_memory = -1;
        decide(f, GATE_ARM_AUTO, &d);
        assert_true(d.arm);
}

static void test_unbound_dax_refused_by_auto(void **state)
{
        _cleanup_free_ struct fixture *f = fixture_devdax();
        struct arming_decision d;

        f->dax[0].mode = DAX_MODE_UNBOUND;
        decide(f, GATE_ARM_AUTO, &d);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_DAX_NOT_DEVDAX);
        assert_string_equal(d.detail, "dax0.0 (region0) is unbound, not devdax");
}

static void test_traffic_refused_unless_force(void **state)
{
        _cleanup_free_ struct fixture *f = fixture_devdax();
        struct arming_decision d;
        char buf[256];

        f->dax[0].users = 2;
        decide(f, GATE_ARM_AUTO, &d);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_TRAFFIC_ACTIVE);
        assert_string_equal(d.detail, "dax0.0 is mapped by 2 processes");

        /* Not knowing is not quiesced. */
        f->dax[0].users = -1;
        decide(f, GATE_ARM_AUTO, &d);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_TRAFFIC_ACTIVE);

        f->dax[0].users = 2;
        decide(f, GATE_ARM_FORCE, &d);
        assert_true(d.arm);
        assert_int_equal(d.reason, GATE_FORCED);
        assert_string_equal(arming_decision_to_string(&d, buf, sizeof(buf)),
                            "forced: arm=force; auto would refuse: traffic-active: dax0.0 is mapped by 2 processes");
        assert_true(d.request.mem_isolation);
}

static void test_active_region_without_devdax_refused(void **state)
{
        _cleanup_free_ struct fixture *f = fixture_devdax();
        struct arming_decision d;

        /* region1 committed and used as pmem/fsdax: no dax device exposes it. */
        strcpy(f->regions[1], "region1");
        f->region_info[1] = (struct port_region) { .name = "region1", .start = 0x2000000000, .size = 0x10000000,
                                                   .committed = true };
        f->topo.n_regions = 2;
        decide(f, GATE_ARM_AUTO, &d);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_TRAFFIC_ACTIVE);
        assert_non_null(strstr(d.detail, "region1"));

        /* Torn down (neither committed nor bound): quiesced. */
        f->region_info[1].committed = false;
        decide(f, GATE_ARM_AUTO, &d);
        assert_true(d.arm);
}

static void test_never_and_capability(void **state)
{
        _cleanup_free_ struct fixture *f = fixture_devdax();
        struct arming_decision d;

        decide(f, GATE_ARM_NEVER, &d);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_CONFIG_NEVER);

        /* No CXL.mem isolation: not even force arms. */
        cxl_ti_capability_decode(CXL_TI_CAP_MEM_TIMEOUT | CXL_TI_CAP_CACHE_ISOLATION | 0x1u, &f->cap);
        decide(f, GATE_ARM_FORCE, &d);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_NO_MEM_ISOLATION);
        assert_non_null(strstr(d.detail, "0x00040011"));

        /* No T&I capability at all (stock QEMU). */
        assert_int_equal(arming_gate_decide(NULL, GATE_ARM_FORCE, &f->topo, &d), 0);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_NO_MEM_ISOLATION);

        assert_int_equal(arming_gate_decide(&f->cap, (enum gate_arm_mode)7, &f->topo, &d), 0);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_INVALID_MODE);

        assert_int_equal(arming_gate_decide(&f->cap, GATE_ARM_AUTO, NULL, &d), -EINVAL);
}

/*
 * Never a control bit whose capability bit is 0: for every combination of
 * the capability bits that have a matching enable (T&I control bit n enables
 * capability bit n), the gate's request goes through cxl_ti_control_arm and
 * no newly set control bit lacks its capability bit.
 */
static void test_request_never_sets_unsupported_bits(void **state)
{
        static const uint32_t bits[] = {
                CXL_TI_CAP_MEM_TIMEOUT, CXL_TI_CAP_CACHE_TIMEOUT, CXL_TI_CAP_MEM_ISOLATION,
                CXL_TI_CAP_MEM_ISOLATION_LINKDOWN, CXL_TI_CAP_CACHE_ISOLATION, CXL_TI_CAP_CACHE_ISOLATION_LINKDOWN,
                CXL_TI_CAP_ERRCOR_SIGNALING, CXL_TI_CAP_INTERRUPT,
        };
        const uint32_t enables = CXL_TI_CTL_MEM_TIMEOUT_ENABLE | CXL_TI_CTL_CACHE_TIMEOUT_ENABLE |
                                 CXL_TI_CTL_MEM_ISOLATION_ENABLE | CXL_TI_CTL_MEM_ISOLATION_LINKDOWN_ENABLE |
                                 CXL_TI_CTL_CACHE_ISOLATION_ENABLE | CXL_TI_CTL_CACHE_ISOLATION_LINKDOWN_ENABLE |
                                 CXL_TI_CTL_ERRCOR_SIGNALING_ENABLE | CXL_TI_CTL_INTERRUPT_ENABLE;
        struct port_topology empty = {};
        unsigned armed = 0;

        for (uint32_t combo = 0; combo < (1u << ELEMENTSOF(bits)); combo++) {
                uint32_t raw = 0;
                for (size_t i = 0; i < ELEMENTSOF(bits); i++)
                        if (combo & (1u << i))
                                raw |= bits[i];

                struct cxl_ti_capability cap;
                struct arming_decision d;
                cxl_ti_capability_decode(raw, &cap);
                assert_int_equal(arming_gate_decide(&cap, GATE_ARM_FORCE, &empty, &d), 0);
                assert_int_equal(d.arm, !!(raw & CXL_TI_CAP_MEM_ISOLATION));
                if (!d.arm)
                        continue;
                armed++;

                /* Reserved bits set in the current value must survive; enables start clear. */
                const uint32_t current = ~(CXL_TI_CTL_DEFINED_MASK);
                uint32_t ctl;
                assert_int_equal(cxl_ti_control_arm(raw, current, &d.request, &ctl), 0);
                assert_int_equal(ctl & ~CXL_TI_CTL_DEFINED_MASK, current);
                uint32_t newly = ctl & enables;
                assert_int_equal(newly & ~raw, 0);
                assert_true(newly & CXL_TI_CTL_MEM_ISOLATION_ENABLE);
        }
        assert_int_equal(armed, 1u << (ELEMENTSOF(bits) - 1));
}

static void test_check_armed(void **state)
{
        _cleanup_free_ struct fixture *f = fixture_devdax();
        struct arming_decision d;

        /* devdax in use is what arming is for. */
        f->dax[0].users = 3;
        assert_int_equal(arming_gate_check_armed(&f->topo, GATE_ARM_AUTO, &d), 0);
        assert_true(d.arm);
        assert_int_equal(d.reason, GATE_OK);

        /* Disabled for recovery: harmless. */
        f->dax[0].mode = DAX_MODE_UNBOUND;
        assert_int_equal(arming_gate_check_armed(&f->topo, GATE_ARM_AUTO, &d), 0);
        assert_true(d.arm);

        /* Rebound to kmem while armed. */
        f->dax[0].mode = DAX_MODE_SYSTEM_RAM;
        assert_int_equal(arming_gate_check_armed(&f->topo, GATE_ARM_AUTO, &d), 0);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_DAX_SYSTEM_RAM);

        /* A block came online (e.g. someone onlined it by hand). */
        f->dax[0].mode = DAX_MODE_DEVDAX;
        f->blocks[0].online = true;
        assert_int_equal(arming_gate_check_armed(&f->topo, GATE_ARM_AUTO, &d), 0);
        assert_false(d.arm);
        assert_int_equal(d.reason, GATE_MEMORY_ONLINE);

        /* Forced: stays armed, but says what is unsafe so the daemon can alert. */
        assert_int_equal(arming_gate_check_armed(&f->topo, GATE_ARM_FORCE, &d), 0);
        assert_true(d.arm);
        assert_int_equal(d.reason, GATE_FORCED);
        assert_string_equal(d.detail, "arm=force; unsafe: memory-online: memory512 of dax0.0 is online");
        f->blocks[0].online = false;
        assert_int_equal(arming_gate_check_armed(&f->topo, GATE_ARM_FORCE, &d), 0);
        assert_int_equal(d.reason, GATE_OK);
}

static void test_reason_strings(void **state)
{
        for (int r = 0; r < _GATE_REASON_MAX; r++) {
                const char *s = gate_reason_to_string((enum gate_reason)r);
                assert_non_null(s);
                /* Stable ids for D-Bus and logs: lower-case words joined by dashes. */
                assert_int_equal(strspn(s, "abcdefghijklmnopqrstuvwxyz-"), strlen(s));
                for (int o = 0; o < r; o++)
                        assert_string_not_equal(s, gate_reason_to_string((enum gate_reason)o));
        }
        assert_null(gate_reason_to_string(_GATE_REASON_MAX));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_devdax_only_arms),
                cmocka_unit_test(test_kmem_refused),
                cmocka_unit_test(test_second_device_kmem_refused),
                cmocka_unit_test(test_online_block_refused),
                cmocka_unit_test(test_memmap_on_memory_refused),
                cmocka_unit_test(test_unbound_dax_refused_by_auto),
                cmocka_unit_test(test_traffic_refused_unless_force),
                cmocka_unit_test(test_active_region_without_devdax_refused),
                cmocka_unit_test(test_never_and_capability),
                cmocka_unit_test(test_request_never_sets_unsupported_bits),
                cmocka_unit_test(test_check_armed),
                cmocka_unit_test(test_reason_strings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
