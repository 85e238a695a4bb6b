#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The man pages document exactly the options the programs accept.

Every long option in a program's getopt table (`{ "name", ...}` entries of a
`struct option` array) must appear as *--name* in its scdoc page, and every
*--name* in the page's OPTIONS section must be in the table. Covers
cxl-isold (daemon/main.c) always, and cxl-isolctl once its source (a .c
file containing `struct option` and the program name "cxl-isolctl") is in
the tree; its commands must then be documented under COMMANDS too.

usage: test_manpage_options.py SOURCE_ROOT
"""
import glob
import os
import re
import sys


def getopt_long_options(path):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"struct option\s+\w+\[\]\s*=\s*\{(.*?)\n\s*\};", text, re.S)
    if not m:
        raise AssertionError(f"{path}: no struct option table")
    return set(re.findall(r'\{\s*"([a-z0-9-]+)"\s*,', m.group(1)))


def section(text, name):
    m = re.search(rf"^# {re.escape(name)}\n(.*?)(?=^# |\Z)", text, re.M | re.S)
    return m.group(1) if m else ""


def documented_options(scd_text):
    # "*--name*" and the short-and-long form "*-h, --help*" both document --name.
    return set(re.findall(r"\*(?:-[A-Za-z], )?--([a-z0-9-]+)", scd_text))


def check(program, source, page, failures, commands=None):
    accepted = getopt_long_options(source)
    scd = open(page, encoding="utf-8").read()
    options_section = section(scd, "OPTIONS")
    in_page = documented_options(scd)
    for opt in sorted(accepted - in_page):
        failures.append(f"{program}: --{opt} is accepted ({source}) but not documented in {page}")
    for opt in sorted(documented_options(options_section) - accepted):
        failures.append(f"{program}: --{opt} is documented in {page} OPTIONS but {source} does not accept it")
    if commands is not None:
        commands_section = section(scd, "COMMANDS")
        for cmd in sorted(commands):
            if not re.search(rf"^\*{re.escape(cmd)}\*", commands_section, re.M):
                failures.append(f"{program}: command {cmd} is not documented under COMMANDS in {page}")
    print(f"{program}: {len(accepted)} options checked against {os.path.basename(page)}")


def main():
    root = sys.argv[1]
    man = os.path.join(root, "docs", "man")
    failures = []
    check("cxl-isold", os.path.join(root, "daemon", "main.c"), os.path.join(man, "cxl-isold.8.scd"), failures)

    ctl_sources = [p for p in glob.glob(os.path.join(root, "**", "*.c"), recursive=True)
                   if "/build" not in p[len(root):] and "/tests/" not in p[len(root):]
                   and "cxl-isolctl" in open(p, encoding="utf-8", errors="replace").read()
                   and "struct option" in open(p, encoding="utf-8", errors="replace").read()]
    if ctl_sources:
        commands = ["status", "list", "show", "history", "ack", "arm", "disarm", "drill", "monitor"]
        check("cxl-isolctl", ctl_sources[0], os.path.join(man, "cxl-isolctl.8.scd"), failures, commands)
    else:
        print("# cxl-isolctl source not in the tree yet: only its page's command list is checked")
        check_commands_only = section(open(os.path.join(man, "cxl-isolctl.8.scd")).read(), "COMMANDS")
        for cmd in ["status", "list", "show", "history", "ack", "arm", "disarm", "drill", "monitor"]:
            if not re.search(rf"^\*{cmd}\*", check_commands_only, re.M):
                failures.append(f"cxl-isolctl: command {cmd} is not documented under COMMANDS")

    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
