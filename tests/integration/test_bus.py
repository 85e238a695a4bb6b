#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The D-Bus API and cxl-isolctl end to end, on a PRIVATE system bus.

A dbus-daemon of our own runs with the standard system-bus defaults (deny
by default, only root may own names) plus the project's policy file
systemd/org.cxlisold.CxlIsol1.conf, listening in a temporary directory; the
real daemon runs against the simulated host with DBUS_SYSTEM_BUS_ADDRESS
pointing there. Checked:

- `cxl-isolctl --json status` (as nobody) matches the simulated topology:
  4 ports, which are watchable, the reason of the one that is not;
- nobody reads every property of the manager and of every port object (the
  names come from introspection, so a new property is covered too), calls
  GetEvents and receives signals (`cxl-isolctl monitor` as nobody);
- nobody is denied Arm, Disarm, Acknowledge, Drill and Reload: exit 4 from
  cxl-isolctl, AccessDenied from the bus policy; and, on a second bus whose
  policy lets everyone through, still AccessDenied from the daemon's own
  uid check;
- root may call them and they take effect: Disarm/Arm clear/set control bit
  16 in `cxl-isol-sim status`, Arm of an unsafe port is refused with the
  gate's reason; `monitor` sees IsolationDetected for `cxl-isol-sim inject`;
  Acknowledge moves the port to acknowledged and is recorded; Drill records
  an event marked drill and runs the policy's script with CXL_ISOLD_DRILL=1;
  Reload picks up a config change and reports a broken config's reason;
- exit 3 when the daemon (or the bus) is not there.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BUS_NAME = "org.cxlisold.CxlIsol1"
MANAGER_PATH = "/org/cxlisold/CxlIsol1"
MANAGER_IFACE = "org.cxlisold.CxlIsol1.Manager"
PORT_IFACE = "org.cxlisold.CxlIsol1.Port"
NOBODY = 65534
MEM_ISOLATION_ENABLE = 1 << 16
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POLICY_FILE = os.path.join(SOURCE_ROOT, "systemd", "org.cxlisold.CxlIsol1.conf")


def port_path(bdf):
    """sd_bus_path_encode(): every byte outside [A-Za-z0-9], and a leading digit, becomes _xx."""
    return "/org/cxlisold/CxlIsol1/port/" + "".join(
        c if c.isascii() and (c.isalpha() or (c.isdigit() and i > 0)) else "_%02x" % ord(c)
        for i, c in enumerate(bdf))


class Client:
    def __init__(self, build, bus):
        self.ctl_binary = os.path.join(build, "daemon", "cxl-isolctl")
        if not os.access(self.ctl_binary, os.X_OK):
            harness.skip(f"cxl-isolctl not built: {self.ctl_binary}")
        self.bus = bus

    def env(self):
        env = dict(os.environ)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus.address
        return env

    @staticmethod
    def as_user(argv, nobody):
        if not nobody:
            return argv
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] + argv

    def ctl(self, *args, nobody=False, expect=None):
        r = subprocess.run(self.as_user([self.ctl_binary] + list(args), nobody), env=self.env(),
                           capture_output=True, text=True, timeout=60)
        if expect is not None and r.returncode != expect:
            raise AssertionError(f"cxl-isolctl {' '.join(args)} (nobody={nobody}) exited {r.returncode}, "
                                 f"expected {expect}:\n{r.stdout}{r.stderr}")
        return r

    def ctl_json(self, *args, nobody=False):
        return json.loads(self.ctl("--json", *args, nobody=nobody, expect=0).stdout)

    def busctl(self, *args, nobody=False, check=True):
        r = subprocess.run(self.as_user(["busctl", f"--address={self.bus.address}"] + list(args), nobody),
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"busctl {' '.join(args)} (nobody={nobody}) failed: {r.stderr}")
        return r

    def dbus_send(self, path, method, *args, nobody=False):
        """(ok, error name or output) of a dbus-send call."""
        r = subprocess.run(self.as_user(["dbus-send", f"--bus={self.bus.address}", "--print-reply",
                                         f"--dest={BUS_NAME}", path, method] + list(args), nobody),
                           capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            return True, r.stdout
        err = r.stderr.strip()
        return False, err.split()[1].rstrip(":") if err.startswith("Error ") else err

    def prop(self, path, iface, name, nobody=False):
        out = self.busctl("--json=short", "get-property", BUS_NAME, path, iface, name, nobody=nobody).stdout
        return json.loads(out)["data"]

    def property_names(self, path, iface):
        xml = self.busctl("introspect", "--xml-interface", BUS_NAME, path, nobody=True).stdout
        node = ET.fromstring(xml)
        names = [p.get("name") for i in node.iter("interface") if i.get("name") == iface for p in i.iter("property")]
        if not names:
            raise AssertionError(f"introspection of {path} shows no {iface} properties:\n{xml}")
        return names


def sim_control(tb, bdf):
    for line in tb.cmd("status", "--port", bdf).splitlines():
        if line.startswith("control="):
            return int(line.split("=", 1)[1].split()[0], 16)
    raise AssertionError(f"no control= in cxl-isol-sim status for {bdf}")


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok: {what}")


def test_topology(c, tb, daemon):
    expected = tb.list_ports(daemon.binary)
    st = c.ctl_json("status", nobody=True)
    check(st["ports_total"] == 4 == len(expected), f"status: 4 ports ({st['ports_total']})")
    watchable = [b for b, p in expected.items() if p["watchable"]]
    check(st["ports_watchable"] == len(watchable) == 3, f"status: watchable count {st['ports_watchable']} of 4")
    for p in st["ports"]:
        e = expected[p["Bdf"]]
        check(p["Watchable"] == e["watchable"], f"{p['Bdf']}: Watchable={p['Watchable']} as discovered")
        want = "" if e["watchable"] else e["reason"]
        check(p["NotWatchableReason"] == want, f"{p['Bdf']}: NotWatchableReason '{p['NotWatchableReason']}'")
        check(p["HostBridge"] == e["host_bridge"], f"{p['Bdf']}: HostBridge {p['HostBridge']}")
        check(p["Path"] == port_path(p["Bdf"]), f"{p['Bdf']}: object path {p['Path']}")
    check(expected[tb.ports[3]]["reason"] == "no-ti-capability", "the no-ti port is not watchable for no-ti-capability")
    check(st["version"] != "" and st["poll_interval_usec"] == 50000, "status: version and poll interval 50ms")
    check(st["previous_boot_isolation"] == "", "status: no previous boot isolation with an empty record")
    listed = c.ctl_json("list", nobody=True)["ports"]
    check([p["Bdf"] for p in listed] == sorted(expected), "list: every port, sorted")
    text = c.ctl("status", nobody=True, expect=0).stdout
    check("4 found, 3 watchable" in text and "no-ti-capability" in text, "status text: counts and reason")


def test_unprivileged_reads(c, tb):
    objects = [(MANAGER_PATH, MANAGER_IFACE)] + [(port_path(b), PORT_IFACE) for b in tb.ports]
    for path, iface in objects:
        names = c.property_names(path, iface)
        for name in names:
            c.prop(path, iface, name, nobody=True)
        check(True, f"nobody reads all {len(names)} properties of {path}")
    for name in ("Version", "PollIntervalUSec", "PreviousBootIsolation", "QueueDepth"):
        check(name in c.property_names(MANAGER_PATH, MANAGER_IFACE), f"Manager has {name}")
    for name in ("Bdf", "HostBridge", "Watchable", "NotWatchableReason", "Armed", "GateReason", "Isolated",
                 "IsolationKind", "StatusRegister", "ControlRegister", "Capabilities", "DaxDevices", "LastEventId",
                 "LastEventTime", "EventCount"):
        check(name in c.property_names(port_path(tb.ports[0]), PORT_IFACE), f"Port has {name}")
    check(c.prop(port_path(tb.ports[0]), PORT_IFACE, "Bdf", nobody=True) == tb.ports[0], "Bdf property")
    check(c.prop(port_path(tb.ports[0]), PORT_IFACE, "DaxDevices", nobody=True) == ["dax0.0"],
          "DaxDevices of port 0 is dax0.0")
    ok, out = c.dbus_send(MANAGER_PATH, f"{MANAGER_IFACE}.GetEvents", "uint64:0", nobody=True)
    check(ok, f"nobody may call GetEvents ({out})")
    c.ctl("history", nobody=True, expect=0)
    c.ctl("show", tb.ports[3], nobody=True, expect=0)
    r = c.ctl("show", "0000:99:00.0", nobody=True, expect=1)
    check("No CXL root port" in r.stderr, "show of an unknown port: exit 1")


def members(node, iface):
    """{kind: [names]} of one interface in an introspection tree."""
    for i in node.iter("interface"):
        if i.get("name") == iface:
            return {kind: sorted(e.get("name") for e in i.iter(kind)) for kind in ("method", "property", "signal")}
    raise AssertionError(f"no interface {iface}")


def test_introspection_files(c, tb, daemon, work):
    """`cxl-isold --bus-introspect=DIR` writes what the running daemon serves."""
    out = os.path.join(work, "interfaces")
    subprocess.run([daemon.binary, f"--bus-introspect={out}"], check=True, timeout=30)
    for path, iface in ((MANAGER_PATH, MANAGER_IFACE), (port_path(tb.ports[0]), PORT_IFACE)):
        written = ET.parse(os.path.join(out, iface + ".xml")).getroot()
        live = ET.fromstring(c.busctl("introspect", "--xml-interface", BUS_NAME, path).stdout)
        check(members(written, iface) == members(live, iface), f"{iface}.xml matches the live interface")
        check([i.get("name") for i in written.iter("interface")] == [iface], f"{iface}.xml holds only {iface}")


def test_denied(c, tb, some_event_id="0" * 32):
    p = tb.ports[0]
    for args in (("arm", p), ("disarm", p), ("ack", some_event_id), ("drill", p, "drill-only"), ("reload",)):
        r = c.ctl(*args, nobody=True, expect=4)
        check("needs root" in r.stderr or "denied" in r.stderr.lower(), f"nobody: cxl-isolctl {args[0]} exit 4")
    calls = [("Arm", f"string:{p}"), ("Disarm", f"string:{p}"), ("Acknowledge", f"string:{some_event_id}"),
             ("Drill", f"string:{p}", "string:drill-only"), ("Reload",)]
    for method, *args in calls:
        ok, err = c.dbus_send(MANAGER_PATH, f"{MANAGER_IFACE}.{method}", *args, nobody=True)
        check(not ok and err == "org.freedesktop.DBus.Error.AccessDenied", f"nobody: {method} AccessDenied ({err})")


def test_arming(c, tb):
    p0, p1, p3 = tb.ports[0], tb.ports[1], tb.ports[3]
    c.ctl("disarm", p0, expect=0)
    check(sim_control(tb, p0) & MEM_ISOLATION_ENABLE == 0, "disarm: control bit 16 clear in the simulator")
    check(c.prop(port_path(p0), PORT_IFACE, "Armed") is False, "disarm: Armed=false")
    c.ctl("arm", p0, expect=0)
    control = sim_control(tb, p0)
    check(control & MEM_ISOLATION_ENABLE, f"arm: control bit 16 set in the simulator (0x{control:08x})")
    check(c.prop(port_path(p0), PORT_IFACE, "Armed") is True, "arm: Armed=true")
    check(c.prop(port_path(p0), PORT_IFACE, "ControlRegister") == control, "arm: ControlRegister as the hardware")
    c.ctl("arm", p0, expect=0)  # already armed: fine, nothing written
    r = c.ctl("arm", p1, expect=1)
    check("dax-system-ram" in r.stderr, f"arm of a port with kmem memory refused with the gate's reason: {r.stderr.strip()}")
    check(sim_control(tb, p1) & MEM_ISOLATION_ENABLE == 0, "refused arm wrote nothing")
    c.ctl("arm", p3, expect=1)
    c.ctl("arm", "0000:99:00.0", expect=1)


def test_monitor_and_ack(c, tb, daemon):
    p0 = tb.ports[0]
    mon = subprocess.Popen(Client.as_user([c.ctl_binary, "--json", "monitor"], True), env=c.env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = mon.stderr.readline()
        check("Monitoring" in line, f"monitor (as nobody) subscribed: {line.strip()}")
        tb.inject(p0, "mem-link-down")
        event = daemon.wait_for_event(p0)[0]
        signals = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            out = mon.stdout.readline()
            if not out:
                break
            signals.append(json.loads(out))
            iso = [s for s in signals if s["signal"] == "IsolationDetected"]
            states = [s for s in signals if s["signal"] == "PropertiesChanged" and s.get("port") == p0
                      and s["changed"].get("State") == "isolated"]
            if iso and states:
                break
        iso = [s for s in signals if s["signal"] == "IsolationDetected"]
        check(len(iso) == 1 and iso[0]["port"] == p0 and iso[0]["kind"] == "mem-link-down"
              and iso[0]["event_id"] == event["id"] and iso[0]["realtime_usec"] == event["realtime_usec"],
              f"monitor: IsolationDetected for the injected event ({iso})")
        check(any(s["signal"] == "PropertiesChanged" and s.get("port") == p0 and s["changed"].get("Isolated") is True
                  for s in signals), "monitor: PropertiesChanged Isolated=true for the port")
        mon.send_signal(signal.SIGINT)
        rc = mon.wait(timeout=10)
        check(rc == 0, f"monitor exits 0 on SIGINT ({rc})")
    finally:
        if mon.poll() is None:
            mon.kill()
            mon.wait()

    show = c.ctl_json("show", p0, nobody=True)
    check(show["State"] == "isolated" and show["LastEventId"] == event["id"] and show["EventCount"] == 1
          and show["IsolationKind"] == "mem-link-down", "show: isolated, last event, count, kind")
    check(c.ctl_json("status")["open_events"] == 1, "status: one open event")
    test_denied(c, tb, event["id"])
    c.ctl("ack", event["id"], nobody=True, expect=4)
    c.ctl("ack", event["id"], expect=0)
    check(c.prop(port_path(p0), PORT_IFACE, "State") == "acknowledged", "ack: port acknowledged")
    acks = [r for r in daemon.records() if r["type"] == "ack" and r["event_id"] == event["id"]]
    check(len(acks) == 1 and "uid=0" in acks[0].get("by", ""), f"ack recorded with the caller ({acks})")
    c.ctl("ack", event["id"], expect=1)
    c.ctl("ack", "f" * 32, expect=1)
    hist = c.ctl_json("history", nobody=True)
    check([e["id"] for e in hist if e["id"] == event["id"] and e["acknowledged"]] == [event["id"]],
          "history: the event, acknowledged")
    check(c.ctl_json("history", "--since", "@%d" % (time.time() + 3600)) == [], "history --since the future: empty")
    for since in ("-1d", "-2h", "2000-01-01", "2000-01-01 10:00"):
        check(event["id"] in [e["id"] for e in c.ctl_json("history", "--since", since)], f"history --since {since}")
    text = c.ctl("history", nobody=True, expect=0).stdout
    check(event["id"] in text and "page/log: success" in text, "history text: event and its action outcome")
    c.ctl("history", "--since", "yesterday-ish", expect=2)
    c.ctl("status", "--since", "-1d", expect=2)
    c.ctl("show", expect=2)
    c.ctl("frobnicate", expect=2)
    return event


def test_drill(c, tb, daemon, env_dir):
    p2 = tb.ports[2]
    before = len(daemon.events())
    c.ctl("drill", p2, "no-such-policy", expect=1)
    check(len(daemon.events()) == before, "drill of an unknown policy records nothing")
    out = c.ctl_json("drill", p2, "drill-only")
    eid = out["event_id"]
    events = [e for e in daemon.events(p2) if e["id"] == eid]
    check(len(events) == 1 and events[0]["drill"] is True, "drill: event recorded, marked drill")
    check([s["policy"] for s in events[0]["plan"]] == ["drill-only"], "drill: exactly the named policy planned")
    actions = daemon.wait_for_actions(eid, 1)
    check(all(a.get("drill") is True for a in actions), "drill: every action line of the record is marked drill")
    logged = harness.wait_until(lambda: daemon.journal.find(CXL_ISOLD_EVENT_ID=eid), 10, what="drill journal lines")
    check(len(logged) >= 2 and all(e.get("CXL_ISOLD_DRILL") == "1" for e in logged),
          f"drill: every journal line of the event carries CXL_ISOLD_DRILL=1 ({len(logged)} lines)")
    runs = harness.wait_until(lambda: harness.read_env_files(env_dir).get(eid), 15, what="drill script run")
    check(runs[0].get("CXL_ISOLD_DRILL") == "1", "drill: the policy's script ran with CXL_ISOLD_DRILL=1")
    check(c.prop(port_path(p2), PORT_IFACE, "State") == "watching", "drill: the port stays watching")


def test_reload(c, daemon, config):
    daemon.write_config(config.replace("poll-interval=50ms", "poll-interval=200ms"))
    c.ctl("reload", expect=0)
    check(c.prop(MANAGER_PATH, MANAGER_IFACE, "PollIntervalUSec") == 200000, "reload: PollIntervalUSec 200ms")
    daemon.write_config(config + "\n[policy \"broken\"]\naction=no-such-action\n")
    r = c.ctl("reload", expect=1)
    check("no-such-action" in r.stderr or "broken" in r.stderr, f"reload of a broken config says why: {r.stderr.strip()}")
    check(c.prop(MANAGER_PATH, MANAGER_IFACE, "PollIntervalUSec") == 200000, "failed reload keeps the running config")
    check(c.ctl_json("status")["reload_error"] != "", "status: reload error shown")
    daemon.write_config(config)
    c.ctl("reload", expect=0)
    check(c.ctl_json("status")["reload_error"] == "", "good reload clears the error")


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()
    for tool in ("dbus-daemon", "dbus-send", "busctl", "setpriv"):
        if not shutil.which(tool):
            harness.skip(f"{tool} is not installed")
    if not os.path.isfile(POLICY_FILE):
        harness.skip(f"no D-Bus policy at {POLICY_FILE}")

    with harness.Workdir() as work:
        os.chmod(work, 0o755)
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=4, port_opts=["3:no-ti"])
        env_dir = os.path.join(work, "runs")
        script = os.path.join(work, "record-env.sh")
        harness.env_recorder_script(script, env_dir)
        # drill-only matches no port: only a drill that names it runs it.
        config = textwrap.dedent(f"""\
            [daemon]
            poll-interval=50ms

            [policy "page"]
            action=log

            [policy "drill-only"]
            match-port=0000:ff:00.0
            action=exec
            exec={script}
            """)
        bus = harness.PrivateBus(os.path.join(work, "bus"), POLICY_FILE)
        daemon = None
        try:
            c = Client(build, bus)
            r = c.ctl("status", expect=3)
            check("not reachable" in r.stderr or "running" in r.stderr, "no daemon on the bus: exit 3")

            daemon = harness.Daemon(build, tb, os.path.join(work, "d"), config,
                                    env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})
            # A client that was there before the daemon hears of every port (ObjectManager InterfacesAdded).
            mon_path = os.path.join(work, "dbus-monitor.txt")
            with open(mon_path, "w") as mon_out:
                mon = subprocess.Popen(["dbus-monitor", "--address", bus.address,
                                        "type='signal',interface='org.freedesktop.DBus.ObjectManager'"],
                                       stdout=mon_out, stderr=subprocess.DEVNULL)
            try:
                harness.wait_until(lambda: "NameAcquired" in open(mon_path).read(), 10, what="dbus-monitor")
                daemon.start()
                added = harness.wait_until(
                    lambda: (lambda t: t if t.count("member=InterfacesAdded") >= 4 else None)(open(mon_path).read()),
                    10, what="InterfacesAdded for 4 ports")
            finally:
                mon.terminate()
                mon.wait()
            check(all(f'object path "{port_path(b)}"' in added for b in tb.ports)
                  and added.count("member=InterfacesAdded") == 4, "InterfacesAdded once for each port")
            try:
                test_topology(c, tb, daemon)
                test_unprivileged_reads(c, tb)
                test_introspection_files(c, tb, daemon, work)
                test_denied(c, tb)
                test_arming(c, tb)
                test_monitor_and_ack(c, tb, daemon)
                test_drill(c, tb, daemon, env_dir)
                test_reload(c, daemon, config)
                for line in daemon.journal.messages():
                    if "drill" in line.lower() and "requested by uid=0" in line:
                        break
                else:
                    raise AssertionError("no journal line names who asked for the drill")
                check(True, "journal names the drill's caller")
            except Exception:
                print(daemon.output())
                raise
            daemon.stop()
            daemon.cleanup()
            bus.stop()

            # The daemon's own uid check, on a bus whose policy lets everyone call everything.
            bus = harness.PrivateBus(os.path.join(work, "openbus"), None)
            c = Client(build, bus)
            # A record whose last event is from another boot: PreviousBootIsolation names it.
            first = daemon.events(tb.ports[0])[0]
            old_boot = dict(first, id="1" * 32, boot_id="2" * 32, realtime_usec=first["realtime_usec"] - 10**6)
            daemon = harness.Daemon(build, tb, os.path.join(work, "d2"), config, name="open",
                                    env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})
            os.makedirs(daemon.state_dir)
            with open(os.path.join(daemon.state_dir, "events.jsonl"), "w") as f:
                f.write(json.dumps(old_boot) + "\n")
            daemon.start()
            try:
                prev = c.prop(MANAGER_PATH, MANAGER_IFACE, "PreviousBootIsolation", nobody=True)
                check(prev.startswith(f"previous boot ended by isolation on {tb.ports[0]} at ")
                      and prev.endswith(f"(event {'1' * 32})"), f"PreviousBootIsolation: {prev}")
                check(c.prop(port_path(tb.ports[0]), PORT_IFACE, "LastEventId") == "1" * 32,
                      "LastEventId from the record after a restart")
                for method, *args in [("Arm", f"string:{tb.ports[0]}"), ("Disarm", f"string:{tb.ports[0]}"),
                                      ("Acknowledge", "string:" + "0" * 32), ("Drill", f"string:{tb.ports[0]}",
                                                                            "string:drill-only"), ("Reload",)]:
                    ok, err = c.dbus_send(MANAGER_PATH, f"{MANAGER_IFACE}.{method}", *args, nobody=True)
                    check(not ok and err == "org.freedesktop.DBus.Error.AccessDenied",
                          f"open bus: the daemon itself denies nobody {method} ({err})")
                r = c.ctl("disarm", tb.ports[0], nobody=True, expect=4)
                check("needs root" in r.stderr, "open bus: cxl-isolctl says the command needs root")
                check([e for e in daemon.events() if e["drill"]] == [], "open bus: the denied Drill recorded nothing")
            except Exception:
                print(daemon.output())
                raise
            daemon.stop()
            r = c.ctl("list", expect=3)
            check(True, "daemon stopped: exit 3")
            bus.stop()
            c.ctl("status", expect=3)
            check(True, "no bus at all: exit 3")
        finally:
            if daemon:
                daemon.cleanup()
            bus.stop()
    print("PASS")


if __name__ == "__main__":
    main()
