#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""offline-devdax and offline-memory with the real daemon on the simulated host.

The simulator's kernel library (preloaded by `cxl-isol-sim run`) acts on writes
to device_dax/unbind and memoryN/state before they return, and refuses with
EBUSY what $CXL_ISOL_SIM_REFUSE lists (tests/sim/README.md): here the unbind of
dax2.0 (in use) and the offline of one block of dax1.0. The daemon must report
exactly what happened: per device disabled (link gone), failed (busy), skipped
(system-ram is not devdax); per memory block offlined or failed."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


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
        # The daemon runs with the simulator's synchronous kernel side of sysfs writes (opt-in).
        tb.wrap = lambda argv: [tb.sim, "run", "--kernel", "--testbed", tb.dir, "--"] + list(argv)
        for bdf in tb.ports:
            tb.arm(bdf)

        # The second memory block of dax1.0 refuses to go offline.
        with open(os.path.join(tb.dir, "sys/bus/dax/devices/dax1.0/resource")) as f:
            start = int(f.read(), 0)
        with open(os.path.join(tb.dir, "sys/devices/system/memory/block_size_bytes")) as f:
            block_size = int(f.read(), 16)
        stuck = start // block_size + 1

        # The arming gate must leave the system-ram port armed: this test needs its isolation.
        config = ("[daemon]\npoll-interval=50ms\n\n"
                  f"[port \"{p_ram}\"]\non-unsafe=alert\n\n"
                  "[policy \"takeaway\"]\naction=offline-devdax\ntimeout=20s\n\n"
                  "[policy \"ram\"]\nmatch-port=" + p_ram + "\naction=offline-memory\ntimeout=20s\n")

        d = harness.Daemon(build, tb, work, config,
                           env={"CXL_ISOL_SIM_REFUSE": f"unbind:dax2.0,offline:{stuck}"})
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

            # A second isolation of the same port: the device is already disabled, which counts as done.
            tb.clear(p_devdax)
            time.sleep(0.5)     # ten polls: the daemon sees the port watching again
            tb.arm(p_devdax)
            tb.inject(p_devdax, "mem-link-down")
            evs = d.wait_for_event(p_devdax, count=2)
            r = result_for(d, evs[1]["id"], "offline-devdax")
            assert r["result"] == "success" and r["detail"] == "dax0.0: already disabled", r

            # 2. A busy device: the unbind fails with EBUSY, reported failed, never success.
            tb.inject(p_busy, "mem-link-down")
            (ev,) = d.wait_for_event(p_busy)
            r = result_for(d, ev["id"], "offline-devdax")
            assert r["result"] == "failed", r
            assert r["detail"] == "dax2.0: failed: unbind: Device or resource busy (device in use)", r
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
            # Per block, each confirmed by reading the state back; the refused one failed, and so the run.
            blocks = r["detail"].split("; ")
            assert len(blocks) >= 2 and all(item.startswith("memory") for item in blocks), r
            assert r["result"] == "failed" and r["error"] == -16, r
            sysfs_mem = os.path.join(tb.dir, "sys/devices/system/memory")
            for item in blocks:
                name = item.split(" ")[0]
                with open(os.path.join(sysfs_mem, name, "state")) as f:
                    state = f.read().strip()
                if name == f"memory{stuck}":
                    assert item == f"{name} (dax1.0): failed: Device or resource busy", r
                    assert state == "online", state
                else:
                    assert item == f"{name} (dax1.0): offlined", r
                    assert state == "offline", (name, state)
        except Exception:
            print(d.output())
            raise
        finally:
            d.stop()
            d.cleanup()
    print("ok")


if __name__ == "__main__":
    main()
