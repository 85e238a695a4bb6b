#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The exec action under stress: a script that hangs (and ignores SIGTERM, with a child of its
own) is killed at its timeout, SIGKILL after the grace period, its whole process group with
it, and the next action still runs. An action cut short by a daemon stop is resumed at the
next start, recorded once, and the event is not detected again."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MESSAGE_ID_ACTION_TIMED_OUT = "52f149a554c4495aada466a5e3eac224"
MESSAGE_ID_ISOLATION_DETECTED = "2c3855e947ed4fe68082e16d4d190fad"


def write_script(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=4,
                                port_opts=["1:mem=devdax", "2:mem=devdax", "3:mem=devdax"])
        hang_port, slow_port, other_port, broken_port = tb.ports
        for p in tb.ports:
            tb.arm(p)

        hang = os.path.join(work, "hang.sh")
        write_script(hang, f"""trap '' TERM
sleep 300 &
echo "$$ $!" > {work}/hang-pids
echo "hanging"
wait
""")
        slow = os.path.join(work, "slow.sh")
        write_script(slow, f"""echo started >> {work}/slow-starts
sleep 2
echo done >> {work}/slow-done
""")
        broken = os.path.join(work, "broken.sh")
        write_script(broken, "echo never\n")
        after = os.path.join(work, "after.sh")
        env_dir = os.path.join(work, "runs")
        harness.env_recorder_script(after, env_dir)

        config = f"""[daemon]
poll-interval=50ms

[policy "hang"]
match-port={hang_port}
action=exec
exec={hang}
exec-timeout=3s

[policy "after"]
match-port={hang_port}
action=exec log
exec={after}

[policy "broken"]
match-port={broken_port}
action=exec log
exec={broken}

[policy "other"]
match-port={other_port}
action=exec
exec={after}

[policy "slow"]
match-port={slow_port}
action=exec
exec={slow}
timeout=30s
"""
        d = harness.Daemon(build, tb, work, config)
        try:
            d.start()

            # --- a hung script ---
            t0 = time.monotonic()
            tb.inject(hang_port, "mem-link-down")
            (ev,) = d.wait_for_event(hang_port)
            assert [(s["policy"], s["action"]) for s in ev["plan"]] == \
                [("hang", "exec"), ("after", "exec"), ("after", "log")], ev["plan"]
            pids = harness.wait_until(lambda: os.path.exists(f"{work}/hang-pids") and
                                      len(open(f"{work}/hang-pids").read().split()) == 2 and
                                      open(f"{work}/hang-pids").read().split(), what="the hung script to start")
            script_pid, child_pid = int(pids[0]), int(pids[1])

            # Another port's event does not wait for the hung script: ports run concurrently.
            tb.inject(other_port, "mem-link-down")
            (other_ev,) = d.wait_for_event(other_port)
            (other_result,) = d.wait_for_actions(other_ev["id"], 1, timeout=6)
            assert other_result["result"] == "success", other_result
            assert alive(script_pid), "the other port's action should have run while the hung script still ran"
            assert d.action_results(ev["id"]) == []
            results = d.wait_for_actions(ev["id"], 1, timeout=25)
            elapsed = time.monotonic() - t0
            r = results[0]
            assert r["result"] == "timed-out", r
            assert r["signal"] == signal.SIGKILL, r        # it ignored SIGTERM
            # 3 s timeout + 5 s grace, not the script's 300 s.
            assert 7.5 < elapsed < 25, elapsed
            assert r["finished_usec"] - r["started_usec"] >= 7_900_000, r
            harness.wait_until(lambda: not alive(script_pid) and not alive(child_pid),
                               what="the script's process group to be gone")
            (to,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_ACTION_TIMED_OUT, CXL_ISOLD_EVENT_ID=ev["id"])
            assert to["CXL_ISOLD_POLICY"] == "hang" and to["CXL_ISOLD_ACTION"] == "exec", to
            assert any("stdout: hanging" in e["MESSAGE"] for e in d.journal.find(CXL_ISOLD_EVENT_ID=ev["id"]))

            # The next actions still ran, in order.
            results = d.wait_for_actions(ev["id"], 3)
            assert [(x["policy"], x["action"], x["result"]) for x in results] == \
                [("hang", "exec", "timed-out"), ("after", "exec", "success"), ("after", "log", "success")], results
            assert len(harness.read_env_files(env_dir)[ev["id"]]) == 1

            # --- a stop in the middle of an action ---
            tb.inject(slow_port, "mem-link-down")
            (slow_ev,) = d.wait_for_event(slow_port)
            # The shell creates the file before it writes the line: wait for the line.
            harness.wait_until(lambda: os.path.exists(f"{work}/slow-starts") and
                               "started" in open(f"{work}/slow-starts").read(), what="the slow script to start")
            t1 = time.monotonic()
            assert d.stop() == 0
            assert time.monotonic() - t1 < 5, "stopping waited for the action"
            assert d.action_results(slow_ev["id"]) == [], "an interrupted action must not be recorded as done"

            d.start()
            results = d.wait_for_actions(slow_ev["id"], 1, timeout=15)
            assert results[0]["result"] == "success", results
            time.sleep(0.3)
            assert len(d.action_results(slow_ev["id"])) == 1
            assert len(d.events()) == 3, "restart re-detected an isolation it had recorded"
            assert not d.events(broken_port)
            assert not d.journal.find(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED)
            with open(f"{work}/slow-starts") as f:
                starts = f.read().count("started")
                assert starts == 2, starts     # interrupted once, resumed once
            with open(f"{work}/slow-done") as f:
                assert f.read().count("done") == 1
            # The hung event's actions are all done: nothing of it runs again.
            assert len(d.action_results(ev["id"])) == 3
            assert len(harness.read_env_files(env_dir)[ev["id"]]) == 1

            # A script that stopped being executable after the configuration was checked: the
            # action fails with the reason in the journal, and the plan goes on.
            os.chmod(broken, 0o644)
            tb.inject(broken_port, "mem-link-down")
            (bev,) = d.wait_for_event(broken_port)
            failed, logged = d.wait_for_actions(bev["id"], 2)
            assert (failed["action"], failed["result"], failed["exit_status"]) == ("exec", "failed", 126), failed
            assert logged["result"] == "success", logged
            harness.wait_until(lambda: any("stderr: cannot execute" in e["MESSAGE"] and "Permission denied" in e["MESSAGE"]
                                           for e in d.journal.find(CXL_ISOLD_EVENT_ID=bev["id"])),
                               what="the exec failure reason in the journal")
            assert d.stop() == 0
        except BaseException:
            print(d.output(), file=sys.stderr)
            raise
        finally:
            d.cleanup()
    print("ok: hung script killed at its timeout with its group, next action ran; interrupted action resumed once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
