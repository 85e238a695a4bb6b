/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `cxl-isold --list-ports [--json]`: the discovery report, one-shot, read-only. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

int list_ports(FILE *out, bool json);
