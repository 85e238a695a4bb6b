#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The injector and the operator commands, end to end on a testbed: isolation
# only when armed, RAS/AER evidence of a link down, the clear waiting for RP
# Busy (and giving up without writing), ports without T&I, gone and truncated BARs.
set -euo pipefail
sim=$1

tb=$(mktemp -d)
trap 'rm -rf "$tb"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
field() { "$sim" status --port "$1" | sed -n "s/^$2=//p"; }

"$sim" create --dir "$tb/host" --ports 4 --port-opt 3:no-ti >/dev/null
export CXL_ISOL_SIM_TESTBED=$tb/host
p=0000:0c:00.0
sys=$tb/host/sys/devices/pci0000:0c/0000:0c:00.0

"$sim" inject --port $p --kind mem-link-down | grep -q 'not isolated' || fail "isolated while not armed"
[ "$(field $p kind)" = none ] || fail "status changed without arming"
grep -q '^SDES 1$' "$sys/aer_dev_fatal" || fail "AER should count a surprise down"
[ "$(cat "$sys/aer_rootport_total_err_fatal")" = 1 ] || fail "root port fatal total"

"$sim" arm --port $p >/dev/null
"$sim" inject --port $p --kind mem-link-down | grep -q ': isolated' || fail "armed port did not isolate"
[ "$(field $p kind)" = mem-link-down ] || fail "kind"
field $p ras_ue_status | grep -q reinit-threshold || fail "RAS UE should record the link loss"
[ "$(field $p ras_header_log | cut -d' ' -f1)" = 5100d000 ] || fail "RAS header log"
[ "$(cat "$sys/aer_rootport_total_err_cor")" = 1 ] || fail "ERR_COR signalling should count a correctable error"

# RP Busy held 400 ms by the "hardware": the clear waits for it. Whatever the
# load, the clear cannot succeed before 400 ms after the busy process started.
launched=$(date +%s%N)
"$sim" busy --port $p --ms 400 &
busy=$!
seen=0
for _ in $(seq 200); do field $p status | grep -q rp-busy && { seen=1; break; }; sleep 0.01; done
[ $seen = 1 ] || fail "RP Busy never showed"
"$sim" clear --port $p --timeout-ms 5000 >/dev/null || fail "clear after busy"
elapsed=$(( ($(date +%s%N) - launched) / 1000000 ))
wait $busy
[ "$elapsed" -ge 400 ] || fail "clear did not wait for RP Busy ($elapsed ms)"
[ "$(field $p kind)" = none ] || fail "still isolated after clear"

# RP Busy stuck: the clear gives up, status untouched
"$sim" inject --port $p --kind mem-link-down >/dev/null
"$sim" busy --port $p --on
rc=0; "$sim" clear --port $p --timeout-ms 100 2>/dev/null || rc=$?
[ $rc = 4 ] || fail "expected the timeout exit code 4, got $rc"
field $p status | grep -q 'mem-isolated' || fail "isolation must survive a refused clear"
"$sim" busy --port $p --off
"$sim" clear --port $p >/dev/null || fail "clear after busy off"
rc=0; "$sim" clear --port $p 2>/dev/null || rc=$?
[ $rc = 3 ] || fail "clearing a port that is not isolated should say so (3), got $rc"

# isolation entered with RP Busy held by the port for a while: the clear waits it out
"$sim" inject --port $p --kind mem-link-down --busy-ms 300 >"$tb/inject.out" &
busy=$!
for _ in $(seq 100); do grep -q isolated "$tb/inject.out" && break; sleep 0.02; done
field $p status | grep -q 'rp-busy' || fail "RP Busy should be set right after the injection"
"$sim" clear --port $p --timeout-ms 3000 >/dev/null || fail "clear after --busy-ms"
wait $busy
[ "$(field $p kind)" = none ] || fail "still isolated"

# CXL.cache isolation, armed the way firmware might
"$sim" arm --port $p --cache >/dev/null
"$sim" inject --port $p --kind cache-link-down | grep -q ': isolated' || fail "cache isolation"
[ "$(field $p kind)" = cache-link-down ] || fail "cache kind"
"$sim" clear --port $p >/dev/null || fail "clear cache isolation"

# QEMU-like port: no T&I
[ "$(field 0000:3c:00.0 ti_offset)" = none ] || fail "no-ti port shows T&I"
if "$sim" inject --port 0000:3c:00.0 --kind mem-link-down >/dev/null 2>&1; then fail "injected into a port without T&I"; fi

# surprise removal: all-ones everywhere
"$sim" gone --port 0000:1c:00.0
[ "$(od -An -tx4 -N4 "$tb/host/sys/devices/pci0000:1c/0000:1c:00.0/config" | tr -d ' ')" = ffffffff ] || fail "config not all-ones"
if "$sim" status --port 0000:1c:00.0 >/dev/null 2>&1; then fail "status of a gone port succeeded"; fi

# truncated BAR: readers get an error, not a crash
"$sim" truncate --port 0000:2c:00.0
rc=0; "$sim" status --port 0000:2c:00.0 >/dev/null 2>&1 || rc=$?
[ $rc = 1 ] || fail "status of a truncated BAR should fail cleanly, got $rc"

# and both come back at reset values
for q in 0000:1c:00.0 0000:2c:00.0; do
        "$sim" restore --port $q
        [ "$(field $q kind)" = none ] || fail "$q after restore"
        [ "$(field $q control)" = 0x00000000 ] || fail "$q control after restore"
done
[ "$(od -An -tx4 -N4 "$tb/host/sys/devices/pci0000:1c/0000:1c:00.0/config" | tr -d ' ')" = 70758086 ] ||
        fail "config after restore"
echo "ok: injector and operator commands"
