#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An event storm: 1000 isolations per second across 16 ports for ~5 s, then every port vanishes.

The test writes the status dwords of the simulated BARs itself (as harness.set_control_bits does for
control): each millisecond one port's CXL.mem isolation is set and the port set 8 ms earlier is
cleared, so each port flips ~62 times a second. Asserted:
  - the daemon stays responsive: sd_notify STATUS keeps coming during the storm (no gap over a
    generous bound) and SIGTERM, sent while the storm still runs, exits 0 promptly;
  - every isolation it saw is recorded exactly once: unique event ids in events.jsonl, and the same
    ids in the journal's isolation entries (nothing lost between record and journal);
  - RSS stays bounded: VmRSS at the end of the storm minus VmRSS before it within a fixed margin;
and, in a second phase, all-ones reads on every port at once (the simulator's `gone`) while running:
each port is reported gone, the daemon stays up and says that nothing is watchable.

test-daemon-unwatchable.py covers one port going away among good ones; this adds all of them."""

import json
import mmap
import os
import signal
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MESSAGE_ID_ISOLATION_DETECTED = "2c3855e947ed4fe68082e16d4d190fad"
MESSAGE_ID_PORT_NOT_WATCHABLE = "0c30b0927e984bb3b47bfb42321f3a2c"
CXL_TI_STATUS = 0xC
STS_MEM_ISOLATED = (1 << 8) | (1 << 9)          # mem-isolated, mem-link-down
N_PORTS = 16
STORM_SECONDS = 5.0
RSS_MARGIN_KIB = 8 * 1024       # fixed: ~1 KiB per event kept for the bus, plus allocator slack
STATUS_GAP_MAX = 5.0            # seconds without STATUS during the storm: generous, the machine is shared


def daemon_pid(d):
    """The cxl-isold process itself (below unshare, sh and the testbed wrapper)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/cxl-isold") and d.state_dir.encode() in argv:
            return int(pid)
    return None


def sanitized_build(build):
    """True when meson built this tree with -Db_sanitize (as tests/run-all.sh's second phase does)."""
    with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
        options = json.load(f)
    return any(o["name"] == "b_sanitize" and o["value"] not in ("none", "") for o in options)


def vmrss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class StatusRegisters:
    """The status dword of each port's T&I capability in the simulated BAR files, mapped once."""

    def __init__(self, tb, info, ports):
        self.maps = []
        for bdf in ports:
            p = info[bdf]
            block = p["register_block"]
            path = tb.dir + p["sysfs_path"] + f"/resource{block['bir']}"
            offset = int(block["offset"], 16) + int(p["ti_offset"], 16) + CXL_TI_STATUS
            f = open(path, "r+b")
            self.maps.append((f, mmap.mmap(f.fileno(), 0), offset))

    def set(self, i, value):
        _f, m, off = self.maps[i]
        struct.pack_into("<I", m, off, value)

    def close(self):
        for f, m, _ in self.maps:
            m.close()
            f.close()


def storm(regs, stop, stats):
    """Each ms: isolate port t % 16, clear the one isolated 8 ms ago. Paced on the monotonic clock."""
    start = time.monotonic()
    tick = 0
    while not stop.is_set():
        regs.set(tick % N_PORTS, STS_MEM_ISOLATED)
        regs.set((tick - 8) % N_PORTS, 0)
        tick += 1
        delay = start + tick / 1000.0 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for i in range(N_PORTS):
        regs.set(i, 0)
    stats["sets"] = tick
    stats["seconds"] = time.monotonic() - start


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=N_PORTS,
                                port_opts=[f"{i}:mem=devdax" for i in range(N_PORTS)])
        for bdf in tb.ports:
            tb.arm(bdf)
        info = tb.list_ports(os.path.join(build, "daemon", "cxl-isold"))
        config = "[daemon]\npoll-interval=10ms\n\n[policy \"default\"]\naction=log\n"
        d = harness.Daemon(build, tb, work, config)
        regs = StatusRegisters(tb, info, tb.ports)
        stop = threading.Event()
        stats = {}
        flipper = threading.Thread(target=storm, args=(regs, stop, stats), daemon=True)
        try:
            d.start()
            d.notify.wait_for("STATUS", lambda v: v.startswith(f"Watching {N_PORTS} of {N_PORTS}"))
            pid = harness.wait_until(lambda: daemon_pid(d), timeout=10, what="the daemon's pid")
            time.sleep(1)
            rss_before = vmrss_kib(pid)
            n_status_before = len(d.notify.values("STATUS"))

            t0 = time.monotonic()
            flipper.start()
            # Watch STATUS arrive while the storm runs.
            stamps = []
            seen = n_status_before
            while time.monotonic() - t0 < STORM_SECONDS:
                n = len(d.notify.values("STATUS"))
                if n > seen:
                    stamps.append(time.monotonic())
                    seen = n
                time.sleep(0.05)
            rss_after = vmrss_kib(pid)
            # SIGTERM while the storm still runs.
            t_term = time.monotonic()
            rc = d.stop(timeout=30)
            t_exit = time.monotonic() - t_term
            stop.set()
            flipper.join(timeout=10)
            assert rc == 0, f"exit status {rc} under the storm"

            events = d.events()
            ids = [e["id"] for e in events]
            journal_ids = [e["CXL_ISOLD_EVENT_ID"] for e in d.journal.find(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED)]
            print(f"storm: {stats['sets']} isolations written in {stats['seconds']:.1f} s, daemon saw "
                  f"{len(ids)}; STATUS updates {len(stamps)}; RSS {rss_before} -> {rss_after} KiB; "
                  f"SIGTERM exit in {t_exit:.2f} s")
            assert stats["sets"] >= 0.5 * 1000 * STORM_SECONDS, f"the storm itself was too slow: {stats}"
            assert len(ids) >= N_PORTS, f"only {len(ids)} isolations seen in a storm"
            assert len(ids) == len(set(ids)), "an event id was recorded twice"
            assert sorted(ids) == sorted(journal_ids), \
                f"record has {len(ids)} events, journal {len(journal_ids)}: differ by {set(ids) ^ set(journal_ids)}"
            assert {e["port"] for e in events} == set(tb.ports), "some port's isolations were never seen"
            # Every event got its log action recorded, once.
            actions = {}
            for r in d.records():
                if r["type"] == "action":
                    actions[r["event_id"]] = actions.get(r["event_id"], 0) + 1
            missing = [i for i in ids if actions.get(i) != 1]
            # SIGTERM may cut the very last events' actions short (left pending for the next start).
            assert len(missing) <= N_PORTS, f"{len(missing)} events without exactly one action result"
            assert stamps, "no STATUS update during the storm"
            gaps = [b - a for a, b in zip([t0] + stamps, stamps + [t_term])]
            assert max(gaps) < STATUS_GAP_MAX, f"STATUS stalled for {max(gaps):.1f} s during the storm"
            assert t_exit < 15, f"SIGTERM took {t_exit:.1f} s"
            if sanitized_build(build):
                # ASan's quarantine keeps freed memory resident by design (hundreds of MiB in a storm), so
                # RSS says nothing about the daemon here; the uninstrumented run of this test checks it.
                print(f"RSS bound not checked: {build} is built with sanitizers "
                      f"(grew {rss_after - rss_before} KiB)")
            else:
                assert rss_after - rss_before < RSS_MARGIN_KIB, f"RSS grew by {rss_after - rss_before} KiB"

            # Phase 2: every port reads all-ones while the daemon runs.
            d.start()     # the storm left every status clear
            d.notify.wait_for("STATUS", lambda v: v.startswith(f"Watching {N_PORTS} of {N_PORTS}"))
            for bdf in tb.ports:
                tb.gone(bdf)
            for bdf in tb.ports:
                (entry,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_PORT_NOT_WATCHABLE, CXL_ISOLD_PORT=bdf)
                assert entry["CXL_ISOLD_REASON"] == "device-gone", entry
            d.notify.wait_for("STATUS", lambda v: v.startswith(f"Watching 0 of {N_PORTS} CXL root ports"))
            n_events = len(d.events())
            time.sleep(1)
            assert d.proc.poll() is None, "daemon exited with every port gone"
            assert len(d.events()) == n_events, "all-ones was taken for an isolation"
            assert d.stop() == 0
        except BaseException:
            stop.set()
            out = d.output()
            print(out[-20000:], file=sys.stderr)
            raise
        finally:
            stop.set()
            if flipper.is_alive():
                flipper.join(timeout=10)
            regs.close()
            d.cleanup()
    print("ok")


if __name__ == "__main__":
    main()
