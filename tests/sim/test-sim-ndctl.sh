#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# libcxl and libdaxctl (through the cxl and daxctl tools) read the testbed's
# cxl bus and dax model as a kernel would present them, before and after a
# dax mode change made with the simulator.
set -euo pipefail
sim=$1

for tool in cxl daxctl python3; do
        command -v $tool >/dev/null || { echo "$tool is not installed"; exit 77; }
done
tb=$(mktemp -d)
trap 'rm -rf "$tb"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
export CXL_ISOL_SIM_TESTBED=$tb/host
json() {  # json EXPR CMD...: evaluate a python expression over the tool's JSON output "j"
        local expr=$1; shift
        "$sim" run -- "$@" 2>/dev/null | python3 -c "import json,sys; j=json.load(sys.stdin); print($expr)"
}

"$sim" create --dir "$tb/host" --ports 4 >/dev/null

[ "$(json 'sorted(m["host"] for m in j)' cxl list -M)" = \
  "['0000:0d:00.0', '0000:1d:00.0', '0000:2d:00.0', '0000:3d:00.0']" ] || fail "memdevs and their PCI hosts"
[ "$(json 'sorted(r["region"] for r in j if r["decode_state"] == "commit")' cxl list -R)" = \
  "['region0', 'region1', 'region2']" ] || fail "committed regions (port 3 has none)"
[ "$(json 'sorted(p["port"] + ":" + p["dports"][0]["dport"] for p in j)' cxl list -P -T)" = \
  "['port1:0000:0c:00.0', 'port2:0000:1c:00.0', 'port3:0000:2c:00.0', 'port4:0000:3c:00.0']" ] ||
        fail "host bridge ports and their root port dports"
[ "$(json '{d["chardev"]: d["mode"] for d in j}["dax1.0"]' daxctl list)" = system-ram ] || fail "dax1.0 mode"
[ "$(json '{d["chardev"]: d.get("online_memblocks") for d in j}["dax1.0"]' daxctl list)" = 4 ] || fail "dax1.0 blocks"
[ "$(json '{d["chardev"]: d["mode"] for d in j}["dax0.0"]' daxctl list)" = devdax ] || fail "dax0.0 mode"

first=$(( 0x1100000000 / 0x8000000 ))
for b in 0 1 2 3; do "$sim" memblock --index $((first + b)) --state offline >/dev/null; done
[ "$(json '{d["chardev"]: d.get("online_memblocks") for d in j}["dax1.0"]' daxctl list)" = 0 ] || fail "offline blocks"
"$sim" dax --name dax1.0 --mode devdax >/dev/null
[ "$(json '{d["chardev"]: d["mode"] for d in j}["dax1.0"]' daxctl list)" = devdax ] || fail "dax1.0 after reconfigure"
echo "ok: cxl and daxctl read the simulated host"
