#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The poll timer when interrupt sources serve the ports ([daemon] poll-backstop=), on the simulated host
with its uio_pci_generic functions (tests/sim/README.md).

- Every watchable port served, poll-backstop=0, poll-interval=20ms: the daemon does not poll. An isolation
  without an interrupt stays unseen (a 20 ms poll would see it at once), the idle daemon wakes up far fewer
  than the 100 times in 2 s that polling at 20 ms costs, no timer of it is armed at all (the timerfds in
  /proc/PID/fdinfo: not the AER counters' 30 s, the gate's 1 min re-check, nor the metrics refresh; their
  intervals are too long to wait for), and an interrupt still detects within DETECT_S.
- An interrupt source that fails (a short read of /dev/uioN) is no longer serving: the daemon polls at
  poll-interval= again and sees the isolation nobody signalled.
- One port without an interrupt source: polling never stops.
- poll-backstop=300ms with poll-interval=60s: only the backstop poll can explain a detection without an
  interrupt.
Wake-ups are counted as context switches of the daemon's threads (/proc/PID/task/*/status); this is a
functional bound far from both sides, not a benchmark (bench/bench.py idle measures).
"""

import glob
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DETECT_S = 1.0
POLICY = "\n[policy \"default\"]\naction=log\n"


def switches(pid):
    n = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        with open(status) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    n += int(line.split()[1])
    return n


def armed_timerfds(pid):
    """it_value of every timerfd of pid that is armed (sd-event disarms its timerfd of a clock when no
    enabled timer of that clock is left)."""
    armed = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:[timerfd]":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
        except FileNotFoundError:
            continue
        value = info.get("it_value", "").strip()
        if value not in ("(0, 0)", ""):
            armed[fd] = (info.get("clockid", "").strip(), value)
    return armed


def uio_function(bdf):
    """The simulator's uio function below a root port: bus + 1, function 1."""
    return f"{bdf[:5]}{int(bdf[5:7], 16) + 1:02x}:00.1"


def testbed(build, work, name, port_opts):
    tb = harness.SimTestbed(build, os.path.join(work, name), n_ports=2, port_opts=port_opts)
    # /dev/uioN comes from the simulator's kernel library.
    tb.wrap = lambda argv: [tb.sim, "run", "--kernel", "--testbed", tb.dir, "--"] + list(argv)
    return tb


def irq_args(ports):
    args = []
    for bdf in ports:
        args += ["--irq-source", f"{bdf}=uio:{uio_function(bdf)}"]
    return args


def logged(d, predicate):
    """The journal socket is read by a thread of its own: a line sent before a STATUS may arrive after it."""
    harness.wait_until(lambda: any(predicate(m) for m in d.journal.messages()), timeout=5, what="a journal line")


def status(d):
    return d.notify.values("STATUS")[-1]


def run(d, body):
    try:
        d.start()
        body()
        rc = d.stop()
        assert rc == 0, f"exit status {rc}"
    except BaseException:
        print(d.output() if d.n_starts else "", file=sys.stderr)
        raise
    finally:
        d.cleanup()


def no_poll_test(build, work):
    tb = testbed(build, work, "testbed-off", ["0:uio", "1:uio"])
    p0, p1 = tb.ports
    for bdf in tb.ports:
        tb.arm(bdf)
    metrics = os.path.join(work, "metrics")
    os.makedirs(metrics)
    config = f"[daemon]\npoll-interval=20ms\npoll-backstop=0\nmetrics-dir={metrics}\n" + POLICY
    d = harness.Daemon(build, tb, work, config, name="off", args=irq_args(tb.ports))

    def body():
        d.notify.wait_for("STATUS", lambda v: "interrupts, no poll" in v)
        assert status(d).startswith("Watching 2 of 2"), status(d)
        logged(d, lambda m: "no periodic poll (poll-backstop=0)" in m)
        harness.wait_until(lambda: os.path.exists(os.path.join(metrics, "cxl_isold.prom")), timeout=5,
                           what="metrics written once")
        # Once the writes due at start-up are done, nothing is left to wake the daemon: no timer is armed.
        harness.wait_until(lambda: not armed_timerfds(d.proc.pid), timeout=5,
                           what=f"no armed timer, still armed: {armed_timerfds(d.proc.pid)}")

        # Not polling: an isolation nobody signals stays unseen (a 20 ms poll would see it within 20 ms).
        tb.inject(p1, "mem-link-down")
        time.sleep(1.0)
        assert not d.events(p1), "detected without an interrupt: the daemon still polls"

        # Idle: no timer wakes the daemon. Polling at 20 ms would cost 100 wake-ups in these 2 s.
        time.sleep(0.5)
        before = switches(d.proc.pid)
        time.sleep(2.0)
        woke = switches(d.proc.pid) - before
        assert woke < 10, f"{woke} wake-ups in 2 s with no periodic poll"

        # The interrupt path still works.
        t0 = time.monotonic()
        out = tb.cmd("inject", "--port", p0, "--kind", "mem-link-down", "--irq")
        assert "delivered" in out, out
        d.wait_for_event(p0, timeout=5)
        assert time.monotonic() - t0 <= DETECT_S, "interrupt: detected too late"
        assert not d.events(p1)

        # A short read of /dev/uioN: p1's source fails, so p1 is no longer served and polling resumes.
        fifo = os.path.join(tb.dir, "sim", "uio", "uio1")
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b"abc")
        finally:
            os.close(fd)
        d.notify.wait_for("STATUS", lambda v: ", poll 20ms," in v)
        (ev,) = d.wait_for_event(p1, timeout=5)
        assert ev["kind"] == "mem-link-down", ev
        logged(d, lambda m: m.startswith(f"{p1}: interrupt source {uio_function(p1)} failed"))
        logged(d, lambda m: "polling every 20ms again" in m)

    run(d, body)


def partial_test(build, work):
    """One of two ports served: polling at poll-interval= goes on, whatever poll-backstop= says."""
    tb = testbed(build, work, "testbed-partial", ["0:uio"])
    p0, p1 = tb.ports
    for bdf in tb.ports:
        tb.arm(bdf)
    config = "[daemon]\npoll-interval=20ms\npoll-backstop=0\n" + POLICY
    d = harness.Daemon(build, tb, work, config, name="partial", args=irq_args([p0]))

    def body():
        d.notify.wait_for("STATUS", lambda v: v.startswith("Watching 2 of 2"))
        assert ", poll 20ms," in status(d), status(d)
        tb.inject(p1, "mem-link-down")
        t0 = time.monotonic()
        d.wait_for_event(p1, timeout=5)
        assert time.monotonic() - t0 <= DETECT_S, "the unserved port is not polled"

    run(d, body)


def backstop_test(build, work):
    tb = testbed(build, work, "testbed-backstop", ["0:uio", "1:uio"])
    p0, p1 = tb.ports
    for bdf in tb.ports:
        tb.arm(bdf)
    config = "[daemon]\npoll-interval=60s\npoll-backstop=300ms\n" + POLICY
    d = harness.Daemon(build, tb, work, config, name="backstop", args=irq_args(tb.ports))

    def body():
        d.notify.wait_for("STATUS", lambda v: "interrupts, poll 300ms backstop" in v)
        # No interrupt, and poll-interval=60s: only the backstop poll can find this within seconds.
        tb.inject(p1, "mem-link-down")
        (ev,) = d.wait_for_event(p1, timeout=5)
        assert ev["kind"] == "mem-link-down", ev

    run(d, body)


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()
    with harness.Workdir() as work:
        for name, test in (("off", no_poll_test), ("partial", partial_test), ("backstop", backstop_test)):
            os.makedirs(os.path.join(work, name))
            test(build, os.path.join(work, name))
    print("ok: no periodic poll (and no wake-ups) while interrupts serve every port with poll-backstop=0; "
          "polling resumes when a source fails; a partial set polls; a backstop poll detects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
