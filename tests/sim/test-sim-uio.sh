#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The interrupt path of the simulated host (sim-uio.h): a uio_pci_generic
# function below a port, its interrupt masked on delivery and counted, the
# count readable on /dev/uioN for a program run with the kernel library, and
# lost (but counted) when nobody has the node open.
set -euo pipefail
sim=$1

tb=$(mktemp -d)
trap 'rm -rf "$tb"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$sim" create --dir "$tb/host" --ports 2 --port-opt 1:uio >/dev/null
export CXL_ISOL_SIM_TESTBED=$tb/host
p0=0000:0c:00.0
p1=0000:1c:00.0
fn=$tb/host/sys/devices/pci0000:1c/0000:1c:00.0/0000:1d:00.1
uio=$tb/host/sys/class/uio/uio1

[ "$(readlink -f "$uio")" = "$(readlink -f "$fn/uio/uio1")" ] || fail "/sys/class/uio/uio1 should be the function's"
[ "$(cat "$uio/name")" = uio_pci_generic ] || fail "uio name"
[ "$(basename "$(readlink "$fn/driver")")" = uio_pci_generic ] || fail "function not bound to uio_pci_generic"
[ -e "$tb/host/dev/uio1" ] && fail "/dev/uio1 must not be a node umockdev would emulate"
[ -p "$tb/host/sim/uio/uio1" ] || fail "the FIFO standing for /dev/uio1 is missing"
command_reg() { od -An -tx2 -j4 -N2 "$fn/config" | tr -d ' '; }
[ $(( 0x$(command_reg) & 0x400 )) = 0 ] || fail "INTx should start unmasked"

rc=0; "$sim" irq --port $p0 2>/dev/null || rc=$?
[ $rc = 1 ] || fail "a port without a uio function has no interrupt to fire (rc $rc)"

# Nobody listening: counted and masked, as uio_pci_generic's handler does, but nobody told.
rc=0; "$sim" irq --port $p1 >/dev/null || rc=$?
[ $rc = 4 ] || fail "irq with no reader should exit 4, got $rc"
[ "$(cat "$uio/event")" = 1 ] || fail "the interrupt should be counted"
[ $(( 0x$(command_reg) & 0x400 )) != 0 ] || fail "INTx should be masked after delivery"
rc=0; "$sim" irq --port $p1 >/dev/null || rc=$?
[ $rc = 3 ] || fail "a masked function cannot interrupt again (rc $rc)"
[ "$(cat "$uio/event")" = 1 ] || fail "a masked interrupt is not counted"

# A UIO user, as lib/evsource-uio.c does it: open /dev/uioN, unmask through config, wait, read 4 bytes.
reader='
import os, select, struct, sys
fd = os.open("/dev/uio1", os.O_RDWR | os.O_NONBLOCK)
cfg = os.open("/sys/bus/pci/devices/0000:1d:00.1/config", os.O_RDWR)
(cmd,) = struct.unpack("<H", os.pread(cfg, 2, 4))
os.pwrite(cfg, struct.pack("<H", cmd & ~0x400), 4)
print("ready", flush=True)
ep = select.epoll()
ep.register(fd, select.EPOLLIN)
if not ep.poll(10):
    sys.exit("no interrupt")
print(struct.unpack("=I", os.read(fd, 4))[0], flush=True)
'
"$sim" run --kernel -- python3 -c "$reader" >"$tb/reader.out" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q ready "$tb/reader.out" && break; sleep 0.02; done
grep -q ready "$tb/reader.out" || fail "reader did not start: $(cat "$tb/reader.out")"
"$sim" irq --port $p1 | grep -q 'delivered (/dev/uio1 count 2)' || fail "irq after unmask not delivered"
wait $pid || fail "reader: $(cat "$tb/reader.out")"
[ "$(tail -n1 "$tb/reader.out")" = 2 ] || fail "reader should read the count 2: $(cat "$tb/reader.out")"

# Without the kernel library there is no /dev/uio1 (and umockdev does not kill the opener).
rc=0; "$sim" run -- python3 -c 'import os; os.open("/dev/uio1", os.O_RDWR)' 2>"$tb/err" || rc=$?
grep -q FileNotFoundError "$tb/err" || fail "without --kernel, /dev/uio1 should not exist: $(cat "$tb/err")"

# inject --irq: isolation first, then the interrupt; none while isolation is not enabled.
printf '\x02\x00' | dd of="$fn/config" bs=1 seek=4 conv=notrunc status=none
out=$("$sim" inject --port $p1 --kind mem-link-down --irq) || true
echo "$out" | grep -q 'not isolated' || fail "unarmed port isolated"
echo "$out" | grep -q interrupt && fail "an interrupt without isolation"
"$sim" arm --port $p1 >/dev/null
rc=0; out=$("$sim" inject --port $p1 --kind mem-link-down --irq) || rc=$?
[ $rc = 4 ] || fail "inject --irq with no reader should exit 4, got $rc: $out"
echo "$out" | head -n1 | grep -q ': isolated' || fail "isolation before the interrupt: $out"
[ "$(cat "$uio/event")" = 3 ] || fail "inject --irq should count the interrupt"
echo ok
