#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A libudev monitor running in the testbed receives the uevents the simulator
# emits, with their extra properties, and through a subsystem filter.
set -euo pipefail
sim=$1
listen=$2

tb=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tb"' EXIT
fail() { echo "FAIL: $*"; [ -f "$tb/out" ] && cat "$tb/out"; exit 1; }

"$sim" create --dir "$tb/host" --ports 4 >/dev/null
export CXL_ISOL_SIM_TESTBED=$tb/host

start_listener() {   # args for sim-uevent-listen; waits until it listens
        : >"$tb/out"
        "$sim" run -- "$listen" "$@" >"$tb/out" 2>&1 &
        pids+=($!)
        for _ in $(seq 100); do
                grep -q '^ready' "$tb/out" && return 0
                sleep 0.05
        done
        fail "listener did not start"
}

# 1. an error-recovery event on a root port, through a "pci" subsystem filter
start_listener --subsystem pci --count 1 --timeout-ms 5000
"$sim" memblock --index 3 --state offline >/dev/null   # filtered out: subsystem memory
"$sim" uevent --sysfs /sys/bus/pci/devices/0000:1c:00.0 --action change \
        ERROR_EVENT=FAILED_RECOVERY DEVICE_ONLINE=0 >/dev/null
wait "${pids[-1]}" || fail "listener got nothing"
line=$(grep '^change ' "$tb/out") || fail "no change event"
for want in "DEVPATH=/devices/pci0000:1c/0000:1c:00.0" SUBSYSTEM=pci ERROR_EVENT=FAILED_RECOVERY \
            DEVICE_ONLINE=0 PCI_SLOT_NAME=0000:1c:00.0 DRIVER=pcieport; do
        grep -q " $want\( \|$\)" <<<"$line" || fail "missing $want"
done

# 2. dax1.0 is system-ram with online blocks: devdax is refused until they are offline
[ "$(basename "$(readlink "$tb/host/sys/bus/dax/devices/dax1.0/driver")")" = kmem ] || fail "dax1.0 not kmem"
if "$sim" dax --name dax1.0 --mode devdax 2>/dev/null; then fail "reconfigure with online memory succeeded"; fi
first=$(( 0x1100000000 / 0x8000000 ))
for b in 0 1 2 3; do "$sim" memblock --index $((first + b)) --state offline >/dev/null; done
start_listener --subsystem dax --count 2 --timeout-ms 5000
"$sim" dax --name dax1.0 --mode devdax >/dev/null
wait "${pids[-1]}" || fail "listener missed dax events"
grep -q '^unbind .*/dax1.0 .*DRIVER=kmem' "$tb/out" || fail "no unbind from kmem"
grep -q '^bind .*/dax1.0 .*DRIVER=device_dax' "$tb/out" || fail "no bind to device_dax"
[ "$(basename "$(readlink "$tb/host/sys/bus/dax/devices/dax1.0/driver")")" = device_dax ] || fail "link not updated"
[ ! -e "$tb/host/sys/devices/system/memory/memory$first" ] || fail "memory blocks should be gone with kmem"

# 3. a link down the port cannot recover from: the kernel's recovery events, in order
start_listener --subsystem pci --count 2 --timeout-ms 5000
"$sim" inject --port 0000:2c:00.0 --kind mem-link-down --uevents >/dev/null
wait "${pids[-1]}" || fail "listener missed recovery events"
head -1 "$tb/out" | grep -q '^ready' || fail "listener output"
sed -n 2p "$tb/out" | grep -q '^change /devices/pci0000:2c/0000:2c:00.0/0000:2d:00.0 .*ERROR_EVENT=BEGIN_RECOVERY' ||
        fail "BEGIN_RECOVERY should reach the memory device first"
sed -n 3p "$tb/out" | grep -q '^change /devices/pci0000:2c/0000:2c:00.0 .*ERROR_EVENT=FAILED_RECOVERY' ||
        fail "FAILED_RECOVERY should reach the root port"
echo "ok: uevents reach libudev monitors in the testbed"
