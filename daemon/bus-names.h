/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The D-Bus names of cxl-isold, shared by the daemon and cxl-isolctl so the
 * two cannot drift apart. The "1" is the API version: an incompatible change
 * gets CxlIsol2 next to it, never an edit of these.
 */
#pragma once

#define BUS_NAME                "org.cxlisold.CxlIsol1"
#define BUS_MANAGER_PATH        "/org/cxlisold/CxlIsol1"
#define BUS_MANAGER_INTERFACE   "org.cxlisold.CxlIsol1.Manager"
/* One object per root port below this prefix, named sd_bus_path_encode(BUS_PORT_PREFIX, bdf). */
#define BUS_PORT_PREFIX         "/org/cxlisold/CxlIsol1/port"
#define BUS_PORT_INTERFACE      "org.cxlisold.CxlIsol1.Port"

/* Errors of our own; callers also see org.freedesktop.DBus.Error.AccessDenied and InvalidArgs. */
#define BUS_ERROR_NO_SUCH_PORT          "org.cxlisold.CxlIsol1.Error.NoSuchPort"
#define BUS_ERROR_NO_SUCH_EVENT         "org.cxlisold.CxlIsol1.Error.NoSuchEvent"
#define BUS_ERROR_NO_SUCH_POLICY        "org.cxlisold.CxlIsol1.Error.NoSuchPolicy"
#define BUS_ERROR_ALREADY_ACKNOWLEDGED  "org.cxlisold.CxlIsol1.Error.AlreadyAcknowledged"
#define BUS_ERROR_ARM_REFUSED           "org.cxlisold.CxlIsol1.Error.ArmRefused"
#define BUS_ERROR_PORT_BUSY             "org.cxlisold.CxlIsol1.Error.PortBusy"
#define BUS_ERROR_RELOAD_FAILED         "org.cxlisold.CxlIsol1.Error.ReloadFailed"

/* Files that `cxl-isold --bus-introspect=DIR` writes: <interface>.xml, as in /usr/share/dbus-1/interfaces. */
#define BUS_INTROSPECT_SUFFIX   ".xml"
