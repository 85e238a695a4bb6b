/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The interrupt path of the simulated host: a function below a root port
 * (--port-opt I:uio) bound to uio_pci_generic, with the kernel's UIO side
 * played by files in the testbed.
 *
 *   <fn>/uio/uioN/{name,version,event,dev}  as drivers/uio/uio.c exports them
 *   <testbed>/sim/uio/uioN                   a FIFO standing for /dev/uioN
 *
 * /dev/uioN is not a node under <testbed>/dev: umockdev 0.17 sends every
 * read() of a /dev node in the testbed to an ioctl server process (and exits
 * the reader when there is none). The simulator's kernel library
 * (sim-kernel-preload.c, `cxl-isol-sim run --kernel`) opens the FIFO instead
 * when a program opens /dev/uioN; without it the open fails with ENOENT.
 *
 * An interrupt (sim_uio_fire) does what uio_pci_generic's handler and
 * uio_event_notify() do: INTx masked in the function's command register
 * (pci_check_and_mask_intx), the event count raised, and the new count (4
 * bytes, native endian) made readable on /dev/uioN. Whoever handles it
 * unmasks INTx by clearing command bit 10 through the sysfs config file, as
 * on a real host; while it is masked, the function cannot interrupt again.
 * Unlike a level-triggered line, the interrupt is not held asserted: one
 * fire, one interrupt.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sim-host.h"

#define SIM_UIO_MAJOR 240u      /* dynamic on a real host; fixed here */

/* "<root>/sim/uio/uioN": the FIFO that stands for /dev/uioN. */
int sim_uio_fifo_path(const char *root, const char *uio_name, char *buf, size_t len);

/* The function's sysfs directory, its uio class device and the FIFO. */
int sim_uio_create(const char *root, const struct sim_port_layout *l);

/*
 * The function below port l raises its interrupt. ret_count: the event count
 * after it. -ENOENT: the port has no such function; -EAGAIN: INTx is masked
 * (nobody unmasked it since the last interrupt), nothing changed; -ENXIO:
 * counted and masked as the kernel does, but no process has /dev/uioN open,
 * so nobody is told (a reader that opens later does not see it either).
 */
int sim_uio_fire(const char *root, const struct sim_port_layout *l, uint32_t *ret_count);
