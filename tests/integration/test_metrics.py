#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""[daemon] metrics-dir end to end: the real cxl-isold keeps <dir>/cxl_isold.prom current.

The file appears after startup with every port, follows an injected isolation (port isolated,
events_total 1, the policy's action result), carries an advancing last-poll timestamp, is not
rewritten on every poll while idle, and is valid Prometheus text format both for a strict checker
here (the rules of tests/daemon/test-metrics.c's checker, itself checked against bad input first)
and for promtool when it is installed (Debian package "prometheus")."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PROM = "cxl_isold.prom"
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class Invalid(Exception):
    pass


def check_exposition(text):
    """Parse text strictly; returns {(name, ((label, value), ...)): float}. Raises Invalid."""
    if not text.endswith("\n"):
        raise Invalid("no final newline")
    if "\0" in text or "\r" in text:
        raise Invalid("NUL or carriage return")
    families = {}       # name -> {"help", "type", "samples", "closed"}
    current = None
    samples = {}

    def enter(name):
        nonlocal current
        if name != current:
            if name in families:
                raise Invalid(f"family {name} is split")
            families[name] = {"help": False, "type": None, "samples": False}
            current = name
        return families[name]

    for n, line in enumerate(text[:-1].split("\n"), 1):
        if not line:
            raise Invalid(f"line {n}: empty line")
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) ([^ ]+)(?: (.*))?", line)
            if not m or not NAME.fullmatch(m.group(2)):
                raise Invalid(f"line {n}: comment that is not a valid HELP or TYPE")
            f = enter(m.group(2))
            if f["samples"]:
                raise Invalid(f"line {n}: {m.group(1)} after samples")
            if m.group(1) == "HELP":
                if f["help"] or not m.group(3):
                    raise Invalid(f"line {n}: second or empty HELP")
                if re.search(r"\\[^\\n]|\\$", m.group(3)):
                    raise Invalid(f"line {n}: bad escape in HELP")
                f["help"] = True
            else:
                if f["type"] or m.group(3) not in ("counter", "gauge"):
                    raise Invalid(f"line {n}: second or unexpected TYPE")
                if m.group(3) == "counter" and not m.group(2).endswith("_total"):
                    raise Invalid(f"line {n}: counter without _total")
                f["type"] = m.group(3)
            continue
        m = NAME.match(line)
        if not m:
            raise Invalid(f"line {n}: no metric name")
        name = m.group(0)
        f = enter(name)
        if not f["help"] or not f["type"]:
            raise Invalid(f"line {n}: sample before HELP and TYPE")
        f["samples"] = True
        pos = m.end()
        labels = []
        if line[pos:pos + 1] == "{":
            pos += 1
            while True:
                lm = LABEL.match(line, pos)
                if not lm or lm.group(0).startswith("__"):
                    raise Invalid(f"line {n}: bad label name")
                if any(k == lm.group(0) for k, _ in labels):
                    raise Invalid(f"line {n}: label twice")
                pos = lm.end()
                if line[pos:pos + 2] != '="':
                    raise Invalid(f"line {n}: label without =\"")
                pos += 2
                value = ""
                while True:
                    if pos >= len(line):
                        raise Invalid(f"line {n}: unterminated label value")
                    c = line[pos]
                    if c == '"':
                        break
                    if c == "\\":
                        e = line[pos + 1:pos + 2]
                        if e not in ("\\", '"', "n"):
                            raise Invalid(f"line {n}: bad escape in label value")
                        value += {"\\": "\\", '"': '"', "n": "\n"}[e]
                        pos += 2
                        continue
                    value += c
                    pos += 1
                if not value:
                    raise Invalid(f"line {n}: empty label value")
                labels.append((lm.group(0), value))
                pos += 1
                if line[pos:pos + 1] == "}":
                    pos += 1
                    break
                if line[pos:pos + 1] != ",":
                    raise Invalid(f"line {n}: expected , or }}")
                pos += 1
        if line[pos:pos + 1] != " ":
            raise Invalid(f"line {n}: no space before value")
        value_text = line[pos + 1:]
        if " " in value_text:
            raise Invalid(f"line {n}: timestamp or trailing text (not allowed in textfiles)")
        try:
            value = float(value_text)
        except ValueError:
            raise Invalid(f"line {n}: bad value {value_text!r}")
        if f["type"] == "counter" and value < 0:
            raise Invalid(f"line {n}: negative counter")
        key = (name, tuple(labels))
        if key in samples:
            raise Invalid(f"line {n}: duplicate series")
        samples[key] = value
    for name, f in families.items():
        if not f["help"] or not f["type"]:
            raise Invalid(f"family {name} lacks HELP or TYPE")
    return samples


def self_test_checker():
    """The checker must reject what Prometheus rejects, or passing it proves nothing."""
    good = "# HELP a_total x\n# TYPE a_total counter\na_total{p=\"1\"} 2\n"
    check_exposition(good)
    bad = {
        "no newline": good[:-1],
        "counter name": good.replace("a_total", "a"),
        "sample first": "a_total 1\n# HELP a_total x\n# TYPE a_total counter\n",
        "duplicate": good + "a_total{p=\"1\"} 3\n",
        "empty label": good.replace('p="1"', 'p=""'),
        "bad escape": good.replace('p="1"', 'p="\\x"'),
        "timestamp": good.replace("} 2", "} 2 1700000000"),
        "negative": good.replace("} 2", "} -2"),
        "split family": good + "# HELP b x\n# TYPE b gauge\nb 1\na_total{p=\"2\"} 1\n",
        "empty line": good + "\n",
    }
    for why, text in bad.items():
        try:
            check_exposition(text)
        except Invalid:
            continue
        raise AssertionError(f"the strict checker accepted invalid input ({why})")


def promtool_check(path):
    if not shutil.which("promtool"):
        return "promtool not installed"
    with open(path) as f:
        r = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"promtool check metrics failed: {r.stdout}{r.stderr}"
    return "promtool ok"


def read_metrics(path):
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    return check_exposition(text)


def value(samples, name, **labels):
    return samples.get((name, tuple(labels.items())))


def main():
    build = harness.build_dir_from_argv()
    harness.check_environment()
    self_test_checker()

    with harness.Workdir() as work:
        tb = harness.SimTestbed(build, os.path.join(work, "testbed"), n_ports=2,
                                port_opts=[f"{i}:mem=devdax" for i in range(2)])
        bdf, other = tb.ports
        tb.arm(bdf)
        metrics_dir = os.path.join(work, "metrics")
        os.makedirs(metrics_dir)
        prom = os.path.join(metrics_dir, PROM)
        config = ("[daemon]\npoll-interval=50ms\n"
                  f"metrics-dir={metrics_dir}\n\n"
                  "[policy \"default\"]\naction=log\n")
        d = harness.Daemon(build, tb, work, config)
        try:
            d.start()
            s = harness.wait_until(lambda: read_metrics(prom), timeout=15, what=f"{prom} after startup")
            for p in (bdf, other):
                assert value(s, "cxl_isold_port_watchable", port=p) == 1, (p, s)
                assert value(s, "cxl_isold_port_isolated", port=p) == 0, (p, s)
            assert value(s, "cxl_isold_port_armed", port=bdf) == 1, s
            assert not [k for k in s if k[0] == "cxl_isold_events_total"], s
            versions = [dict(k[1]).get("version") for k in s if k[0] == "cxl_isold_build_info"]
            assert len(versions) == 1 and versions[0], s
            assert oct(os.stat(prom).st_mode & 0o777) == "0o644", oct(os.stat(prom).st_mode)

            # The last-poll stamp appears and advances with the periodic refresh (not with every poll).
            stamp = harness.wait_until(lambda: value(read_metrics(prom), "cxl_isold_last_poll_timestamp_seconds"),
                                       timeout=20, what="a last-poll timestamp")
            assert abs(stamp - time.time()) < 120, (stamp, time.time())
            # Idle: over 7 s with a 50 ms poll (~140 polls), the file may be replaced only at the refresh
            # interval (5 s): a per-poll writer would replace it dozens of times.
            inodes = set()
            end = time.monotonic() + 7
            while time.monotonic() < end:
                try:
                    inodes.add(os.stat(prom).st_ino)
                except FileNotFoundError:
                    raise AssertionError("the metrics file vanished while being replaced")
                time.sleep(0.01)
            assert 2 <= len(inodes) <= 4, f"{len(inodes)} versions of the file in 7 s idle"
            newer = value(read_metrics(prom), "cxl_isold_last_poll_timestamp_seconds")
            assert newer > stamp, (stamp, newer)

            tb.inject(bdf, "mem-link-down")
            (ev,) = d.wait_for_event(bdf)
            d.wait_for_actions(ev["id"], 1)

            def isolated_and_counted():
                s = read_metrics(prom)
                if (value(s, "cxl_isold_port_isolated", port=bdf) == 1 and
                        value(s, "cxl_isold_events_total", port=bdf, kind="mem-link-down") == 1 and
                        value(s, "cxl_isold_action_results_total", policy="default", action="log",
                              result="success") == 1):
                    return s
                return None
            s = harness.wait_until(isolated_and_counted, timeout=15, what="the isolation in the metrics")
            assert value(s, "cxl_isold_port_isolated", port=other) == 0, s
            events = [k for k in s if k[0] == "cxl_isold_events_total"]
            assert len(events) == 1, events
            how = promtool_check(prom)

            leftovers = [n for n in os.listdir(metrics_dir) if n != PROM]
            assert not leftovers, f"temporary files left behind: {leftovers}"

            # A reload moving metrics-dir: the new directory gets the file at once, counters kept.
            moved = os.path.join(work, "metrics-moved")
            os.makedirs(moved)
            d.write_config(config.replace(f"metrics-dir={metrics_dir}", f"metrics-dir={moved}"))
            d.send_signal(signal.SIGHUP)
            s = harness.wait_until(lambda: (lambda m: m if m and value(m, "cxl_isold_events_total", port=bdf,
                                                                        kind="mem-link-down") == 1 else None)(
                read_metrics(os.path.join(moved, PROM))), timeout=15, what="the metrics file in the new metrics-dir")
            assert value(s, "cxl_isold_port_isolated", port=bdf) == 1, s
            rc = d.stop()
            assert rc == 0, f"exit status {rc}:\n{d.output()}"
        except BaseException:
            print(d.output())
            raise
        finally:
            d.cleanup()
    print(f"ok: metrics file follows ports and the isolation; strict checker ok, {how}")


if __name__ == "__main__":
    main()
