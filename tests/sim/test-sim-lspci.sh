#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# lspci (libpci, unmodified) inside a 5-port testbed sees what a real host
# with 4 CXL root ports and an unprivileged reader for the 5th would show.
set -euo pipefail
sim=$1

command -v lspci >/dev/null || { echo "lspci (pciutils) is not installed"; exit 77; }
tb=$(mktemp -d)
trap 'rm -rf "$tb"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
count() { grep -c -- "$1" <<<"$out" || true; }

"$sim" create --dir "$tb/host" --ports 5 --port-opt 4:config-64 >/dev/null
# root ports only (8086:7075): the memory devices below carry DVSECs of their own
out=$("$sim" run --testbed "$tb/host" -- lspci -vvv -d 8086:7075 2>/dev/null)

[ "$(count 'PCI bridge: Intel Corporation Device 7075')" = 5 ] || fail "expected 5 bridges"
[ "$(count 'Express (v2) Root Port')" = 4 ] || fail "expected 4 root ports with a readable PCIe capability"
[ "$(count 'Capabilities: <access denied>')" = 1 ] || fail "the 64-byte config port should show access denied"
for id in 0003 0004 0007 0008; do
        [ "$(count "Vendor=1e98 ID=$id")" = 4 ] || fail "expected CXL DVSEC $id on 4 ports"
done
[ "$(count 'Block1: BIR: bar0, ID: component registers, offset: 0000000000000000')" = 4 ] ||
        fail "register locators should name BAR0 offset 0"
[ "$(count 'Region 0: Memory at .* (64-bit, non-prefetchable) \[size=64K\]')" = 5 ] ||
        fail "each root port should have a 64 KiB 64-bit BAR0"
[ "$(count 'MSI: Enable+ Count=2/2')" = 4 ] || fail "expected MSI with 2 vectors"
[ "$(count 'Kernel driver in use: pcieport')" = 5 ] || fail "root ports should be bound to pcieport"
ep=$("$sim" run --testbed "$tb/host" -- lspci -n -d 8086:0d93 2>/dev/null | grep -c ' 0502: ' || true)
[ "$ep" = 5 ] || fail "expected a CXL memory device (class 0502) below each port, got $ep"

# past 16 ports the simulator opens PCI domain 0001 (libpci's sysfs access reads the domain from the name)
"$sim" create --dir "$tb/wide" --ports 18 >/dev/null
out=$("$sim" run --testbed "$tb/wide" -- lspci -D -d 8086:7075 2>/dev/null)
[ "$(count '^0000:')" = 16 ] || fail "expected 16 root ports in domain 0000"
[ "$(count '^0001:[01]c:00.0 PCI bridge')" = 2 ] || fail "expected ports 16, 17 as 0001:0c:00.0, 0001:1c:00.0"
echo "ok: lspci sees 4 CXL root ports with DVSECs 3, 4, 7, 8 and one unreadable port, and a second domain"
