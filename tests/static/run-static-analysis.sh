#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cppcheck and clang-tidy over lib/ and daemon/, every finding justified or the run fails
# (tests/static/check-findings.py; the commands and the verdicts are explained in docs/STATIC-ANALYSIS.md).
#
# usage: tests/static/run-static-analysis.sh [BUILD_DIR]
# BUILD_DIR (default build/) is a configured meson build dir: clang-tidy reads its compile_commands.json,
# cppcheck its generated config.h. Exit 0 all justified, 1 some not, 77 a tool is missing.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
for tool in cppcheck clang-tidy; do
        if ! command -v "$tool" >/dev/null; then
                echo "SKIP: $tool is not installed (tests/install-deps.sh installs it)"
                exit 77
        fi
done
[ -f "$build/compile_commands.json" ] || { echo "$build/compile_commands.json missing: run meson setup first" >&2; exit 2; }
# Generated headers must exist before the analysers read the sources.
meson compile -C "$build" >/dev/null

out=$(mktemp -d /tmp/cxl-isold-static.XXXXXX)
trap 'rm -rf "$out"' EXIT
cd "$top"

cppcheck --enable=warning,performance,portability --std=c11 --inline-suppr -q \
        --template='{file}:{line}: {severity}({id}): {message}' \
        -I lib -I daemon -I "$build" -D__GNUC__ -DCXL_ISOLD_VERSION='"0"' \
        --suppress=missingIncludeSystem lib daemon 2>"$out/cppcheck.txt"

# Why these checks are off: docs/STATIC-ANALYSIS.md ("Disabled clang-tidy checks").
checks='-*,clang-analyzer-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,'
checks+='-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition,'
checks+='-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling'
python3 -c "
import json, os, sys
top = sys.argv[1]
files = set()
for e in json.load(open(os.path.join(sys.argv[2], 'compile_commands.json'))):
    f = os.path.normpath(os.path.join(e['directory'], e['file']))
    if os.path.relpath(f, top).split(os.sep)[0] in ('lib', 'daemon'):
        files.add(f)
print('\n'.join(sorted(files)))" "$top" "$build" >"$out/files.txt"
echo "clang-tidy over $(wc -l <"$out/files.txt") files, cppcheck over lib/ daemon/"
# Two at a time: the machines this runs on have two cores. clang-tidy's exit status is not the verdict.
xargs -P2 -n4 clang-tidy -p "$build" --quiet -checks="$checks" <"$out/files.txt" >"$out/clang-tidy.txt" 2>/dev/null || true

/usr/bin/python3 "$top/tests/static/check-findings.py" "$top" "$build" "$out/cppcheck.txt" "$out/clang-tidy.txt" \
        "$top/tests/static/justified.conf"
