#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""fence signals exactly the processes that map the isolated port's devdax device.

In the testbed, /dev/dax0.0 is a regular file (umockdev serves DIR/dev/dax0.0 as
/dev/dax0.0 to the daemon). Three helpers run outside the testbed: one maps that
file, one maps a different file, one maps the device of another port (dax2.0).
Only the first may get the signal; the result names its pid and comm."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Maps the file, says so, then records any signal it gets and keeps running.
HELPER = r"""
import mmap, os, signal, sys, time
path, marker = sys.argv[1], sys.argv[2]
def got(sig, frame):
    with open(marker + ".signals", "a") as f:
        f.write(signal.Signals(sig).name + "\n")
for s in (signal.SIGBUS, signal.SIGUSR1, signal.SIGTERM):
    signal.signal(s, got)
fd = os.open(path, os.O_RDWR)
m = mmap.mmap(fd, 4096, mmap.MAP_SHARED)
m[0:5] = b"hello"
open(marker + ".ready", "w").close()
while True:
    time.sleep(0.05)
"""


def start_helper(work, name, path):
    marker = os.path.join(work, name)
    p = subprocess.Popen([sys.executable, "-c", HELPER, path, marker], stdin=subprocess.DEVNULL)
    harness.wait_until(lambda: os.path.exists(marker + ".ready"), 10, what=f"helper {name} ready")
    return p, marker


def signals_of(marker):
    try:
        with open(marker + ".signals") as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=3)
        port = tb.ports[0]
        tb.arm(port)

        devdir = os.path.join(tb.dir, "dev")
        os.makedirs(devdir, exist_ok=True)
        for name in ("dax0.0", "dax2.0"):
            with open(os.path.join(devdir, name), "wb") as f:
                f.truncate(1 << 20)
        other = os.path.join(work, "not-a-dax-device")
        with open(other, "wb") as f:
            f.truncate(1 << 20)

        helpers = []
        try:
            mapper, m_mapper = start_helper(work, "mapper", os.path.join(devdir, "dax0.0"))
            helpers.append(mapper)
            bystander, m_bystander = start_helper(work, "bystander", other)
            helpers.append(bystander)
            neighbour, m_neighbour = start_helper(work, "neighbour", os.path.join(devdir, "dax2.0"))
            helpers.append(neighbour)

            config = ("[daemon]\npoll-interval=50ms\n\n"
                      "[policy \"fence\"]\naction=fence\nfence-signal=SIGUSR1\ntimeout=20s\n")
            d = harness.Daemon(build, tb, work, config)
            try:
                d.start()
                tb.inject(port, "mem-link-down")
                (ev,) = d.wait_for_event(port)
                assert ev["dax_devices"] == ["dax0.0"], ev
                (r,) = d.wait_for_actions(ev["id"], 1, timeout=30)
                assert r["action"] == "fence" and r["result"] == "success", r
                items = r["detail"].split("; ")
                assert f"pid {mapper.pid} (python3) maps dax0.0: sent SIGUSR1" in items, r
                assert not any(f"pid {bystander.pid} " in i or f"pid {neighbour.pid} " in i for i in items), r
                # Nobody else in the whole system maps the testbed's dax0.0.
                assert sum(1 for i in items if i.startswith("pid ")) == 1, r

                harness.wait_until(lambda: signals_of(m_mapper) == ["SIGUSR1"], 5, what="the mapper's signal")
                time.sleep(0.5)
                assert signals_of(m_mapper) == ["SIGUSR1"], signals_of(m_mapper)
                assert signals_of(m_bystander) == [], signals_of(m_bystander)
                assert signals_of(m_neighbour) == [], signals_of(m_neighbour)
            except Exception:
                print(d.output())
                raise
            finally:
                d.stop()
                d.cleanup()

            # Dry run: the mapper is listed, nobody is signalled.
            d = harness.Daemon(build, tb, os.path.join(work, "dry"),
                               config.replace("[daemon]\n", "[daemon]\ndry-run=yes\n"), name="dry")
            try:
                tb.clear(port)
                tb.arm(port)
                d.start()
                tb.inject(port, "mem-link-down")
                (ev,) = d.wait_for_event(port)
                (r,) = d.wait_for_actions(ev["id"], 1, timeout=30)
                assert r["result"] == "skipped", r
                assert f"pid {mapper.pid} (python3) maps dax0.0: would send SIGUSR1 (dry run)" in r["detail"], r
                time.sleep(0.5)
                assert signals_of(m_mapper) == ["SIGUSR1"], signals_of(m_mapper)
            except Exception:
                print(d.output())
                raise
            finally:
                d.stop()
                d.cleanup()
        finally:
            for p in helpers:
                p.send_signal(signal.SIGKILL)
                p.wait()
    print("ok")


if __name__ == "__main__":
    main()
