/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "exec-env.h"
#include "strv.h"

/* A fixed PATH: the daemon's own environment (and whoever started it) must not steer the script. */
#define EXEC_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

int exec_env_build(const struct isolation_event *e, const char *policy, const char *state_dir, char ***ret)
{
        _cleanup_strv_free_ char **env = calloc(1, sizeof(char *));
        _cleanup_free_ char *dax = NULL;
        int k;

        if (!env)
                return -ENOMEM;
        dax = isolation_event_dax_list(e);
        if (!dax)
                return -ENOMEM;

        if ((k = strv_extendf(&env, "PATH=%s", EXEC_PATH)) < 0 ||
            (k = strv_extend(&env, "LANG=C.UTF-8")) < 0 ||
            (k = strv_extendf(&env, "CXL_ISOLD_EVENT_ID=%s", e->id)) < 0 ||
            (k = strv_extendf(&env, "CXL_ISOLD_PORT=%s", e->port)) < 0 ||
            (k = strv_extendf(&env, "CXL_ISOLD_HOST_BRIDGE=%s", e->host_bridge)) < 0 ||
            (k = strv_extendf(&env, "CXL_ISOLD_REASON=%s", cxl_isolation_kind_to_string(e->kind) ?: "none")) < 0 ||
            (k = strv_extendf(&env, "CXL_ISOLD_STATUS=0x%08" PRIx32, e->status)) < 0 ||
            (k = strv_extendf(&env, "CXL_ISOLD_CONTROL=0x%08" PRIx32, e->control)) < 0 ||
            (k = strv_extendf(&env, "CXL_ISOLD_DAX_DEVICES=%s", dax)) < 0 ||
            (k = strv_extendf(&env, "CXL_ISOLD_POLICY=%s", policy ?: "")) < 0 ||
            (k = strv_extendf(&env, "CXL_ISOLD_TIMESTAMP_USEC=%" PRIu64, e->realtime_usec)) < 0 ||
            (k = strv_extendf(&env, "CXL_ISOLD_DRILL=%d", e->drill ? 1 : 0)) < 0 ||
            (k = strv_extendf(&env, "CXL_ISOLD_STATE_DIR=%s", state_dir ?: "")) < 0)
                return k;

        *ret = TAKE_PTR(env);
        return 0;
}
