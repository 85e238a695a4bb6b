#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""--log-target: console writes readable lines to stderr and nothing to the journal; auto picks
the journal exactly when $JOURNAL_STREAM names our stderr (systemd's promise), else the console."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MESSAGE_ID_PORT_WATCHABLE = "adfdd491932e426d8b39fe66cdedb954"
CONFIG = "[daemon]\npoll-interval=50ms\n\n[policy \"default\"]\naction=log\n"


def run(build, tb, work, name, args, journal_stream=False, inject=None, config=CONFIG, watchdog_usec=None):
    d = harness.Daemon(build, tb, os.path.join(work, name), config, args=args, name=name,
                       watchdog_usec=watchdog_usec)
    try:
        d.start(journal_stream=journal_stream)
        if inject:
            tb.inject(inject, "mem-link-down")
            (ev,) = d.wait_for_event(inject)
            d.wait_for_actions(ev["id"], 1)
        assert d.stop() == 0
        with open(d.stderr_path) as f:
            return f.read(), d.journal.poll()
    except BaseException:
        print(d.output(), file=sys.stderr)
        raise
    finally:
        d.cleanup()


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()
    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=2,
                                port_opts=["0:mem=devdax", "1:no-ti"])
        good, bad = tb.ports
        tb.arm(good)

        # A policy that would reset a memory port: warned about at start, never part of this event's plan.
        bad_policy = (f"\n[policy \"bad\"]\nmatch-port={good}\nmatch-reason=cache-timeout\naction=reset\n")
        stderr, journal = run(build, tb, work, "console", ["--log-target", "console"], inject=good,
                              config=CONFIG + bad_policy)
        assert any(f'policy "bad" lists reset but applies to memory port {good}' in line and
                   "refused when it runs" in line for line in stderr.splitlines()), stderr
        assert journal == [], journal
        lines = stderr.splitlines()
        assert f"{good} (host bridge pci0000:0c): watchable, CXL.mem isolation enabled" in lines, stderr
        assert any(line.startswith(f"{bad} (host bridge ") and "not watchable: no Timeout & Isolation capability ("
                   in line for line in lines), stderr
        assert any(line.startswith(f"CXL.mem isolation on {good}") and "mem-link-down" in line for line in lines), stderr
        assert "Stopped" in lines, stderr

        stderr, journal = run(build, tb, work, "auto-journal", ["--log-target", "auto"], journal_stream=True)
        assert any(e.get("MESSAGE_ID") == MESSAGE_ID_PORT_WATCHABLE for e in journal), journal
        assert "watchable" not in stderr, stderr

        stderr, journal = run(build, tb, work, "auto-console", ["--log-target", "auto"])
        assert journal == [], journal
        assert f"{good} (host bridge pci0000:0c): watchable" in stderr, stderr
        # A chatty script is cut at 200 logged lines per stream, so it cannot eat journald's rate-limit
        # budget; the rest is counted. (The port is still isolated: clear it first.)
        tb.clear(good)
        chatty = os.path.join(work, "chatty.sh")
        with open(chatty, "w") as f:
            f.write("#!/bin/sh\nfor i in $(seq 1 250); do echo \"line $i\"; done\necho done >&2\n")
        os.chmod(chatty, 0o755)
        stderr, _ = run(build, tb, work, "chatty", ["--log-target", "console"], inject=good,
                        config=f"[daemon]\npoll-interval=50ms\n\n[policy \"default\"]\naction=exec\nexec={chatty}\n")
        out = [line for line in stderr.splitlines() if ": default exec: stdout: line " in line]
        assert len(out) == 200 and out[-1].endswith("stdout: line 200"), (len(out), out[-1:])
        assert any(line.endswith("default exec: stdout: 50 more line(s) not logged (at most 200 per stream)")
                   for line in stderr.splitlines()), stderr[-2000:]
        assert any(line.endswith("default exec: stderr: done") for line in stderr.splitlines())

        # A watchdog the poll cycle cannot keep up with is called out (50 ms polls, 80 ms WatchdogSec=).
        stderr, _ = run(build, tb, work, "watchdog", ["--log-target", "console"], watchdog_usec=80_000)
        assert "is not below half of WatchdogSec= (80 ms)" in stderr, stderr
        stderr, _ = run(build, tb, work, "watchdog-ok", ["--log-target", "console"], watchdog_usec=2_000_000)
        assert "WatchdogSec=" not in stderr, stderr
    print("ok: console, and auto following $JOURNAL_STREAM; a too-short watchdog is called out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
