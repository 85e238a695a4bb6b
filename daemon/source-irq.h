/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The configuration of one interrupt source (source-irq.c); pure, so it is unit-tested on its own. */
#pragma once

enum irq_driver {
        IRQ_DRIVER_VFIO,
        IRQ_DRIVER_UIO,
};

enum irq_spec_kind {
        IRQ_SPEC_INTX,
        IRQ_SPEC_MSI,
        IRQ_SPEC_MSIX,
};

struct irq_spec {
        char port[13];                  /* the root port to read, "0000:0c:00.0" */
        char function[13];              /* the function that raises the interrupt */
        enum irq_driver driver;
        enum irq_spec_kind kind;        /* VFIO only; UIO is INTx */
        unsigned vector;                /* MSI/MSI-X vector */
};

/*
 * "PORT=vfio:FUNCTION", "PORT=vfio:FUNCTION:intx", "PORT=vfio:FUNCTION:msi:N"
 * (N <= 31), "PORT=vfio:FUNCTION:msix:N" (N <= 2047), "PORT=uio:FUNCTION".
 * PORT and FUNCTION in the full "dddd:bb:dd.f" form. -EINVAL otherwise;
 * *ret written only on success.
 */
int irq_spec_parse(const char *s, struct irq_spec *ret);
