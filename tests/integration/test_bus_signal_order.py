#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""IsolationDetected goes out as soon as the record is durable and the journal has the entry, not after the
topology walk that completes the event's dax list for its actions (milliseconds of sysfs and /proc reads).

On a private system bus with the project's policy, the dax devices' target_node attributes of the simulated
host are swapped for FIFOs once the daemon is up, so that the walk after an isolation blocks on opening one
of them, deterministically, until this test writes the value. While it is blocked there: the journal entry
and the record line are there, the signal (`cxl-isolctl --json monitor`) has arrived, and the policy's log
action has not run yet (actions wait for the walk). Then the walk is released and the action runs."""

import json
import os
import queue
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MESSAGE_ID_ISOLATION_DETECTED = "2c3855e947ed4fe68082e16d4d190fad"
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POLICY_FILE = os.path.join(SOURCE_ROOT, "systemd", "org.cxlisold.CxlIsol1.conf")


class Fifos:
    """Every dax device's target_node in the testbed, replaced by a FIFO; restored by release()."""

    def __init__(self, testbed_dir):
        devices = os.path.join(testbed_dir, "sys", "bus", "dax", "devices")
        self.saved = {}
        for name in sorted(os.listdir(devices)):
            path = os.path.join(os.path.realpath(os.path.join(devices, name)), "target_node")
            with open(path) as f:
                self.saved[path] = f.read()
        if not self.saved:
            raise AssertionError("the simulated host has no dax devices")
        for path in self.saved:
            os.mkfifo(path + ".fifo")
            os.rename(path + ".fifo", path)

    def waiting_reader(self):
        """The FIFO someone is blocked opening (or reading), None if none: a non-blocking open for writing
        succeeds only when there is a reader."""
        for path in self.saved:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            os.close(fd)
            return path
        return None

    def release(self):
        """Answer whoever waits on a FIFO with the saved value, then put regular files back."""
        for path, text in self.saved.items():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                fd = None
            if fd is not None:
                os.set_blocking(fd, True)
                os.write(fd, text.encode())
                os.close(fd)
            with open(path + ".new", "w") as f:
                f.write(text)
            os.rename(path + ".new", path)


def lines_of(stream):
    q = queue.Queue()

    def read():
        for line in stream:
            q.put(line)
        q.put(None)
    threading.Thread(target=read, daemon=True).start()
    return q


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()
    ctl = os.path.join(build, "daemon", "cxl-isolctl")
    if not os.access(ctl, os.X_OK):
        harness.skip(f"cxl-isolctl not built: {ctl}")
    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=4)
        port = tb.ports[0]
        tb.arm(port)
        bus = harness.PrivateBus(os.path.join(work, "bus"), POLICY_FILE)
        d = harness.Daemon(build, tb, os.path.join(work, "d"),
                           "[daemon]\npoll-interval=20ms\n\n[policy \"page\"]\naction=log\n",
                           env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        mon = fifos = None
        try:
            d.start()
            mon = subprocess.Popen([ctl, "--json", "monitor"], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
            line = mon.stderr.readline()
            assert "Monitoring" in line, f"monitor did not subscribe: {line!r}"
            out = lines_of(mon.stdout)

            fifos = Fifos(tb.dir)
            tb.inject(port, "mem-link-down")

            (entry,) = d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED, CXL_ISOLD_PORT=port)
            event_id = entry["CXL_ISOLD_EVENT_ID"]
            sig = None
            while sig is None:
                try:
                    text = out.get(timeout=10)
                except queue.Empty:
                    raise AssertionError("no IsolationDetected within 10 s of the journal entry: the signal waits "
                                         "for the topology walk")
                assert text is not None, "monitor exited"
                s = json.loads(text)
                if s.get("signal") == "IsolationDetected":
                    sig = s
            assert sig["event_id"] == event_id and sig["port"] == port, (sig, event_id)

            # The daemon is (or is about to be) blocked in the walk: proven, not assumed.
            blocked = harness.wait_until(fifos.waiting_reader, 10, what="the topology walk to open a FIFO")
            assert [e["id"] for e in d.events(port)] == [event_id], d.records()
            assert not d.action_results(event_id), "an action ran before the topology walk completed"

            fifos.release()
            fifos = None
            (result,) = d.wait_for_actions(event_id, 1)
            assert result["action"] == "log" and result["result"] == "success", result
            assert d.proc.poll() is None, "daemon exited"
            mon.terminate()
            mon.wait(timeout=10)
            mon = None
            assert d.stop() == 0
            print(f"ok: IsolationDetected arrived while the topology walk was blocked on {blocked}; "
                  "the log action ran once it was released")
        except BaseException:
            print(d.output(), file=sys.stderr)
            raise
        finally:
            if fifos:
                fifos.release()
            if mon:
                mon.kill()
                mon.wait()
            d.cleanup()
            bus.stop()


if __name__ == "__main__":
    main()
