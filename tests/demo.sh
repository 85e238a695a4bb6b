#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# README command (1): install what is missing, build, and run the real
# cxl-isold against the simulated 4-port CXL host (tests/sim/README.md):
# show discovery, arm one port the way firmware or `cxl-isolctl arm` would,
# inject a CXL.mem link-down isolation on it, and show what the daemon did —
# its log, the policy script's output and environment, and the durable event
# record. Exits 0 only if every step happened.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

tests/install-deps.sh
if [ ! -d build ]; then
        meson setup build -Dwerror=true >/dev/null
fi
meson compile -C build >/dev/null

sim=build/tests/sim/cxl-isol-sim
daemon=build/daemon/cxl-isold
work=$(mktemp -d /tmp/cxl-isold-demo.XXXXXX)
daemon_pid=
cleanup() {
        [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
        echo "demo: files kept in $work (testbed/, state/events.jsonl, daemon.log)"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo: FAILED: $*" >&2; exit 1; }

step "This machine"
real=$("$daemon" --list-ports 2>/dev/null | grep -c '^[0-9a-f]\{4\}:' || true)
echo "real CXL root ports found by discovery: ${real}"
echo "the demo runs against the simulated host in any case (isolation cannot be injected into real hardware)"

step "Simulated host: 4 CXL root ports, port 3 is QEMU-like (no Timeout & Isolation capability)"
"$sim" create --dir "$work/testbed" --ports 4 --port-opt 3:no-ti
port=0000:0c:00.0

mkdir -p "$work/policy.d" "$work/state"
cat > "$work/on-isolation.sh" <<'SCRIPT'
#!/bin/sh
# The operator's policy script: cxl-isold passes the event in CXL_ISOLD_* variables.
echo "operator script: event $CXL_ISOLD_EVENT_ID: $CXL_ISOLD_REASON on $CXL_ISOLD_PORT, dax devices: $CXL_ISOLD_DAX_DEVICES"
env | grep '^CXL_ISOLD_' | sort > "$CXL_ISOLD_STATE_DIR/script-environment.txt"
SCRIPT
chmod +x "$work/on-isolation.sh"
cat > "$work/cxl-isold.conf" <<CONF
[daemon]
poll-interval = 100ms

[policy]
exec = $work/on-isolation.sh
timeout = 10s
CONF
echo "config: $work/cxl-isold.conf"; sed 's/^/    /' "$work/cxl-isold.conf"

step "Discovery report (cxl-isold --list-ports)"
"$sim" run --testbed "$work/testbed" -- "$daemon" --list-ports | grep -E '^[0-9a-f]{4}:|watchable|capability 0x9|T&I'

step "Arm $port (CXL.mem isolation + link-down enable), as firmware or an operator would"
"$sim" arm --testbed "$work/testbed" --port "$port"

step "Start cxl-isold (poll every 100 ms)"
"$sim" run --testbed "$work/testbed" -- "$daemon" --config "$work/cxl-isold.conf" \
        --config-dir "$work/policy.d" --state-dir "$work/state" --log-target console \
        >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do grep -q '^Watching' "$work/daemon.log" && break; sleep 0.1; done
grep -q '^Watching' "$work/daemon.log" || { cat "$work/daemon.log"; fail "daemon did not become ready"; }
sed 's/^/    /' "$work/daemon.log"

step "Inject a CXL.mem link-down isolation on $port"
"$sim" inject --testbed "$work/testbed" --port "$port" --kind mem-link-down
for _ in $(seq 100); do grep -q 'exec: finished' "$work/daemon.log" && break; sleep 0.1; done

step "What the daemon logged"
sed -n '/CXL.mem isolation on/,$p' "$work/daemon.log" | sed 's/^/    /'
grep -q "CXL.mem isolation on $port" "$work/daemon.log" || fail "no isolation logged"
grep -q 'exec: finished: exited with status 0' "$work/daemon.log" || fail "the policy script did not finish"

step "The policy script's environment"
sed 's/^/    /' "$work/state/script-environment.txt"
grep -q "^CXL_ISOLD_PORT=$port$" "$work/state/script-environment.txt" || fail "script saw the wrong port"

step "The durable event record ($work/state/events.jsonl, fsynced before any action ran)"
/usr/bin/python3 - "$work/state/events.jsonl" "$port" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
events = [l for l in lines if l.get("type") == "event"]
assert len(events) == 1, f"expected one event, got {len(events)}"
e = events[0]
assert e["port"] == sys.argv[2] and e["kind"] == "mem-link-down", e
short = {k: e[k] for k in ("id", "port", "host_bridge", "kind", "status", "control") if k in e}
short["ras.ue_status_names"] = e["ras"]["ue_status_names"]
short["ras.header_log[0:2]"] = e["ras"]["header_log"][:2]
short["dax"] = e.get("dax_devices", e.get("dax"))
print(json.dumps(short, indent=4))
actions = [l for l in lines if l.get("type") == "action"]
print(f"{len(actions)} action records:", ", ".join(f'{a.get("action")}={a.get("result")}' for a in actions))
assert [a.get("result") for a in actions] == ["success", "success"], actions
PY

step "Stop (SIGTERM)"
kill -TERM "$daemon_pid"
wait "$daemon_pid" && rc=0 || rc=$?
daemon_pid=
[ "$rc" -eq 0 ] || fail "daemon exited with $rc"
tail -n 1 "$work/daemon.log" | sed 's/^/    /'
echo
echo "demo: OK — isolation detected, recorded, logged and handled by the policy script"
