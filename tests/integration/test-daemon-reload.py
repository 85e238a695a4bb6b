#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""SIGHUP reloads the configuration all or nothing: a good file takes effect for the next event
(RELOADING=1 with MONOTONIC_USEC, then READY=1), a broken one leaves the previous policies
running and says why in the journal and in STATUS. A state directory that cannot be written
loses no event: the failure is logged at error level, the event still reaches the journal and
the policy still runs. A policy in its cooldown is skipped, on the record, and the notice that says
so comes after the event's own journal entry."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MESSAGE_ID_CONFIG_RELOADED = "daad8496feb64b12b555c2e35bc8df41"
MESSAGE_ID_CONFIG_RELOAD_FAILED = "182479d69b6648aaa6e9474b84ae7d46"
MESSAGE_ID_ISOLATION_DETECTED = "2c3855e947ed4fe68082e16d4d190fad"
MESSAGE_ID_RECORD_WRITE_FAILED = "7b846e790d314dd3a6715e9ad60becb0"


def config(policy, script):
    return f"[daemon]\npoll-interval=50ms\n\n[policy \"{policy}\"]\naction=exec\nexec={script}\n"


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=3,
                                port_opts=[f"{i}:mem=devdax" for i in range(3)])
        for p in tb.ports:
            tb.arm(p)
        env_dir = os.path.join(work, "runs")
        script = os.path.join(work, "record-env.sh")
        harness.env_recorder_script(script, env_dir)

        d = harness.Daemon(build, tb, work, config("first", script))
        try:
            d.start()
            n_ready = len(d.notify.values("READY"))

            # A good reload.
            d.write_config(config("second", script))
            d.send_signal(signal.SIGHUP)
            d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_CONFIG_RELOADED)
            harness.wait_until(lambda: len(d.notify.values("READY")) > n_ready, what="READY=1 after reload")
            reloading = [m for m in d.notify.poll() if m.get("RELOADING") == "1"]
            assert reloading and int(reloading[0]["MONOTONIC_USEC"]) > 0, d.notify.poll()
            tb.inject(tb.ports[0], "mem-link-down")
            (ev,) = d.wait_for_event(tb.ports[0])
            assert ev["plan"] == [{"policy": "second", "action": "exec"}], ev["plan"]
            d.wait_for_actions(ev["id"], 1)
            assert harness.read_env_files(env_dir)[ev["id"]][0]["CXL_ISOLD_POLICY"] == "second"

            # A broken reload: the old configuration keeps running, the reason is told.
            d.write_config("[daemon]\npoll-interval=50ms\n\n[policy \"third\"]\naction=launch-missiles\n")
            d.send_signal(signal.SIGHUP)
            (failed,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_CONFIG_RELOAD_FAILED)
            assert failed["PRIORITY"] == "3", failed
            assert any(m.startswith(d.config + ":") and "launch-missiles" in m for m in d.journal.messages()), \
                d.journal.messages()
            d.notify.wait_for("STATUS", lambda v: "reload failed" in v)
            tb.inject(tb.ports[1], "mem-link-down")
            (ev2,) = d.wait_for_event(tb.ports[1])
            assert ev2["plan"] == [{"policy": "second", "action": "exec"}], ev2["plan"]

            # Fixed again: STATUS is clean.
            d.write_config(config("fourth", script))
            d.send_signal(signal.SIGHUP)
            d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_CONFIG_RELOADED, count=2)
            d.notify.wait_for("STATUS", lambda v: v == d.notify.values("STATUS")[-1] and "reload failed" not in v
                              and v.startswith("Watching"))
            assert d.stop() == 0
        except BaseException:
            print(d.output(), file=sys.stderr)
            raise
        finally:
            d.cleanup()

        # --- the record cannot be written ---
        bad_work = os.path.join(work, "unwritable")
        os.makedirs(os.path.join(bad_work, "state", "events.jsonl"))     # a directory where the file goes
        env_dir2 = os.path.join(bad_work, "runs")
        script2 = os.path.join(bad_work, "record-env.sh")
        harness.env_recorder_script(script2, env_dir2)
        d2 = harness.Daemon(build, tb, bad_work, config("default", script2))
        try:
            d2.start()
            tb.inject(tb.ports[2], "mem-link-down")
            (detected,) = d2.journal.wait_for(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED, CXL_ISOLD_PORT=tb.ports[2])
            event_id = detected["CXL_ISOLD_EVENT_ID"]
            failures = d2.journal.wait_for(MESSAGE_ID=MESSAGE_ID_RECORD_WRITE_FAILED, CXL_ISOLD_EVENT_ID=event_id)
            assert failures[0]["PRIORITY"] == "3", failures[0]
            assert detected["CXL_ISOLD_REASON"] == "mem-link-down"
            # The policy ran all the same.
            runs = harness.wait_until(lambda: harness.read_env_files(env_dir2).get(event_id) if os.path.isdir(env_dir2)
                                      else None, what="the script to run despite the record failure")
            assert len(runs) == 1 and runs[0]["CXL_ISOLD_PORT"] == tb.ports[2]
            assert d2.proc.poll() is None

            # The state directory is fixed: the next event is recorded again.
            os.rmdir(os.path.join(d2.state_dir, "events.jsonl"))
            tb.clear(tb.ports[0])
            harness.wait_until(lambda: any(m.startswith(f"{tb.ports[0]}: isolation cleared")
                                           for m in d2.journal.messages()), what="the clear")
            tb.inject(tb.ports[0], "mem-link-down")
            (recorded,) = d2.wait_for_event(tb.ports[0])
            d2.wait_for_actions(recorded["id"], 1)
            assert any("is writable again" in m for m in d2.journal.messages())
            assert d2.stop() == 0
        except BaseException:
            print(d2.output(), file=sys.stderr)
            raise
        finally:
            d2.cleanup()
        # --- cooldown: the second isolation within the hour skips the policy, on the record ---
        cool_work = os.path.join(work, "cooldown")
        env_dir3 = os.path.join(cool_work, "runs")
        script3 = os.path.join(cool_work, "record-env.sh")
        harness.env_recorder_script(script3, env_dir3)
        for p in tb.ports:
            tb.clear(p)
        d3 = harness.Daemon(build, tb, cool_work, config("cool", script3) + "cooldown=1h\n")
        try:
            d3.start()
            tb.inject(tb.ports[0], "mem-link-down")
            (first,) = d3.wait_for_event(tb.ports[0])
            assert d3.wait_for_actions(first["id"], 1)[0]["result"] == "success"
            tb.inject(tb.ports[1], "mem-link-down")
            (second,) = d3.wait_for_event(tb.ports[1])
            (skipped,) = d3.wait_for_actions(second["id"], 1)
            assert skipped["result"] == "skipped" and "cooling down" in skipped["detail"], skipped
            assert second["id"] not in harness.read_env_files(env_dir3)
            # The notice names the event, so it comes after the event's own entry (sent once it is recorded).
            harness.wait_until(lambda: any("is cooling down" in m and second["id"] in m
                                           for m in d3.journal.messages()), what="the cooldown notice")
            entries = d3.journal.poll()
            notice = next(i for i, e in enumerate(entries)
                          if "is cooling down" in e.get("MESSAGE", "") and second["id"] in e["MESSAGE"])
            logged = next(i for i, e in enumerate(entries) if e.get("MESSAGE_ID") == MESSAGE_ID_ISOLATION_DETECTED
                          and e.get("CXL_ISOLD_EVENT_ID") == second["id"])
            assert logged < notice, [e.get("MESSAGE") for e in entries[min(logged, notice):]]
            assert d3.stop() == 0
        except BaseException:
            print(d3.output(), file=sys.stderr)
            raise
        finally:
            d3.cleanup()

        # --- dry run: detected, recorded and logged; the script is not run ---
        dry_work = os.path.join(work, "dry")
        env_dir4 = os.path.join(dry_work, "runs")
        script4 = os.path.join(dry_work, "record-env.sh")
        harness.env_recorder_script(script4, env_dir4)
        d4 = harness.Daemon(build, tb, dry_work, config("dry", script4).replace("action=exec", "action=log exec"),
                            args=["--dry-run"])
        try:
            d4.start()
            tb.inject(tb.ports[2], "mem-link-down")
            (ev,) = d4.wait_for_event(tb.ports[2])
            log_result, exec_result = d4.wait_for_actions(ev["id"], 2)
            assert log_result["result"] == "success", log_result
            assert exec_result["result"] == "skipped" and "dry run" in exec_result["detail"], exec_result
            assert not os.path.isdir(env_dir4) or not os.listdir(env_dir4)
            assert d4.stop() == 0
        except BaseException:
            print(d4.output(), file=sys.stderr)
            raise
        finally:
            d4.cleanup()
    print("ok: reload is all or nothing; a record failure loses no event; cooldown and dry run skip on the record")
    return 0


if __name__ == "__main__":
    sys.exit(main())
