#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""After a reboot: the record says the previous boot saw an isolation (journal message with its
id), a port whose sticky status still shows that isolation is not taken for a new one, and the
previous boot's unfinished actions are not re-run (a half-recorded reboot must not loop). A torn
last line in the record (a crash mid-write) costs only itself."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MESSAGE_ID_PREVIOUS_BOOT_ISOLATED = "e9eed804c7624d1880fa15c62158bbdb"
MESSAGE_ID_ISOLATION_DETECTED = "2c3855e947ed4fe68082e16d4d190fad"
OLD_BOOT = "0123456789abcdef0123456789abcdef"
OLD_EVENT = "fedcba9876543210fedcba9876543210"


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=2,
                                port_opts=["0:mem=devdax", "1:mem=devdax"])
        old_port, new_port = tb.ports
        for p in tb.ports:
            tb.arm(p)
        tb.inject(old_port, "mem-link-down")     # sticky: still set "after the reboot"

        script = os.path.join(work, "record-env.sh")
        env_dir = os.path.join(work, "runs")
        harness.env_recorder_script(script, env_dir)
        d = harness.Daemon(build, tb, work, f"[daemon]\npoll-interval=50ms\n\n[policy \"default\"]\naction=log exec\nexec={script}\n")

        # What the previous boot left: its event with an unfinished exec step, then a torn line.
        os.makedirs(d.state_dir)
        old = {"type": "event", "id": OLD_EVENT, "port": old_port, "host_bridge": "pci0000:0c",
               "kind": "mem-link-down", "status": "0x00000300", "control": "0x00030000",
               "capability": "0x000f0000", "ras": None, "realtime_usec": 1, "monotonic_usec": 1,
               "boot_id": OLD_BOOT, "drill": False, "dax_devices": ["dax0.0"],
               "plan": [{"policy": "default", "action": "log"}, {"policy": "default", "action": "exec"}]}
        done = {"type": "action", "event_id": OLD_EVENT, "port": old_port, "index": 0, "policy": "default",
                "action": "log", "result": "success", "error": 0, "exit_status": -1, "signal": 0}
        with open(os.path.join(d.state_dir, "events.jsonl"), "w") as f:
            f.write(json.dumps(old) + "\n" + json.dumps(done) + "\n" + '{"type":"event","id":"torn-in-ha')

        try:
            d.start()
            (prev,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_PREVIOUS_BOOT_ISOLATED)
            assert prev["CXL_ISOLD_EVENT_ID"] == OLD_EVENT and prev["CXL_ISOLD_PORT"] == old_port, prev
            assert OLD_BOOT in prev["MESSAGE"], prev["MESSAGE"]
            harness.wait_until(lambda: any(m.startswith(f"{old_port}: still isolated") and "previous boot" in m and
                                           "not resumed after a reboot" in m for m in d.journal.messages()),
                               what="the adoption notice")
            assert any("1 damaged line(s) skipped" in m for m in d.journal.messages()), d.journal.messages()
            d.notify.wait_for("STATUS", lambda v: v.startswith("Watching 2 of 2 CXL root ports (1 isolated)"))

            time.sleep(0.5)
            assert not d.journal.find(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED), "old isolation taken for new"
            assert not os.path.isdir(env_dir) or not os.listdir(env_dir), "previous boot's action re-run"

            # A new isolation is recorded on a line of its own, after the torn one.
            tb.inject(new_port, "mem-link-down")
            (ev,) = d.wait_for_event(new_port)
            d.wait_for_actions(ev["id"], 2)
            assert len(harness.read_env_files(env_dir)[ev["id"]]) == 1
            with open(os.path.join(d.state_dir, "events.jsonl")) as f:
                lines = f.read().splitlines()
            assert lines[2] == '{"type":"event","id":"torn-in-ha', lines[2]
            assert all(json.loads(line) for line in lines[3:])
            assert d.stop() == 0
        except BaseException:
            print(d.output(), file=sys.stderr)
            raise
        finally:
            d.cleanup()
    print("ok: previous boot reported, its sticky isolation not re-detected, its actions not re-run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
