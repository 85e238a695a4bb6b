#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The state directory fills up while the daemon runs (a 64 KiB tmpfs, filled to the last page).

An isolation then cannot be recorded, and still: the event reaches the journal at crit level with
its id (and without CXL_ISOLD_DURABLE_MONOTONIC_USEC, which only a recorded event has), the record
failure is logged at error level with the same id in the journal and in the real
kernel log (/dev/kmsg; where it cannot be read the rest is checked and the test exits 77 saying so), the exec policy runs with the
event's environment, and the reboot policy asks (mock) logind exactly once (reboot-on-record-failure
defaults to yes). Once space is back, later events are recorded again, and every line of
events.jsonl is whole JSON: a write cut short by ENOSPC must not glue the next record onto a torn
line (that would lose the next event at the next start).

test-daemon-reload.py covers the other record fault, a state directory that cannot be opened at all.
The mounts happen in a private mount namespace of this test process, so nothing leaks on a crash."""

import ctypes
import errno
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MESSAGE_ID_ISOLATION_DETECTED = "2c3855e947ed4fe68082e16d4d190fad"
MESSAGE_ID_RECORD_WRITE_FAILED = "7b846e790d314dd3a6715e9ad60becb0"
CLONE_NEWNS = 0x00020000


def private_mount_namespace():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        harness.skip("cannot unshare the mount namespace: " + os.strerror(ctypes.get_errno()))
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)


def fill(directory):
    """Fill the filesystem to the last byte; returns the filler's path."""
    path = os.path.join(directory, "filler")
    chunk = b"\0" * 4096
    with open(path, "wb", buffering=0) as f:
        for size in (4096, 512, 1):
            while True:
                try:
                    f.write(chunk[:size])
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    st = os.statvfs(directory)
    assert st.f_bavail == 0, f"{st.f_bavail} blocks still free"
    return path


def wait_plan_done(d, event_id, last_action):
    """Until the event's last step logged its end: its result's record write was attempted before that.

    Freeing space earlier would let a late action line land after its lost event line (an orphan the next
    start reports as damaged)."""
    def done():
        return [e for e in d.journal.find(CXL_ISOLD_EVENT_ID=event_id, CXL_ISOLD_ACTION=last_action)
                if any(w in e.get("MESSAGE", "") for w in (": finished", ": failed", ": timed out", ": skipped"))]
    harness.wait_until(done, timeout=30, what=f"the end of event {event_id}'s {last_action} step")


def whole_lines(path):
    """Every line of events.jsonl parses; returns the records. A torn or glued line fails here."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    for n, line in enumerate(data.split(b"\n"), 1):
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"{path}:{n} is not whole JSON ({len(line)} bytes): {line[:120]!r}...")
    return out


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()
    private_mount_namespace()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import test_actions_reboot as reboot    # PrivateLogind: python-dbusmock's logind on a private bus

    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=4,
                                port_opts=[f"{i}:mem=devdax" for i in range(4)])
        for bdf in tb.ports:
            tb.arm(bdf)
        p_full, p_back, p_torn, p_after = tb.ports
        state = os.path.join(work, "state")
        os.makedirs(state)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0750", "tmpfs", state], check=True)
        logind = reboot.PrivateLogind(work, [state])

        script = os.path.join(work, "record-env.sh")
        env_dir = os.path.join(work, "script-runs")
        harness.env_recorder_script(script, env_dir)
        config = ("[daemon]\npoll-interval=50ms\n\n"
                  f"[policy \"default\"]\naction=exec\nexec={script}\ntimeout=10s\n\n"
                  f"[policy \"boot\"]\nmatch-port={p_full}\naction=reboot\n")
        d = harness.Daemon(build, tb, work, config, env={"DBUS_SYSTEM_BUS_ADDRESS": logind.address})
        try:
            d.start()
            assert os.path.exists(os.path.join(state, "events.jsonl")), "the record was not opened"
            filler = fill(state)
            kmsg = harness.KernelLog()

            # 1. Full: journal, error-level record failure, kernel log, exec and reboot all the same.
            tb.inject(p_full, "mem-link-down")
            (detected,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED, CXL_ISOLD_PORT=p_full)
            assert detected["PRIORITY"] == "2", detected
            assert detected["CXL_ISOLD_REASON"] == "mem-link-down", detected
            # Not recorded, so the entry must not claim a time at which the record was durable.
            assert "CXL_ISOLD_DURABLE_MONOTONIC_USEC" not in detected, detected
            assert int(detected["CXL_ISOLD_DETECTED_MONOTONIC_USEC"]) > 0, detected
            event_id = detected["CXL_ISOLD_EVENT_ID"]
            failures = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_RECORD_WRITE_FAILED, CXL_ISOLD_EVENT_ID=event_id)
            assert all(f["PRIORITY"] == "3" for f in failures), failures
            assert any("No space left on device" in f["MESSAGE"] for f in failures), [f["MESSAGE"] for f in failures]
            if kmsg.fd is not None:
                (rec, *_) = kmsg.wait_for("cxl-isold[", f"CXL isolation event {event_id} on {p_full}",
                                          "No space left on device")
                assert rec["priority"] == 3, rec
            kmsg.close()
            runs = harness.wait_until(lambda: harness.read_env_files(env_dir).get(event_id) if os.path.isdir(env_dir)
                                      else None, timeout=20, what="the exec policy despite the full state dir")
            assert len(runs) == 1 and runs[0]["CXL_ISOLD_PORT"] == p_full, runs
            harness.wait_until(lambda: logind.method_calls(), timeout=20, what="the reboot request")
            assert logind.method_calls() == [("RebootWithFlags", [0])], logind.method_calls()
            assert event_id not in {r.get("id") for r in whole_lines(d.state_dir + "/events.jsonl")}

            wait_plan_done(d, event_id, "reboot")

            # 2. Space is back: recorded again, whole.
            os.unlink(filler)
            tb.inject(p_back, "mem-link-down")
            (ev_back,) = d.wait_for_event(p_back)
            d.wait_for_actions(ev_back["id"], 1)
            (logged,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED, CXL_ISOLD_EVENT_ID=ev_back["id"])
            assert int(logged["CXL_ISOLD_DURABLE_MONOTONIC_USEC"]) >= ev_back["monotonic_usec"], logged

            # 3. Full again with the file mid-page: the next line may be written only in part (ENOSPC after
            # the bytes that fit); whatever happened to it, the record must stay line-aligned.
            filler = fill(state)
            failed = None
            for n in range(1, 16):
                if n > 1:
                    tb.clear(p_torn)
                    harness.wait_until(lambda: sum(m.startswith(f"{p_torn}: isolation cleared")
                                                   for m in d.journal.messages()) >= n - 1,
                                       timeout=10, what="the daemon to see the clear")
                tb.inject(p_torn, "mem-link-down")
                (e,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED, CXL_ISOLD_PORT=p_torn,
                                          count=n)[n - 1:]
                eid = e["CXL_ISOLD_EVENT_ID"]
                harness.wait_until(lambda: harness.read_env_files(env_dir).get(eid), timeout=20,
                                   what="the exec policy of an event on the full fs")
                wait_plan_done(d, eid, "exec")
                if d.journal.find(MESSAGE_ID=MESSAGE_ID_RECORD_WRITE_FAILED, CXL_ISOLD_EVENT_ID=eid):
                    failed = eid
                    break
            # Page-granular tmpfs: lines fit in the last page until one does not; that write is cut short
            # by ENOSPC after the bytes that fit.
            assert failed, "15 events on a full state dir and no record write failed"
            print(f"the record write of event {n} on the full fs failed")
            os.unlink(filler)
            tb.inject(p_after, "mem-link-down")
            (ev_after,) = d.wait_for_event(p_after)
            d.wait_for_actions(ev_after["id"], 1)
            records = whole_lines(d.state_dir + "/events.jsonl")
            ids = [r["id"] for r in records if r["type"] == "event"]
            assert ev_back["id"] in ids and ev_after["id"] in ids, ids
            assert failed not in ids, "an event whose record write failed was read back"
            assert len(ids) == len(set(ids)), ids

            assert d.proc.poll() is None, "daemon exited"
            assert d.stop() == 0
            # 4. A restart reads the record back: nothing damaged.
            d.start()
            d.notify.wait_for("STATUS", lambda v: v.startswith("Watching"))
            damaged = [m for m in d.journal.messages() if "damaged line" in m]
            assert not damaged, damaged
            assert d.stop() == 0
        except BaseException:
            print(d.output(), file=sys.stderr)
            try:
                with open(os.path.join(state, "events.jsonl"), "rb") as f:
                    print("events.jsonl ends with:", f.read()[-400:], file=sys.stderr)
            except OSError:
                pass
            raise
        finally:
            d.cleanup()
            logind.close()
            subprocess.run(["umount", "-l", state])
    if kmsg.unavailable:
        harness.skip(f"all checked but the kernel log: {kmsg.unavailable}")
    print("ok: full state dir: journal crit + record failure err (journal and kernel log), exec and reboot ran; "
          "record stays whole")


if __name__ == "__main__":
    main()
