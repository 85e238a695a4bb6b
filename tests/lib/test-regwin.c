/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Register windows: backend choice, bounds, and above all that a mapping
 * which turns into SIGBUS (device removed, BAR revoked, file truncated)
 * yields -ENODEV instead of killing the daemon that watches the device.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cxl-regs.h"
#include "regwin.h"
#include "sim-image.h"

struct fixture {
        char dir[64];
        char path[128];
};

/* A BAR file of bar_size bytes holding a default component block at block_offset. */
static void write_bar(struct fixture *f, size_t bar_size, uint64_t block_offset)
{
        struct sim_rootport_options o;
        uint8_t *bar = calloc(1, bar_size);
        int fd;

        assert_non_null(bar);
        sim_rootport_options_default(&o);
        assert_int_equal(sim_component_block_build(&o, bar + block_offset), 0);
        fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, bar, bar_size), (ssize_t)bar_size);
        close(fd);
        free(bar);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        strcpy(f->dir, "/tmp/test-regwin.XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/resource0", f->dir);
        write_bar(f, CXL_COMPONENT_BLOCK_SIZE, 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        unlink(f->path);
        rmdir(f->dir);
        free(f);
        return 0;
}

static void test_plain_file_gets_model_backend(void **state)
{
        struct fixture *f = *state;
        struct regwin *w;
        uint32_t v;

        assert_int_equal(regwin_open_resource(f->path, 0, CXL_COMPONENT_BLOCK_SIZE, REGWIN_WRITABLE, &w), 0);
        assert_int_equal(regwin_backend(w), REGWIN_MODEL);
        assert_int_equal(regwin_size(w), CXL_COMPONENT_BLOCK_SIZE);
        assert_string_equal(regwin_path(w), f->path);
        assert_int_equal(regwin_read32(w, CXL_CM_OFFSET, &v), 0);
        assert_int_equal(CXL_CM_CAP_ID(v), CXL_CM_CAP_ARRAY);

        /* writes go through the model: the capability stays, RW1C status needs a 1 to clear */
        assert_int_equal(regwin_read32(w, SIM_TI_OFFSET + CXL_TI_CAPABILITY, &v), 0);
        assert_int_equal(regwin_write32(w, SIM_TI_OFFSET + CXL_TI_CAPABILITY, 0), 0);
        assert_int_equal(regwin_read32(w, SIM_TI_OFFSET + CXL_TI_CAPABILITY, &v), 0);
        assert_true(v & CXL_TI_CAP_MEM_ISOLATION);
        assert_int_equal(regwin_write32(w, SIM_TI_OFFSET + CXL_TI_STATUS, CXL_TI_STS_MEM_ISOLATION), 0);
        assert_int_equal(regwin_read32(w, SIM_TI_OFFSET + CXL_TI_STATUS, &v), 0);
        assert_int_equal(v, 0);
        regwin_free(w);
}

static void test_bounds(void **state)
{
        struct fixture *f = *state;
        struct regwin *w;
        uint32_t v;

        /* asking for more than the BAR maps what exists */
        assert_int_equal(regwin_open_resource(f->path, 0, 4 * CXL_COMPONENT_BLOCK_SIZE, 0, &w), 0);
        assert_int_equal(regwin_size(w), CXL_COMPONENT_BLOCK_SIZE);
        assert_int_equal(regwin_read32(w, CXL_COMPONENT_BLOCK_SIZE - 4, &v), 0);
        assert_int_equal(regwin_read32(w, CXL_COMPONENT_BLOCK_SIZE, &v), -EINVAL);
        assert_int_equal(regwin_read32(w, 2, &v), -EINVAL);
        /* opened read-only: no store reaches the mapping */
        assert_int_equal(regwin_write32(w, SIM_TI_OFFSET + CXL_TI_CONTROL, 1), -EBADF);
        regwin_free(w);

        assert_int_equal(regwin_open_resource(f->path, CXL_COMPONENT_BLOCK_SIZE, 4096, 0, &w), -EINVAL);
        assert_int_equal(regwin_open_resource(f->path, 0, 6, 0, &w), -EINVAL);
        assert_int_equal(regwin_open_resource("/nonexistent/resource0", 0, 4096, 0, &w), -ENOENT);
}

static void test_block_at_offset(void **state)
{
        struct fixture *f = *state;
        struct regwin *w;
        uint8_t head[8];
        uint32_t v;

        write_bar(f, 2 * CXL_COMPONENT_BLOCK_SIZE, CXL_COMPONENT_BLOCK_SIZE);
        assert_int_equal(regwin_open_resource(f->path, CXL_COMPONENT_BLOCK_SIZE, CXL_COMPONENT_BLOCK_SIZE,
                                              REGWIN_WRITABLE, &w), 0);
        assert_int_equal(regwin_read32(w, CXL_CM_OFFSET, &v), 0);
        assert_int_equal(CXL_CM_CAP_ID(v), CXL_CM_CAP_ARRAY);
        /* the model found T&I relative to the window, not to the file */
        assert_int_equal(regwin_write32(w, SIM_TI_OFFSET + CXL_TI_CONTROL, CXL_TI_CTL_DEFINED_MASK), 0);
        assert_int_equal(regwin_read32(w, SIM_TI_OFFSET + CXL_TI_CONTROL, &v), 0);
        assert_false(v & (1u << 31));
        assert_int_equal(regwin_copy(w, CXL_CM_OFFSET, sizeof(head), head), 0);
        assert_int_equal(head[0], CXL_CM_CAP_ARRAY);
        regwin_free(w);
}

static void test_truncated_file_is_enodev(void **state)
{
        struct fixture *f = *state;
        struct regwin *w;
        uint32_t v;

        assert_int_equal(regwin_open_resource(f->path, 0, CXL_COMPONENT_BLOCK_SIZE, REGWIN_WRITABLE, &w), 0);
        assert_int_equal(regwin_read32(w, SIM_TI_OFFSET, &v), 0);
        assert_false(regwin_is_gone(w));

        /* the device goes away under the mapping: the next access faults */
        assert_int_equal(truncate(f->path, 0), 0);
        assert_int_equal(regwin_read32(w, SIM_TI_OFFSET, &v), -ENODEV);
        assert_true(regwin_is_gone(w));
        /* and stays gone, even where a restored file would answer again */
        write_bar(f, CXL_COMPONENT_BLOCK_SIZE, 0);
        assert_int_equal(regwin_read32(w, 0, &v), -ENODEV);
        assert_int_equal(regwin_write32(w, SIM_TI_OFFSET + CXL_TI_STATUS, 1), -ENODEV);
        regwin_free(w);

        /* a fresh window works again: the handler stayed installed */
        assert_int_equal(regwin_open_resource(f->path, 0, CXL_COMPONENT_BLOCK_SIZE, REGWIN_WRITABLE, &w), 0);
        assert_int_equal(truncate(f->path, 4096), 0);
        assert_int_equal(regwin_read32(w, 0, &v), 0);                   /* first page still exists */
        assert_int_equal(regwin_write32(w, SIM_TI_OFFSET + CXL_TI_STATUS, 1), -ENODEV);
        regwin_free(w);
}

struct reader {
        struct regwin *w;
        volatile int stop;
        int errors;
        long reads;
};

static void *read_loop(void *arg)
{
        struct reader *r = arg;
        uint32_t v;

        while (!r->stop) {
                if (regwin_read32(r->w, CXL_CM_OFFSET, &v) < 0 || CXL_CM_CAP_ID(v) != CXL_CM_CAP_ARRAY)
                        r->errors++;
                __atomic_add_fetch(&r->reads, 1, __ATOMIC_RELAXED);
        }
        return NULL;
}

/* The guard is per thread: a fault in one thread's window must not disturb another's reads. */
static void test_fault_in_one_thread_only(void **state)
{
        struct fixture *f = *state;
        struct fixture second = {};
        struct reader r = {};
        struct regwin *w;
        pthread_t t;
        uint32_t v;
        long seen;

        strcpy(second.dir, f->dir);
        snprintf(second.path, sizeof(second.path), "%s/resource1", f->dir);
        write_bar(&second, CXL_COMPONENT_BLOCK_SIZE, 0);
        assert_int_equal(regwin_open_resource(f->path, 0, CXL_COMPONENT_BLOCK_SIZE, 0, &r.w), 0);
        assert_int_equal(regwin_open_resource(second.path, 0, CXL_COMPONENT_BLOCK_SIZE, 0, &w), 0);

        assert_int_equal(pthread_create(&t, NULL, read_loop, &r), 0);
        while (__atomic_load_n(&r.reads, __ATOMIC_RELAXED) < 1000)
                sched_yield();
        assert_int_equal(truncate(second.path, 0), 0);
        assert_int_equal(regwin_read32(w, CXL_CM_OFFSET, &v), -ENODEV);
        /* the other thread keeps reading its healthy window afterwards */
        seen = __atomic_load_n(&r.reads, __ATOMIC_RELAXED);
        while (__atomic_load_n(&r.reads, __ATOMIC_RELAXED) < seen + 1000)
                sched_yield();
        r.stop = 1;
        assert_int_equal(pthread_join(t, NULL), 0);

        assert_int_equal(r.errors, 0);
        assert_false(regwin_is_gone(r.w));
        assert_true(regwin_is_gone(w));
        regwin_free(w);
        regwin_free(r.w);
        unlink(second.path);
}

/*
 * A SIGBUS outside any guarded access is a real bug: it must still kill the
 * process (with SIGBUS, as without our handler), not be swallowed.
 */
static void test_unguarded_fault_still_kills(void **state)
{
        struct fixture *f = *state;
        pid_t pid;
        int status;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct regwin *w;
                uint32_t v;
                int fd = open(f->path, O_RDONLY);
                volatile uint32_t *raw;

                /* no test framework handler behind ours: what a daemon process has */
                signal(SIGBUS, SIG_DFL);
                /* install the handler through a normal window first */
                if (fd < 0 || regwin_open_resource(f->path, 0, 4096, 0, &w) < 0 || regwin_read32(w, 0, &v) < 0)
                        _exit(10);
                raw = mmap(NULL, CXL_COMPONENT_BLOCK_SIZE, PROT_READ, MAP_SHARED, fd, 0);
                if (raw == MAP_FAILED || ftruncate(open(f->path, O_RDWR), 0) < 0)
                        _exit(11);
                v = raw[SIM_TI_OFFSET / 4];
                _exit(v == 12345 ? 12 : 13);    /* reached only if the fault was swallowed */
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGBUS);
}

static void test_non_regular_file_is_mmio(void **state)
{
        struct regwin *w;
        uint32_t v = 1;

        /* a character device is never a simulated BAR */
        assert_int_equal(regwin_open_resource("/dev/zero", 0, 4096, REGWIN_WRITABLE, &w), 0);
        assert_int_equal(regwin_backend(w), REGWIN_MMIO);
        assert_int_equal(regwin_read32(w, 0x100, &v), 0);
        assert_int_equal(v, 0);
        regwin_free(w);
}

static void test_wrapped_mapping(void **state)
{
        void *map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        struct regwin *w;
        uint32_t v;

        assert_true(map != MAP_FAILED);
        assert_int_equal(regwin_new_mmio(map, 8192, 8193, 4, -1, &w), -EINVAL);
        assert_int_equal(regwin_new_mmio(map, 8192, 4096, 4096, -1, &w), 0);
        assert_int_equal(regwin_backend(w), REGWIN_MMIO);
        /* plain memory: a store is a store, no model in between */
        assert_int_equal(regwin_write32(w, 0xc, 0xdeadbeef), 0);
        assert_int_equal(((uint32_t *)map)[(4096 + 0xc) / 4], 0xdeadbeef);
        assert_int_equal(regwin_read32(w, 0xc, &v), 0);
        assert_int_equal(v, 0xdeadbeef);
        assert_int_equal(regwin_read32(w, 4096, &v), -EINVAL);
        regwin_free(w);         /* unmaps */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_plain_file_gets_model_backend, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_block_at_offset, setup, teardown),
                cmocka_unit_test_setup_teardown(test_truncated_file_is_enodev, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fault_in_one_thread_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unguarded_fault_still_kills, setup, teardown),
                cmocka_unit_test(test_non_regular_file_is_mmio),
                cmocka_unit_test(test_wrapped_mapping),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
