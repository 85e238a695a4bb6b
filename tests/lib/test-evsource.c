/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sysfs side of the event sources over a umockdev testbed: which /dev/uioN
 * belongs to a function, which UIO map is which BAR (uio_pci_generic names
 * maps after the device, so the address decides), the resourceN fallback,
 * the INTx-disable bit in config space, and VFIO's group lookup errors.
 * Interrupt delivery itself needs a kernel: the QEMU tier covers it.
 *
 * /dev/uio0 is a testbed device node (umockdev serves its ioctls) backed by a
 * plain file: its first dword is what a 4-byte read() returns, and the same
 * bytes are BAR0 when mapped through UIO map 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <umockdev.h>

#include "evsource-uio.h"
#include "evsource-vfio.h"
#include "regwin.h"

#define BDF     "0000:00:05.0"
#define DEVDIR  "devices/pci0000:00/" BDF
#define BAR0    0xfea00000ull
#define BAR_LEN 0x4000u
#define CMD_INTX_DISABLE 0x0400

static char root[256];
static UMockdevTestbed *testbed;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path) < 0 ? -1 : 0;
}

static void mkdir_p(const char *rel_dir)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", root, rel_dir);
        for (char *s = path + strlen(root) + 1; *s; s++)
                if (*s == '/') {
                        *s = '\0';
                        (void)mkdir(path, 0755);
                        *s = '/';
                }
        (void)mkdir(path, 0755);
}

static void tb_write_bytes(const char *rel, const void *buf, size_t len)
{
        char path[PATH_MAX], dir[PATH_MAX];
        int fd;

        snprintf(dir, sizeof(dir), "%s", rel);
        *strrchr(dir, '/') = '\0';
        mkdir_p(dir);
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, buf, len), (ssize_t)len);
        assert_int_equal(close(fd), 0);
}

static void tb_write(const char *rel, const char *fmt, ...)
{
        char buf[1024];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        tb_write_bytes(rel, buf, (size_t)n);
}

static void tb_read_bytes(const char *rel, off_t off, void *buf, size_t len)
{
        char path[PATH_MAX];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
        assert_int_equal(close(fd), 0);
}

static void tb_link(const char *rel_link, const char *target)
{
        char path[PATH_MAX], dir[PATH_MAX];

        snprintf(dir, sizeof(dir), "%s", rel_link);
        *strrchr(dir, '/') = '\0';
        mkdir_p(dir);
        snprintf(path, sizeof(path), "%s/%s", root, rel_link);
        (void)unlink(path);
        assert_int_equal(symlink(target, path), 0);
}

/* BAR contents: dwords hold 0xb0000000 | (bank << 16) | offset. */
static uint32_t *bar_contents(uint32_t bank)
{
        uint32_t *buf = malloc(BAR_LEN);

        assert_non_null(buf);
        for (uint32_t i = 0; i < BAR_LEN / 4; i++)
                buf[i] = 0xb0000000u | (bank << 16) | (i * 4);
        return buf;
}

static void tb_bar_file(const char *rel, uint32_t bank)
{
        uint32_t *buf = bar_contents(bank);

        tb_write_bytes(rel, buf, BAR_LEN);
        free(buf);
}

/*
 * An edu-like function bound to uio_pci_generic: BAR0 a 16 KiB memory BAR,
 * BAR1 absent, BAR2 an I/O BAR; INTx-disable set as the kernel leaves it
 * after an interrupt; UIO map 0 at `map_addr`.
 */
static int setup(void **state)
{
        uint8_t config[64] = { 0x34, 0x12, 0xe8, 0x11 };

        GError *error = NULL;
        char path[PATH_MAX];
        gchar *dir;

        /* The testbed object, not just a directory: it answers the ioctl socket /dev/uio0 needs. */
        testbed = umockdev_testbed_new();
        assert_non_null(testbed);
        dir = umockdev_testbed_get_root_dir(testbed);
        snprintf(root, sizeof(root), "%s", dir);
        g_free(dir);
        if (!umockdev_testbed_add_from_string(testbed,
                        "P: /devices/pci0000:00/" BDF "\n"
                        "E: SUBSYSTEM=pci\n"
                        "\n"
                        "P: /devices/pci0000:00/" BDF "/uio/uio0\n"
                        "N: uio0\n"
                        "E: SUBSYSTEM=uio\n"
                        "E: DEVNAME=/dev/uio0\n", &error))
                fail_msg("testbed: %s", error ? error->message : "?");
        /* umockdev makes the node a pty; a plain file in its place keeps the ioctl socket and can be mapped. */
        snprintf(path, sizeof(path), "%s/dev/uio0", root);
        assert_int_equal(unlink(path), 0);
        tb_bar_file("dev/uio0", 0xd);

        config[4] = 0x06;                                /* memory + bus master */
        config[5] = CMD_INTX_DISABLE >> 8;
        tb_write_bytes("sys/" DEVDIR "/config", config, sizeof(config));
        tb_write("sys/" DEVDIR "/resource",
                 "0x%016llx 0x%016llx 0x0000000000040200\n"
                 "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                 "0x000000000000c000 0x000000000000c01f 0x0000000000040101\n"
                 "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                 "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                 "0x0000000000000000 0x0000000000000000 0x0000000000000000\n",
                 BAR0, BAR0 + BAR_LEN - 1);
        tb_bar_file("sys/" DEVDIR "/resource0", 0xa);
        tb_write("sys/class/uio/uio0/maps/map0/addr", "0x%llx\n", BAR0);
        tb_write("sys/class/uio/uio0/maps/map0/size", "0x%x\n", BAR_LEN);
        tb_write("sys/class/uio/uio0/maps/map0/offset", "0x0\n");
        return 0;
}

static int teardown(void **state)
{
        /* The testbed removes its directory. */
        g_clear_object(&testbed);
        root[0] = '\0';
        return 0;
}

static void test_uio_not_bound(void **state)
{
        struct uio_source *s = (void *)0x1;
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/sys/%s/uio", root, DEVDIR);
        assert_int_equal(nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
        assert_int_equal(uio_source_open(BDF, &s), -ENOENT);
        assert_ptr_equal(s, (void *)0x1);       /* untouched on failure */
        assert_int_equal(uio_source_open("0000:00:06.0", &s), -ENOENT);
        assert_int_equal(uio_source_open(NULL, &s), -EINVAL);
}

static void test_uio_open_read_unmask(void **state)
{
        struct uio_source *s = NULL;
        uint32_t count = 0;
        uint8_t cmd[2];

        assert_int_equal(uio_source_open(BDF, &s), 0);
        assert_string_equal(uio_source_name(s), "uio0");
        assert_true(uio_source_fd(s) >= 0);

        assert_int_equal(uio_source_consume(s, &count), 0);
        assert_int_equal(count, 0xb00d0000u);

        assert_int_equal(uio_source_unmask(s), 0);
        tb_read_bytes("sys/" DEVDIR "/config", 4, cmd, 2);
        assert_int_equal(cmd[0], 0x06);                 /* other bits kept */
        assert_int_equal(cmd[1] & (CMD_INTX_DISABLE >> 8), 0);
        /* Already clear: nothing to write, still success. */
        assert_int_equal(uio_source_unmask(s), 0);
        uio_source_free(s);
}

static void test_uio_bar_via_map(void **state)
{
        struct uio_source *s = NULL;
        struct regwin *w = NULL;
        volatile void *map;
        size_t len = 0;
        uint32_t v = 0, file;

        assert_int_equal(uio_source_open(BDF, &s), 0);
        assert_int_equal(uio_source_bar_via_uio(s, 0), -ENXIO);         /* not mapped yet */
        assert_int_equal(uio_source_map_bar(s, 0, &map, &len), 0);
        assert_int_equal(len, BAR_LEN);
        assert_int_equal(uio_source_bar_via_uio(s, 0), 1);
        assert_int_equal(uio_source_bar_read32(s, 0, 0x24, &v), 0);
        assert_int_equal(v, 0xb00d0024u);                               /* from /dev/uio0, not resource0 */
        assert_int_equal(uio_source_bar_write32(s, 0, 0x60, 0x1234abcd), 0);
        tb_read_bytes("dev/uio0", 0x60, &file, 4);
        assert_int_equal(file, 0x1234abcd);

        assert_int_equal(uio_source_bar_read32(s, 0, 0x26, &v), -EINVAL);
        assert_int_equal(uio_source_bar_read32(s, 0, BAR_LEN, &v), -EINVAL);
        assert_int_equal(uio_source_bar_read32(s, 0, BAR_LEN - 4, &v), 0);
        assert_int_equal(v, 0xb00d0000u | (BAR_LEN - 4));
        assert_int_equal(uio_source_map_bar(s, 1, &map, &len), -ENXIO);  /* absent */
        assert_int_equal(uio_source_map_bar(s, 2, &map, &len), -ENXIO);  /* I/O */
        assert_int_equal(uio_source_map_bar(s, 6, &map, &len), -ENXIO);

        assert_int_equal(uio_source_bar_regwin(s, 0, &w), 0);
        assert_int_equal(regwin_size(w), BAR_LEN);
        assert_int_equal(regwin_read32(w, 0x60, &v), 0);
        assert_int_equal(v, 0x1234abcd);
        regwin_free(w);
        uio_source_free(s);
}

static void test_uio_bar_fallback_resource(void **state)
{
        struct uio_source *s = NULL;
        uint32_t v = 0;

        /* A map of some other range (or none) must not be taken for BAR0. */
        tb_write("sys/class/uio/uio0/maps/map0/addr", "0x%llx\n", BAR0 + 0x100000);
        assert_int_equal(uio_source_open(BDF, &s), 0);
        assert_int_equal(uio_source_bar_read32(s, 0, 0x24, &v), 0);
        assert_int_equal(v, 0xb00a0024u);
        assert_int_equal(uio_source_bar_via_uio(s, 0), 0);
        uio_source_free(s);
}

static void test_uio_map_offset_in_page(void **state)
{
        struct uio_source *s = NULL;
        uint32_t v = 0;

        /* A BAR starting 0x100 into its page: the map covers the page, the BAR starts at +offset. */
        tb_write("sys/" DEVDIR "/resource",
                 "0x%016llx 0x%016llx 0x0000000000040200\n", BAR0 + 0x100, BAR0 + 0x100 + 0x1000 - 1);
        tb_write("sys/class/uio/uio0/maps/map0/offset", "0x100\n");
        assert_int_equal(uio_source_open(BDF, &s), 0);
        assert_int_equal(uio_source_bar_read32(s, 0, 0x0, &v), 0);
        assert_int_equal(v, 0xb00d0100u);
        assert_int_equal(uio_source_bar_read32(s, 0, 0x1000, &v), -EINVAL);
        assert_int_equal(uio_source_bar_via_uio(s, 0), 1);
        uio_source_free(s);
}

static void test_vfio_group_errors(void **state)
{
        struct vfio_source *s = (void *)0x1;

        /* No iommu_group: no IOMMU, or the function is not bound to vfio-pci. */
        assert_int_equal(vfio_source_open(BDF, &s), -ENOENT);
        /* A group link whose last component is not a number. */
        tb_link("sys/" DEVDIR "/iommu_group", "../../../kernel/iommu_groups/x7");
        assert_int_equal(vfio_source_open(BDF, &s), -EINVAL);
        assert_ptr_equal(s, (void *)0x1);
        assert_int_equal(vfio_source_open(NULL, &s), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_uio_not_bound, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uio_open_read_unmask, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uio_bar_via_map, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uio_bar_fallback_resource, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uio_map_offset_in_page, setup, teardown),
                cmocka_unit_test_setup_teardown(test_vfio_group_errors, setup, teardown),
        };
        const char *preload = getenv("LD_PRELOAD");

        if (!preload || !strstr(preload, "libumockdev-preload")) {
                printf("1..0 # SKIP needs LD_PRELOAD=libumockdev-preload.so.0 (run through meson test)\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
