/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Pure parts of the event sources: interrupt source specs, and which port a uevent's sysfs path belongs to. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "manager.h"
#include "port.h"
#include "source-irq.h"
#include "source.h"

static void test_irq_spec_vfio(void **state)
{
        struct irq_spec s;

        assert_int_equal(irq_spec_parse("0000:0c:00.0=vfio:0000:0d:00.0", &s), 0);
        assert_string_equal(s.port, "0000:0c:00.0");
        assert_string_equal(s.function, "0000:0d:00.0");
        assert_int_equal(s.driver, IRQ_DRIVER_VFIO);
        assert_int_equal(s.kind, IRQ_SPEC_INTX);

        assert_int_equal(irq_spec_parse("0000:0c:00.0=vfio:0000:0d:00.1:intx", &s), 0);
        assert_string_equal(s.function, "0000:0d:00.1");
        assert_int_equal(s.kind, IRQ_SPEC_INTX);

        assert_int_equal(irq_spec_parse("0000:0c:00.0=vfio:0000:0d:00.0:msi:3", &s), 0);
        assert_int_equal(s.kind, IRQ_SPEC_MSI);
        assert_int_equal(s.vector, 3);

        assert_int_equal(irq_spec_parse("0000:0c:00.0=vfio:0000:0d:00.0:msix:2047", &s), 0);
        assert_int_equal(s.kind, IRQ_SPEC_MSIX);
        assert_int_equal(s.vector, 2047);
}

static void test_irq_spec_uio(void **state)
{
        struct irq_spec s;

        assert_int_equal(irq_spec_parse("0000:1c:00.0=uio:0000:1d:00.0", &s), 0);
        assert_int_equal(s.driver, IRQ_DRIVER_UIO);
        assert_int_equal(s.kind, IRQ_SPEC_INTX);
        assert_string_equal(s.port, "0000:1c:00.0");
        /* uio_pci_generic is INTx only: a vector makes no sense. */
        assert_int_equal(irq_spec_parse("0000:1c:00.0=uio:0000:1d:00.0:msi:0", &s), -EINVAL);
        assert_int_equal(irq_spec_parse("0000:1c:00.0=uio:0000:1d:00.0:intx", &s), -EINVAL);
}

static void test_irq_spec_invalid(void **state)
{
        static const char *const bad[] = {
                "",
                "0000:0c:00.0",                                 /* no = */
                "0c:00.0=vfio:0000:0d:00.0",                    /* short port */
                "0000:0c:00.0=pci:0000:0d:00.0",                /* unknown driver */
                "0000:0c:00.0=vfio:0d:00.0",                    /* short function */
                "0000:0c:00.0=vfio:0000:0d:00.0x",              /* trailing garbage */
                "0000:0c:00.0=vfio:0000:0d:00.0:",
                "0000:0c:00.0=vfio:0000:0d:00.0:msi:",
                "0000:0c:00.0=vfio:0000:0d:00.0:msi:32",        /* MSI has at most 32 vectors */
                "0000:0c:00.0=vfio:0000:0d:00.0:msi:-1",
                "0000:0c:00.0=vfio:0000:0d:00.0:msix:2048",     /* MSI-X at most 2048 */
                "0000:0c:00.0=vfio:0000:0d:00.0:msix:1x",
                "0000:0c:00.0=vfio:0000:0d:00.0:legacy",
                "0000:0g:00.0=vfio:0000:0d:00.0",               /* not hex */
                "0000-0c:00.0=vfio:0000:0d:00.0",
        };
        struct irq_spec s = { .port = "untouched" };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (irq_spec_parse(bad[i], &s) != -EINVAL)
                        fail_msg("accepted \"%s\"", bad[i]);
        }
        assert_int_equal(irq_spec_parse(NULL, &s), -EINVAL);
        /* Written only on success. */
        assert_string_equal(s.port, "untouched");
}

static void test_port_for_syspath(void **state)
{
        struct port a = {}, b = {};
        struct port *ports[] = { &a, &b };
        struct manager m = { .n_ports = 2, .ports = ports };

        strcpy(a.rp.sysfs_path, "/sys/devices/pci0000:0c/0000:0c:00.0");
        strcpy(b.rp.sysfs_path, "/sys/devices/pci0000:1c/0000:1c:00.0");

        assert_ptr_equal(source_port_for_syspath(&m, "/sys/devices/pci0000:0c/0000:0c:00.0"), &a);
        /* A function below the port belongs to it. */
        assert_ptr_equal(source_port_for_syspath(&m, "/sys/devices/pci0000:1c/0000:1c:00.0/0000:1d:00.0"), &b);
        /* A sibling whose name merely starts the same does not. */
        assert_null(source_port_for_syspath(&m, "/sys/devices/pci0000:0c/0000:0c:00.01"));
        assert_null(source_port_for_syspath(&m, "/sys/devices/pci0000:0c"));
        assert_null(source_port_for_syspath(&m, "/sys/bus/dax/devices/dax0.0"));
        assert_null(source_port_for_syspath(&m, NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_irq_spec_vfio),
                cmocka_unit_test(test_irq_spec_uio),
                cmocka_unit_test(test_irq_spec_invalid),
                cmocka_unit_test(test_port_for_syspath),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
