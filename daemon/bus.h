/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The D-Bus API of the daemon (names in bus-names.h): the manager object with
 * org.freedesktop.DBus.ObjectManager and ...Manager, one object per root port
 * with ...Port. It is a view on struct manager: properties are read from the
 * manager when asked, changes are announced from the manager's observers, and
 * methods call the manager's own functions, so the bus never holds state the
 * core does not.
 *
 * The bus is optional: without a system bus the daemon watches and acts all
 * the same, and says once that the API is unavailable.
 */
#pragma once

struct manager;
struct bus;

/*
 * Connect to the system bus ($DBUS_SYSTEM_BUS_ADDRESS honoured), attach it
 * to m's event loop, register the objects and observers and take the name.
 * Called before manager_startup(), so the name is owned when READY=1 goes out;
 * nothing is dispatched before the loop runs, when the ports exist.
 */
int bus_new(struct manager *m, struct bus **ret);
/* Releases the name and the connection; must run before manager_free(m). */
struct bus *bus_free(struct bus *b);

/* Write <interface>.xml for the Manager and Port interfaces into dir, generated from the vtables. */
int bus_introspect(const char *dir);
