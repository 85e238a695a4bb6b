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
        # A watchdog the poll cycle cannot keep up with is called out (50 ms polls, 80 ms WatchdogSec=).
        stderr, _ = run(build, tb, work, "watchdog", ["--log-target", "console"], watchdog_usec=80_000)
        assert "is not below half of WatchdogSec= (80 ms)" in stderr, stderr
        stderr, _ = run(build, tb, work, "watchdog-ok", ["--log-target", "console"], watchdog_usec=2_000_000)
        assert "WatchdogSec=" not in stderr, stderr
    print("ok: console, and auto following $JOURNAL_STREAM; a too-short watchdog is called out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
