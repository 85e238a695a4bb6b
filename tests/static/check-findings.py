#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every cppcheck and clang-tidy finding over lib/ and daemon/ is either justified or fails the run.

Two kinds of justification:

1. Checked here, per finding: a leak report (cppcheck memleak/resourceLeak, clang-tidy unix.Malloc)
   on a variable that the enclosing function declares with a _cleanup_ attribute. Neither cppcheck 2.10
   nor clang 14's analyzer models __attribute__((cleanup)), so every early return looks like a leak;
   the check proves the declaration is there (ASan's leak checker and memcheck cover the rest, in
   tests/run-all.sh). A leak report on a variable without _cleanup_ is NOT accepted.
2. Listed in justified.conf with a reason: "tool|file|check|code  # why", code being the flagged source
   line as it reads (whitespace trimmed), so an entry survives edits elsewhere in the file and stops
   matching when that very line changes.

usage: check-findings.py TOP BUILD_DIR CPPCHECK_OUTPUT CLANG_TIDY_OUTPUT JUSTIFIED_CONF
Prints every finding with its verdict; exits 1 when any is unjustified, 0 otherwise."""

import os
import re
import sys

CPPCHECK_LINE = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+): \w+\((?P<check>[^)]+)\): (?P<msg>.*)$")
TIDY_LINE = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):\d+: warning: (?P<msg>.*) \[(?P<check>[^\]]+)\]$")
CPPCHECK_LEAK = re.compile(r"^(?:Memory|Resource) leak: (?P<var>[\w.]+)$")
TIDY_LEAK = re.compile(r"^Potential leak of memory pointed to by '(?P<var>[\w.]+)'$")


def relative(top, build, path):
    """clang-tidy names files as the compile database does (relative to the build dir), cppcheck as given."""
    if not os.path.isabs(path):
        path = os.path.join(top, path) if os.path.exists(os.path.join(top, path)) else os.path.join(build, path)
    return os.path.relpath(os.path.normpath(path), top)


def parse(top, build, path, pattern, tool):
    out = []
    with open(path, errors="replace") as f:
        for raw in f:
            m = pattern.match(raw.rstrip("\n"))
            if m:
                out.append({"tool": tool, "file": relative(top, build, m["file"]), "line": int(m["line"]),
                            "check": m["check"], "msg": m["msg"]})
    for x in out:
        try:
            with open(os.path.join(top, x["file"]), errors="replace") as src:
                x["code"] = " ".join(src.read().split("\n")[x["line"] - 1].split())
        except (OSError, IndexError):
            x["code"] = ""
    # clang-tidy reports a header's finding once per file that includes it.
    seen, unique = set(), []
    for x in out:
        k = (x["tool"], x["file"], x["line"], x["check"], x["msg"])
        if k not in seen:
            seen.add(k)
            unique.append(x)
    return unique


def cleanup_declared(top, finding, var):
    """var (its base, for 's.config') is declared _cleanup_ between its function's opening brace and the line."""
    base = var.split(".")[0]
    with open(os.path.join(top, finding["file"]), errors="replace") as f:
        lines = f.read().split("\n")
    start = min(finding["line"], len(lines)) - 1
    while start > 0 and not lines[start].startswith("{"):   # the function's opening brace (systemd style)
        start -= 1
    body = "\n".join(lines[start:finding["line"]])
    # A declaration statement that starts with a _cleanup_ attribute, up to its ';' (it may span lines).
    for decl in re.finditer(r"_cleanup_\w*(?:\([^)]*\))?\s[^;]*;", body):
        if re.search(r"[\s*,]" + re.escape(base) + r"\s*(?:=|,|;|\[)", decl.group(0)):
            return True
    return False


def load_justified(path):
    entries = {}
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key, sep, why = line.partition("  # ")
            fields = key.split("|", 3)
            if not sep or not why.strip() or len(fields) != 4:
                sys.exit(f"{path}:{n}: expected 'tool|file|check|code  # reason', got: {line}")
            entries[tuple(fields)] = {"why": why.strip(), "line": n, "used": 0}
    return entries


def main():
    top, build, cppcheck_out, tidy_out, justified_path = sys.argv[1:6]
    findings = (parse(top, build, cppcheck_out, CPPCHECK_LINE, "cppcheck")
                + parse(top, build, tidy_out, TIDY_LINE, "clang-tidy"))
    justified = load_justified(justified_path)
    bad = 0
    for x in findings:
        leak = (CPPCHECK_LEAK if x["tool"] == "cppcheck" else TIDY_LEAK).match(x["msg"])
        entry = justified.get((x["tool"], x["file"], x["check"], x["code"]))
        where = f'{x["file"]}:{x["line"]}: {x["tool"]} {x["check"]}: {x["msg"]}'
        if leak and x["check"] in ("memleak", "resourceLeak", "clang-analyzer-unix.Malloc") \
                and cleanup_declared(top, x, leak["var"]):
            print(f"ok (_cleanup_ declared)  {where}")
        elif entry:
            entry["used"] += 1
            print(f"ok ({os.path.basename(justified_path)}:{entry['line']})  {where}")
        else:
            bad += 1
            print(f"UNJUSTIFIED  {where}\n    key: {x['tool']}|{x['file']}|{x['check']}|{x['code']}")
    for key, entry in justified.items():
        if not entry["used"]:
            print(f"note: {justified_path}:{entry['line']} matches nothing any more, remove it: {'|'.join(key)}")
    print(f"{len(findings)} finding(s), {bad} unjustified")
    if bad:
        print("Fix each UNJUSTIFIED finding, or add it to tests/static/justified.conf with the reason it is not a"
              " defect (docs/STATIC-ANALYSIS.md).")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
