#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""evidence writes a complete bundle under <statedir>/evidence/<event-id>/ and says where.

Checked: every file is there and holds what it should (the event as recorded, the T&I
and RAS registers with the simulator's 16-dword header log, the topology, the config,
a manifest listing them), no temporary directory is left behind, and a device that
stopped answering before the evidence step gives a complete bundle whose result says
what is missing. fsync itself cannot be
observed from here; the bundle is only renamed into place after it."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FILES = ["event.json", "registers.txt", "topology.txt", "kernel.log", "config.ini", "manifest.txt"]


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=2)
        port = tb.ports[0]
        tb.arm(port)
        # Port 1: the device goes away between the event and the evidence (an exec step pulls it).
        p_gone = tb.ports[1]
        tb.arm(p_gone)
        pull = os.path.join(work, "pull.sh")
        with open(pull, "w") as f:
            f.write(f"#!/bin/sh\nexec {tb.sim} gone --testbed {tb.dir} --port {p_gone}\n")
        os.chmod(pull, 0o755)
        config = ("[daemon]\npoll-interval=50ms\n\n"
                  f"[policy \"keep\"]\nmatch-port={port}\naction=evidence\ntimeout=30s\n\n"
                  f"[policy \"pull\"]\nmatch-port={p_gone}\naction=exec evidence\nexec={pull}\ntimeout=30s\n")
        d = harness.Daemon(build, tb, work, config)
        try:
            d.start()
            tb.inject(port, "mem-link-down")
            (ev,) = d.wait_for_event(port)
            (r,) = d.wait_for_actions(ev["id"], 1, timeout=30)
            bundle = os.path.join(d.state_dir, "evidence", ev["id"])
            assert r["action"] == "evidence" and r["result"] == "success", r
            assert r["detail"] == f"bundle {bundle} ({len(FILES)} files)", r

            assert sorted(os.listdir(bundle)) == sorted(FILES), os.listdir(bundle)
            assert os.listdir(os.path.join(d.state_dir, "evidence")) == [ev["id"]], "temporary directory left"

            with open(os.path.join(bundle, "event.json")) as f:
                recorded = json.loads(f.read())
            assert recorded["id"] == ev["id"] and recorded["port"] == port, recorded

            with open(os.path.join(bundle, "registers.txt")) as f:
                regs = f.read()
            snapshot, _, reread = regs.partition("# re-read at evidence time")
            assert "ti.status      0x00000300" in snapshot, regs
            # The simulator logs a link-down RAS UE with header log 5100d000...; all 16 dwords, 4 per line.
            log = snapshot.split("ras.header_log\n", 1)[1].split("\n")[:4]
            dwords = " ".join(log).split()
            assert len(dwords) == 16 and dwords[0] == "5100d000", log
            # The simulated window still answers: a re-read, still isolated.
            assert reread and "ti.status      0x00000300" in reread, regs

            with open(os.path.join(bundle, "topology.txt")) as f:
                topo = f.read()
            assert "dax dax0.0 mode devdax" in topo, topo

            with open(os.path.join(bundle, "config.ini")) as f:
                conf = f.read()
            assert "[policy \"keep\"]" in conf and "evidence" in conf, conf
            assert "; partial: " not in r["detail"], r
            # From /dev/kmsg, or (where it is closed, as under dmesg_restrict) from the journal: said either way.
            # The fallback itself is unit-tested (test-action-helpers, kernel-log).
            with open(os.path.join(bundle, "kernel.log")) as f:
                first = f.readline()
            assert first.startswith("# /dev/kmsg: kernel messages from ") or \
                first.startswith("# /dev/kmsg unavailable ("), first

            with open(os.path.join(bundle, "manifest.txt")) as f:
                manifest = f.read()
            assert f"event {ev['id']}\n" in manifest and f"port {port}\n" in manifest, manifest
            for name in FILES:
                assert any(line.startswith(name + " ") and "FAILED" not in line for line in manifest.splitlines()), \
                    (name, manifest)
            for name in FILES[:-1]:
                size = os.path.getsize(os.path.join(bundle, name))
                assert f"{name:<14} {size:8d} bytes" in manifest, (name, size, manifest)

            # The window stopped answering: the bundle is still complete, and the result says what is missing.
            tb.inject(p_gone, "mem-link-down")
            (ev,) = d.wait_for_event(p_gone)
            results = d.wait_for_actions(ev["id"], 2, timeout=30)
            assert [(r["action"], r["result"]) for r in results] == [("exec", "success"), ("evidence", "success")], \
                results
            bundle = os.path.join(d.state_dir, "evidence", ev["id"])
            assert results[1]["detail"].startswith(f"bundle {bundle} ({len(FILES)} files); partial: registers.txt: "
                                                   "window does not answer"), results[1]
            with open(os.path.join(bundle, "registers.txt")) as f:
                regs = f.read()
            assert "ti.status      0x00000300" in regs and "window does not answer" in regs, regs
            with open(os.path.join(bundle, "manifest.txt")) as f:
                manifest = f.read()
            assert "window does not answer" in manifest, manifest

        except Exception:
            print(d.output())
            raise
        finally:
            d.stop()
            d.cleanup()
    print("ok")


if __name__ == "__main__":
    main()
