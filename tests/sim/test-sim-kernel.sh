#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `cxl-isol-sim kernel` acts on writes into the testbed the way the kernel
# would: what the daemon's offline actions write (memoryN/state, a dax
# driver's remove_id and unbind) changes what it reads back, with uevents.
set -euo pipefail
sim=$1
listen=$2

tb=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tb"' EXIT
fail() { echo "FAIL: $*"; for f in "$tb"/*.out "$tb"/*.err; do echo "--- $f"; cat "$f"; done; exit 1; }
export CXL_ISOL_SIM_TESTBED=$tb/host
sys=$tb/host/sys

start() {   # name cmd...: start in the background, wait for "ready" on its stdout
        local name=$1; shift
        "$@" >"$tb/$name.out" 2>"$tb/$name.err" &
        pids+=($!)
        for _ in $(seq 200); do grep -q '^ready' "$tb/$name.out" && return 0; sleep 0.02; done
        fail "$name did not start"
}
wait_for() {  # description command...: poll up to 5 s
        local what=$1; shift
        for _ in $(seq 250); do "$@" && return 0; sleep 0.02; done
        fail "$what"
}
driver() { local t; t=$(readlink "$sys/bus/dax/devices/$1/driver" 2>/dev/null) || true; echo "${t##*/}"; }
bound_to() { [ "$(driver "$1")" = "$2" ]; }   # evaluated on each poll, unlike a $(...) argument

"$sim" create --dir "$tb/host" --ports 4 >/dev/null
start kernel "$sim" kernel --refuse-unbind dax2.0
start listener "$sim" run -- "$listen" --subsystem memory --count 4 --timeout-ms 10000

# offline-memory, as the daemon does it: write "offline", read back
first=$(( 0x1100000000 / 0x8000000 ))
for b in 0 1 2 3; do
        # a writer that does not truncate, like a plain open(O_WRONLY) + write()
        printf offline | dd of="$sys/devices/system/memory/memory$((first + b))/state" conv=notrunc status=none
done
for b in 0 1 2 3; do
        wait_for "memory$((first + b)) offline" grep -qx offline "$sys/devices/system/memory/memory$((first + b))/state"
        grep -qx 0 "$sys/devices/system/memory/memory$((first + b))/online" || fail "online attribute"
done
wait "${pids[-1]}" || fail "listener missed offline events"
[ "$(grep -c '^offline /devices/system/memory/memory' "$tb/listener.out")" = 4 ] || fail "4 offline uevents"

# unbind of the kmem device with its memory offline: kmem lets go and removes the blocks
start listener2 "$sim" run -- "$listen" --subsystem dax --count 1 --timeout-ms 10000
echo dax1.0 >"$sys/bus/dax/drivers/kmem/remove_id"
echo dax1.0 >"$sys/bus/dax/drivers/kmem/unbind"
wait_for "dax1.0 unbound" bound_to dax1.0 ""
wait_for "blocks removed" test ! -e "$sys/devices/system/memory/memory$first"
[ ! -s "$sys/bus/dax/drivers/kmem/unbind" ] || fail "unbind file should read empty again"
wait "${pids[-1]}" || fail "listener missed the unbind"
grep -q '^unbind .*/dax1.0 .*DRIVER=kmem' "$tb/listener2.out" || fail "unbind uevent"

# devdax unbind succeeds; a refused one leaves the driver in place
echo dax0.0 >"$sys/bus/dax/drivers/device_dax/unbind"
wait_for "dax0.0 unbound" bound_to dax0.0 ""
echo dax2.0 >"$sys/bus/dax/drivers/device_dax/unbind"
wait_for "refusal logged" grep -q 'dax2.0: unbind from device_dax refused' "$tb/kernel.err"
[ "$(driver dax2.0)" = device_dax ] || fail "refused unbind must leave dax2.0 bound"

# rebinding dax1.0 to kmem brings its blocks back, offline (auto_online_blocks=offline)
echo dax1.0 >"$sys/bus/dax/drivers/kmem/bind"
wait_for "dax1.0 bound to kmem" bound_to dax1.0 kmem
wait_for "bind done" grep -q 'dax1.0: bound to kmem' "$tb/kernel.err"   # logged after all blocks are back
for b in 0 1 2 3; do test -e "$sys/devices/system/memory/memory$((first + b))/state" || fail "block $b not back"; done
grep -qx offline "$sys/devices/system/memory/memory$first/state" || fail "new blocks should be offline"
echo "ok: the kernel emulator applies sysfs writes"

# One emulator at a time: the watcher also wakes on every close of a writer.
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true

# The preloaded kernel side (cxl-isol-sim run --kernel): the writer's own write() acts,
# synchronously, and fails the way the kernel's would.
CXL_ISOL_SIM_REFUSE=offline:545,unbind:dax2.0 "$sim" run --kernel -- python3 - "$first" >"$tb/sync.out" 2>&1 <<'PY' ||
import errno, os, sys
first = int(sys.argv[1])
def write(path, value):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
        return 0
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)
def read(path):
    with open(path) as f:
        return f.read().strip()
state = "/sys/devices/system/memory/memory%d/state"
# dax1.0 is kmem again with its blocks offline; online one, then offline it: read back at once
assert write(state % first, "online_movable\n") == 0 and read(state % first) == "online", "online"
assert write(state % first, "offline\n") == 0 and read(state % first) == "offline", "offline"
assert write(state % first, "sideways") == errno.EINVAL and read(state % first) == "offline", "EINVAL"
assert write(state % (first + 1), "online") == 0, "online 545"
assert write(state % (first + 1), "offline") == errno.EBUSY and read(state % (first + 1)) == "online", "refused offline"
assert write("/sys/bus/dax/drivers/device_dax/unbind", "dax2.0") == errno.EBUSY, "refused unbind"
assert os.path.basename(os.readlink("/sys/bus/dax/devices/dax2.0/driver")) == "device_dax", "still bound"
assert write("/sys/bus/dax/drivers/device_dax/unbind", "dax3.0") == errno.ENOENT, "no dax3.0 (port 3 has no region)"
# what the daemon's offline-devdax does: remove_id, unbind, and the link is gone on return
assert write("/sys/bus/dax/drivers/device_dax/remove_id", "dax0.0") == 0
assert write("/sys/bus/dax/drivers/device_dax/unbind", "dax0.0") == errno.ENODEV, "dax0.0 was unbound above"
assert write("/sys/bus/dax/drivers/device_dax/bind", "dax0.0") == 0
assert write("/sys/bus/dax/drivers/device_dax/unbind", "dax0.0") == 0
assert not os.path.lexists("/sys/bus/dax/devices/dax0.0/driver"), "unbound on return"
assert read("/sys/bus/dax/drivers/device_dax/unbind") == "", "control file stays empty"
print("sync ok")
PY
        fail "synchronous kernel side"
grep -q '^sync ok' "$tb/sync.out" || fail "synchronous kernel side"
# without --kernel (and with the watcher stopped), a write is only a write
"$sim" run -- python3 -c 'import os; fd = os.open("/sys/bus/dax/drivers/device_dax/unbind", os.O_WRONLY); os.write(fd, b"dax2.0"); os.close(fd)'
[ "$(cat "$sys/bus/dax/drivers/device_dax/unbind")" = dax2.0 ] || fail "plain run should leave the write in the file"
echo "ok: synchronous kernel side in run --kernel"
