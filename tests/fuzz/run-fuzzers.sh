#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build (if needed) and run every decode fuzz target for a bounded time.
# Usage: tests/fuzz/run-fuzzers.sh [seconds-per-target]   (default 30; 0 = no time limit)
# Env:   BUILD_DIR (default <repo>/build-fuzz), FUZZ_TARGETS (default: all below),
#        FUZZ_RUNS (stop each target after this many executions; default: no limit)
# Exit:  0 all ran clean; 1 a target crashed, leaked, timed out or hit a check; 2 setup failed.
set -u

seconds=${1:-30}
case "$seconds" in ''|*[!0-9]*) echo "usage: $0 [seconds]" >&2; exit 2;; esac
runs=${FUZZ_RUNS:--1}
case "$runs" in -1) ;; ''|*[!0-9]*) echo "FUZZ_RUNS must be a number" >&2; exit 2;; esac
[ "$seconds" = 0 ] && [ "$runs" = -1 ] && { echo "seconds 0 needs FUZZ_RUNS, or it never ends" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$repo/build-fuzz}
targets=${FUZZ_TARGETS:-"fuzz-config-space fuzz-caparray fuzz-config fuzz-record"}

command -v clang >/dev/null || { echo "clang not found: fuzzing needs clang" >&2; exit 2; }

if [ ! -f "$build/build.ninja" ]; then
        CC=clang meson setup "$build" "$repo" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
                || { echo "meson setup failed" >&2; exit 2; }
fi
paths=()
for t in $targets; do paths+=("tests/fuzz/$t"); done
# Only the fuzz executables: the rest of the tree need not build with clang for this.
ninja -C "$build" "${paths[@]}" || { echo "build failed" >&2; exit 2; }

# Stop at the first UBSan report instead of carrying on past it.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

status=0
for t in $targets; do
        seeds="$here/corpus/${t#fuzz-}"
        work="$build/fuzz-work/$t"
        mkdir -p "$work/corpus" "$work/artifacts"
        case "$t" in
        fuzz-config-space) max_len=4096 ;;
        fuzz-caparray)     max_len=61440 ;;     # 64 KiB block minus the 0x1000 the target zero-fills
        *)                 max_len=4096 ;;
        esac
        echo "=== $t: ${seconds}s (0 = unlimited), ${runs} runs (-1 = unlimited), seeds $seeds"
        # New inputs go to the work corpus (first dir); the committed seeds stay untouched.
        "$build/tests/fuzz/$t" "$work/corpus" "$seeds" \
                -max_total_time="$seconds" -runs="$runs" -max_len="$max_len" -timeout=10 -rss_limit_mb=1024 \
                -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
                -artifact_prefix="$work/artifacts/" 2>"$work/log"
        rc=$?
        grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$work/log"
        if [ $rc -ne 0 ]; then
                echo "!!! $t failed (exit $rc); log: $work/log; artifacts:" >&2
                ls -1 "$work/artifacts" >&2
                tail -40 "$work/log" >&2
                status=1
        fi
done
exit $status
