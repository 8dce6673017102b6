#!/usr/bin/env bash
# Every published experiment runs its `smoke` preset to the end and reports (DESIGN.md §9).
# usage: test_experiment_presets.sh WHATIF SOURCE_DIR
set -u
whatif=$1 source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
for script in "$source"/experiments/*.lua; do
  name=$(basename "$script" .lua)
  if "$whatif" run "$script" --preset smoke --out "$work/$name" >"$work/$name.log" 2>&1 &&
     "$whatif" report "$work/$name" >/dev/null 2>>"$work/$name.log" &&
     grep -q "complete\|skipped" "$work/$name.log" && [ -s "$work/$name/report.md" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name (smoke preset)"
    tail -n 20 "$work/$name.log"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
