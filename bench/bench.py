#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Benchmarks of cxl-isold on the simulated host. Never a test: it measures and prints, it asserts nothing.

    bench/bench.py BUILD_DIR latency   [--samples N]     status bit set -> journal entry, polling 10 ms / 100 ms
    bench/bench.py BUILD_DIR idle      [--seconds S]     CPU, wake-ups, RSS/USS at 16/64/256 ports, and rasdaemon
    bench/bench.py BUILD_DIR discovery                   256 ports, 1024 dax: exec -> READY=1, and --list-ports
    bench/bench.py BUILD_DIR all

Method (docs/PERFORMANCE.md has the figures):
* "status bit set" is a hardware-side store into the simulated BAR (the testbed's resource0 file, mapped
  MAP_SHARED here), stamped with CLOCK_MONOTONIC right after the store. The journal entry is stamped when the
  datagram arrives on our journal socket (the daemon runs with --log-target=journal in a private mount
  namespace). The daemon's record line is fsynced before the journal entry is sent, so the journal time is an
  upper bound of "record durable"; the bench also times write+fsync(file)+fsync(dir) of one line on the same
  file system, for comparison.
* Idle cost: /proc/PID/schedstat (ns on CPU) and voluntary+involuntary context switches (each one a wake-up)
  over S seconds after start-up settled; RSS and USS (Private_Clean + Private_Dirty) from smaps_rollup. The
  simulated host needs umockdev's preload library in the daemon's process; `sleep` under the same preload is
  measured too, and smaps splits the daemon's figures into the simulated BARs' tmpfs pages (real MMIO does not
  count), the preload library and the heap; a per-mapping table (every library, heap, stack, anonymous) is
  printed for the daemon and for rasdaemon side by side.
* Idle floor: bench/idle-floor (built with the project) only wakes on a timerfd at the same interval, bare
  and under the same preload, measured in the same window as each daemon row; the daemon's CPU per
  wake-up is given as a ratio to it. callgrind counts the user-space instructions per tick of the daemon
  and of the floor (repeatable on a noisy machine, unlike CPU time; kernel work is not in them).
* Discovery: 256 ports with --dax-per-port 4 (1024 dax devices); exec -> READY=1 waited for up to 600 s.
"""

import argparse
import glob
import json
import mmap
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402

ISOLATION_ID = "2c3855e947ed4fe68082e16d4d190fad"
# The simulator places 16 root ports per PCI domain, up to 256 ports (domains 0000..000f).
PORT_COUNTS = (16, 64, 256)
# Discovery at the goal's size: 256 ports with 4 regions/dax devices each. The simulator's default leaves
# every 4th port without memory; those get devdax, so that all 256 carry 4 dax devices (1024).
DISCOVERY_PORTS = 256
DISCOVERY_DAX_PER_PORT = 4
STATUS_MEM_ISOLATED_LINKDOWN = 0x300


class StampedJournal(harness.JournalCapture):
    """JournalCapture that notes CLOCK_MONOTONIC at the arrival of each entry."""

    def _receive_one(self):
        super()._receive_one()
        now = time.monotonic_ns()
        with self.lock:
            if self.entries and "_RECV_NS" not in self.entries[-1]:
                self.entries[-1]["_RECV_NS"] = now


def pct(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def status_address(testbed, port_info):
    block = port_info["register_block"]
    path = testbed.dir + port_info["sysfs_path"] + f"/resource{block['bir']}"
    return path, int(block["offset"], 16) + int(port_info["ti_offset"], 16) + 0xC


def start_daemon(build, testbed, work, poll, extra=(), ready_timeout=600):
    d = harness.Daemon(build, testbed, work, f"[daemon]\npoll-interval = {poll}\n", args=list(extra))
    # Swap in the stamping journal before start() creates its own.
    orig = harness.JournalCapture
    harness.JournalCapture = StampedJournal
    try:
        # The harness waits 30 s for READY=1; start-up at 256 ports can take longer, and we want its time.
        d.start(wait_ready=False)
    finally:
        harness.JournalCapture = orig
    try:
        d.notify.wait_for("READY", lambda v: v == "1", timeout=ready_timeout)
    except AssertionError:
        print(d.output()[-4000:], file=sys.stderr)
        d.cleanup()
        raise
    return d


def fsync_cost(directory, n=200):
    path = os.path.join(directory, "fsync-probe.jsonl")
    line = (json.dumps({"type": "event", "pad": "x" * 1500}) + "\n").encode()
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(n):
            t = time.monotonic_ns()
            os.write(fd, line)
            os.fsync(fd)
            os.fsync(dfd)
            times.append((time.monotonic_ns() - t) / 1e6)
    finally:
        os.close(fd)
        os.close(dfd)
    return times


def bench_latency(build, samples):
    results = {}
    with harness.Workdir() as work:
        testbed = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=4)
        ports = testbed.list_ports(os.path.join(build, "daemon", "cxl-isold"))
        bdf = testbed.ports[0]
        testbed.arm(bdf)
        path, off = status_address(testbed, ports[bdf])
        fs = fsync_cost(work)
        results["fsync_ms"] = {"p50": pct(fs, 50), "p99": pct(fs, 99)}
        for poll, poll_ms in (("10ms", 10), ("100ms", 100)):
            wd = os.path.join(work, f"poll-{poll}")
            os.makedirs(wd)
            d = start_daemon(build, testbed, wd, poll)
            lat, stamps = [], []
            try:
                with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as m:
                    for i in range(samples):
                        # A random phase against the poll timer, as a real link loss would have.
                        time.sleep(random.uniform(0, poll_ms / 1000.0) + 3 * poll_ms / 1000.0)
                        (st,) = struct.unpack_from("<I", m, off)
                        struct.pack_into("<I", m, off, st | STATUS_MEM_ISOLATED_LINKDOWN)
                        t0 = time.monotonic_ns()
                        try:
                            entries = d.journal.wait_for(timeout=10, count=i + 1, MESSAGE_ID=ISOLATION_ID)
                        except AssertionError:
                            print(d.output()[-4000:], file=sys.stderr)
                            raise
                        e = entries[i]
                        lat.append((e["_RECV_NS"] - t0) / 1e6)
                        stamps.append((t0, e["_RECV_NS"], e.get("CXL_ISOLD_EVENT_ID")))
                        testbed.clear(bdf)
                        # Let the daemon see the port clear before the next isolation.
                        time.sleep(3 * poll_ms / 1000.0)
            finally:
                d.stop()
                d.cleanup()
            # The record keeps the daemon's CLOCK_MONOTONIC at detection: split the latency there.
            detected = {r["id"]: r.get("monotonic_usec") for r in d.events()}
            to_detect = [(detected[i] * 1000 - t0) / 1e6 for t0, _, i in stamps if detected.get(i)]
            detect_to_journal = [(rx - detected[i] * 1000) / 1e6 for _, rx, i in stamps if detected.get(i)]
            results[f"poll_{poll}"] = {
                "samples": len(lat), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99), "max_ms": max(lat),
                "set_to_detect_p50_ms": pct(to_detect, 50) if to_detect else None,
                "set_to_detect_p99_ms": pct(to_detect, 99) if to_detect else None,
                "detect_to_journal_p50_ms": pct(detect_to_journal, 50) if detect_to_journal else None,
                "detect_to_journal_p99_ms": pct(detect_to_journal, 99) if detect_to_journal else None,
            }
    return results


def proc_sample(pid):
    with open(f"/proc/{pid}/schedstat") as f:
        cpu_ns = int(f.read().split()[0])
    switches = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                switches += int(line.split()[1])
    return cpu_ns, switches


def memory(pid):
    rss = uss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, v = line.split(":", 1)
            kb = int(v.split()[0])
            if k == "Rss":
                rss = kb
            elif k in ("Private_Clean", "Private_Dirty"):
                uss += kb
    return rss, uss


# Libraries in the daemon's process only because of umockdev's preload. Debian's libumockdev-preload links
# only libc, which the daemon maps anyway; GLib is not loaded into the daemon.
PRELOAD_LIBS = ("libumockdev",)


def smaps_breakdown(pid):
    """RSS/USS KiB of the simulated BARs (tmpfs pages a real MMIO mapping would not count), of the preload's
    libraries, and of the heap, from /proc/PID/smaps."""
    out = {k: {"rss_kib": 0, "uss_kib": 0} for k in ("simulated_bars", "preload_libs", "heap")}
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and ":" not in head[0]:
                path = head[5] if len(head) > 5 else ""
                cur = ("simulated_bars" if "/resource" in path else
                       "preload_libs" if any(x in os.path.basename(path) for x in PRELOAD_LIBS) else
                       "heap" if path == "[heap]" else None)
            elif cur and head[0] == "Rss:":
                out[cur]["rss_kib"] += int(head[1])
            elif cur and head[0] in ("Private_Clean:", "Private_Dirty:"):
                out[cur]["uss_kib"] += int(head[1])
    return out


def smaps_by_mapping(pid, exe_name):
    """RSS/USS KiB per mapped object from /proc/PID/smaps: each library by name, the executable as
    "executable", the simulated BARs together, [heap], [stack], and anonymous mappings as [anon]."""
    out = {}
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and ":" not in head[0]:
                path = head[5] if len(head) > 5 else "[anon]"
                base = os.path.basename(path)
                cur = ("simulated BARs" if "/resource" in path else
                       "executable" if base == exe_name else
                       base.split(".so")[0] + ".so" if ".so" in base else path)
                out.setdefault(cur, {"rss_kib": 0, "uss_kib": 0})
            elif head[0] == "Rss:":
                out[cur]["rss_kib"] += int(head[1])
            elif head[0] in ("Private_Clean:", "Private_Dirty:"):
                out[cur]["uss_kib"] += int(head[1])
    return {k: v for k, v in sorted(out.items(), key=lambda kv: -kv[1]["rss_kib"]) if v["rss_kib"]}


def measure_pids(pids, seconds):
    """CPU, wake-ups, RSS and USS of every pid over the same window, so that they share the machine's noise."""
    before = {name: proc_sample(pid) for name, pid in pids.items()}
    t0 = time.monotonic()
    time.sleep(seconds)
    after = {name: proc_sample(pid) for name, pid in pids.items()}
    dt = time.monotonic() - t0
    out = {}
    for name, pid in pids.items():
        (c0, s0), (c1, s1) = before[name], after[name]
        rss, uss = memory(pid)
        out[name] = {"cpu_percent": 100.0 * (c1 - c0) / 1e9 / dt, "wakeups_per_s": (s1 - s0) / dt,
                     "cpu_us_per_wakeup": (c1 - c0) / 1e3 / (s1 - s0) if s1 > s0 else None,
                     "rss_kib": rss, "uss_kib": uss}
    return out


def measure_pid(pid, seconds):
    return measure_pids({"pid": pid}, seconds)["pid"]


def idle_floor_argv(build, mode, interval_ms):
    return [os.path.join(build, "bench", "idle-floor"), mode, str(interval_ms)]


def start_floors(build, testbed, interval_ms):
    """The floor processes measured next to the daemon: bare, and under the daemon's preload (whose read()
    wrapper adds two rt_sigprocmask per tick), in the one-read shape and in sd-event's shape."""
    floors = {
        "floor_read": idle_floor_argv(build, "read", interval_ms),
        "floor_read_preload": testbed.wrap(idle_floor_argv(build, "read", interval_ms)),
        "floor_epoll_preload": testbed.wrap(idle_floor_argv(build, "epoll", interval_ms)),
    }
    return {name: subprocess.Popen(argv) for name, argv in floors.items()}


def stop_all(procs):
    for p in procs.values():
        p.kill()
    for p in procs.values():
        p.wait()


def callgrind_calls(dump, function):
    """Total calls of `function` in a callgrind dump (names may be compressed to "(id)")."""
    names, calls, cfn = {}, 0, None
    with open(dump) as f:
        for line in f:
            if line.startswith(("fn=", "cfn=", "cfi=", "cfl=", "fl=", "fi=", "fe=", "ob=", "cob=")):
                key, val = line.rstrip("\n").split("=", 1)
                ident, _, name = val.partition(" ")
                if name:
                    names[(key.lstrip("c"), ident)] = name
                if key == "cfn":
                    cfn = names.get(("fn", ident), ident)
            elif line.startswith("calls=") and cfn == function:
                calls += int(line.split("=")[1].split()[0])
    return calls


def callgrind_totals(dump):
    with open(dump) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise AssertionError(f"no totals in {dump}")


def callgrind_per_tick(pid, out_prefix, seconds, tick_function):
    """User-space instructions per tick of a process already running under callgrind: counters zeroed,
    `seconds` of idling, dumped; ticks are the calls of tick_function in that window."""
    subprocess.run(["callgrind_control", "-z", str(pid)], capture_output=True, check=True)
    time.sleep(seconds)
    subprocess.run(["callgrind_control", "-d", str(pid)], capture_output=True, check=True)
    dumps = sorted(glob.glob(out_prefix + ".*"), key=os.path.getmtime)
    if not dumps:
        raise AssertionError(f"callgrind wrote no dump at {out_prefix}")
    ticks = callgrind_calls(dumps[-1], tick_function)
    ir = callgrind_totals(dumps[-1])
    return {"ticks": ticks, "instructions": ir, "instructions_per_tick": ir / ticks if ticks else None}


def bench_callgrind(build, work, testbed, seconds):
    """Instructions per tick: the daemon at 16 ports polling every 100 ms, and the floors, under callgrind."""
    if not shutil.which("callgrind_control"):
        return {"error": "valgrind (callgrind_control) is not installed"}
    vg = ["valgrind", "--tool=callgrind", "--vgdb=yes"]
    results = {}
    wd = os.path.join(work, "callgrind-daemon")
    os.makedirs(wd)
    out = os.path.join(wd, "cg.out")
    saved = os.environ.get("CXL_ISOLD_TEST_WRAPPER")
    os.environ["CXL_ISOLD_TEST_WRAPPER"] = " ".join(vg + [f"--callgrind-out-file={out}"])
    try:
        d = start_daemon(build, testbed, wd, "100ms")
    finally:
        if saved is None:
            del os.environ["CXL_ISOLD_TEST_WRAPPER"]
        else:
            os.environ["CXL_ISOLD_TEST_WRAPPER"] = saved
    try:
        time.sleep(2)
        results["daemon_16_ports"] = callgrind_per_tick(d.proc.pid, out, seconds, "on_poll")
    finally:
        d.stop()
        d.cleanup()
    for name, argv in (("floor_read", idle_floor_argv(build, "read", 100)),
                       ("floor_read_preload", testbed.wrap(idle_floor_argv(build, "read", 100))),
                       ("floor_epoll_preload", testbed.wrap(idle_floor_argv(build, "epoll", 100)))):
        out = os.path.join(work, f"cg-{name}.out")
        full = argv[:argv.index("--") + 1] + vg + [f"--callgrind-out-file={out}"] + argv[argv.index("--") + 1:] \
            if "--" in argv else vg + [f"--callgrind-out-file={out}"] + argv
        p = subprocess.Popen(full, stderr=subprocess.DEVNULL)
        try:
            time.sleep(3)
            results[name] = callgrind_per_tick(p.pid, out, seconds, "read_expirations")
        finally:
            p.kill()
            p.wait()
    return results


def bench_idle(build, seconds):
    results = {}
    with harness.Workdir() as work:
        for n in PORT_COUNTS:
            testbed = harness.SimTestbed(build, os.path.join(work, f"testbed-{n}"), n_ports=n)
            wd = os.path.join(work, f"idle-{n}")
            os.makedirs(wd)
            d = start_daemon(build, testbed, wd, "100ms")
            floors = start_floors(build, testbed, 100)
            try:
                time.sleep(2)
                m = measure_pids(dict({"daemon": d.proc.pid}, **{k: p.pid for k, p in floors.items()}), seconds)
                row = results[f"ports_{n}"] = m.pop("daemon")
                row["floors"] = m
                for name, f in m.items():
                    if row["cpu_us_per_wakeup"] and f["cpu_us_per_wakeup"]:
                        row[f"cpu_per_wakeup_ratio_to_{name}"] = row["cpu_us_per_wakeup"] / f["cpu_us_per_wakeup"]
                row["breakdown"] = smaps_breakdown(d.proc.pid)
                if n in (16, 64):
                    row["mappings"] = smaps_by_mapping(d.proc.pid, "cxl-isold")
            finally:
                stop_all(floors)
                d.stop()
                d.cleanup()
        results["callgrind"] = bench_callgrind(build, work, harness.SimTestbed(
            build, os.path.join(work, "testbed-callgrind"), n_ports=16), min(seconds, 10))
        # The preload's own share: the same preload around a process that does nothing.
        testbed = harness.SimTestbed(build, os.path.join(work, "testbed-preload"), n_ports=1)
        p = subprocess.Popen(testbed.wrap(["sleep", "30"]))
        try:
            time.sleep(1)
            results["umockdev_preload_alone"] = dict(zip(("rss_kib", "uss_kib"), memory(p.pid)))
        finally:
            p.kill()
            p.wait()
        results["rasdaemon"] = bench_rasdaemon(seconds)
    return results


def bench_rasdaemon(seconds):
    """Idle rasdaemon (Debian package) side by side, when it can run here."""
    exe = "/usr/sbin/rasdaemon"
    if not os.access(exe, os.X_OK):
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "rasdaemon"], capture_output=True, text=True)
        if not os.access(exe, os.X_OK):
            return {"error": "rasdaemon not installable: " + r.stderr.strip()[-200:]}
    # rasdaemon reads tracepoints through debugfs/tracefs; mount them if this machine has not.
    for fs, where in (("debugfs", "/sys/kernel/debug"), ("tracefs", "/sys/kernel/tracing")):
        if subprocess.run(["mountpoint", "-q", where]).returncode != 0:
            subprocess.run(["mount", "-t", fs, "none", where], capture_output=True)
    p = subprocess.Popen([exe, "-f", "-r"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    if p.poll() is not None:
        return {"error": f"rasdaemon exited {p.returncode}: " + p.stderr.read().strip()[-300:]}
    try:
        r = measure_pid(p.pid, seconds)
        r["mappings"] = smaps_by_mapping(p.pid, "rasdaemon")
        return r
    finally:
        p.terminate()
        p.wait()


class WideTestbed(harness.SimTestbed):
    """SimTestbed created with --dax-per-port (the harness's constructor does not pass it)."""

    def __init__(self, build_dir, directory, n_ports, dax_per_port, port_opts=()):
        self.build_dir = build_dir
        self.sim = os.path.join(build_dir, "tests", "sim", "cxl-isol-sim")
        self.dir = directory
        args = [self.sim, "create", "--dir", directory, "--ports", str(n_ports), "--dax-per-port", str(dax_per_port)]
        for opt in port_opts:
            args += ["--port-opt", opt]
        # 256 ports and 1024 dax devices are ~20,000 sysfs entries: more than the harness's 30 s on a busy VM
        out = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True).stdout
        self.ports = [line.split()[1] for line in out.splitlines() if line.startswith("port ")]


def bench_discovery(build):
    results = {}
    with harness.Workdir() as work:
        t = time.monotonic()
        testbed = WideTestbed(build, os.path.join(work, "testbed"), DISCOVERY_PORTS, DISCOVERY_DAX_PER_PORT,
                              [f"{i}:mem=devdax" for i in range(3, DISCOVERY_PORTS, 4)])
        results["sim_create_s"] = time.monotonic() - t
        results["ports"] = len(testbed.ports)
        n_dax = len([x for x in os.listdir(os.path.join(testbed.dir, "sys", "bus", "dax", "devices"))])
        results["dax_devices"] = n_dax
        print(f"discovery: {len(testbed.ports)} ports, {n_dax} dax devices", file=sys.stderr)
        daemon = os.path.join(build, "daemon", "cxl-isold")
        runs = []
        for _ in range(3):
            t = time.monotonic()
            r = subprocess.run(testbed.wrap([daemon, "--list-ports", "--json"]), capture_output=True, check=True)
            runs.append(time.monotonic() - t)
        results["list_ports_s_min"] = min(runs)
        results["list_ports_reported"] = len(json.loads(r.stdout)["ports"])
        wd = os.path.join(work, "ready")
        os.makedirs(wd)
        t = time.monotonic()
        d = start_daemon(build, testbed, wd, "100ms")
        results["exec_to_ready_s"] = time.monotonic() - t
        d.stop()
        d.cleanup()
        # the same start-up at 16 ports with one dax device each, for the slope
        small = harness.SimTestbed(build, os.path.join(work, "testbed-16"), n_ports=16)
        wd = os.path.join(work, "ready-16")
        os.makedirs(wd)
        t = time.monotonic()
        d = start_daemon(build, small, wd, "100ms")
        results["exec_to_ready_16_ports_s"] = time.monotonic() - t
        d.stop()
        d.cleanup()
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("what", choices=["latency", "idle", "discovery", "all"])
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    out = {"host": os.uname().nodename, "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    if a.what in ("latency", "all"):
        out["latency"] = bench_latency(build, a.samples)
    if a.what in ("idle", "all"):
        out["idle"] = bench_idle(build, a.seconds)
    if a.what in ("discovery", "all"):
        out["discovery"] = bench_discovery(build)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
