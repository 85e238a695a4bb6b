#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The state directory is on a read-only file system (a read-only /var, say), from the start.

The daemon still starts and watches. An isolation then cannot be recorded, and still:
- the event reaches the journal at crit level with its id;
- the record failure reaches the journal at error level AND the real kernel log (/dev/kmsg, read back
  here as the kernel holds it), naming the event, the port and "Read-only file system";
- the reboot policy follows reboot-on-record-failure=: with yes (the default) mock logind is asked
  exactly once, with no it is never asked; either decision is stated in the journal and the kernel log.

Where /dev/kmsg cannot be read (a container), everything else is still checked and the test then exits
77 naming what it could not check. test_faults_statedir.py is the full-file-system counterpart."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_faults_statedir import MESSAGE_ID_ISOLATION_DETECTED, MESSAGE_ID_RECORD_WRITE_FAILED  # noqa: E402
from test_faults_statedir import private_mount_namespace, wait_plan_done  # noqa: E402


def run_case(build, tb, work, port, reboot_on_failure, kmsg):
    """One daemon on a read-only state dir; returns after checking one isolation on port."""
    import test_actions_reboot as reboot    # PrivateLogind: python-dbusmock's logind on a private bus

    case = os.path.join(work, f"reboot-{reboot_on_failure}")
    state = os.path.join(case, "state")
    os.makedirs(state)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k,mode=0750", "tmpfs", state], check=True)
    logind = reboot.PrivateLogind(case, [state])
    option = "" if reboot_on_failure == "default" else f"reboot-on-record-failure={reboot_on_failure}\n"
    config = (f"[daemon]\npoll-interval=50ms\n{option}\n"
              f"[policy \"boot\"]\nmatch-port={port}\naction=log reboot\n")
    d = harness.Daemon(build, tb, case, config, env={"DBUS_SYSTEM_BUS_ADDRESS": logind.address})
    try:
        d.start()
        assert any("Cannot open the event record in" in m and "Read-only file system" in m
                   for m in d.journal.messages()), d.journal.messages()
        assert not os.listdir(state)

        tb.inject(port, "mem-link-down")
        (detected,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED, CXL_ISOLD_PORT=port)
        assert detected["PRIORITY"] == "2", detected
        event_id = detected["CXL_ISOLD_EVENT_ID"]
        failures = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_RECORD_WRITE_FAILED, CXL_ISOLD_EVENT_ID=event_id)
        assert all(f["PRIORITY"] == "3" for f in failures), failures
        assert any("Read-only file system" in f["MESSAGE"] for f in failures), [f["MESSAGE"] for f in failures]
        wait_plan_done(d, event_id, "reboot")

        go = reboot_on_failure in ("default", "yes")
        decision = "rebooting anyway" if go else "not rebooting (reboot-on-record-failure=no)"
        assert any(decision in m for m in d.journal.messages()), d.journal.messages()
        if go:
            harness.wait_until(lambda: logind.method_calls(), timeout=20, what="the reboot request")
        else:
            time.sleep(1.0)     # the plan has ended; a late call would be a bug this gives a chance to show
        calls = logind.method_calls()
        assert calls == ([("RebootWithFlags", [0])] if go else []), calls

        if kmsg.fd is not None:
            (event_rec, *_) = kmsg.wait_for("cxl-isold[", f"CXL isolation event {event_id} on {port}",
                                            "Read-only file system")
            assert event_rec["priority"] == 3, event_rec
            (reboot_rec, *_) = kmsg.wait_for(f"reboot intent of CXL isolation event {event_id}", decision.split(" (")[0])
            assert reboot_rec["priority"] == 3, reboot_rec
        assert d.proc.poll() is None, "daemon exited"
        assert d.stop() == 0
        assert not os.listdir(state)
    except BaseException:
        print(d.output(), file=sys.stderr)
        raise
    finally:
        d.cleanup()
        logind.close()
        subprocess.run(["umount", "-l", state])


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()
    private_mount_namespace()
    kmsg = harness.KernelLog()

    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=3,
                                port_opts=[f"{i}:mem=devdax" for i in range(3)])
        for bdf in tb.ports:
            tb.arm(bdf)
        for port, choice in zip(tb.ports, ("default", "yes", "no")):
            run_case(build, tb, work, port, choice, kmsg)
    kmsg.close()
    if kmsg.unavailable:
        harness.skip(f"journal and reboot decisions checked, the kernel log not: {kmsg.unavailable}")
    print("ok: read-only state dir: event in the journal and the kernel log; reboot-on-record-failure "
          "default/yes asked logind once, no never")


if __name__ == "__main__":
    main()
