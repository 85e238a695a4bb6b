#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`meson install` into a scratch DESTDIR, then check the operator surface there.

- every file lands where the system looks for it: the unit in systemd.pc's
  unit dir, udev rules in udev.pc's udevdir, the catalog in systemd.pc's
  catalogdir, the D-Bus policy, three man pages, the config file and the
  example policies (directories are asked of pkg-config here, independently
  of the meson logic that chose them);
- the unit: placeholders substituted, ExecStart= names the installed daemon,
  `systemd-analyze verify` silent (with ExecStart= pointed into DESTDIR and
  MANPATH at the installed man pages), `systemd-analyze security
  --offline=yes` exposure at most 3.0; SCHED_FIFO 1 with reset on fork and
  RestrictRealtime=yes;
- the catalog compiles with `journalctl --root=DESTDIR --update-catalog`;
- the man pages format without groff warnings;
- the D-Bus policy, on a private dbus-daemon: root owns the name, a plain
  user may read (Introspect, Peer, Properties.Get/GetAll,
  GetManagedObjects, GetEvents) but gets AccessDenied for Arm, Disarm,
  Acknowledge, Drill, Reload and Properties.Set;
- the udev rules parse (`udevadm test` in a private mount namespace).

A check whose tool is missing, or that needs root, is skipped with a note;
the test skips as a whole (77) only if nothing could be installed.

usage: test_install.py BUILD_DIR   (default: $MESON_BUILD_ROOT)
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET

import harness  # noqa: E402  (tests/integration/, next to this file)

BUS_NAME = "org.cxlisold.CxlIsol1"
MANAGER_PATH = "/org/cxlisold/CxlIsol1"
MANAGER_IFACE = "org.cxlisold.CxlIsol1.Manager"
MUTATING = ("Arm", "Disarm", "Acknowledge", "Drill", "Reload")
NOBODY = 65534
MAX_EXPOSURE = 3.0

results = {"passed": 0, "failed": 0, "skipped": 0}


def report(ok, name, detail=""):
    key = {True: "passed", False: "failed", None: "skipped"}[ok]
    results[key] += 1
    tag = {True: "ok", False: "FAIL", None: "SKIP"}[ok]
    print(f"{tag}: {name}" + (f": {detail}" if detail else ""))


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def pkg_config_var(pkg, var):
    if not shutil.which("pkg-config"):
        return None
    r = run(["pkg-config", f"--variable={var}", pkg])
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def build_options(build):
    r = run(["meson", "introspect", "--buildoptions", build])
    r.check_returncode()
    return {o["name"]: o["value"] for o in json.loads(r.stdout)}


def expected_dirs(opts):
    prefix = opts["prefix"]

    def under_prefix(d):
        return d if os.path.isabs(d) else os.path.join(prefix, d)

    unitdir = opts["systemdsystemunitdir"] or pkg_config_var("systemd", "systemdsystemunitdir")
    catalogdir = opts["catalogdir"] or pkg_config_var("systemd", "catalogdir")
    udevdir = opts["udevdir"] or pkg_config_var("udev", "udevdir") or os.path.join(prefix, "lib/udev")
    datadir = under_prefix(opts["datadir"])
    return {
        "prefix": prefix,
        "unitdir": unitdir,
        "catalogdir": catalogdir,
        "udevdir": udevdir,
        "datadir": datadir,
        "mandir": under_prefix(opts["mandir"]),
        "sysconfdir": under_prefix(opts["sysconfdir"]),
        "sbindir": under_prefix(opts["sbindir"]),
        "examples": os.path.join(datadir, "doc", "cxl-isold", "examples"),
    }


def in_dest(dest, path):
    return os.path.join(dest, path.lstrip("/"))


def check_tree(dest, d):
    want = {
        "unit": os.path.join(d["unitdir"], "cxl-isold.service"),
        "D-Bus policy": os.path.join(d["datadir"], "dbus-1", "system.d", f"{BUS_NAME}.conf"),
        "udev rule": os.path.join(d["udevdir"], "rules.d", "90-cxl-isold.rules"),
        "disabled devdax rule": os.path.join(d["examples"], "91-cxl-isold-devdax.rules.disabled"),
        "catalog": os.path.join(d["catalogdir"], "cxl-isold.catalog"),
        "cxl-isold(8)": os.path.join(d["mandir"], "man8", "cxl-isold.8"),
        "cxl-isolctl(8)": os.path.join(d["mandir"], "man8", "cxl-isolctl.8"),
        "cxl-isold.conf(5)": os.path.join(d["mandir"], "man5", "cxl-isold.conf.5"),
        "config file": os.path.join(d["sysconfdir"], "cxl-isold", "cxl-isold.conf"),
    }
    for what, path in want.items():
        report(os.path.isfile(in_dest(dest, path)), f"installed {what} at {path}")
    examples = in_dest(dest, d["examples"])
    policies = sorted(f for f in os.listdir(examples) if f.endswith(".conf")) if os.path.isdir(examples) else []
    report(bool(policies), f"example policies in {d['examples']}", " ".join(policies))
    # Nothing may be installed into the unit dir or rules.d but our own files.
    rules = in_dest(dest, os.path.join(d["udevdir"], "rules.d"))
    if os.path.isdir(rules):
        extra = [f for f in os.listdir(rules) if f != "90-cxl-isold.rules"]
        report(not extra, "rules.d holds only 90-cxl-isold.rules", " ".join(extra))
    return want


def unit_exec_start(unit_text):
    m = re.search(r"^ExecStart=(\S+)", unit_text, re.M)
    return m.group(1) if m else None


def check_unit(dest, d, unit_path):
    text = open(unit_path).read()
    left = re.findall(r"@[A-Za-z_]+@", text)
    report(not left, "unit placeholders substituted", " ".join(left))
    exec_start = unit_exec_start(text)
    daemon = os.path.join(d["sbindir"], "cxl-isold")
    report(exec_start == daemon, f"ExecStart= is {daemon}", f"found {exec_start}")
    # Wherever the build installs a cxl-isold binary, it must be the one the unit starts.
    installed = [os.path.join(root, f)[len(dest):] for root, _, files in os.walk(dest) for f in files
                 if f == "cxl-isold"]
    if installed:
        report(installed == [daemon], "the daemon is installed where the unit starts it", " ".join(installed))
        report(os.access(in_dest(dest, daemon), os.X_OK), "installed daemon is executable")
    else:
        report(None, "daemon binary location", "no cxl-isold binary is installed by this build yet")
    # Real-time at the lowest priority, never inherited by action children, never raised by the daemon itself.
    for key in ("Type=notify", f"BusName={BUS_NAME}", "NotifyAccess=main", "Restart=on-failure",
                "StateDirectory=cxl-isold", "RuntimeDirectory=cxl-isold", "ConfigurationDirectory=cxl-isold",
                "CPUSchedulingPolicy=fifo", "CPUSchedulingPriority=1", "CPUSchedulingResetOnFork=yes",
                "RestrictRealtime=yes"):
        report(re.search(rf"^{re.escape(key)}$", text, re.M) is not None, f"unit has {key}")
    report(re.search(r"^WatchdogSec=\S+", text, re.M) is not None, "unit has WatchdogSec=")
    report(re.search(r"^ExecReload=.*kill -HUP \$MAINPID$", text, re.M) is not None, "ExecReload sends SIGHUP")

    analyze = shutil.which("systemd-analyze")
    if not analyze:
        report(None, "systemd-analyze verify/security", "systemd-analyze not installed")
        return
    with tempfile.TemporaryDirectory() as tmp:
        # verify insists that ExecStart= exists: point it into DESTDIR, change nothing else.
        copy = os.path.join(tmp, "cxl-isold.service")
        target = in_dest(dest, exec_start or "")
        if not os.access(target, os.X_OK):
            report(None, "systemd-analyze verify", f"{exec_start} is not installed, so verify cannot run")
        else:
            with open(copy, "w") as f:
                f.write(re.sub(r"^ExecStart=", f"ExecStart={dest}", text, flags=re.M))
            env = dict(os.environ, MANPATH=in_dest(dest, d["mandir"]), SYSTEMD_LOG_LEVEL="notice")
            r = run([analyze, "verify", "--man=yes", copy], env=env)
            out = (r.stdout + r.stderr).strip()
            # Only when systemd-analyze cannot even set up its own manager (a very bare container).
            if r.returncode != 0 and re.search(r"Failed to (initialize manager|allocate manager object)", out):
                report(None, "systemd-analyze verify", f"cannot run in this container: {out}")
            else:
                report(r.returncode == 0 and not out, "systemd-analyze verify is silent (man pages found)", out)
        r = run([analyze, "security", "--offline=yes", unit_path])
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout + r.stderr)
        if not m:
            report(False, "systemd-analyze security --offline=yes", (r.stdout + r.stderr)[-500:])
        else:
            score = float(m.group(1))
            report(score <= MAX_EXPOSURE, f"exposure {score} <= {MAX_EXPOSURE}")
            written = re.search(r"gives\s*#?\s*an exposure of (\d+\.\d+)", text)
            report(written is not None and float(written.group(1)) == score,
                   "the score written in the unit's comment is the measured one",
                   f"comment says {written.group(1) if written else None}, measured {score}")


def check_catalog(dest, d):
    journalctl = shutil.which("journalctl")
    if not journalctl:
        report(None, "catalog compiles", "journalctl not installed")
        return
    with tempfile.TemporaryDirectory() as root:
        # journalctl --root reads <root>/usr/lib/systemd/catalog, wherever catalogdir points.
        catdir = os.path.join(root, "usr/lib/systemd/catalog")
        os.makedirs(catdir)
        shutil.copy(in_dest(dest, os.path.join(d["catalogdir"], "cxl-isold.catalog")), catdir)
        r = run([journalctl, f"--root={root}", "--update-catalog"])
        listed = run([journalctl, f"--root={root}", "--list-catalog"]).stdout
        ids = re.findall(r"^-- ([0-9a-f]{32})$", open(os.path.join(catdir, "cxl-isold.catalog")).read(), re.M)
        missing = [i for i in ids if i not in listed]
        report(r.returncode == 0 and ids and not missing and not r.stderr.strip(),
               f"journalctl --update-catalog takes all {len(ids)} entries", r.stderr.strip() + " ".join(missing))


def check_man(dest, d):
    groff = shutil.which("groff")
    for page, section in (("cxl-isold", "8"), ("cxl-isolctl", "8"), ("cxl-isold.conf", "5")):
        path = in_dest(dest, os.path.join(d["mandir"], f"man{section}", f"{page}.{section}"))
        if not os.path.isfile(path):
            continue        # already reported missing
        text = open(path).read().replace("\\&", "")     # roff's zero-width escape after "."
        # The NAME line is what mandb/whatis index: "page - description" right after .SH NAME.
        name = re.search(r"^\.SH NAME\n(?:\.P\n)*(.*)$", text, re.M)
        report(re.search(rf'^\.TH "{re.escape(page)}" "{section}"', text, re.M) is not None
               and name is not None and name.group(1).startswith(f"{page} - "),
               f"{page}({section}) has a title and a NAME line", name.group(1) if name else "no NAME section")
        if not groff:
            report(None, f"{page}({section}) formats cleanly", "groff not installed")
            continue
        r = run([groff, "-man", "-Tutf8", "-ww", "-z", path])
        report(r.returncode == 0 and not r.stderr.strip(), f"{page}({section}) formats without groff warnings",
               r.stderr.strip())


OWNER = textwrap.dedent("""
    import sys
    import gi
    gi.require_version("Gio", "2.0")
    from gi.repository import Gio, GLib
    flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
    conn = Gio.DBusConnection.new_for_address_sync(sys.argv[1], flags, None, None)
    reply = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                           "RequestName", GLib.Variant("(su)", (sys.argv[2], 4)), None, 0, -1, None)
    print("owned" if reply.unpack()[0] == 1 else "not-owned", flush=True)
    GLib.MainLoop().run()
""")


def check_dbus_policy_static(policy_path):
    try:
        root = ET.parse(policy_path).getroot()
    except ET.ParseError as e:
        report(False, "D-Bus policy is well-formed XML", str(e))
        return False
    owners = [(p.attrib, a.attrib) for p in root.iter("policy") for a in p.iter("allow") if "own" in a.attrib]
    report(owners == [({"user": "root"}, {"own": BUS_NAME})], "only root may own the name", str(owners))
    return True


def dbus_call(address, as_user, dest, path, method, *args):
    """(ok, error name) of a dbus-send call, as root or as `nobody`."""
    iface, _, member = method.rpartition(".")
    cmd = ["dbus-send", f"--bus={address}", "--print-reply", f"--dest={dest}", path, method, *args]
    if as_user is not None:
        cmd = ["setpriv", f"--reuid={as_user}", f"--regid={as_user}", "--clear-groups", *cmd]
    r = run(cmd, timeout=20)
    m = re.search(r"Error (\S+):", r.stderr)
    return r.returncode == 0, (m.group(1) if m else r.stderr.strip())


def check_dbus_policy_runtime(policy_path):
    tools = ("dbus-daemon", "dbus-send", "setpriv")
    if os.geteuid() != 0 or any(not shutil.which(t) for t in tools):
        report(None, "D-Bus policy on a private bus", f"needs root and {', '.join(tools)}")
        return
    r = run([sys.executable, "-c", "import gi; gi.require_version('Gio', '2.0')"])
    if r.returncode != 0:
        report(None, "D-Bus policy on a private bus", f"{sys.executable} lacks python3-gi")
        return
    tmp = tempfile.mkdtemp(prefix="cxl-isold-bus-")
    procs = []
    bus = None
    try:
        # Debian's system.conf defaults, then the installed policy, as the system bus includes it.
        try:
            bus = harness.PrivateBus(tmp, policy_path)
        except AssertionError as e:
            report(False, "private dbus-daemon starts with the policy", str(e))
            return
        address = bus.address
        owner = subprocess.Popen([sys.executable, "-c", OWNER, address, BUS_NAME],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(owner)
        line = owner.stdout.readline().strip()
        report(line == "owned", "root owns org.cxlisold.CxlIsol1", line or owner.stderr.read())
        if line != "owned":
            return

        ok, err = dbus_call(address, NOBODY, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                            "org.freedesktop.DBus.RequestName", f"string:{BUS_NAME}", "uint32:0")
        report(not ok and err.endswith("AccessDenied"), "a plain user cannot own the name", err)

        # Allowed calls reach the owner, which has no objects: it answers, just not AccessDenied.
        readers = [
            ("org.freedesktop.DBus.Introspectable.Introspect",),
            ("org.freedesktop.DBus.Peer.Ping",),
            ("org.freedesktop.DBus.Properties.Get", f"string:{MANAGER_IFACE}", "string:Version"),
            ("org.freedesktop.DBus.Properties.GetAll", f"string:{MANAGER_IFACE}"),
            ("org.freedesktop.DBus.ObjectManager.GetManagedObjects",),
            (f"{MANAGER_IFACE}.GetEvents",),
        ]
        for method, *args in readers:
            ok, err = dbus_call(address, NOBODY, BUS_NAME, MANAGER_PATH, method, *args)
            report(ok or not err.endswith("AccessDenied"), f"a plain user may call {method}", err)
        writers = [(f"{MANAGER_IFACE}.{m}",) for m in MUTATING]
        writers.append(("org.freedesktop.DBus.Properties.Set", f"string:{MANAGER_IFACE}", "string:DryRun",
                        "variant:boolean:true"))
        writers.append(("org.cxlisold.CxlIsol1.Port.Anything",))
        for method, *args in writers:
            ok, err = dbus_call(address, NOBODY, BUS_NAME, MANAGER_PATH, method, *args)
            report(not ok and err.endswith("AccessDenied"), f"a plain user is denied {method}", err)
            ok, err = dbus_call(address, None, BUS_NAME, MANAGER_PATH, method, *args)
            report(ok or not err.endswith("AccessDenied"), f"root may call {method}", err)
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if bus:
            bus.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def check_udev_rules(dest, d, examples_dir):
    udevadm, unshare = shutil.which("udevadm"), shutil.which("unshare")
    if os.geteuid() != 0 or not udevadm or not unshare:
        report(None, "udev rules parse", "needs root, udevadm and unshare")
        return
    rules = {
        "90-cxl-isold.rules": in_dest(dest, os.path.join(d["udevdir"], "rules.d", "90-cxl-isold.rules")),
        "91-cxl-isold-devdax.rules": in_dest(dest, os.path.join(examples_dir, "91-cxl-isold-devdax.rules.disabled")),
    }
    # udevadm reads rules only from fixed directories: give it a private, empty /run/udev/rules.d.
    script = "mount -t tmpfs tmpfs /run/udev/rules.d && " + " && ".join(
        f"cp '{src}' /run/udev/rules.d/{name}" for name, src in rules.items()) + \
        f" && '{udevadm}' test --action=add /sys/class/net/lo"
    r = run([unshare, "--mount", "--propagation", "private", "sh", "-c",
             f"mkdir -p /run/udev/rules.d && {script}"], timeout=60)
    out = r.stdout + r.stderr
    if "Reading rules file: /run/udev/rules.d/90-cxl-isold.rules" not in out:
        report(None, "udev rules parse", f"udevadm test could not run here: {out.strip()[-300:]}")
        return
    for name in rules:
        bad = [l for l in out.splitlines() if f"/run/udev/rules.d/{name}:" in l]
        report(not bad, f"udevadm parses {name} without complaint", " | ".join(bad))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MESON_BUILD_ROOT")
    if not build or not shutil.which("meson"):
        print("SKIP: no build directory (argument or MESON_BUILD_ROOT) or no meson")
        return 77
    opts = build_options(build)
    d = expected_dirs(opts)
    if not d["unitdir"] or not d["catalogdir"]:
        print("SKIP: neither a -D override nor systemd.pc names the unit and catalog dirs")
        return 77

    with tempfile.TemporaryDirectory(prefix="cxl-isold-install-") as dest:
        r = run(["meson", "install", "-C", build, "--destdir", dest, "--no-rebuild", "--quiet"])
        report(r.returncode == 0, "meson install into DESTDIR", (r.stdout + r.stderr).strip()[-800:])
        if r.returncode != 0:
            return 1
        want = check_tree(dest, d)
        unit = in_dest(dest, want["unit"])
        if os.path.isfile(unit):
            check_unit(dest, d, unit)
        if os.path.isfile(in_dest(dest, want["catalog"])):
            check_catalog(dest, d)
        check_man(dest, d)
        policy = in_dest(dest, want["D-Bus policy"])
        if os.path.isfile(policy) and check_dbus_policy_static(policy):
            check_dbus_policy_runtime(policy)
        if os.path.isfile(in_dest(dest, want["udev rule"])):
            check_udev_rules(dest, d, d["examples"])

    print(f"{results['passed']} passed, {results['failed']} failed, {results['skipped']} skipped")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
