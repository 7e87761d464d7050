#!/usr/bin/env bash
# The test suite under load: runs `.ci/run` (the README's test command) RUNS times in a row while a
# CPU hog occupies every core, and fails unless every run passes. Use it on a clean clone to check
# that no test depends on a quiet machine:
#
#     scripts/stress-test.sh [RUNS]        # default 5
#
# The hog is `stress-ng --cpu N` when it is installed (Debian's stress-ng), else N `yes` processes.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cores=$(nproc)
hogs=()
stop_hogs() { ((${#hogs[@]})) && kill "${hogs[@]}" 2>/dev/null; wait 2>/dev/null || true; }
trap stop_hogs EXIT
if command -v stress-ng >/dev/null; then
    stress-ng --cpu "$cores" --quiet &
    hogs+=($!)
else
    for _ in $(seq "$cores"); do yes >/dev/null & hogs+=($!); done
fi
echo "stress-test: $runs runs of .ci/run beside a CPU hog on $cores cores" >&2
passed=0
for run in $(seq "$runs"); do
    start=$(date +%s)
    if bash .ci/run >"/tmp/dbrender-stress-$run.log" 2>&1; then
        passed=$((passed + 1)); result=passed
    else
        result="FAILED (log: /tmp/dbrender-stress-$run.log)"
    fi
    summary=$(grep -E "Test run with" "/tmp/dbrender-stress-$run.log" | tail -1 || true)
    echo "run $run: $result in $(( $(date +%s) - start )) s — $summary" >&2
done
echo "$passed passed, $((runs - passed)) failed"
((passed == runs))
