/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The environment an operator script gets (action "exec"). This is the
 * documented contract; nothing else is passed, no shell interprets anything:
 *   CXL_ISOLD_EVENT_ID CXL_ISOLD_PORT CXL_ISOLD_HOST_BRIDGE CXL_ISOLD_REASON
 *   CXL_ISOLD_STATUS (0x%08x) CXL_ISOLD_CONTROL (0x%08x)
 *   CXL_ISOLD_DAX_DEVICES (space separated) CXL_ISOLD_POLICY
 *   CXL_ISOLD_TIMESTAMP_USEC (CLOCK_REALTIME of detection) CXL_ISOLD_DRILL (0/1)
 *   CXL_ISOLD_STATE_DIR, plus a fixed PATH and LANG=C.UTF-8.
 */
#pragma once

#include "isolation-event.h"

/* NULL-terminated "KEY=value" array; free with strv_free() (strv.h). */
int exec_env_build(const struct isolation_event *e, const char *policy, const char *state_dir, char ***ret);
