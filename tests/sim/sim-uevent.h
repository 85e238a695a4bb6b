/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Uevents for processes running in a testbed. umockdev's preload library
 * turns every NETLINK_KOBJECT_UEVENT socket of a process into an AF_UNIX
 * datagram socket bound at $UMOCKDEV_DIR/event<fd>, and presents whatever
 * arrives there as a multicast from the udev group with root credentials.
 * We send udev-format messages (the "libudev" header followed by KEY=VALUE
 * strings) to every such socket. Unlike umockdev_testbed_uevent(), this
 * carries arbitrary properties (ERROR_EVENT=..., DEVICE_ONLINE=...), which the
 * kernel's PCI error-recovery events need, and works from any process that
 * knows the testbed directory.
 */
#pragma once

#include <stddef.h>

/*
 * Send ACTION/DEVPATH/SUBSYSTEM/SEQNUM, the device's uevent file (if it still
 * exists) and then `extra` ("KEY=VALUE", later ones win). subsystem may be
 * NULL to take it from the device's subsystem link (required for "remove" of
 * a device already gone). Returns the number of listening sockets reached.
 */
int sim_uevent_send(const char *root, const char *devpath, const char *action, const char *subsystem,
                    char *const *extra, size_t n_extra);
