#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""reboot asks logind exactly once per event, only after the record and the evidence are on disk.

logind is python-dbusmock's logind template on a private bus (dbus-daemon with a
permissive custom policy; the daemon finds it through DBUS_SYSTEM_BUS_ADDRESS).
The template lacks RebootWithFlags and ScheduleShutdown: they are added with
AddMethod, and their code (run inside the mock at call time) writes down what was
on disk at that moment, then plays logind's part (PreparingForShutdown,
ScheduledShutdown). Scenarios:
  1. immediate: RebootWithFlags(0), once (also with two policies asking), after the
     event line, the intent line and the evidence manifest exist;
  2. reboot-delay: ScheduleShutdown("reboot", now+10min); the daemon is SIGKILLed
     while logind holds the call, restarted, and asks nothing a second time;
  3. killed before the reboot step (an exec step still running): the restarted
     daemon finishes the plan and requests exactly one reboot;
  3b. an intent recorded in another boot (the reboot happened, the port is still
     isolated after it): the restarted daemon does not reboot again;
  4. dry run: no call at all;
  5. evidence failed: the reboot is still requested, once, and the result says so."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

try:
    import dbus
except ImportError:
    harness.skip("python3-dbus is not installed")

MANAGER = "org.freedesktop.login1.Manager"
MESSAGE_ID_REBOOT_REQUESTED = "2a6eea4a569443569ebdd750aa39cea0"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""

# Runs inside the mock for each call: what is on disk right now, then logind's state change.
METHOD_CODE = """
import json, os, time, dbus
state_dirs = {state_dirs!r}
calls = {calls!r}
hold = {hold!r}
seen = {{}}
for sd in state_dirs:
    events, intents = [], []
    try:
        with open(os.path.join(sd, "events.jsonl")) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if r.get("type") == "event":
                    events.append(r["id"])
                elif (r.get("type") == "action" and r.get("action") == "reboot" and r.get("result") == "pending"
                      and r.get("detail", "").startswith("reboot-intent ")):
                    intents.append(r["event_id"])
    except FileNotFoundError:
        pass
    # Plain loops: exec() with separate locals hides them from comprehensions.
    evidence = []
    for i in events:
        if os.path.exists(os.path.join(sd, "evidence", i, "manifest.txt")):
            evidence.append(i)
    seen[sd] = dict(events=events, intents=intents, evidence=evidence)
with open(calls, "a") as f:
    str_args = []
    for a in args:
        str_args.append(str(a))
    f.write(json.dumps(dict(method={method!r}, args=str_args, seen=seen, time=time.time())) + "\\n")
{effect}
deadline = time.time() + 20
while os.path.exists(hold) and time.time() < deadline:
    time.sleep(0.05)
"""

EFFECTS = {
    "RebootWithFlags": "self.Set('org.freedesktop.login1.Manager', 'PreparingForShutdown', dbus.Boolean(True))",
    "ScheduleShutdown": ("self.Set('org.freedesktop.login1.Manager', 'ScheduledShutdown', "
                         "dbus.Struct((args[0], dbus.UInt64(args[1])), signature='st'))"),
}


class PrivateLogind:
    def __init__(self, work, state_dirs):
        self.work = work
        self.socket = os.path.join(work, "system_bus_socket")
        self.address = "unix:path=" + self.socket
        self.calls = os.path.join(work, "logind-calls.jsonl")
        self.hold = os.path.join(work, "logind-hold")
        conf = os.path.join(work, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONFIG.format(socket=self.socket))
        if not shutil.which("dbus-daemon"):
            harness.skip("dbus-daemon is not installed")
        self.bus_proc = subprocess.Popen(["dbus-daemon", "--config-file=" + conf, "--nofork", "--nosyslog"],
                                         stdin=subprocess.DEVNULL)
        harness.wait_until(lambda: os.path.exists(self.socket), 10, what="private bus socket")
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.mock_log = open(os.path.join(work, "dbusmock.log"), "w")
        self.mock_proc = subprocess.Popen([sys.executable, "-m", "dbusmock", "--system", "--template", "logind"],
                                          env=env, stdin=subprocess.DEVNULL, stdout=self.mock_log,
                                          stderr=subprocess.STDOUT)
        self.bus = dbus.bus.BusConnection(self.address)
        harness.wait_until(lambda: self.bus.name_has_owner("org.freedesktop.login1"), 20, what="mock logind")
        obj = self.bus.get_object("org.freedesktop.login1", "/org/freedesktop/login1")
        self.mock = dbus.Interface(obj, "org.freedesktop.DBus.Mock")
        self.props = dbus.Interface(obj, "org.freedesktop.DBus.Properties")
        for method, sig in (("RebootWithFlags", "t"), ("ScheduleShutdown", "st")):
            code = METHOD_CODE.format(state_dirs=state_dirs, calls=self.calls, hold=self.hold, method=method,
                                      effect=EFFECTS[method])
            self.mock.AddMethod(MANAGER, method, sig, "", code)
        self.mock.AddProperty(MANAGER, "ScheduledShutdown", dbus.Struct(("", dbus.UInt64(0)), signature="st"))

    def reset(self):
        self.mock.ClearCalls()
        self.props.Set(MANAGER, "PreparingForShutdown", dbus.Boolean(False))
        self.props.Set(MANAGER, "ScheduledShutdown", dbus.Struct(("", dbus.UInt64(0)), signature="st"))
        if os.path.exists(self.calls):
            os.unlink(self.calls)

    def method_calls(self):
        return [(str(c[1]), list(c[2])) for c in self.mock.GetCalls()]

    def recorded_calls(self):
        if not os.path.exists(self.calls):
            return []
        with open(self.calls) as f:
            return [json.loads(line) for line in f if line.strip()]

    def close(self):
        for p in (self.mock_proc, self.bus_proc):
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.mock_log.close()


def reboot_lines(d, event_id):
    return [r for r in d.action_results(event_id) if r["action"] == "reboot"]


def assert_call_saw_everything(call, state_dir, event_id):
    seen = call["seen"][state_dir]
    assert event_id in seen["events"], ("event line missing at call time", call)
    assert event_id in seen["intents"], ("intent line missing at call time", call)
    assert event_id in seen["evidence"], ("evidence missing at call time", call)


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        # All devdax: the daemon's arming gate would disarm a system-ram port (kmem cannot be fenced).
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=6,
                                port_opts=[f"{i}:mem=devdax" for i in range(6)])
        p_now, p_later, p_slow, p_dry, p_noev, p_boot = tb.ports
        for bdf in tb.ports:
            tb.arm(bdf)

        main_dir = os.path.join(work, "main")
        dry_dir = os.path.join(work, "dry")
        noev_dir = os.path.join(work, "noev")
        os.makedirs(main_dir)
        os.makedirs(dry_dir)
        # A file where the evidence directory would go: the evidence step fails.
        os.makedirs(os.path.join(noev_dir, "state"))
        open(os.path.join(noev_dir, "state", "evidence"), "w").close()
        logind = PrivateLogind(work, [os.path.join(main_dir, "state"), os.path.join(dry_dir, "state"),
                                      os.path.join(noev_dir, "state")])
        try:
            bus_env = {"DBUS_SYSTEM_BUS_ADDRESS": logind.address}

            # An exec step that is slow only the first time: the daemon is killed while it runs.
            slow = os.path.join(work, "slow.sh")
            marker = os.path.join(work, "slow-ran")
            with open(slow, "w") as f:
                f.write(f"#!/bin/sh\nif [ ! -e {marker} ]; then touch {marker}; exec sleep 60; fi\nexit 0\n")
            os.chmod(slow, 0o755)

            config = ("[daemon]\npoll-interval=50ms\n\n"
                      f"[policy \"now\"]\nmatch-port={p_now}\naction=evidence reboot\ntimeout=20s\n\n"
                      f"[policy \"now-too\"]\nmatch-port={p_now}\naction=reboot\n\n"
                      f"[policy \"later\"]\nmatch-port={p_later}\naction=evidence reboot\nreboot-delay=10min\n"
                      "timeout=30s\n\n"
                      f"[policy \"slow\"]\nmatch-port={p_slow}\naction=evidence exec reboot\nexec={slow}\n"
                      "timeout=90s\n\n"
                      f"[policy \"otherboot\"]\nmatch-port={p_boot}\naction=evidence reboot\nreboot-delay=10min\n"
                      "timeout=30s\n")
            d = harness.Daemon(build, tb, main_dir, config, env=bus_env)
            try:
                d.start()

                # 1. Immediate reboot, once, after record and evidence.
                tb.inject(p_now, "mem-link-down")
                (ev,) = d.wait_for_event(p_now)
                results = d.wait_for_actions(ev["id"], 4, timeout=30)
                assert [(r["action"], r["result"]) for r in results] == \
                    [("evidence", "success"), ("reboot", "pending"), ("reboot", "success"),
                     ("reboot", "skipped")], results
                # A second policy asking for a reboot of the same event does not make a second request.
                assert results[3]["policy"] == "now-too", results[3]
                assert results[3]["detail"].startswith("already requested for this event by policy 'now'"), results[3]
                assert results[1]["detail"].startswith("reboot-intent boot="), results[1]
                assert "method=RebootWithFlags" in results[1]["detail"], results[1]
                assert results[2]["detail"].startswith("reboot requested through logind RebootWithFlags; "
                                                       "evidence saved: bundle "), results[2]
                time.sleep(1)
                assert logind.method_calls() == [("RebootWithFlags", [0])], logind.method_calls()
                (call,) = logind.recorded_calls()
                assert_call_saw_everything(call, d.state_dir, ev["id"])
                d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_REBOOT_REQUESTED, CXL_ISOLD_EVENT_ID=ev["id"])

                # 2. Scheduled; SIGKILL while logind holds the call; the restart asks nothing again.
                logind.reset()
                open(logind.hold, "w").close()
                t0 = time.time()
                tb.inject(p_later, "mem-link-down")
                (ev2,) = d.wait_for_event(p_later)
                harness.wait_until(lambda: logind.recorded_calls(), 30, what="ScheduleShutdown call")
                d.stop(signal.SIGKILL)
                os.unlink(logind.hold)
                (call,) = logind.recorded_calls()
                assert call["method"] == "ScheduleShutdown" and call["args"][0] == "reboot", call
                when = int(call["args"][1]) / 1e6
                assert t0 + 600 - 5 <= when <= time.time() + 600 + 5, (t0, when)
                assert_call_saw_everything(call, d.state_dir, ev2["id"])
                assert [r["result"] for r in reboot_lines(d, ev2["id"])] == ["pending"], reboot_lines(d, ev2["id"])

                d.start()
                harness.wait_until(lambda: len(reboot_lines(d, ev2["id"])) >= 2, 30, what="resumed reboot result")
                last = reboot_lines(d, ev2["id"])[-1]
                assert last["result"] == "success", last
                assert last["detail"].startswith("already scheduled before a daemon restart: reboot at "), last
                time.sleep(1)
                assert [c[0] for c in logind.method_calls()] == ["ScheduleShutdown"], logind.method_calls()

                # 3. Killed before the reboot step (exec still running): exactly one request after the restart.
                logind.reset()
                tb.inject(p_slow, "mem-link-down")
                (ev3,) = d.wait_for_event(p_slow)
                harness.wait_until(lambda: os.path.exists(marker), 30, what="the slow exec step")
                d.stop(signal.SIGKILL)
                assert reboot_lines(d, ev3["id"]) == [], reboot_lines(d, ev3["id"])
                d.start()
                harness.wait_until(lambda: [r for r in reboot_lines(d, ev3["id"]) if r["result"] != "pending"], 60,
                                   what="reboot after the restart")
                time.sleep(1)
                assert logind.method_calls() == [("RebootWithFlags", [0])], logind.method_calls()
                (call,) = logind.recorded_calls()
                assert_call_saw_everything(call, d.state_dir, ev3["id"])
                # Nothing of events 1 and 2 was asked again by the second restart.

                # 3b. The intent says another boot: that reboot happened; never loop on a port that stays
                # isolated across it. (logind's state is reset, so only the boot id can stop a second call.)
                logind.reset()
                open(logind.hold, "w").close()
                tb.inject(p_boot, "mem-link-down")
                (ev3b,) = d.wait_for_event(p_boot)
                harness.wait_until(lambda: logind.recorded_calls(), 30, what="ScheduleShutdown call")
                d.stop(signal.SIGKILL)
                os.unlink(logind.hold)
                record = os.path.join(d.state_dir, "events.jsonl")
                with open(record) as f:
                    lines = f.read().splitlines(keepends=True)
                n_edited = 0
                for i, line in enumerate(lines):
                    r = json.loads(line)
                    if r.get("event_id") == ev3b["id"] and r.get("result") == "pending":
                        lines[i] = line.replace(f"boot={ev3b['boot_id']}", "boot=" + "0" * 32)
                        n_edited += lines[i] != line
                assert n_edited == 1, lines
                with open(record, "w") as f:
                    f.writelines(lines)
                logind.reset()
                d.start()
                harness.wait_until(lambda: [r for r in reboot_lines(d, ev3b["id"]) if r["result"] != "pending"], 30,
                                   what="resumed reboot result")
                last = reboot_lines(d, ev3b["id"])[-1]
                assert last["result"] == "success", last
                assert last["detail"].startswith("rebooted since the request (intent recorded in another boot); "
                                                 "not requesting again"), last
                time.sleep(1)
                assert logind.method_calls() == [], logind.method_calls()
            except Exception:
                print(d.output())
                raise
            finally:
                d.stop()
                d.cleanup()

            # 4. Dry run: says what it would do, calls nothing.
            logind.reset()
            dd = harness.Daemon(build, tb, dry_dir, "[daemon]\npoll-interval=50ms\ndry-run=yes\n\n"
                                f"[policy \"now\"]\nmatch-port={p_dry}\naction=evidence reboot\n", name="dry",
                                env=bus_env)
            try:
                dd.start()
                tb.inject(p_dry, "mem-link-down")
                (ev4,) = dd.wait_for_event(p_dry)
                results = dd.wait_for_actions(ev4["id"], 2, timeout=30)
                assert results[1]["action"] == "reboot" and results[1]["result"] == "skipped", results
                assert results[1]["detail"].startswith("dry run: would reboot through logind RebootWithFlags(0)"), \
                    results
                time.sleep(1)
                assert logind.method_calls() == [], logind.method_calls()
                assert logind.recorded_calls() == []
            except Exception:
                print(dd.output())
                raise
            finally:
                dd.stop()
                dd.cleanup()

            # 5. Evidence failed: still one reboot request, and the result says the evidence is missing.
            logind.reset()
            dn = harness.Daemon(build, tb, noev_dir, "[daemon]\npoll-interval=50ms\n\n"
                                f"[policy \"now\"]\nmatch-port={p_noev}\naction=evidence reboot\n", name="noev",
                                env=bus_env)
            try:
                dn.start()
                tb.inject(p_noev, "mem-link-down")
                (ev5,) = dn.wait_for_event(p_noev)
                results = dn.wait_for_actions(ev5["id"], 3, timeout=30)
                assert [(r["action"], r["result"]) for r in results] == \
                    [("evidence", "failed"), ("reboot", "pending"), ("reboot", "success")], results
                assert results[2]["detail"].startswith("reboot requested through logind RebootWithFlags; "
                                                       "evidence failed ("), \
                    results[2]
                assert results[2]["detail"].endswith("), rebooting anyway"), results[2]
                time.sleep(1)
                assert logind.method_calls() == [("RebootWithFlags", [0])], logind.method_calls()
                (call,) = logind.recorded_calls()
                seen = call["seen"][dn.state_dir]
                assert ev5["id"] in seen["events"] and ev5["id"] in seen["intents"], call
            except Exception:
                print(dn.output())
                raise
            finally:
                dn.stop()
                dn.cleanup()
        finally:
            # Also on failure: the mock and its bus must not outlive the test.
            logind.close()
    print("ok")


if __name__ == "__main__":
    main()
