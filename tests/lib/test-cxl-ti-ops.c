/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * T&I operations against the simulated port. The daemon's clear must wait
 * for RP Busy to drop (however it drops: another thread, the port, another
 * process), must give up without writing when it does not, and must tell a
 * device that is gone from one that refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "cxl-regs.h"
#include "cxl-ti-ops.h"
#include "regmodel.h"
#include "regwin.h"
#include "sim-image.h"

#define TI SIM_TI_OFFSET
#define ISOLATED (CXL_TI_STS_MEM_ISOLATION | CXL_TI_STS_MEM_ISOLATION_LINKDOWN)

/* The daemon's window and the hardware's own view of the same file, as the injector has it. */
struct fixture {
        char dir[64], path[128];
        struct regwin *w;
        uint32_t *hw_map;
        struct regmodel *hw;
};

static int setup_with(void **state, bool interrupt)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct sim_rootport_options o;
        uint8_t *block = calloc(1, CXL_COMPONENT_BLOCK_SIZE);
        int fd;

        assert_non_null(f);
        assert_non_null(block);
        strcpy(f->dir, "/tmp/test-ti-ops.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/resource0", f->dir);
        sim_rootport_options_default(&o);
        o.interrupt = interrupt;
        assert_int_equal(sim_component_block_build(&o, block), 0);
        fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, block, CXL_COMPONENT_BLOCK_SIZE), CXL_COMPONENT_BLOCK_SIZE);
        f->hw_map = mmap(NULL, CXL_COMPONENT_BLOCK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        assert_true(f->hw_map != MAP_FAILED);
        close(fd);
        free(block);
        assert_int_equal(regmodel_attach(f->hw_map, CXL_COMPONENT_BLOCK_SIZE, &f->hw), 0);
        assert_int_equal(regwin_open_resource(f->path, 0, CXL_COMPONENT_BLOCK_SIZE, REGWIN_WRITABLE, &f->w), 0);
        *state = f;
        return 0;
}

static int setup(void **state)
{
        return setup_with(state, true);
}

static int setup_no_interrupt(void **state)
{
        return setup_with(state, false);
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        regwin_free(f->w);
        regmodel_free(f->hw);
        munmap(f->hw_map, CXL_COMPONENT_BLOCK_SIZE);
        unlink(f->path);
        rmdir(f->dir);
        free(f);
        return 0;
}

static uint32_t status(struct fixture *f)
{
        uint32_t v;

        assert_int_equal(regwin_read32(f->w, TI + CXL_TI_STATUS, &v), 0);
        return v;
}

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void arm_and_isolate(struct fixture *f)
{
        const struct cxl_ti_arm_request req = { .mem_isolation = true, .mem_isolation_linkdown = true };
        uint32_t ctl;

        assert_int_equal(cxl_ti_arm(f->w, TI, &req, &ctl), 0);
        assert_true(ctl & CXL_TI_CTL_MEM_ISOLATION_ENABLE);
        assert_int_equal(regmodel_hw_isolate(f->hw, REGMODEL_MEM_LINK_DOWN), 1);
        assert_int_equal(status(f), ISOLATED);
}

static void test_arm(void **state)
{
        struct fixture *f = *state;
        struct cxl_ti_arm_request req = { .mem_isolation = true, .interrupt = true };
        uint32_t ctl, v;

        assert_int_equal(cxl_ti_arm(f->w, TI, &req, &ctl), 0);
        assert_int_equal(ctl, CXL_TI_CTL_MEM_ISOLATION_ENABLE | CXL_TI_CTL_INTERRUPT_ENABLE);
        /* the hardware's view agrees with the value returned */
        assert_int_equal(regmodel_read32(f->hw, TI + CXL_TI_CONTROL, &v), 0);
        assert_int_equal(v, ctl);
}

static void test_arm_refuses_missing_capability(void **state)
{
        struct fixture *f = *state;
        struct cxl_ti_arm_request req = { .mem_isolation = true, .interrupt = true };
        uint32_t ctl = 0xdead, v;

        assert_int_equal(cxl_ti_arm(f->w, TI, &req, &ctl), -EOPNOTSUPP);
        assert_int_equal(ctl, 0xdead);
        assert_int_equal(regwin_read32(f->w, TI + CXL_TI_CONTROL, &v), 0);
        assert_int_equal(v, 0);
}

static void test_clear_not_isolated(void **state)
{
        struct fixture *f = *state;
        uint32_t after = 0xdead;

        assert_int_equal(cxl_ti_clear_isolation(f->w, TI, 1000, 100, &after), -EALREADY);
        assert_int_equal(after, 0xdead);
}

static void test_clear(void **state)
{
        struct fixture *f = *state;
        uint32_t after = 0xdead;

        arm_and_isolate(f);
        assert_int_equal(cxl_ti_clear_isolation(f->w, TI, 0, 0, &after), 0);
        assert_int_equal(after, 0);
        assert_int_equal(status(f), 0);
}

struct busy_release {
        struct regmodel *hw;
        unsigned ms;
};

static void *release_busy_later(void *arg)
{
        struct busy_release *b = arg;
        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)b->ms * 1000000L };

        nanosleep(&ts, NULL);
        (void)regmodel_hw_set_busy(b->hw, 0);
        return NULL;
}

static void test_clear_waits_for_busy_thread(void **state)
{
        struct fixture *f = *state;
        struct busy_release b = { f->hw, 50 };
        uint32_t after = 0xdead;
        uint64_t start;
        pthread_t t;

        arm_and_isolate(f);
        assert_int_equal(regmodel_hw_set_busy(f->hw, 1), 0);
        start = now_ms();
        assert_int_equal(pthread_create(&t, NULL, release_busy_later, &b), 0);
        assert_int_equal(cxl_ti_clear_isolation(f->w, TI, 2000 * 1000, 1000, &after), 0);
        /* it waited for the release instead of writing into a busy port */
        assert_true(now_ms() - start >= 40);
        assert_int_equal(after, 0);
        assert_int_equal(status(f), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
}

static void test_clear_waits_for_busy_process(void **state)
{
        struct fixture *f = *state;
        uint32_t after = 0xdead;
        uint64_t start;
        int wstatus;
        pid_t pid;

        arm_and_isolate(f);
        assert_int_equal(regmodel_hw_set_busy(f->hw, 1), 0);
        start = now_ms();
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* another process with its own mapping of the same BAR, as the injector */
                int fd = open(f->path, O_RDWR);
                uint32_t *map = mmap(NULL, CXL_COMPONENT_BLOCK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                struct regmodel *m;
                struct timespec ts = { .tv_sec = 0, .tv_nsec = 50 * 1000000L };

                if (fd < 0 || map == MAP_FAILED || regmodel_attach(map, CXL_COMPONENT_BLOCK_SIZE, &m) < 0)
                        _exit(1);
                nanosleep(&ts, NULL);
                _exit(regmodel_hw_set_busy(m, 0) < 0 ? 2 : 0);
        }
        assert_int_equal(cxl_ti_clear_isolation(f->w, TI, 2000 * 1000, 1000, &after), 0);
        assert_true(now_ms() - start >= 40);
        assert_int_equal(after, 0);
        assert_int_equal(waitpid(pid, &wstatus, 0), pid);
        assert_true(WIFEXITED(wstatus));
        assert_int_equal(WEXITSTATUS(wstatus), 0);
}

static void test_clear_times_out_without_writing(void **state)
{
        struct fixture *f = *state;
        uint32_t after = 0xdead;
        uint64_t start;
        void *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        volatile uint32_t *regs = map;
        struct regwin *plain;

        arm_and_isolate(f);
        assert_int_equal(regmodel_hw_set_busy(f->hw, 1), 0);
        start = now_ms();
        assert_int_equal(cxl_ti_clear_isolation(f->w, TI, 100 * 1000, 5000, &after), -ETIMEDOUT);
        assert_true(now_ms() - start >= 90);
        assert_int_equal(after, 0xdead);
        assert_int_equal(status(f), ISOLATED | CXL_TI_STS_RP_BUSY);

        /*
         * The model would ignore a clear while busy anyway, so prove "nothing
         * written" on plain memory, where any store would show.
         */
        assert_true(map != MAP_FAILED);
        regs[CXL_TI_STATUS / 4] = ISOLATED | CXL_TI_STS_RP_BUSY;
        assert_int_equal(regwin_new_mmio(map, 4096, 0, 4096, -1, &plain), 0);
        assert_int_equal(cxl_ti_clear_isolation(plain, 0, 20 * 1000, 1000, &after), -ETIMEDOUT);
        assert_int_equal(regs[CXL_TI_STATUS / 4], ISOLATED | CXL_TI_STS_RP_BUSY);

        /* and a port that ignores the clear is reported, not taken for cleared */
        regs[CXL_TI_STATUS / 4] = ISOLATED;
        assert_int_equal(cxl_ti_clear_isolation(plain, 0, 0, 0, &after), -EIO);
        regwin_free(plain);
}

static void test_gone(void **state)
{
        struct fixture *f = *state;
        const struct cxl_ti_arm_request req = { .mem_isolation = true };
        uint32_t v;

        arm_and_isolate(f);
        assert_int_equal(regmodel_hw_gone(f->hw), 0);
        assert_int_equal(cxl_ti_clear_isolation(f->w, TI, 1000, 100, &v), -ENODEV);
        assert_int_equal(cxl_ti_arm(f->w, TI, &req, &v), -ENODEV);
        assert_int_equal(cxl_ti_disarm(f->w, TI, 1000, 100, &v), -ENODEV);

        /*
         * And a BAR that vanished under the mapping says the same. cmocka puts
         * its own SIGBUS handler around each test body, replacing the one the
         * setup's open installed; a window opened here installs ours again.
         */
        regwin_free(f->w);
        assert_int_equal(regwin_open_resource(f->path, 0, CXL_COMPONENT_BLOCK_SIZE, REGWIN_WRITABLE, &f->w), 0);
        assert_int_equal(truncate(f->path, 0), 0);
        assert_int_equal(cxl_ti_clear_isolation(f->w, TI, 1000, 100, &v), -ENODEV);
        assert_true(regwin_is_gone(f->w));
}

static void test_disarm(void **state)
{
        struct fixture *f = *state;
        struct busy_release b = { f->hw, 50 };
        uint32_t ctl = 0xdead, v;
        pthread_t t;

        arm_and_isolate(f);
        /* reserved bits survive a disarm */
        f->hw_map[(TI + CXL_TI_CONTROL) / 4] |= 1u << 31;

        assert_int_equal(regmodel_hw_set_busy(f->hw, 1), 0);
        assert_int_equal(cxl_ti_disarm(f->w, TI, 20 * 1000, 1000, &ctl), -ETIMEDOUT);
        assert_int_equal(ctl, 0xdead);
        assert_int_equal(regwin_read32(f->w, TI + CXL_TI_CONTROL, &v), 0);
        assert_true(v & CXL_TI_CTL_MEM_ISOLATION_ENABLE);

        assert_int_equal(pthread_create(&t, NULL, release_busy_later, &b), 0);
        assert_int_equal(cxl_ti_disarm(f->w, TI, 2000 * 1000, 1000, &ctl), 0);
        assert_int_equal(ctl, 1u << 31);
        assert_int_equal(pthread_join(t, NULL), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_arm, setup, teardown),
                cmocka_unit_test_setup_teardown(test_arm_refuses_missing_capability, setup_no_interrupt, teardown),
                cmocka_unit_test_setup_teardown(test_clear_not_isolated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_clear, setup, teardown),
                cmocka_unit_test_setup_teardown(test_clear_waits_for_busy_thread, setup, teardown),
                cmocka_unit_test_setup_teardown(test_clear_waits_for_busy_process, setup, teardown),
                cmocka_unit_test_setup_teardown(test_clear_times_out_without_writing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_disarm, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
