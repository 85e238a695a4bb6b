#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the idle daemon keeps and does. libpci, needed for discovery only, is no longer mapped once the
daemon is ready, and the heap start-up freed is handed back (its RSS bounded per port; the uninstrumented
build's [heap] only: ASan's allocator does not use it). Per poll tick, counted (never timed): strace follows the running daemon for
a few seconds, nothing happening, and every system call it makes is counted by name.

Per tick the daemon may wake from epoll_wait, read the poll timer's timerfd and re-arm it: three calls,
the same at any port count (a status read is a load from the mapped BAR, no system call). umockdev's
preload library wraps read() with two rt_sigprocmask calls; those belong to the simulation, not to the
daemon, and are left out of the count. The figures (CPU per tick against a bare timerfd loop) are
bench/bench.py idle's business."""

import collections
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

N_PORTS = 8
POLL_MS = 50
TRACE_S = 2.0
PER_TICK = {"epoll_wait", "read", "timerfd_settime"}
PRELOAD_ONLY = {"rt_sigprocmask"}
SYSCALL = re.compile(r"^(?:\d+ +)?([a-z_0-9]+)\(")


def count_syscalls(pid, seconds, out_path):
    """System calls of pid over `seconds`, by name (calls that were already running when strace attached
    are not counted: their start was not seen)."""
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", out_path, "-p", str(pid)], stderr=subprocess.PIPE, text=True)
    time.sleep(seconds)
    p.send_signal(2)
    _, err = p.communicate(timeout=30)
    counts = collections.Counter()
    with open(out_path) as f:
        for line in f:
            m = SYSCALL.match(line)
            if m:
                counts[m.group(1)] += 1
    if not counts:
        raise AssertionError(f"strace saw nothing: {err}")
    return counts


def syscalls_per_tick_test(build, work):
    tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=N_PORTS)
    d = harness.Daemon(build, tb, work, f"[daemon]\npoll-interval = {POLL_MS}ms\n")
    try:
        d.start()
        d.notify.wait_for("STATUS", lambda v: v.startswith(f"Watching {N_PORTS} of {N_PORTS}"))
        time.sleep(0.5)
        # libpci is for discovery only (lib/pci-lib.c): unloaded, with its zlib, once the ports are found.
        with open(f"/proc/{d.proc.pid}/maps") as f:
            maps = f.read()
        assert "libpci.so" not in maps, "libpci still mapped after discovery:\n" + maps
        counts = count_syscalls(d.proc.pid, TRACE_S, os.path.join(work, "strace.txt"))
        ticks = counts["timerfd_settime"]
        # A window with (almost) no ticks would prove nothing; 2 s at 50 ms is 40, even on a loaded machine
        # strace lets through far more than 10.
        assert ticks >= 10, f"only {ticks} poll ticks in {TRACE_S} s: {dict(counts)}"
        assert counts["gettid"] == 0, f"gettid() on the idle path: {dict(counts)}"
        others = {k: v for k, v in counts.items() if k not in PER_TICK | PRELOAD_ONLY}
        assert not others, f"system calls besides the poll timer's while idle: {others} over {ticks} ticks"
        # Reading N ports costs no system call: one timerfd read per tick, whatever the port count.
        for name in PER_TICK:
            assert counts[name] <= ticks + 1, f"{counts[name]} {name} for {ticks} ticks: {dict(counts)}"
        rc = d.stop()
        assert rc == 0, f"exit status {rc}"
        return ticks, counts
    except BaseException:
        print(d.output() if d.n_starts else "", file=sys.stderr)
        raise
    finally:
        d.cleanup()


HEAP_PORTS = 64
# What the idle heap may hold: a fixed part, and per port its struct, AER text and topology names (~2.3 KiB
# in use). Start-up frees twice that per port (discovery's decodes, the record, topology walks); the daemon
# hands those pages back after start-up (malloc_trim in main.c). Without that the heap keeps ~5 KiB a port.
HEAP_FIXED_KIB = 64
HEAP_PER_PORT_KIB = 3


def heap_rss_kib(pid):
    rss, in_heap = None, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and ":" not in head[0]:
                in_heap = len(head) > 5 and head[5] == "[heap]"
            elif in_heap and head[0] == "Rss:":
                rss = (rss or 0) + int(head[1])
    return rss or 0


def heap_after_startup_test(build, work):
    tb = harness.SimTestbed(build, os.path.join(work, "testbed-heap"), n_ports=HEAP_PORTS)
    d = harness.Daemon(build, tb, work, "[daemon]\npoll-interval = 100ms\n", name="heap")
    try:
        d.start()
        d.notify.wait_for("STATUS", lambda v: v.startswith(f"Watching {HEAP_PORTS} of {HEAP_PORTS}"))
        time.sleep(0.5)
        heap = heap_rss_kib(d.proc.pid)
        bound = HEAP_FIXED_KIB + HEAP_PER_PORT_KIB * HEAP_PORTS
        assert heap <= bound, f"idle heap {heap} KiB at {HEAP_PORTS} ports, more than {bound} KiB"
        rc = d.stop()
        assert rc == 0, f"exit status {rc}"
        return heap
    except BaseException:
        print(d.output() if d.n_starts else "", file=sys.stderr)
        raise
    finally:
        d.cleanup()


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()
    if os.environ.get("CXL_ISOLD_TEST_WRAPPER"):
        harness.skip("the daemon runs under a wrapper (valgrind): its system calls are the wrapper's")
    if not shutil.which("strace"):
        harness.skip("strace is not installed (tests/install-deps.sh installs it)")
    with harness.Workdir() as work:
        ticks, counts = syscalls_per_tick_test(build, work)
        heap = heap_after_startup_test(build, work)
    print(f"ok: {ticks} idle ticks at {N_PORTS} ports, system calls {dict(counts)}; "
          f"epoll_wait, timerfd read and re-arm per tick, none per port, no gettid; libpci unloaded after discovery; "
          f"idle heap {heap} KiB at {HEAP_PORTS} ports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
