#!/usr/bin/env bash
# CLI contract: exit codes (0 ok, 1 failed run or bad input, 2 usage) and one-line errors.
# usage: test_cli.sh WHATIF TEST_PLUGIN_DIR SCRIPTS_DIR
set -u
whatif=$1 test_plugins=$2 here=$3
source "$(dirname "$0")/expect.sh"

# An error is exactly one line starting with "error:".
expect_one_line_error() {
  local code=$1
  shift 2
  local out status
  out=$("$@" 2>&1)
  status=$?
  checks=$((checks + 1))
  if [ "$status" -ne "$code" ] || [ "$(wc -l <<<"$out")" -ne 1 ] || [[ "$out" != error:* ]]; then
    failures=$((failures + 1))
    echo "FAIL (want one error line, exit $code): $* -> exit $status:"
    sed 's/^/    /' <<<"$out"
  fi
}

expect 0 "usage: whatif" -- "$whatif" --help
expect 2 "usage: whatif" -- "$whatif"
expect 2 "unknown command 'rnu' \(did you mean 'run'\?\)" -- "$whatif" rnu
expect 0 "--set" -- "$whatif" run --help
expect 0 "plugins list" -- "$whatif" plugins --help
expect 0 "--threads" -- "$whatif" version --help
expect 0 "libtorch +1\.13" -- "$whatif" version
expect 0 "threads +3" -- "$whatif" version --threads 3
expect 0 "bf16 autocast" -- "$whatif" version
expect 0 "^cpu .*(AVX|no AVX2).*AMX" -- "$whatif" version
expect 0 "^aten kernels +(DEFAULT|AVX2|AVX512) \\(elementwise" -- "$whatif" version
expect 0 "^onednn " -- "$whatif" version

expect 0 "schedule +constant-snr +0\.1\.0 .*libwhatif-plugin-template\.so" -- "$whatif" plugins list
expect 0 "snr +number +1\.0 +signal-to-noise" -- "$whatif" plugins info schedule/constant-snr
expect 1 "unknown schedule 'constant-sn' \(did you mean 'constant-snr'\?\)" -- "$whatif" plugins info schedule/constant-sn
expect 2 "expected KIND/NAME" -- "$whatif" plugins info constant-snr
expect 2 "unknown action" -- "$whatif" plugins lst
expect_one_line_error 1 -- "$whatif" plugins list --plugin-path "$test_plugins/libwhatif-plugin-bad-hash.so"
expect 1 "refused: interface hash 0123456789abcdef" -- "$whatif" plugins list --plugin-path "$test_plugins/libwhatif-plugin-bad-hash.so"
expect 1 "refused: ABI version 999" -- "$whatif" plugins list --plugin-path "$test_plugins/libwhatif-plugin-bad-abi.so"
expect_one_line_error 1 -- "$whatif" plugins list --plugin-path /nonexistent/folder
expect 1 "neither a folder nor a file" -- env WHATIF_PLUGIN_PATH=/nonexistent "$whatif" plugins list

expect 0 "logsnr 0\.69314" -- "$whatif" run "$here/ok.lua" --out "$work/run1"
[ -f "$work/run1/whatif.log" ] || { echo "FAIL: no log file in the run directory"; failures=$((failures + 1)); }
expect 0 "logsnr 1\.09861" -- "$whatif" run "$here/ok.lua" --preset smoke --out "$work/run2"
expect 0 "logsnr 1\.60943" -- "$whatif" run "$here/ok.lua" --set snr=5 --out "$work/run3"
expect 0 '"snr": 5\.0' -- "$whatif" run "$here/ok.lua" --set snr=5 --dry-run
[ ! -e runs/ok ] || { echo "FAIL: --dry-run created a run directory"; failures=$((failures + 1)); }
expect 1 "^stack traceback:" -- "$whatif" run "$here/typo.lua" --out "$work/run4"
expect 1 "typo\.lua:3: schedule/constant-snr: unknown option 'snrr' \(did you mean 'snr'\?\)" -- "$whatif" run "$here/typo.lua" --out "$work/run4"
expect 1 "unknown parameter 'sn' \(did you mean 'snr'\?\)" -- "$whatif" run "$here/ok.lua" --set sn=1 --out "$work/run5"
expect 1 "expected a finite number, got 'high'" -- "$whatif" run "$here/ok.lua" --set snr=high --out "$work/run5"
expect 1 "expected a finite number, got 'nan'" -- "$whatif" run "$here/ok.lua" --set snr=nan --out "$work/run5"
expect 1 "unknown preset" -- "$whatif" run "$here/ok.lua" --preset paper --out "$work/run5"
expect 0 "attributes ok" -- "$whatif" run "$here/attributes.lua" --out "$work/run7"
# ctx:sample's options: a dataset's grid is taken, a wrong one is refused with its reason.
expect 0 "clip api ok" -- "$whatif" run "$here/clip_api.lua" --out "$work/clip-ok"
expect 1 "model:embed: give images = volumes, or texts = \{...\}: one of them" -- "$whatif" run "$here/clip_api.lua" --set op=embed --out "$work/clip1"
expect 1 "model:embed: whatif.diffusion has no joint image.text space" -- "$whatif" run "$here/clip_api.lua" --set op=diffusion --out "$work/clip2"
expect 1 "retrieval: 1 labels for 2 examples" -- "$whatif" run "$here/clip_api.lua" --set op=labels --out "$work/clip3"
expect 1 "auc: the labels need both classes" -- "$whatif" run "$here/clip_api.lua" --set op=auc --out "$work/clip4"
expect 1 "clip: a contrastive image.text model writes no images" -- "$whatif" run "$here/clip_api.lua" --set op=generate --out "$work/clip5"
expect 1 "clip-score: give image and text embeddings of the same shape" -- "$whatif" run "$here/clip_api.lua" --set op=clip_score --out "$work/clip6"
# The chest-change metric and the synthetic-chest window from a script.
expect 0 "chest measure ok" -- "$whatif" run "$here/chest_measure.lua" --out "$work/chest-ok"
expect 1 "chest-change: call fit\(dataset\) first" -- "$whatif" run "$here/chest_measure.lua" --set op=unfitted --out "$work/chest1"
expect 1 "chest-change: generated and source must be CT volumes \[B, 1, D, H, W\]" -- "$whatif" run "$here/chest_measure.lua" --set op=shape --out "$work/chest2"
expect 1 "option 'window' must be \{\} or \{low, high\} with high > low" -- "$whatif" run "$here/chest_measure.lua" --set op=window --out "$work/chest3"
expect 0 "grid spacing [0-9.]+ [0-9.]+ [0-9.]+" -- "$whatif" run "$here/sample_geometry.lua" --out "$work/geo-ok"
expect 1 "ctx:sample\('x'\): geometry spacing must be positive" -- "$whatif" run "$here/sample_geometry.lua" --set op=spacing --out "$work/geo1"
expect 1 "ctx:sample\('x'\): unknown field 'geometri' \(note, truth, geometry\)" -- "$whatif" run "$here/sample_geometry.lua" --set op=field --out "$work/geo2"
expect 1 "ctx:sample\('x'\): geometry must be a dataset or" -- "$whatif" run "$here/sample_geometry.lua" --set op=kind --out "$work/geo3"
expect 1 "ctx:sample\('x'\): geometry direction is singular" -- "$whatif" run "$here/sample_geometry.lua" --set op=direction --out "$work/geo4"
expect_one_line_error 1 -- "$whatif" run "$work/missing.lua"
expect 2 "threads" -- "$whatif" run "$here/ok.lua" --threads many
expect 2 "unrecognised option|unrecognized option" -- "$whatif" run "$here/ok.lua" --frobnicate
expect 1 "--device cuda" -- "$whatif" run "$here/ok.lua" --device cuda --out "$work/run6"
expect 1 "expected cpu or cuda" -- "$whatif" run "$here/ok.lua" --device tpu --out "$work/run6"

# Help and usage errors name positional arguments as users type them.
expect 2 "^error: SCRIPT is required but missing" -- "$whatif" run
expect 2 "^error: RUN_DIR is required but missing" -- "$whatif" report
expect 0 "  SCRIPT +experiment script" -- "$whatif" run --help
checks=$((checks + 1))
"$whatif" run --help | grep -qE -- "--script( |$)|--run-dir" && fail "run --help shows an internal option name"

# A run directory is locked while a run writes into it; the lock of a finished run is taken over.
mkdir -p "$work/locked"
expect 1 "is in use by another whatif run" -- flock "$work/locked/.whatif.lock" "$whatif" run "$here/ok.lua" --out "$work/locked"
expect 0 "" -- "$whatif" run "$here/ok.lua" --out "$work/locked"
expect 0 "" -- "$whatif" run "$here/ok.lua" --out "$work/locked"

# Model families: listed, described with the request defaults, and those defaults are the ones
# docs/lua-api.md states.
expect 0 "model +diffusion" -- "$whatif" plugins list
expect 0 "fit options:" -- "$whatif" plugins info model/diffusion
expect 1 "did you mean 'diffusion'" -- "$whatif" plugins info model/difusion
info=$("$whatif" plugins info model/diffusion 2>&1)
docs="$here/../../docs/lua-api.md"
for key in steps batch_size lr warmup min_lr_ratio weight_decay guidance t_start; do
  checks=$((checks + 1))
  value=$(awk -v k="$key" '$1 == k { print $3; exit }' <<<"$info")
  if ! grep -qE "\| \`$key\` \| $value( |\|)" "$docs"; then
    failures=$((failures + 1))
    echo "FAIL: docs/lua-api.md does not give $key the default $value that plugins info shows"
  fi
done

# Script bounds: an endless loop is stopped (even inside pcall), the Lua heap is capped, a huge
# grid is refused before it is built; each within seconds, with a line naming the limit.
printf 'while true do end\n' >"$work/spin.lua"
printf 'while true do pcall(function() while true do end end) end\n' >"$work/spin_pcall.lua"
printf 'local t = {}\nfor i = 1, 1e9 do t[i] = ("x"):rep(64) .. i end\n' >"$work/hog.lua"
printf 'local v = {}\nfor i = 1, 1000 do v[i] = i end\nwhatif.grid{a = v, b = v, c = v}\n' >"$work/huge_grid.lua"
started=$SECONDS
expect 1 "spin\.lua:1: stopped: Lua code ran 1 s without calling whatif.*--script-timeout" -- \
  "$whatif" run "$work/spin.lua" --out "$work/spin" --script-timeout 1
expect 1 "stopped: Lua code ran 1 s without calling whatif" -- \
  "$whatif" run "$work/spin_pcall.lua" --out "$work/spin_pcall" --script-timeout 1
expect 1 "hog\.lua: the script's Lua memory .* limit of 64 MB; raise --script-memory" -- \
  "$whatif" run "$work/hog.lua" --out "$work/hog" --script-memory 64
printf 'local p = whatif.params{n = 3, presets = {big = {n = 1.2e24}}}\n' >"$work/huge_int.lua"
expect 1 "huge_int\.lua:1: .*'n'.*expected" -- "$whatif" run "$work/huge_int.lua" --preset big --out "$work/huge_int"
expect 1 "whatif.grid: more than 100000 combinations" -- "$whatif" run "$work/huge_grid.lua" --out "$work/grid"
expect 2 "--script-timeout: expected seconds" -- "$whatif" run "$work/spin.lua" --script-timeout -3
checks=$((checks + 1))
[ $((SECONDS - started)) -lt 30 ] || fail "the script bounds took $((SECONDS - started)) s to act"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
