#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""events.jsonl is rotated at record-max-size= and stays exactly-once across the rotation.

With record-max-size=64K, isolate-and-clear cycles on one port fill the record until it rotates
(events.jsonl.1 appears). A second port isolated then stays isolated while further cycles rotate the
record again, so that port's event line now lives in events.jsonl.1. Checked:
- no generation grows much beyond the limit (the crossing event's line is written whole first), and
  only two generations exist;
- a restart reads both: the still-isolated port is reported as "still isolated" under its recorded
  event id, not detected again, and no line is reported damaged;
- every event of the last two generations is whole and unique."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MESSAGE_ID_ISOLATION_DETECTED = "2c3855e947ed4fe68082e16d4d190fad"
LIMIT = 64 * 1024


def cycle(d, tb, port, n):
    """The n-th isolation of port (1-based), recorded, then cleared and seen cleared."""
    tb.inject(port, "mem-link-down")
    d.journal.wait_for(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED, CXL_ISOLD_PORT=port, count=n)
    tb.clear(port)
    harness.wait_until(lambda: sum(m.startswith(f"{port}: isolation cleared") for m in d.journal.messages()) >= n,
                       what=f"clear {n} of {port}")


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()

    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=2,
                                port_opts=["0:mem=devdax", "1:mem=devdax"])
        churn, held = tb.ports
        for bdf in tb.ports:
            tb.arm(bdf)
        config = ("[daemon]\npoll-interval=20ms\nrecord-max-size=64K\n\n"
                  "[policy \"default\"]\naction=log\n")
        d = harness.Daemon(build, tb, work, config)
        current = os.path.join(d.state_dir, "events.jsonl")
        previous = current + ".1"
        try:
            d.start()
            n = 0

            def churn_until_rotated(before):
                nonlocal n
                while True:
                    n += 1
                    assert n < 400, f"{n} events and no rotation"
                    cycle(d, tb, churn, n)
                    if os.path.exists(previous) and os.stat(previous).st_ino != before:
                        return
                    for path in (current, previous):
                        if os.path.exists(path):
                            assert os.path.getsize(path) < LIMIT + 8192, (path, os.path.getsize(path))

            churn_until_rotated(None)
            first_rotation = n
            before = os.stat(previous).st_ino    # taken first: the held event may itself cross the limit
            tb.inject(held, "mem-link-down")
            (held_event,) = d.wait_for_event(held)
            churn_until_rotated(before)
            print(f"rotated after {first_rotation} events, and again after {n}")
            assert sorted(os.listdir(d.state_dir)) == ["events.jsonl", "events.jsonl.1"], os.listdir(d.state_dir)
            for path in (current, previous):
                assert os.path.getsize(path) < LIMIT + 8192, (path, os.path.getsize(path))
            # The held port's event went with the older generation, which is now events.jsonl.1.
            with open(previous) as f:
                assert held_event["id"] in f.read(), "the held port's event is not in events.jsonl.1"
            assert d.stop() == 0

            d.start()
            d.notify.wait_for("STATUS", lambda v: v.startswith("Watching") and "(1 isolated)" in v)
            time.sleep(0.5)     # 25 poll cycles
            assert not d.journal.find(MESSAGE_ID=MESSAGE_ID_ISOLATION_DETECTED), "re-detected after restart"
            assert any(held_event["id"] in m and "still isolated" in m for m in d.journal.messages()), \
                d.journal.messages()
            assert not [m for m in d.journal.messages() if "damaged" in m], d.journal.messages()
            ids = [e["id"] for e in d.events()]
            assert len(ids) == len(set(ids)) and held_event["id"] in ids, ids
            assert d.stop() == 0
        except BaseException:
            print(d.output(), file=sys.stderr)
            raise
        finally:
            d.cleanup()
    print(f"ok: events.jsonl rotated at 64K twice ({n} events), two generations kept, exactly-once across a restart")


if __name__ == "__main__":
    main()
