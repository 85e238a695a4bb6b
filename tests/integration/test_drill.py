#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""cxl-isold --drill PORT POLICY on the simulated host: it starts like the daemon,
runs exactly POLICY once as a drill on PORT (discovered, watchable or not), waits
until the plan has finished, prints one "ACTION RESULT DETAIL" line per step and
exits 0 only if every step succeeded. The record holds the drill event and its
action lines, marked drill. The simulator's kernel side refuses the unbind of
dax2.0 (in use), so the failure path is the kernel's answer, not a pretend one."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def drill(build, tb, work, config, port, *policy, name="drill"):
    """(exit status, stdout, seconds, Daemon) of one cxl-isold --drill run."""
    d = harness.Daemon(build, tb, work, config, args=["--drill", port, *policy], name=name,
                       env={"CXL_ISOL_SIM_REFUSE": "unbind:dax2.0"})
    t0 = time.monotonic()
    d.start(wait_ready=False)
    try:
        rc = d.proc.wait(timeout=60)
    finally:
        d.cleanup()
    elapsed = time.monotonic() - t0
    d.stderr_file.close()
    with open(d.stderr_path) as f:
        out = f.read()
    return rc, out, elapsed, d


def steps(out):
    """Event id and [(action, result, detail)] from --drill's output."""
    head = re.search(r"^Drill event ([0-9a-f]{32}): policy '\S+' on \S+, (\d+) action\(s\)$", out, re.M)
    assert head, out
    lines = re.findall(r"^(\S+) (pending|success|failed|timed-out|skipped) (.*)$", out, re.M)
    assert len(lines) == int(head.group(2)), out
    return head.group(1), lines


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        # Port 0 has no T&I capability (like QEMU's) but a devdax device; 1 system-ram; 2 devdax, in use.
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=3, port_opts=["0:no-ti"])
        p_noti, p_ram, p_busy = tb.ports
        tb.wrap = lambda argv: [tb.sim, "run", "--kernel", "--testbed", tb.dir, "--"] + list(argv)
        tb.arm(p_busy)

        script = os.path.join(work, "record-env.sh")
        env_dir = os.path.join(work, "runs")
        harness.env_recorder_script(script, env_dir, sleep=2)
        config = ("[daemon]\npoll-interval=50ms\n\n"
                  "[policy \"offline\"]\naction=offline-devdax\n\n"
                  f"[policy \"slow\"]\naction=exec log\nexec={script}\n\n"
                  "[policy \"fails\"]\naction=exec\nexec=/bin/false\n")

        # 1. offline-devdax on a port that cannot be watched: dax0.0 disabled for real.
        link = os.path.join(tb.dir, "sys/bus/dax/devices/dax0.0/driver")
        assert os.path.islink(link)
        rc, out, _, d = drill(build, tb, work, config, p_noti, "offline", name="noti")
        eid, lines = steps(out)
        assert rc == 0 and lines == [("offline-devdax", "success", "dax0.0: disabled")], (rc, out, d.output())
        assert not os.path.lexists(link), "dax0.0 still bound after a reported success"
        (ev,) = [r for r in d.records() if r["type"] == "event" and r["id"] == eid]
        assert ev["drill"] is True and ev["port"] == p_noti and ev["dax_devices"] == ["dax0.0"], ev
        # No T&I registers on this port: none were read into the event.
        assert ev["status"] == ev["control"] == ev["capability"] == "0x00000000", ev
        (act,) = d.action_results(eid)
        assert act["drill"] is True and act["action"] == "offline-devdax" and act["result"] == "success", act
        assert "cannot read the registers" not in d.output(), d.output()

        # 2. The kernel refuses the unbind (in use): failed, exit 1, the device stays bound.
        link = os.path.join(tb.dir, "sys/bus/dax/devices/dax2.0/driver")
        rc, out, _, d = drill(build, tb, work, config, p_busy, "offline", name="busy")
        eid, lines = steps(out)
        assert rc == 1 and lines == [("offline-devdax", "failed",
                                      "dax2.0: failed: unbind: Device or resource busy (device in use)")], out
        assert os.path.islink(link), "dax2.0 unbound although the kernel refused"
        (act,) = d.action_results(eid)
        assert act["result"] == "failed" and act["error"] == -16, act

        # 3. It waits for the whole plan (a 2 s script, then log), and acts on nothing else meanwhile:
        # an isolation of another, armed port during the drill is left to the service.
        before = len(d.events(p_busy))
        d = harness.Daemon(build, tb, work, config, args=["--drill", p_ram, "slow"], name="slow")
        t0 = time.monotonic()
        d.start(wait_ready=False)
        try:
            d.notify.wait_for("READY", lambda v: v == "1", timeout=30)
            tb.inject(p_busy, "mem-link-down")
            rc = d.proc.wait(timeout=60)
        finally:
            d.cleanup()
        elapsed = time.monotonic() - t0
        d.stderr_file.close()
        with open(d.stderr_path) as f:
            out = f.read()
        eid, lines = steps(out)
        assert rc == 0 and [(a, r) for a, r, _ in lines] == [("exec", "success"), ("log", "success")], out
        assert elapsed >= 2, f"returned after {elapsed:.1f} s, before the 2 s script had finished"
        (env,) = harness.read_env_files(env_dir)[eid]
        assert env["CXL_ISOLD_DRILL"] == "1" and env["CXL_ISOLD_PORT"] == p_ram, env
        assert len(d.events(p_busy)) == before, "the drill run acted on a real isolation"
        tb.clear(p_busy)

        # 4. A step that fails makes the drill fail.
        rc, out, _, d = drill(build, tb, work, config, p_ram, "fails", name="fails")
        eid, lines = steps(out)
        assert rc == 1 and [(a, r) for a, r, _ in lines] == [("exec", "failed")], out

        # 5. Nothing to drill: unknown policy (nothing recorded), unknown port, no policy given.
        n = len(d.records())
        rc, out, _, d = drill(build, tb, work, config, p_ram, "nope", name="nope")
        assert rc == 1 and "No policy 'nope'" in d.output() and len(d.records()) == n, d.output()
        rc, out, _, d = drill(build, tb, work, config, "0000:ff:1f.7", "offline", name="noport")
        assert rc == 1 and "No CXL root port 0000:ff:1f.7" in d.output(), d.output()
        rc, out, _, d = drill(build, tb, work, config, p_ram, name="nopolicy")
        assert rc == 1 and "--drill needs a port and a policy" in d.output(), d.output()

    print("drill: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
