#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The journal catalog and daemon/message-ids.h must describe the same ids.

Fails when an id is added to the header without a catalog entry (or an
entry outlives its id), when an entry lacks a header field or prose, when
prose is wider than the catalog's 76 columns, and when an @FIELD@
substitution names a field the daemon never sets (a typo shows up as a
literal @FIELD@ in `journalctl -x`). When journalctl is there, the catalog
is also compiled with it into a scratch root and every id must come back.

usage: test_catalog.py SOURCE_ROOT
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

REQUIRED_HEADERS = ("Subject", "Defined-By", "Support", "Documentation")


def message_ids(header):
    ids = {}
    for name, value in re.findall(r'^#define\s+(MESSAGE_ID_\w+)\s+"([^"]*)"', open(header).read(), re.M):
        if not re.fullmatch(r"[0-9a-f]{32}", value):
            raise AssertionError(f"{name}={value!r} is not 32 lower-case hex digits")
        if value in ids.values():
            raise AssertionError(f"{name} reuses the id {value}")
        ids[name] = value
    if not ids:
        raise AssertionError(f"no MESSAGE_ID_ defines found in {header}")
    return ids


def catalog_entries(path):
    """{id: (headers dict, prose lines)} in the systemd catalog format."""
    entries, current = {}, None
    for lineno, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if current is None and (line.startswith("#") or line == ""):
            continue
        m = re.fullmatch(r"-- ([0-9a-f]{32})", line)
        if m:
            if m.group(1) in entries:
                raise AssertionError(f"{path}:{lineno}: second entry for {m.group(1)}")
            current = entries[m.group(1)] = ({}, [], [lineno])
            continue
        if current is None:
            raise AssertionError(f"{path}:{lineno}: text before the first '-- ID' line")
        headers, prose, state = current
        if len(state) == 1:             # still in the header block
            if line == "":
                state.append("prose")
                continue
            key, sep, value = line.partition(": ")
            if not sep or not value:
                raise AssertionError(f"{path}:{lineno}: header line without 'Key: value': {line!r}")
            headers[key] = value
        else:
            if len(line) > 76:
                raise AssertionError(f"{path}:{lineno}: {len(line)} columns, the catalog wraps at 76")
            prose.append(line)
    return {k: (h, p) for k, (h, p, _) in entries.items()}


def daemon_fields(source_root):
    fields = set()
    for path in glob.glob(os.path.join(source_root, "daemon", "*.[ch]")):
        fields.update(re.findall(r"\b(CXL_ISOLD_[A-Z0-9_]+)=", open(path, encoding="utf-8").read()))
    return fields


def main():
    source_root = sys.argv[1]
    header = os.path.join(source_root, "daemon", "message-ids.h")
    catalog = os.path.join(source_root, "systemd", "cxl-isold.catalog")

    ids = message_ids(header)
    entries = catalog_entries(catalog)

    failures = []
    for name, value in sorted(ids.items()):
        if value not in entries:
            failures.append(f"{name} ({value}) has no entry in {catalog}")
    known = set(ids.values())
    for value in sorted(entries):
        if value not in known:
            failures.append(f"catalog entry {value} matches no MESSAGE_ID_ in {header}")

    fields = daemon_fields(source_root)
    for value, (headers, prose) in sorted(entries.items()):
        for key in REQUIRED_HEADERS:
            if not headers.get(key):
                failures.append(f"entry {value} lacks {key}:")
        if not any(line.strip() for line in prose):
            failures.append(f"entry {value} has no text")
        text = headers.get("Subject", "") + "\n" + "\n".join(prose)
        for field in re.findall(r"@([A-Za-z0-9_]+)@", text):
            if field not in fields:
                failures.append(f"entry {value} substitutes @{field}@, which no file in daemon/ sets")

    journalctl = shutil.which("journalctl")
    if journalctl and not failures:
        with tempfile.TemporaryDirectory() as root:
            catdir = os.path.join(root, "usr/lib/systemd/catalog")
            os.makedirs(catdir)
            shutil.copy(catalog, catdir)
            subprocess.run([journalctl, f"--root={root}", "--update-catalog"], check=True)
            listed = subprocess.run([journalctl, f"--root={root}", "--list-catalog"], check=True,
                                    capture_output=True, text=True).stdout
            compiled = {line.split()[0] for line in listed.splitlines() if line.strip()}
            for value in sorted(known - compiled):
                failures.append(f"journalctl --update-catalog did not take entry {value}")
    elif not journalctl:
        print("# journalctl not found: the compile check is skipped, the rest ran")

    for f in failures:
        print(f"FAIL: {f}")
    print(f"{len(ids)} message ids, {len(entries)} catalog entries, {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
