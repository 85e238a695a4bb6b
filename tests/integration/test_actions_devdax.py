#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""offline-devdax and offline-memory with the real daemon on the simulated host.

The simulator leaves writes to sysfs files alone (tests/sim/README.md), so a
small "kernel" thread here plays device_dax's unbind: when a name is written to
/sys/bus/dax/drivers/device_dax/unbind it removes that device's driver link,
except for devices it was told are busy. The daemon must report exactly what
happened per device: disabled (link gone), failed (link still there), skipped
(system-ram is not devdax); and per memory block for offline-memory."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class DaxUnbindKernel(threading.Thread):
    """Acts on writes to device_dax/unbind in the testbed, like drivers/dax/bus.c would."""

    def __init__(self, testbed_dir, busy=()):
        super().__init__(daemon=True)
        self.sysfs = os.path.join(testbed_dir, "sys")
        self.unbind = os.path.join(self.sysfs, "bus/dax/drivers/device_dax/unbind")
        self.busy = set(busy)
        self.seen = []
        self.stopping = False

    def run(self):
        last = None
        while not self.stopping:
            try:
                st = os.stat(self.unbind)
                key = (st.st_mtime_ns, st.st_size, st.st_ino)
                if key != last:
                    last = key
                    with open(self.unbind) as f:
                        name = f.read().strip()
                    if name:
                        self.seen.append(name)
                        if name not in self.busy:
                            link = os.path.join(self.sysfs, "bus/dax/devices", name, "driver")
                            if os.path.islink(link):
                                os.unlink(link)
                        # Ready for the next write, as a sysfs attribute would be.
                        with open(self.unbind, "w"):
                            pass
                        last = None
            except FileNotFoundError:
                pass
            time.sleep(0.005)


def result_for(d, event_id, action):
    results = d.wait_for_actions(event_id, 1, timeout=30)
    (r,) = [r for r in results if r["action"] == action]
    return r


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        # Default memory per port: 0 devdax, 1 system-ram (blocks online), 2 devdax.
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=3)
        p_devdax, p_ram, p_busy = tb.ports
        for bdf in tb.ports:
            tb.arm(bdf)

        kernel = DaxUnbindKernel(tb.dir, busy={"dax2.0"})
        kernel.start()

        # The arming gate must leave the system-ram port armed: this test needs its isolation.
        config = ("[daemon]\npoll-interval=50ms\n\n"
                  f"[port \"{p_ram}\"]\non-unsafe=alert\n\n"
                  "[policy \"takeaway\"]\naction=offline-devdax\ntimeout=20s\n\n"
                  "[policy \"ram\"]\nmatch-port=" + p_ram + "\naction=offline-memory\ntimeout=20s\n")
        d = harness.Daemon(build, tb, work, config)
        try:
            d.start()
            dax0_link = os.path.join(tb.dir, "sys/bus/dax/devices/dax0.0/driver")
            assert os.path.islink(dax0_link)

            # 1. A devdax port: disabled, and the driver link is really gone.
            tb.inject(p_devdax, "mem-link-down")
            (ev,) = d.wait_for_event(p_devdax)
            assert ev["dax_devices"] == ["dax0.0"], ev
            r = result_for(d, ev["id"], "offline-devdax")
            assert r["result"] == "success", r
            assert r["detail"] == "dax0.0: disabled", r
            assert not os.path.lexists(dax0_link), "driver link still there after a reported success"
            assert kernel.seen == ["dax0.0"], kernel.seen
            # remove_id got the name too (daxctl's order: remove_id, then unbind).
            with open(os.path.join(tb.dir, "sys/bus/dax/drivers/device_dax/remove_id")) as f:
                assert f.read().strip() == "dax0.0"

            # 2. A busy device: the unbind does not take, reported failed, never success.
            tb.inject(p_busy, "mem-link-down")
            (ev,) = d.wait_for_event(p_busy)
            r = result_for(d, ev["id"], "offline-devdax")
            assert r["result"] == "failed", r
            assert r["detail"].startswith("dax2.0: failed: still bound to device_dax"), r
            assert r["error"] == -16, r     # -EBUSY
            assert os.path.islink(os.path.join(tb.dir, "sys/bus/dax/devices/dax2.0/driver"))

            # 3. A system-ram port: offline-devdax skips kmem with the reason; offline-memory works per block.
            tb.inject(p_ram, "mem-link-down")
            (ev,) = d.wait_for_event(p_ram)
            results = d.wait_for_actions(ev["id"], 2, timeout=30)
            assert [r["action"] for r in results] == ["offline-devdax", "offline-memory"], results
            by_action = {r["action"]: r for r in results}
            r = by_action["offline-devdax"]
            assert r["result"] == "skipped", r
            assert "dax1.0: skipped: system-ram (kmem), not devdax" in r["detail"], r
            assert os.path.islink(os.path.join(tb.dir, "sys/bus/dax/devices/dax1.0/driver"))
            r = by_action["offline-memory"]
            # Per block, confirmed by reading the state back (the simulated state file keeps what was written).
            blocks = r["detail"].split("; ")
            assert blocks and all(item.startswith("memory") for item in blocks), r
            assert r["result"] == "success", r
            sysfs_mem = os.path.join(tb.dir, "sys/devices/system/memory")
            for item in blocks:
                name = item.split(" ")[0]
                assert item == f"{name} (dax1.0): offlined", r
                with open(os.path.join(sysfs_mem, name, "state")) as f:
                    assert f.read().strip() == "offline", f"{name}: the daemon did not write offline"

            # A second isolation of the same port: every block is already offline, and it says so.
            tb.clear(p_ram)
            time.sleep(0.5)     # ten polls: the daemon sees the port watching again
            tb.arm(p_ram)
            tb.inject(p_ram, "mem-link-down")
            evs = d.wait_for_event(p_ram, count=2)
            results = d.wait_for_actions(evs[1]["id"], 2, timeout=30)
            r = {r["action"]: r for r in results}["offline-memory"]
            assert r["result"] == "success", r
            assert all("already offline" in item for item in r["detail"].split("; ")), r
        except Exception:
            print(d.output())
            raise
        finally:
            kernel.stopping = True
            d.stop()
            d.cleanup()
    print("ok")


if __name__ == "__main__":
    main()
