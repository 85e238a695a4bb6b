#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The real cxl-isold against the simulated host: every isolation kind becomes exactly one
event, recorded durably, logged with its structured fields, handed to the operator script
with the documented environment, and never handled twice, also across a restart while the
ports stay isolated. sd_notify READY/STATUS/WATCHDOG and a clean SIGTERM exit are checked
on the way."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MESSAGE_ID_ISOLATION_DETECTED = "2c3855e947ed4fe68082e16d4d190fad"
MESSAGE_ID_PORT_WATCHABLE = "adfdd491932e426d8b39fe66cdedb954"

# Control bits the simulator's `arm` does not set; firmware would have (CXL.cache isolation).
CTL_CACHE_TIMEOUT_ENABLE = 1 << 12
CTL_CACHE_ISOLATION_ENABLE = 1 << 18
CTL_CACHE_ISOLATION_LINKDOWN_ENABLE = 1 << 19

# Status bits each kind must show (cxl-registers.md §3.3).
EXPECTED_STATUS_BITS = {
    "mem-link-down": (1 << 8) | (1 << 9),
    "mem-timeout": (1 << 8) | (1 << 0),
    "cache-link-down": (1 << 12) | (1 << 13),
    "cache-timeout": (1 << 12) | (1 << 4),
}


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        # All devdax: the arming gate would (rightly) disarm a port with System RAM below it.
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=4,
                                port_opts=[f"{i}:mem=devdax" for i in range(4)])
        assert len(tb.ports) == 4, tb.ports
        kinds = ["mem-link-down", "mem-timeout", "cache-link-down", "cache-timeout"]
        port_of = dict(zip(kinds, tb.ports))

        daemon_binary = os.path.join(build, "daemon", "cxl-isold")
        info = tb.list_ports(daemon_binary)
        tb.arm(port_of["mem-link-down"])
        tb.arm(port_of["mem-timeout"], timeout_value="0x2")
        tb.set_control_bits(info[port_of["cache-link-down"]],
                            CTL_CACHE_ISOLATION_ENABLE | CTL_CACHE_ISOLATION_LINKDOWN_ENABLE)
        tb.set_control_bits(info[port_of["cache-timeout"]], CTL_CACHE_ISOLATION_ENABLE | CTL_CACHE_TIMEOUT_ENABLE)

        script = os.path.join(work, "record-env.sh")
        env_dir = os.path.join(work, "script-runs")
        harness.env_recorder_script(script, env_dir)
        config = ("[daemon]\npoll-interval=50ms\n\n"
                  f"[policy \"default\"]\naction=log exec\nexec={script}\ntimeout=10s\n")
        d = harness.Daemon(build, tb, work, config, watchdog_usec=2_000_000)
        try:
            d.start()
            status = d.notify.wait_for("STATUS", lambda v: v.startswith("Watching"))
            assert status == "Watching 4 of 4 CXL root ports (0 isolated), poll 50ms, queue 0", status
            # WATCHDOG=1 follows completed poll cycles.
            d.notify.wait_for("WATCHDOG", lambda v: v == "1", timeout=5)
            for bdf in tb.ports:
                d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_PORT_WATCHABLE, CXL_ISOLD_PORT=bdf)

            for kind in kinds:
                tb.inject(port_of[kind], kind)

            events = {}
            for kind in kinds:
                bdf = port_of[kind]
                (ev,) = d.wait_for_event(bdf)
                events[kind] = ev
                check_record(ev, kind, bdf, info[bdf], tb)
                results = d.wait_for_actions(ev["id"], 2)
                assert [r["action"] for r in results] == ["log", "exec"], results
                assert all(r["result"] == "success" for r in results), results
                assert results[1]["exit_status"] == 0, results[1]
                check_journal(d.journal, ev, kind)

            d.notify.wait_for("STATUS", lambda v: v == "Watching 4 of 4 CXL root ports (4 isolated), poll 50ms, queue 0")
            check_script_runs(env_dir, events, d.state_dir)

            # Nothing new while the ports simply stay isolated.
            time.sleep(0.5)
            assert len(d.events()) == 4, d.events()

            rc = d.stop()
            assert rc == 0, f"SIGTERM exit status {rc}\n{d.output()}"
            d.notify.wait_for("STOPPING", lambda v: v == "1", timeout=5)

            # Restart while every port stays isolated: no second event, no second script run.
            d.start()
            d.notify.wait_for("STATUS", lambda v: v == "Watching 4 of 4 CXL root ports (4 isolated), poll 50ms, queue 0")
            time.sleep(1.0)     # twenty poll cycles
            assert len(d.events()) == 4, [e["id"] for e in d.events()]
            assert not d.journal.find(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED), "re-detected after restart"
            for kind in kinds:
                assert len(d.action_results(events[kind]["id"])) == 2
                assert any(events[kind]["id"] in m and "still isolated" in m for m in d.journal.messages()), kind
            check_script_runs(env_dir, events, d.state_dir)

            # Released and isolated again: that is a new incident, with a new event.
            bdf = port_of["mem-link-down"]
            tb.clear(bdf)
            harness.wait_until(lambda: any(m.startswith(f"{bdf}: isolation cleared") for m in d.journal.messages()),
                               what="the daemon to see the clear")
            d.notify.wait_for("STATUS", lambda v: v == d.notify.values("STATUS")[-1] and "(3 isolated)" in v)
            tb.inject(bdf, "mem-link-down")
            evs = d.wait_for_event(bdf, count=2)
            assert evs[1]["id"] != evs[0]["id"]
            d.wait_for_actions(evs[1]["id"], 2)
            assert len(harness.read_env_files(env_dir)[evs[1]["id"]]) == 1

            rc = d.stop(__import__("signal").SIGINT)
            assert rc == 0, f"SIGINT exit status {rc}"
        except BaseException:
            print(d.output() if d.proc or d.n_starts else "", file=sys.stderr)
            raise
        finally:
            d.cleanup()
    print("ok: 4 isolation kinds detected, recorded, logged and acted on exactly once, across a restart")
    return 0


def check_record(ev, kind, bdf, port_info, tb):
    assert ev["kind"] == kind, ev
    assert ev["port"] == bdf
    assert ev["host_bridge"] == port_info["host_bridge"], (ev["host_bridge"], port_info["host_bridge"])
    assert re.fullmatch(r"[0-9a-f]{32}", ev["id"]), ev["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", ev["boot_id"]), ev["boot_id"]
    status = int(ev["status"], 16)
    want = EXPECTED_STATUS_BITS[kind]
    assert status & want == want, (kind, ev["status"])
    assert int(ev["capability"], 16) == int(port_info["ti_capability"]["raw"], 16)
    decoded = ev["status_decoded"]
    assert decoded["mem_isolated" if kind.startswith("mem") else "cache_isolated"] is True, decoded
    assert abs(ev["realtime_usec"] / 1e6 - time.time()) < 120, ev["realtime_usec"]
    assert ev["monotonic_usec"] > 0
    assert ev["plan"] == [{"policy": "default", "action": "log"}, {"policy": "default", "action": "exec"}]
    assert ev["drill"] is False

    # The registers as the injector left them: the record must hold the same RAS snapshot.
    sim = dict(line.split("=", 1) for line in tb.cmd("status", "--port", bdf).splitlines() if "=" in line)
    assert ev["control"] == sim["control"].split()[0], (ev["control"], sim["control"])
    ras = ev["ras"]
    assert ras is not None, "RAS snapshot missing"
    assert len(ras["header_log"]) == 16
    assert [int(x, 16) for x in ras["header_log"]] == [int(x, 16) for x in sim["ras_header_log"].split()], \
        (ras["header_log"], sim["ras_header_log"])
    assert ras["ue_status"] == sim["ras_ue_status"].split()[0]

    # dax devices below the port, per the simulator's layout: one devdax device per port.
    index = tb.ports.index(bdf)
    expected_dax = [f"dax{index}.0"]
    assert ev["dax_devices"] == expected_dax, (bdf, ev["dax_devices"])


def check_journal(journal, ev, kind):
    (entry,) = journal.wait_for(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED, CXL_ISOLD_EVENT_ID=ev["id"])
    expect = {
        "CXL_ISOLD_PORT": ev["port"],
        "CXL_ISOLD_HOST_BRIDGE": ev["host_bridge"],
        "CXL_ISOLD_REASON": kind,
        "CXL_ISOLD_STATUS": ev["status"],
        "CXL_ISOLD_CONTROL": ev["control"],
        "CXL_ISOLD_CAPABILITY": ev["capability"],
        "CXL_ISOLD_RAS_UE_STATUS": ev["ras"]["ue_status"],
        "CXL_ISOLD_RAS_HEADER_LOG": " ".join(x[2:] for x in ev["ras"]["header_log"]),
        "CXL_ISOLD_DAX_DEVICES": " ".join(ev["dax_devices"]),
        "CXL_ISOLD_POLICY": "default",
        "CXL_ISOLD_ACTION": "log exec",
        "CXL_ISOLD_DRILL": "0",
        "PRIORITY": "2",
        "SYSLOG_IDENTIFIER": "cxl-isold",
    }
    for k, v in expect.items():
        assert entry.get(k) == v, (k, entry.get(k), v)
    assert ev["port"] in entry["MESSAGE"] and kind in entry["MESSAGE"], entry["MESSAGE"]
    # Detection and "record durable" on CLOCK_MONOTONIC (system-wide, ours too): the record was made durable
    # after detection and before the entry arrived here.
    assert entry.get("CXL_ISOLD_DETECTED_MONOTONIC_USEC") == str(ev["monotonic_usec"]), entry
    durable = int(entry["CXL_ISOLD_DURABLE_MONOTONIC_USEC"])
    assert ev["monotonic_usec"] <= durable <= time.monotonic_ns() // 1000, (ev["monotonic_usec"], durable)
    # The script's output, line by line, tagged with the event.
    lines = journal.wait_for(CXL_ISOLD_EVENT_ID=ev["id"], CXL_ISOLD_ACTION="exec")
    wanted = f"stdout: script saw {kind} on {ev['port']}"
    harness.wait_until(lambda: any(wanted in e["MESSAGE"] for e in
                                   journal.find(CXL_ISOLD_EVENT_ID=ev["id"], CXL_ISOLD_ACTION="exec")),
                       what=f"script output for {ev['id']}")
    harness.wait_until(lambda: any("stderr: a line on stderr" in e["MESSAGE"] for e in
                                   journal.find(CXL_ISOLD_EVENT_ID=ev["id"], CXL_ISOLD_ACTION="exec")),
                       what="script stderr")
    assert lines


def check_script_runs(env_dir, events, state_dir):
    runs = harness.read_env_files(env_dir)
    for kind, ev in events.items():
        assert len(runs.get(ev["id"], [])) == 1, (kind, len(runs.get(ev["id"], [])))
        env = runs[ev["id"]][0]
        assert env["CXL_ISOLD_PORT"] == ev["port"]
        assert env["CXL_ISOLD_HOST_BRIDGE"] == ev["host_bridge"]
        assert env["CXL_ISOLD_REASON"] == kind
        assert env["CXL_ISOLD_STATUS"] == ev["status"]
        assert env["CXL_ISOLD_CONTROL"] == ev["control"]
        assert env["CXL_ISOLD_DAX_DEVICES"] == " ".join(ev["dax_devices"])
        assert env["CXL_ISOLD_POLICY"] == "default"
        assert env["CXL_ISOLD_TIMESTAMP_USEC"] == str(ev["realtime_usec"])
        assert env["CXL_ISOLD_DRILL"] == "0"
        assert env["CXL_ISOLD_STATE_DIR"] == state_dir
        # No shell, no inherited environment: only the documented variables (and what sh itself adds).
        leaked = {k for k in env if not k.startswith("CXL_ISOLD_")} - {"PATH", "LANG", "PWD", "SHLVL", "_", "OLDPWD"}
        assert not leaked, leaked
        assert "LD_PRELOAD" not in env and "NOTIFY_SOCKET" not in env


if __name__ == "__main__":
    sys.exit(main())
