#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Benchmarks of cxl-isold on the simulated host. Never a test: it measures and prints, it asserts nothing.

    bench/bench.py BUILD_DIR latency   [--samples N]     status bit set -> detection -> record durable -> journal
                                                         entry and D-Bus signal, polling 10 ms / 100 ms, and
                                                         a UIO interrupt under a 60 s poll
    bench/bench.py BUILD_DIR latency-load [--samples N] [--hogs H]   the same at 10 ms under H busy loops, with
                                                         the daemon at default, nice -10 and SCHED_FIFO 1
    bench/bench.py BUILD_DIR idle      [--seconds S]     CPU, wake-ups, RSS/USS at 16/64/256 ports, 16 ports with
                                                         UIO interrupts and poll-backstop=0, and rasdaemon
    bench/bench.py BUILD_DIR discovery                   256 ports, 1024 dax: exec -> READY=1, and --list-ports
    bench/bench.py BUILD_DIR all

Method (docs/PERFORMANCE.md has the figures):
* "status bit set" is a hardware-side store into the simulated BAR (the testbed's resource0 file, mapped
  MAP_SHARED here), stamped with CLOCK_MONOTONIC right after the store. Detection and "record durable" are the
  daemon's own CLOCK_MONOTONIC stamps, carried in its journal entry (CXL_ISOLD_DETECTED_MONOTONIC_USEC, taken
  when it starts building the event; CXL_ISOLD_DURABLE_MONOTONIC_USEC, right after the record's fsync
  returned). The journal entry is stamped when its datagram arrives on our journal socket (the daemon runs with
  --log-target=journal in a private mount namespace), the IsolationDetected signal when it arrives on our own
  connection to a private dbus-daemon (the project's bus policy; a raw-socket client, no library). Both
  receiving threads run SCHED_FIFO 2, so that the figures are the daemon's and the transport's, not this
  process's wake-up; everything else (daemon, dbus-daemon, simulator) runs at its normal policy. The bench
  also times write + fsync of one line on the same file system (what the daemon does per line), and write +
  fsync + fsync(dir) (what it did before the directory was synced once per open).
* The UIO row: port 0 has the simulator's uio_pci_generic function below it (tests/sim/README.md), the
  daemon reads it through --irq-source with a 60 s poll, so only the interrupt explains a detection. Right
  after the status store and its stamp the bench raises the interrupt itself, in-process, as
  `cxl-isol-sim irq` does (INTx masked in the function's config space, event count + 1, the count written to
  the FIFO that is the daemon's /dev/uioN); after each clear it raises one more, so that the daemon sees the
  clear.
* Under load (latency-load): H busy loops at normal priority for the whole run of each variant; the daemon
  is started through CXL_ISOLD_TEST_WRAPPER as `nice -n -10` or `chrt -f 1` (what Nice= and
  CPUSchedulingPolicy= in the unit would do).
* Idle cost: /proc/PID/schedstat (ns on CPU) and voluntary+involuntary context switches (each one a wake-up)
  over S seconds after start-up settled; RSS and USS (Private_Clean + Private_Dirty) from smaps_rollup. The
  simulated host needs umockdev's preload library in the daemon's process; `sleep` under the same preload is
  measured too, and smaps splits the daemon's figures into the simulated BARs' tmpfs pages (real MMIO does not
  count), the preload library and the heap; a per-mapping table (every library, heap, stack, anonymous) is
  printed for the daemon and for rasdaemon side by side.
* Idle with interrupts: 16 ports, each with a uio function and --irq-source, poll-backstop=0: no periodic
  timer should remain; wake-ups and CPU over the same S seconds.
* Idle floor: bench/idle-floor (built with the project) only wakes on a timerfd at the same interval, bare
  and under the same preload, measured in the same window as each daemon row; the daemon's CPU per
  wake-up is given as a ratio to it. callgrind counts the user-space instructions per tick of the daemon
  and of the floor (repeatable on a noisy machine, unlike CPU time; kernel work is not in them).
* Discovery: 256 ports with --dax-per-port 4 (1024 dax devices); exec -> READY=1 (best of 3) waited for up to
  600 s. The system calls of that start-up are counted by `strace -f -c`, the daemon killed at READY=1, so the
  count is exactly exec -> READY=1 (strace slows it, so it is not timed).
"""

import argparse
import glob
import json
import mmap
import os
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
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
    """JournalCapture that notes CLOCK_MONOTONIC at the arrival of each entry (right after recvmsg, before
    parsing)."""

    def _add_entry(self, entry, arrived_ns):
        entry["_RECV_NS"] = arrived_ns
        super()._add_entry(entry, arrived_ns)


class SignalStamps:
    """A D-Bus client of its own (plain socket, EXTERNAL auth, little-endian marshalling of the few messages it
    needs) that subscribes to IsolationDetected and notes CLOCK_MONOTONIC right after the recv() that
    completed each signal, by event id. No client library between the socket and the stamp."""

    MATCH = ("type='signal',interface='org.cxlisold.CxlIsol1.Manager',member='IsolationDetected',"
             "path='/org/cxlisold/CxlIsol1'")

    def __init__(self, socket_path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(socket_path)
        self.sock.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            reply += self.sock.recv(256)
        if not reply.startswith(b"OK "):
            raise RuntimeError(f"D-Bus authentication refused: {reply!r}")
        self.sock.sendall(b"BEGIN\r\n")
        self.serial = 0
        self.stamps = {}
        self.lock = threading.Lock()
        self._call("Hello", "", b"")
        rule = self.MATCH.encode()
        self._call("AddMatch", "s", struct.pack("<I", len(rule)) + rule + b"\0")
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    @staticmethod
    def _pad(buf, n):
        buf += b"\0" * (-len(buf) % n)

    def _call(self, member, signature, body):
        self.serial += 1
        fields = bytearray()
        for code, sig, value in ((1, "o", "/org/freedesktop/DBus"), (2, "s", "org.freedesktop.DBus"),
                                 (3, "s", member), (6, "s", "org.freedesktop.DBus"), (8, "g", signature)):
            if code == 8 and not signature:
                continue
            # Offsets are from the message start; the fields start at 16, which is 8-aligned.
            fields += b"\0" * (-(16 + len(fields)) % 8)
            fields += bytes([code, 1]) + sig.encode() + b"\0"
            v = value.encode()
            if sig == "g":
                fields += bytes([len(v)]) + v + b"\0"
            else:
                fields += b"\0" * (-(16 + len(fields)) % 4)
                fields += struct.pack("<I", len(v)) + v + b"\0"
        msg = bytearray(struct.pack("<cBBBIII", b"l", 1, 0, 1, len(body), self.serial, len(fields)))
        msg += fields
        self._pad(msg, 8)
        self.sock.sendall(bytes(msg) + body)

    @staticmethod
    def _string_at(buf, pos):
        pos += -pos % 4
        (n,) = struct.unpack_from("<I", buf, pos)
        return buf[pos + 4:pos + 4 + n].decode(), pos + 4 + n + 1

    def _parse(self, msg):
        """(type, member, body fields or None) of one whole little-endian message."""
        _, mtype, _, _, body_len, _, fields_len = struct.unpack_from("<cBBBIII", msg, 0)
        pos, end, member, signature = 16, 16 + fields_len, None, ""
        while pos < end:
            pos += -pos % 8
            code, siglen = msg[pos], msg[pos + 1]
            sig = msg[pos + 2:pos + 2 + siglen].decode()
            pos += 3 + siglen
            if sig == "g":
                n = msg[pos]
                value, pos = msg[pos + 1:pos + 1 + n].decode(), pos + 2 + n
            elif sig in ("s", "o"):
                value, pos = self._string_at(msg, pos)
            else:       # u
                pos += -pos % 4
                value, pos = struct.unpack_from("<I", msg, pos)[0], pos + 4
            if code == 3:
                member = value
            elif code == 8:
                signature = value
        body = msg[len(msg) - body_len:]
        if mtype != 4 or member != "IsolationDetected" or signature != "osst":
            return mtype, member, None
        path, p = self._string_at(body, 0)
        kind, p = self._string_at(body, p)
        event_id, p = self._string_at(body, p)
        return mtype, member, (path, kind, event_id)

    def _reader(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            now = time.monotonic_ns()
            if not data:
                return
            buf += data
            while len(buf) >= 16:
                if buf[0:1] != b"l":
                    raise RuntimeError("big-endian D-Bus message: not handled by this bench")
                body_len, fields_len = struct.unpack_from("<I", buf, 4)[0], struct.unpack_from("<I", buf, 12)[0]
                total = 16 + fields_len + (-(16 + fields_len) % 8) + body_len
                if len(buf) < total:
                    break
                msg, buf = buf[:total], buf[total:]
                _, _, args = self._parse(msg)
                if args:
                    with self.lock:
                        self.stamps.setdefault(args[2], now)

    def wait_for(self, event_id, timeout=10):
        return harness.wait_until(lambda: self.stamps.get(event_id), timeout, interval=0.002,
                                  what=f"IsolationDetected for {event_id}")

    def close(self):
        self.sock.close()


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


def start_daemon(build, testbed, work, poll, extra=(), ready_timeout=600, env=None, journal_class=StampedJournal,
                 config_extra=""):
    d = harness.Daemon(build, testbed, work, f"[daemon]\npoll-interval = {poll}\n{config_extra}", args=list(extra),
                       env=env)
    # Swap in the stamping journal before start() creates its own.
    orig = harness.JournalCapture
    harness.JournalCapture = journal_class
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
    """ms per event line as the daemon writes it now (write + fsync of the file) and as it did before the
    directory was fsynced once per open (write + fsync(file) + fsync(dir)), interleaved."""
    path = os.path.join(directory, "fsync-probe.jsonl")
    line = (json.dumps({"type": "event", "pad": "x" * 1500}) + "\n").encode()
    out = {"write_fsync": [], "write_fsync_fsyncdir": []}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(n):
            t = time.monotonic_ns()
            os.write(fd, line)
            os.fsync(fd)
            if i % 2:
                os.fsync(dfd)
            out["write_fsync_fsyncdir" if i % 2 else "write_fsync"].append((time.monotonic_ns() - t) / 1e6)
    finally:
        os.close(fd)
        os.close(dfd)
    return {k: {"p50": pct(v, 50), "p99": pct(v, 99)} for k, v in out.items()}


def observe_promptly(reset_on_fork=False):
    """Run the calling thread at SCHED_FIFO 2, so that what is measured under load is the daemon and the
    transport, not this process's own wake-ups. Every thread of the bench does (a receiver waiting for the GIL
    held by a preempted main thread would be late all the same); with reset_on_fork (the main thread), what it
    starts (the daemon, dbus-daemon, the simulator, new threads) gets the normal policy back."""
    os.sched_setscheduler(0, os.SCHED_FIFO | (os.SCHED_RESET_ON_FORK if reset_on_fork else 0), os.sched_param(2))


def observe_normally():
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


class PromptJournal(StampedJournal):
    def _reader(self):
        observe_promptly()
        super()._reader()


class PromptNotify(harness.NotifyCapture):
    def _reader(self):
        observe_promptly()
        super()._reader()


class PromptSignals(SignalStamps):
    def _reader(self):
        observe_promptly()
        super()._reader()


INTERVALS = (
    # name, from, to (keys of a sample)
    ("set_to_journal", "set", "journal"),
    ("set_to_detect", "set", "detect"),
    ("detect_to_durable", "detect", "durable"),
    ("durable_to_journal", "durable", "journal"),
    ("detect_to_journal", "detect", "journal"),
    ("detect_to_signal", "detect", "signal"),
    ("set_to_signal", "set", "signal"),
)


def summarize(samples):
    out = {"samples": len(samples)}
    for name, a, b in INTERVALS:
        v = [(x[b] - x[a]) / 1e6 for x in samples if x.get(a) and x.get(b)]
        if v:
            out[name] = {"p50_ms": round(pct(v, 50), 3), "p99_ms": round(pct(v, 99), 3), "max_ms": round(max(v), 3)}
    return out


class UioFunction:
    """The simulator's uio function below a port, raised from here: what `cxl-isol-sim irq` does, without a
    process spawned between the status store and the interrupt."""

    def __init__(self, testbed, port_sysfs, bdf, index):
        self.bdf = f"{bdf[:5]}{int(bdf[5:7], 16) + 1:02x}:00.1"
        fn = testbed.dir + port_sysfs + "/" + self.bdf
        self.config = os.open(fn + "/config", os.O_RDWR)
        self.event = fn + f"/uio/uio{index}/event"
        self.fifo_path = os.path.join(testbed.dir, "sim", "uio", f"uio{index}")
        self.fifo = None

    def masked(self):
        return struct.unpack("<H", os.pread(self.config, 2, 4))[0] & 0x400

    def wait_unmasked(self):
        harness.wait_until(lambda: not self.masked(), timeout=10, interval=0.002, what="INTx unmasked by the daemon")

    def fire(self):
        (cmd,) = struct.unpack("<H", os.pread(self.config, 2, 4))
        assert not cmd & 0x400, "INTx still masked: the interrupt would not be delivered"
        (st,) = struct.unpack("<H", os.pread(self.config, 2, 6))
        os.pwrite(self.config, struct.pack("<H", st | 0x8), 6)
        os.pwrite(self.config, struct.pack("<H", cmd | 0x400), 4)
        with open(self.event, "r+") as f:
            n = int(f.read()) + 1
            f.seek(0)
            f.write(f"{n}\n")
            f.truncate()
        if self.fifo is None:
            self.fifo = os.open(self.fifo_path, os.O_WRONLY | os.O_NONBLOCK)
        os.write(self.fifo, struct.pack("=I", n))

    def close(self):
        os.close(self.config)
        if self.fifo is not None:
            os.close(self.fifo)


def with_kernel_library(testbed):
    """/dev/uioN of the simulated host comes from the simulator's kernel library (cxl-isol-sim run --kernel)."""
    testbed.wrap = lambda argv: [testbed.sim, "run", "--kernel", "--testbed", testbed.dir, "--"] + list(argv)
    return testbed


def latency_run(build, testbed, bdf, path, off, wd, poll, poll_ms, samples, bus, wrapper="", irq=None):
    """One daemon, `samples` isolations at a random phase against its poll timer. Each sample: CLOCK_MONOTONIC
    ns of the store ("set"), of detection and of "record durable" (the daemon's own stamps in its journal
    entry), of the journal entry's and of the IsolationDetected signal's arrival here. irq (a UioFunction):
    the daemon reads it through --irq-source, and it interrupts right after each store and each clear."""
    os.makedirs(wd)
    extra = ["--irq-source", f"{bdf}=uio:{irq.bdf}"] if irq else []
    saved = os.environ.get("CXL_ISOLD_TEST_WRAPPER")
    os.environ["CXL_ISOLD_TEST_WRAPPER"] = wrapper
    orig = harness.NotifyCapture
    harness.NotifyCapture = PromptNotify
    try:
        d = start_daemon(build, testbed, wd, poll, extra=extra, env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address},
                         journal_class=PromptJournal)
    finally:
        harness.NotifyCapture = orig
        if saved is None:
            del os.environ["CXL_ISOLD_TEST_WRAPPER"]
        else:
            os.environ["CXL_ISOLD_TEST_WRAPPER"] = saved
    sig = PromptSignals(bus.socket)
    out = []
    try:
        with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as m:
            for i in range(samples):
                # A random phase against the poll timer, as a real link loss would have.
                time.sleep(random.uniform(0, poll_ms / 1000.0) + 3 * poll_ms / 1000.0)
                if irq:
                    irq.wait_unmasked()
                (st,) = struct.unpack_from("<I", m, off)
                struct.pack_into("<I", m, off, st | STATUS_MEM_ISOLATED_LINKDOWN)
                t_set = time.monotonic_ns()
                if irq:
                    irq.fire()
                try:
                    e = d.journal.wait_for(timeout=10, count=i + 1, MESSAGE_ID=ISOLATION_ID)[i]
                    t_sig = sig.wait_for(e["CXL_ISOLD_EVENT_ID"])
                except AssertionError:
                    print(d.output()[-4000:], file=sys.stderr)
                    raise
                out.append({"set": t_set, "journal": e["_RECV_NS"], "signal": t_sig,
                            "detect": int(e["CXL_ISOLD_DETECTED_MONOTONIC_USEC"]) * 1000,
                            "durable": int(e.get("CXL_ISOLD_DURABLE_MONOTONIC_USEC", 0)) * 1000})
                testbed.clear(bdf)
                if irq:
                    # Under a 60 s poll the daemon reads the port again only on an interrupt.
                    irq.wait_unmasked()
                    irq.fire()
                # The daemon must see the port clear before the next isolation (under load, not within a
                # fixed time).
                harness.wait_until(lambda: sum(x.startswith(f"{bdf}: isolation cleared")
                                               for x in d.journal.messages()) > i, 10, interval=0.005,
                                   what="the daemon to see the clear")
    finally:
        sig.close()
        d.stop()
        d.cleanup()
    return out


def latency_setup(build, work):
    # Port 0 has a uio function below it for the interrupt row; the polling rows do not use it.
    testbed = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=4, port_opts=["0:uio"])
    ports = testbed.list_ports(os.path.join(build, "daemon", "cxl-isold"))
    testbed.port_info = ports
    bdf = testbed.ports[0]
    testbed.arm(bdf)
    path, off = status_address(testbed, ports[bdf])
    policy = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "systemd", "org.cxlisold.CxlIsol1.conf")
    bus = harness.PrivateBus(os.path.join(work, "bus"), policy)
    return testbed, bdf, path, off, bus


def bench_latency(build, samples):
    results = {}
    with harness.Workdir() as work:
        testbed, bdf, path, off, bus = latency_setup(build, work)
        try:
            results["fsync_ms"] = fsync_cost(work)
            observe_promptly(reset_on_fork=True)
            for poll, poll_ms in (("10ms", 10), ("100ms", 100)):
                rows = latency_run(build, testbed, bdf, path, off, os.path.join(work, f"poll-{poll}"), poll,
                                   poll_ms, samples, bus)
                results[f"poll_{poll}"] = summarize(rows)
            results["uio_poll_60s"] = bench_latency_uio(build, testbed, bdf, path, off, work, samples, bus)
        finally:
            observe_normally()
            bus.stop()
    return results


def bench_latency_uio(build, testbed, bdf, path, off, work, samples, bus):
    """The interrupt row: only the UIO interrupt can explain a detection under a 60 s poll; paced at 10-20 ms."""
    irq = UioFunction(testbed, testbed.port_info[bdf]["sysfs_path"], bdf, 0)
    wrap = testbed.wrap
    with_kernel_library(testbed)
    try:
        rows = latency_run(build, testbed, bdf, path, off, os.path.join(work, "uio"), "60s", 5, samples, bus,
                           irq=irq)
    finally:
        testbed.wrap = wrap
        irq.close()
    return summarize(rows)


# The daemon's scheduling, side by side under the same CPU load (CXL_ISOLD_TEST_WRAPPER runs it so).
SCHED_VARIANTS = (("default", ""), ("nice -10", "nice -n -10"), ("SCHED_FIFO 1", "chrt -f 1"))


def bench_latency_load(build, samples, hogs):
    """Poll 10 ms while `hogs` busy loops (normal priority) compete for the CPUs, for each SCHED_VARIANTS."""
    results = {"hogs": hogs}
    with harness.Workdir() as work:
        testbed, bdf, path, off, bus = latency_setup(build, work)
        procs = []
        try:
            observe_promptly(reset_on_fork=True)
            for name, wrapper in SCHED_VARIANTS:
                procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(hogs)]
                try:
                    rows = latency_run(build, testbed, bdf, path, off,
                                       os.path.join(work, "load-" + name.replace(" ", "-")), "10ms", 10,
                                       samples, bus, wrapper)
                finally:
                    for p in procs:
                        p.kill()
                        p.wait()
                results[name] = summarize(rows)
        finally:
            observe_normally()
            bus.stop()
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


def smaps_paths(pid):
    """(header fields, path) of each mapping in /proc/PID/smaps, with the path of an anonymous mapping that
    starts where a library's writable segment ends set to that library: it is the library's .bss."""
    out = []
    prev_end, prev_path = None, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and ":" not in head[0]:
                start, end = head[0].split("-")
                path = head[5] if len(head) > 5 else ""
                if not path and prev_path and ".so" in prev_path and start == prev_end and "w" in head[1]:
                    path = prev_path
                prev_end, prev_path = end, path
                out.append((head, path))
            else:
                out.append((head, None))
    return out


def smaps_breakdown(pid):
    """RSS/USS KiB of the simulated BARs (tmpfs pages a real MMIO mapping would not count), of the preload's
    libraries (their .bss included), and of the heap, from /proc/PID/smaps."""
    out = {k: {"rss_kib": 0, "uss_kib": 0} for k in ("simulated_bars", "preload_libs", "heap")}
    cur = None
    for head, path in smaps_paths(pid):
        if path is not None:
            cur = ("simulated_bars" if "/resource" in path else
                   "preload_libs" if any(x in os.path.basename(path) for x in PRELOAD_LIBS) else
                   "heap" if path == "[heap]" else None)
        elif cur and head[0] == "Rss:":
            out[cur]["rss_kib"] += int(head[1])
        elif cur and head[0] in ("Private_Clean:", "Private_Dirty:"):
            out[cur]["uss_kib"] += int(head[1])
    return out


def smaps_by_mapping(pid, exe_name):
    """RSS/USS KiB per mapped object from /proc/PID/smaps: each library by name (its .bss included), the
    executable as "executable", the simulated BARs together, [heap], [stack], other anonymous memory as
    [anon]."""
    out = {}
    cur = None
    for head, path in smaps_paths(pid):
        if path is not None:
            path = path or "[anon]"
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
            testbed = WideTestbed(build, os.path.join(work, f"testbed-{n}"), n)
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
        results["uio_no_poll"] = bench_idle_uio(build, work, 16, seconds)
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


def bench_idle_uio(build, work, n, seconds):
    """n ports, each with a uio function read through --irq-source, poll-backstop=0 (no periodic poll), side by
    side in the same window with the same host polled every 100 ms without interrupts."""
    out = {}
    tb_irq = with_kernel_library(harness.SimTestbed(build, os.path.join(work, f"testbed-{n}-uio"), n_ports=n,
                                                    port_opts=[f"{i}:uio" for i in range(n)]))
    tb_poll = harness.SimTestbed(build, os.path.join(work, f"testbed-{n}-poll"), n_ports=n)
    irq = []
    for bdf in tb_irq.ports:
        irq += ["--irq-source", f"{bdf}=uio:{bdf[:5]}{int(bdf[5:7], 16) + 1:02x}:00.1"]
    daemons = {}
    try:
        for name, tb, extra, conf in (("interrupts_no_poll", tb_irq, irq, "poll-backstop = 0\n"),
                                      ("poll_100ms", tb_poll, [], "")):
            wd = os.path.join(work, f"idle-{n}-{name}")
            os.makedirs(wd)
            daemons[name] = start_daemon(build, tb, wd, "100ms", extra=extra, config_extra=conf)
        daemons["interrupts_no_poll"].notify.wait_for("STATUS", lambda v: "interrupts, no poll" in v)
        time.sleep(2)
        out = measure_pids({k: d.proc.pid for k, d in daemons.items()}, seconds)
        out["ports"] = n
    finally:
        for d in daemons.values():
            d.stop()
            d.cleanup()
    return out


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
    """SimTestbed created with --dax-per-port (the harness's constructor does not pass it), and given up to
    300 s instead of the harness's 30 s (256 ports on a busy VM)."""

    def __init__(self, build_dir, directory, n_ports, dax_per_port=None, port_opts=()):
        self.build_dir = build_dir
        self.sim = os.path.join(build_dir, "tests", "sim", "cxl-isol-sim")
        self.dir = directory
        args = [self.sim, "create", "--dir", directory, "--ports", str(n_ports)]
        if dax_per_port is not None:
            args += ["--dax-per-port", str(dax_per_port)]
        for opt in port_opts:
            args += ["--port-opt", opt]
        # 256 ports and 1024 dax devices are ~20,000 sysfs entries: more than the harness's 30 s on a busy VM
        out = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True).stdout
        self.ports = [line.split()[1] for line in out.splitlines() if line.startswith("port ")]


def descendants(pid):
    """pid's processes below it (children, grandchildren...), from /proc."""
    parent = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parent[int(stat.split("/")[2])] = int(fields[1])
        except (OSError, IndexError, ValueError):
            pass
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for child, ppid in parent.items():
            if ppid == p and child not in found:
                found.add(child)
                todo.append(child)
    return found


def strace_startup(build, testbed, work):
    """System calls from exec to READY=1, by `strace -f -c`: {"total": N, "errors": N, "by_call": {name: N}}."""
    if not shutil.which("strace"):
        print("discovery: strace not installed, no system call count", file=sys.stderr)
        return None
    os.makedirs(work)
    out = os.path.join(work, "strace-c.txt")
    binary = os.path.join(build, "daemon", "cxl-isold")
    saved = os.environ.get("CXL_ISOLD_TEST_WRAPPER")
    os.environ["CXL_ISOLD_TEST_WRAPPER"] = f"strace -f -c -o {out}"
    try:
        d = start_daemon(build, testbed, work, "100ms")
    finally:
        if saved is None:
            del os.environ["CXL_ISOLD_TEST_WRAPPER"]
        else:
            os.environ["CXL_ISOLD_TEST_WRAPPER"] = saved
    # strace -o FILE PROG blocks fatal signals, and the count should end at READY=1: kill the daemon itself
    # (our own child, found below the process we started), strace then writes the summary and exits.
    for pid in descendants(d.proc.pid):
        try:
            if os.readlink(f"/proc/{pid}/exe") == binary:
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    d.stop(timeout=120)
    d.cleanup()
    result = {"by_call": {}}
    with open(out) as f:
        for line in f:
            cols = line.split()
            if len(cols) < 5 or not cols[0][0].isdigit():
                continue
            calls = int(cols[3])
            errors = int(cols[4]) if len(cols) == 6 else 0
            if cols[-1] == "total":
                result["total"], result["errors"] = calls, errors
            else:
                result["by_call"][cols[-1]] = calls
    return result


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
        runs = []
        for i in range(3):
            wd = os.path.join(work, f"ready-{i}")
            os.makedirs(wd)
            t = time.monotonic()
            d = start_daemon(build, testbed, wd, "100ms")
            runs.append(time.monotonic() - t)
            d.stop()
            d.cleanup()
        results["exec_to_ready_s"] = runs
        results["exec_to_ready_s_min"] = min(runs)
        results["startup_syscalls"] = strace_startup(build, testbed, os.path.join(work, "strace"))
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
    ap.add_argument("what", choices=["latency", "latency-load", "idle", "discovery", "all"])
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--hogs", type=int, default=0, help="latency-load: busy loops (default: 2 per CPU)")
    ap.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    out = {"host": os.uname().nodename, "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    if a.what in ("latency", "all"):
        out["latency"] = bench_latency(build, a.samples)
    if a.what == "latency-load":
        out["latency_load"] = bench_latency_load(build, a.samples, a.hogs or 2 * os.cpu_count())
    if a.what in ("idle", "all"):
        out["idle"] = bench_idle(build, a.seconds)
    if a.what in ("discovery", "all"):
        out["discovery"] = bench_discovery(build)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
