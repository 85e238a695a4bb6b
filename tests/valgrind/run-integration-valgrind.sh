#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Integration tests with the daemon under valgrind memcheck (harness.py puts CXL_ISOLD_TEST_WRAPPER in
# front of the daemon binary, inside the testbed). Fails on a failed test, on any memcheck error and on
# any definite leak in any daemon process the tests started; prints each offending valgrind log.
#   tests/valgrind/run-integration-valgrind.sh [BUILD_DIR] [TEST.py ...]
# BUILD_DIR defaults to build/ (an uninstrumented build: valgrind and ASan do not mix). Needs root, like
# the integration tier; exits 77 when valgrind is missing.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$top/build}" && pwd) || exit 1
shift || true
tests=("$@")

if ! command -v valgrind >/dev/null; then
        echo "SKIP: valgrind is not installed"
        exit 77
fi
# valgrind 3.19 (Debian 12) does not implement pidfd_open(2) (syscall 434): the daemon then watches its
# children through SIGCHLD instead (daemon/child-watch.c), so the exec-based tests run here too.
if [ ${#tests[@]} -eq 0 ]; then
        tests=(test_metrics.py test_sources.py test_arming.py test-daemon-cli.py
               test-daemon-isolation.py test-daemon-exec.py test-daemon-reload.py test-daemon-unwatchable.py
               test_actions_devdax.py test_actions_reboot.py test_faults_statedir.py test_faults_statedir_ro.py)
fi
if nm "$build/daemon/cxl-isold" 2>/dev/null | grep -q __asan_init; then
        echo "$build is an ASan build; valgrind needs an uninstrumented one" >&2
        exit 2
fi

logdir=$(mktemp -d /tmp/cxl-isold-valgrind.XXXXXX)
supp="$top/tests/valgrind/cxl-isold.supp"
# --error-exitcode makes the daemon exit 99 at SIGTERM when memcheck found anything, so the test fails
# right there too; the logs are checked afterwards for daemons that were killed before their summary.
export CXL_ISOLD_TEST_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
--errors-for-leak-kinds=definite --num-callers=30 --suppressions=$supp --log-file=$logdir/memcheck-%p.log"
# Generous: every start, poll and action is 20-50 times slower under memcheck.
export CXL_ISOLD_VALGRIND=1

failed=()
start=$(date +%s)
for t in "${tests[@]}"; do
        echo "=== $t under valgrind"
        timeout 900 /usr/bin/python3 "$top/tests/integration/$t" "$build" > "$logdir/${t%.py}.out" 2>&1
        rc=$?
        case $rc in
        0) echo "ok" ;;
        77) echo "skipped: $(tail -1 "$logdir/${t%.py}.out")" ;;
        *) echo "FAILED ($rc)"; tail -40 "$logdir/${t%.py}.out"; failed+=("$t") ;;
        esac
done

bad_logs=0
for log in "$logdir"/memcheck-*.log; do
        [ -e "$log" ] || continue
        # --quiet: a clean process leaves an empty log, or only valgrind's own "--PID--" notes (such as
        # "unhandled syscall 434" for pidfd_open, which the daemon falls back from); memcheck's findings
        # are "==PID==" lines.
        if grep -qv '^--[0-9]*-- ' "$log"; then
                echo "=== memcheck findings in $log:"
                cat "$log"
                bad_logs=$((bad_logs + 1))
        fi
done
n_logs=$(ls "$logdir"/memcheck-*.log 2>/dev/null | wc -l)
echo "valgrind: ${#tests[@]} test(s) in $(( $(date +%s) - start )) s, $n_logs daemon process(es), $bad_logs with findings, failed tests: ${failed[*]:-none}"
echo "logs kept in $logdir"
if [ "$n_logs" -eq 0 ]; then
        echo "no daemon ran under valgrind: is harness.py's CXL_ISOLD_TEST_WRAPPER hook gone?" >&2
        exit 1
fi
[ ${#failed[@]} -eq 0 ] && [ "$bad_logs" -eq 0 ]
