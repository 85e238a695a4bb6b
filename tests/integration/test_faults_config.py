#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile configuration through the real binary: `cxl-isold --check-config` on a file with 10 000
sections, a 1 MB line (in the main file, in a drop-in, and as an unterminated last line), a 64 MB line
(more than the memory bound) and 100 000 empty lines. Each must end in bounded time and memory with a non-zero exit and a clear
`file:line: what` error, never a crash or a hang.

tests/daemon/test-config.c checks the same limits on config_load_string() in process (10 000
sections, a line just over CONFIG_LINE_MAX); this checks the binary's reader on files, with sizes
far beyond the limits, and measures the cost from outside (wait4 rusage)."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TIME_MAX = 30.0                 # seconds, generous: the machine is shared
# Peak RSS over `--version` spawned the same way (wait4 counts the forked child before its exec, so
# only the difference says what the binary itself used): the reader holds one bounded line, never the file.
MAXRSS_GROWTH_MAX_KIB = 32 * 1024


def check_config(binary, main_file, dropin_dir):
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "--check-config", "--config", main_file, "--config-dir", dropin_dir],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out = b""
    # Read before waiting, so a chatty failure cannot block on a full pipe.
    out = p.stdout.read(1 << 20)
    p.stdout.close()
    _pid, status, rusage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, out.decode(errors="replace"), time.monotonic() - t0, rusage.ru_maxrss


def write_parts(path, parts):
    """Write a file from pieces (bytes, or (bytes, count) repeated), never holding it whole in this process."""
    with open(path, "wb") as f:
        for part in parts:
            chunk, count = part if isinstance(part, tuple) else (part, 1)
            for _ in range(count):
                f.write(chunk)


def baseline_maxrss(binary):
    p = subprocess.Popen([binary, "--version"], stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    _pid, status, rusage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    assert p.returncode == 0
    return rusage.ru_maxrss


def run_case(binary, work, name, main_parts, dropin_parts=None, expect=None, expect_line=None):
    d = os.path.join(work, name)
    dropins = os.path.join(d, "policy.d")
    os.makedirs(dropins)
    main_file = os.path.join(d, "cxl-isold.conf")
    write_parts(main_file, main_parts)
    bad_file = main_file
    if dropin_parts is not None:
        bad_file = os.path.join(dropins, "50-hostile.conf")
        write_parts(bad_file, dropin_parts)
    base = baseline_maxrss(binary)
    rc, out, seconds, maxrss = check_config(binary, main_file, dropins)
    maxrss -= base
    print(f"{name}: exit {rc} in {seconds:.2f} s, maxrss +{maxrss} KiB over --version, {len(out)} bytes of output")
    assert rc not in (0, None) and rc > 0, f"{name}: exit {rc} (a crash is negative, success is 0)\n{out[:2000]}"
    assert seconds < TIME_MAX, f"{name}: took {seconds:.1f} s"
    assert maxrss < MAXRSS_GROWTH_MAX_KIB, f"{name}: maxrss {maxrss} KiB above --version's"
    assert len(out) < 64 * 1024, f"{name}: {len(out)} bytes of diagnostics (the file's content echoed?)"
    m = re.search(re.escape(bad_file) + r":(\d+): (.*)", out)
    assert m, f"{name}: no '{bad_file}:LINE: ...' diagnostic in:\n{out[:2000]}"
    assert expect in m.group(2), f"{name}: diagnostic {m.group(0)!r} does not say {expect!r}"
    if expect_line is not None:
        assert int(m.group(1)) == expect_line, f"{name}: line {m.group(1)}, expected {expect_line}: {m.group(0)}"
    assert "Configuration OK" not in out, out[:2000]


def main():
    build = harness.build_dir_from_argv()
    binary = os.path.join(build, "daemon", "cxl-isold")
    if not os.access(binary, os.X_OK):
        harness.skip(f"daemon not built: {binary}")
    mib = (b"x" * (1 << 20), 1)

    with harness.Workdir() as work:
        sections = [(b'[policy "p%d"]\naction=log\n' % i) for i in range(10000)]
        # The reader stops at the first section over the limit (4096): its header line is 2 * 4096 + 1.
        run_case(binary, work, "10000-sections", sections, expect="sections", expect_line=2 * 4096 + 1)
        run_case(binary, work, "1MB-line-main", [b"[daemon]\npoll-interval=100ms\nstate-dir=/", mib, b"\n"],
                 expect="line longer than", expect_line=3)
        run_case(binary, work, "1MB-line-dropin", [b"[daemon]\n"],
                 [b'[policy "long"]\naction=log\nexec=/', mib, b"\n"], expect="line longer than", expect_line=3)
        run_case(binary, work, "1MB-unterminated", [b"[daemon]\n#", mib], expect="line longer than", expect_line=2)
        # Larger than the memory bound: a reader that held the line (or the file) would exceed it.
        run_case(binary, work, "64MB-line", [b"[daemon]\nstate-dir=/", (mib[0], 64), b"\n"],
                 expect="line longer than", expect_line=2)
        run_case(binary, work, "100000-lines", [b"[daemon]\n", (b"\n", 100000), b"bogus-key=1\n"],
                 expect="bogus-key", expect_line=100002)
    print("ok")


if __name__ == "__main__":
    main()
