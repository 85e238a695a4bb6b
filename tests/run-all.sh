#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# README command (2): install what is missing, build with warnings as errors,
# run every test tier (unit, integration, qemu), then the whole suite again
# under ASan+UBSan, then integration tests with the daemon under valgrind
# memcheck, then cppcheck and clang-tidy (every finding fixed or justified in
# tests/static/justified.conf), then each fuzzer briefly. Prints one closing line
# "N passed, N failed, N skipped" over everything and exits non-zero on any
# failure. Knobs for developers: CXL_ISOLD_SKIP_ASAN=1, CXL_ISOLD_SKIP_FUZZ=1,
# CXL_ISOLD_SKIP_VALGRIND=1, CXL_ISOLD_SKIP_STATIC=1, CXL_ISOLD_FUZZ_SECONDS (default 20 per target).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

tests/install-deps.sh || exit 1

total_pass=0 total_fail=0 total_skip=0
failed_phases=()

count_meson_results() {        # $1 = build dir: add its testlog.json results to the totals
        local counts
        counts=$(/usr/bin/python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): p += 1
        elif r == "SKIP": s += 1
        else: f += 1
except FileNotFoundError:
    f += 1
print(p, f, s)
PY
)
        read -r p f s <<<"$counts"
        total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + s))
}

run_phase() {                  # $1 = name, $2 = build dir, $3.. = meson setup options
        local name=$1 dir=$2; shift 2
        echo "=== $name: setup $dir $*"
        if [ -d "$dir" ]; then
                meson setup --reconfigure "$dir" "$@" >/dev/null || meson setup --wipe "$dir" "$@" >/dev/null
        else
                meson setup "$dir" "$@" >/dev/null
        fi || { failed_phases+=("$name(setup)"); total_fail=$((total_fail + 1)); return; }
        meson compile -C "$dir" || { failed_phases+=("$name(build)"); total_fail=$((total_fail + 1)); return; }
        meson test -C "$dir" --print-errorlogs --num-processes 2 ${MESON_TEST_ARGS:-} || failed_phases+=("$name")
        count_meson_results "$dir"
}

run_phase "tests" build -Dwerror=true

if [ "${CXL_ISOLD_SKIP_ASAN:-0}" != 1 ]; then
        # The QEMU guest runs the uninstrumented build; here only the host tiers are repeated.
        ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        MESON_TEST_ARGS="--no-suite qemu" \
                run_phase "asan+ubsan" build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
fi

if [ "${CXL_ISOLD_SKIP_VALGRIND:-0}" != 1 ] && [ -x tests/valgrind/run-integration-valgrind.sh ]; then
        echo "=== valgrind (integration, daemon under memcheck)"
        tests/valgrind/run-integration-valgrind.sh build; rc=$?
        if [ $rc -eq 0 ]; then total_pass=$((total_pass + 1))
        elif [ $rc -eq 77 ]; then total_skip=$((total_skip + 1))
        else total_fail=$((total_fail + 1)); failed_phases+=("valgrind"); fi
fi

if [ "${CXL_ISOLD_SKIP_STATIC:-0}" != 1 ]; then
        echo "=== static analysis (cppcheck, clang-tidy; every finding fixed or justified)"
        tests/static/run-static-analysis.sh build; rc=$?
        if [ $rc -eq 0 ]; then total_pass=$((total_pass + 1))
        elif [ $rc -eq 77 ]; then total_skip=$((total_skip + 1))
        else total_fail=$((total_fail + 1)); failed_phases+=("static-analysis"); fi
fi

if [ "${CXL_ISOLD_SKIP_FUZZ:-0}" != 1 ] && [ -x tests/fuzz/run-fuzzers.sh ]; then
        echo "=== fuzzers"
        if tests/fuzz/run-fuzzers.sh "${CXL_ISOLD_FUZZ_SECONDS:-20}"; then
                total_pass=$((total_pass + 1))
        else
                total_fail=$((total_fail + 1)); failed_phases+=("fuzz")
        fi
fi

[ ${#failed_phases[@]} -eq 0 ] || echo "failed phases: ${failed_phases[*]}"
echo "${total_pass} passed, ${total_fail} failed, ${total_skip} skipped"
[ "$total_fail" -eq 0 ] && [ ${#failed_phases[@]} -eq 0 ]
