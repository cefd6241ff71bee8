#!/usr/bin/env bash
# Runs every test project and prints one closing line: "tests: N passed, N failed, N skipped".
# Exit status: 0 when nothing failed and every project ran.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
dotnet test Xar.sln -c Release --no-build "$@" 2>&1 | tee "$log" || status=$?
passed=0 failed=0 skipped=0 projects=0
while IFS= read -r line; do
    p=$(sed -nE 's/.*Passed: *([0-9]+).*/\1/p' <<<"$line")
    f=$(sed -nE 's/.*Failed: *([0-9]+).*/\1/p' <<<"$line")
    s=$(sed -nE 's/.*Skipped: *([0-9]+).*/\1/p' <<<"$line")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
    projects=$((projects + 1))
done < <(grep -E '^(Passed|Failed)! +- Failed: ' "$log")
if [[ $projects -eq 0 ]]; then
    echo "tests/run.sh: no test project reported results" >&2
    status=1
fi
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 && $status -eq 0 ]]
