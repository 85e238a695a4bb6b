#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The one-shot modes: --version, --help, --check-config (file:line diagnostics, exit 1) and
--list-ports (text and JSON) against the simulated host, whose layout is known."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


def main():
    build = harness.build_dir_from_argv()
    binary = os.path.join(build, "daemon", "cxl-isold")
    if not os.access(binary, os.X_OK):
        harness.skip(f"daemon not built: {binary}")

    r = run([binary, "--version"])
    assert r.returncode == 0 and r.stdout.startswith("cxl-isold "), r
    r = run([binary, "--help"])
    assert r.returncode == 0 and "--list-ports" in r.stdout and "--check-config" in r.stdout, r
    r = run([binary, "--no-such-option"])
    assert r.returncode == 1, r
    r = run([binary, "--poll-interval", "soon"])
    assert r.returncode == 1 and "poll-interval" in r.stderr, r

    with harness.Workdir() as work:
        empty = os.path.join(work, "policy.d")
        os.makedirs(empty)
        good = os.path.join(work, "good.conf")
        with open(good, "w") as f:
            f.write("[daemon]\npoll-interval=200ms\n\n[policy \"p\"]\naction=log\n")
        r = run([binary, "--check-config", "--config", good, "--config-dir", empty])
        assert r.returncode == 0, r
        assert "1 policy" in r.stdout, r.stdout

        bad = os.path.join(work, "bad.conf")
        with open(bad, "w") as f:
            f.write("[daemon]\npoll-interval=200ms\n\n[policy \"p\"]\naction=log teleport\n")
        r = run([binary, "--check-config", "--config", bad, "--config-dir", empty])
        assert r.returncode == 1, r
        assert r.stdout.startswith(f"{bad}:5: "), r.stdout
        assert "teleport" in r.stdout, r.stdout

        if os.geteuid() != 0:
            harness.skip("--list-ports over the simulated host needs root (umockdev testbed as /sys)")
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=2, port_opts=["1:no-ti"])
        r = run(tb.wrap([binary, "--list-ports", "--json"]))
        assert r.returncode == 0, r
        ports = {p["bdf"]: p for p in json.loads(r.stdout)["ports"]}
        assert sorted(ports) == sorted(tb.ports), ports.keys()
        ok, no_ti = ports[tb.ports[0]], ports[tb.ports[1]]

        assert ok["watchable"] is True and ok["reason"] == "watchable", ok
        assert ok["host_bridge"] == "pci0000:" + tb.ports[0].split(":")[1], ok["host_bridge"]
        assert ok["register_block"] == {"bir": 0, "offset": "0x0", "block_id": 1}, ok["register_block"]
        assert [d["id"] for d in ok["dvsecs"]] == [3, 4, 7, 8], ok["dvsecs"]
        caps = {c["id"]: c for c in ok["capabilities"]}
        assert caps[9]["name"] == "timeout-isolation" and caps[2]["name"] == "ras", caps
        assert ok["ti_offset"] == caps[9]["offset"] and ok["ras_offset"] == caps[2]["offset"]
        assert ok["ti_capability"]["mem_isolation"] is True, ok["ti_capability"]
        assert ok["ti_status"] == "0x00000000" and ok["isolation"] == "none", ok

        assert no_ti["watchable"] is False and no_ti["reason"] == "no-ti-capability", no_ti
        assert no_ti["hint"] and no_ti["description"], no_ti
        assert 9 not in [c["id"] for c in no_ti["capabilities"]] and "ti_capability" not in no_ti

        r = run(tb.wrap([binary, "--list-ports"]))
        assert r.returncode == 0, r
        assert f"{tb.ports[1]}  host bridge" in r.stdout, r.stdout
        assert "not watchable: no Timeout & Isolation capability (" in r.stdout, r.stdout
        assert "capability 0x9 (timeout-isolation)" in r.stdout, r.stdout

        # The report is read-only and sees an isolation as it stands.
        tb.arm(tb.ports[0])
        tb.inject(tb.ports[0], "mem-link-down")
        ports = {p["bdf"]: p for p in json.loads(run(tb.wrap([binary, "--list-ports", "--json"])).stdout)["ports"]}
        assert ports[tb.ports[0]]["isolation"] == "mem-link-down", ports[tb.ports[0]]
        assert ports[tb.ports[0]]["ti_status"] == "0x00000300"
    print("ok: --version, --help, --check-config and --list-ports")
    return 0


if __name__ == "__main__":
    sys.exit(main())
