#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Ports whose registers cannot be read are reported with their reason, once, and never stop
the daemon from watching and acting on the others; a port that disappears while watched is
reported as gone. With no watchable port at all the daemon keeps running and says so."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MESSAGE_ID_PORT_WATCHABLE = "adfdd491932e426d8b39fe66cdedb954"
MESSAGE_ID_PORT_NOT_WATCHABLE = "0c30b0927e984bb3b47bfb42321f3a2c"
MESSAGE_ID_ISOLATION_DETECTED = "2c3855e947ed4fe68082e16d4d190fad"


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        # Port 0: no T&I capability; 1: config space cut at 64 bytes; 2: resource0 missing;
        # 3 and 4 fine (4 will vanish while watched).
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=5,
                                port_opts=["0:no-ti", "1:config-64", "2:no-resource", "3:mem=devdax"])
        bad = {tb.ports[0]: "no-ti-capability", tb.ports[1]: "config-truncated", tb.ports[2]: "resource-missing"}
        good, doomed = tb.ports[3], tb.ports[4]
        tb.arm(good)
        tb.arm(doomed)

        script = os.path.join(work, "record-env.sh")
        env_dir = os.path.join(work, "runs")
        harness.env_recorder_script(script, env_dir)
        config = f"[daemon]\npoll-interval=50ms\n\n[policy]\nexec={script}\n"
        d = harness.Daemon(build, tb, work, config)
        try:
            d.start()
            status = d.notify.wait_for("READY", lambda v: v == "1") and d.notify.values("STATUS")[-1]
            assert status == "Watching 2 of 5 CXL root ports (0 isolated), poll 50ms, queue 0", status

            for bdf, reason in bad.items():
                (entry,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_PORT_NOT_WATCHABLE, CXL_ISOLD_PORT=bdf)
                assert entry["CXL_ISOLD_REASON"] == reason, (bdf, entry)
                assert entry["PRIORITY"] == "4", entry
                # "not watchable: <description> (<hint>)"
                assert f"{bdf} (host bridge " in entry["MESSAGE"] and "not watchable: " in entry["MESSAGE"], entry
                assert "(" in entry["MESSAGE"].split("not watchable: ", 1)[1], entry["MESSAGE"]
            for bdf in (good, doomed):
                d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_PORT_WATCHABLE, CXL_ISOLD_PORT=bdf)

            # Detection works on the good port despite its broken neighbours.
            tb.inject(good, "mem-link-down")
            (ev,) = d.wait_for_event(good)
            assert ev["kind"] == "mem-link-down"
            d.wait_for_actions(ev["id"], 2)
            assert len(harness.read_env_files(env_dir)[ev["id"]]) == 1

            # A port that vanishes is reported once as gone, and is not mistaken for isolated.
            tb.gone(doomed)
            (entry,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_PORT_NOT_WATCHABLE, CXL_ISOLD_PORT=doomed)
            assert entry["CXL_ISOLD_REASON"] == "device-gone", entry
            d.notify.wait_for("STATUS", lambda v: v.startswith("Watching 1 of 5 CXL root ports (1 isolated)"))
            time.sleep(0.3)
            assert d.events(doomed) == [], "all-ones was taken for an isolation"
            assert len(d.journal.find(MESSAGE_ID=MESSAGE_ID_PORT_NOT_WATCHABLE, CXL_ISOLD_PORT=doomed)) == 1
            assert d.proc.poll() is None, "daemon exited"
            # An isolated port that vanishes and comes back still isolated is the same incident:
            # no second event, no second script run (a flapping link must not repeat a reboot).
            info = tb.list_ports(d.binary)[good]
            base = tb.dir + info["sysfs_path"]
            saved = {}
            for name in (f"resource{info['register_block']['bir']}", "config"):
                with open(os.path.join(base, name), "rb") as f:
                    saved[name] = f.read()
            tb.gone(good)
            harness.wait_until(lambda: any(e.get("CXL_ISOLD_REASON") == "device-gone" for e in
                                           d.journal.find(MESSAGE_ID=MESSAGE_ID_PORT_NOT_WATCHABLE,
                                                          CXL_ISOLD_PORT=good)), what=f"{good} gone")
            for name, data in saved.items():
                with open(os.path.join(base, name), "r+b") as f:
                    f.write(data)
            harness.wait_until(lambda: any(m.startswith(f"{good}: back, still isolated") and ev["id"] in m
                                           for m in d.journal.messages()), timeout=20,
                               what=f"{good} rediscovered")
            time.sleep(0.3)
            assert len(d.events(good)) == 1, d.events(good)
            assert len(harness.read_env_files(env_dir)[ev["id"]]) == 1
            assert not d.journal.find(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED, CXL_ISOLD_PORT=good)[1:]

            # Started without WATCHDOG_USEC: no watchdog pings, however many poll cycles ran.
            assert d.notify.values("WATCHDOG") == [], d.notify.values("WATCHDOG")
            assert d.stop() == 0
        except BaseException:
            print(d.output(), file=sys.stderr)
            raise
        finally:
            d.cleanup()

        # Nothing watchable at all (ndctl #102): keep running, say so in STATUS.
        tb2 = harness.SimTestbed(build, os.path.join(work, "testbed2"), n_ports=2,
                                 port_opts=["0:no-ti", "1:no-mem-isolation"])
        d2 = harness.Daemon(build, tb2, os.path.join(work, "second"), "[daemon]\npoll-interval=50ms\n")
        try:
            d2.start()
            status = d2.notify.values("STATUS")[-1]
            assert status.startswith("Watching 0 of 2 CXL root ports") and "no port is watchable" in status, status
            (e,) = d2.journal.wait_for(MESSAGE_ID=MESSAGE_ID_PORT_NOT_WATCHABLE, CXL_ISOLD_PORT=tb2.ports[1])
            assert e["CXL_ISOLD_REASON"] == "no-mem-isolation", e
            time.sleep(0.3)
            assert d2.proc.poll() is None, "a daemon with nothing to watch must keep running"
            assert d2.stop() == 0
        except BaseException:
            print(d2.output(), file=sys.stderr)
            raise
        finally:
            d2.cleanup()
    print("ok: unreadable ports reported with reasons while the others are watched")
    return 0


if __name__ == "__main__":
    sys.exit(main())
