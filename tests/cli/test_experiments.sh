#!/usr/bin/env bash
# Experiments end to end: result files, skip on rerun, resume after SIGKILL with the same final
# table, shards, recorded failures, report and verify.
# usage: test_experiments.sh WHATIF SOURCE_DIR
set -u
whatif=$1 source=$2
here=$source/tests/cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 checks=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1
  shift
  checks=$((checks + 1))
  if ! "$@"; then
    failures=$((failures + 1))
    echo "FAIL: $what"
  fi
}
h5() { /usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1]); $2" "$1"; }

# The quickstart's smoke preset: one complete arm with metrics, a curve and samples.
"$whatif" run "$source/experiments/quickstart.lua" --preset smoke --out "$work/qs" >"$work/qs.log" 2>&1
check "quickstart smoke exits 0" [ $? -eq 0 ]
arm=$(ls "$work"/qs/*.h5 | head -1)
check "result file is complete" [ "$(h5 "$arm" "print(f.attrs['status'])")" = complete ]
check "whatif run waits passively in OpenMP unless told otherwise" h5 "$arm" "assert '\"openmp wait\":\"PASSIVE\"' in f.attrs['provenance'], f.attrs['provenance']"
check "result file has metrics and provenance" h5 "$arm" "assert 'darker_fraction' in f['metrics'] and 'libtorch' in f.attrs['provenance'] and f['samples/high'].shape == (1, 1, 32, 32)"
check "no temporary file is left" [ -z "$(ls "$work"/qs/*.tmp 2>/dev/null)" ]
"$whatif" report "$work/qs" >/dev/null
check "report writes markdown, csv, curves and samples" [ -s "$work/qs/report.md" -a -s "$work/qs/report.csv" -a -s "$work/qs/curves-loss.svg" -a -n "$(ls "$work"/qs/samples-*.png 2>/dev/null)" ]
check "report names the metrics" grep -q "darker_fraction" "$work/qs/report.md"
check "report names the command it came from" grep -qF -- "- command: \`whatif run $source/experiments/quickstart.lua --preset smoke\`" "$work/qs/report.md"
check "report names commit, machine, wall time and seeds" \
  bash -c "grep -q '^- commit: ' '$work/qs/report.md' && grep -qE '^- machine: .*\(.*AMX.*\), [0-9]+ threads?' '$work/qs/report.md' && grep -qE '^- wall time: [0-9]+:[0-9]{2} ' '$work/qs/report.md' && grep -q '^- seeds: 1 (' '$work/qs/report.md'"
check "montage panels follow the stored order, then the difference" grep -q "left to right: minimal | high | difference (high − minimal" "$work/qs/report.md"
check "report prints each sample's note (its prompt)" grep -q "^- high: prompt: high lesion load" "$work/qs/report.md"
montage=$(ls "$work"/qs/samples-*.png | head -1)
check "montage is at least 160 px high" /usr/bin/python3 -c "
import struct, sys
b = open(sys.argv[1], 'rb').read(24)
assert struct.unpack('>I', b[20:24])[0] >= 160" "$montage"
"$whatif" run "$here/spread_check.lua" --out "$work/spread" >"$work/spread.log" 2>&1
check "scripts/spread.lua agrees with closed forms" grep -q "spread.*ok" "$work/spread.log"
# counterfactual.lua's white-matter share of the real twins' lesion darkening and white matter's mean
# change, against h5py on the store of the same synthetic brain.
"$whatif" run "$here/darkening_check.lua" --out "$work/darkening" >"$work/darkening.log" 2>&1
"$whatif" data synth brain --task ms --subjects 4 --size 32 --seed 0 --out "$work/darkening.h5" >/dev/null 2>&1
check "counterfactual.lua's white-matter share and mean change match h5py's" /usr/bin/python3 -c "
import re, sys, h5py, numpy as np
log = open(sys.argv[1]).read()
share = float(re.search(r'white_share ([0-9.]+)', log).group(1))
change = float(re.search(r'white_mean_change (-?[0-9.]+)', log).group(1))
d = h5py.File(sys.argv[2]); img = d['images'][:]; level = d['attrs/level'][:]; subject = d['subject'][:]
darker = white = 0.0; changes = []
for s in np.unique(subject):
    low, high = img[(subject == s) & (level == 0)][0], img[(subject == s) & (level == 2)][0]
    m = (low - high) > 0.1
    darker += m.mean(); white += (m & (low > 0.8)).mean()
    changes.append((high - low)[low > 0.8].mean())
assert 0 < white / darker < 1 and abs(share - white / darker) < 1e-6, (share, white / darker)
assert np.mean(changes) < 0 and abs(change - np.mean(changes)) < 1e-6, (change, np.mean(changes))" "$work/darkening.log" "$work/darkening.h5"
# docs/results.md's EMA snippet on the quickstart's training checkpoint, where python3 has torch.
checkpoint=$(ls "$work"/qs/*/checkpoint.h5 | head -1)
if /usr/bin/python3 -c "import torch, h5py" 2>/dev/null; then
  snippet=$(awk '/<!-- snippet: ema -->/ { found = 1; next } found && /^```python/ { inside = 1; next }
                 inside && /^```/ { exit } inside { print }' "$source/docs/results.md")
  out=$(/usr/bin/python3 -c "path = '$checkpoint'
$snippet
assert len(ema) > 0 and all(torch.is_tensor(t) for t in ema.values())
assert set(ema) == {k[len('denoiser.'):] for k in f['params'] if k.startswith('denoiser.')}
assert f.attrs['whatif_version'] and f.attrs['whatif_commit'] and training['steps'] == f.attrs['step']
data = json.loads(f.attrs['data'])
assert data['name'] == 'synthetic-brain' and data['units'].startswith('T1-weighted') and data['length_units'] == 'mm', data" 2>&1)
  check "the docs' EMA snippet loads the checkpoint ($out)" [ $? -eq 0 ]
else
  echo "skipped: the EMA snippet needs python3-torch and python3-h5py"
fi
"$whatif" run "$source/experiments/quickstart.lua" --preset smoke --out "$work/qs" >"$work/qs2.log" 2>&1
check "a rerun skips the complete arm" grep -q "complete, skipped" "$work/qs2.log"
out=$("$whatif" verify "$source/experiments/quickstart.lua" --against "$work/qs" 2>&1)
check "verify on the same machine finds zero differences" grep -q "0 beyond tolerance" <<<"$out"
# An edited script does not reuse the results or the checkpoints of the text it replaced.
cp "$here/infinite.lua" "$work/edited.lua"
"$whatif" run "$work/edited.lua" --out "$work/edited" >/dev/null 2>&1
sed -i 's/finite = 1.5/finite = 2.5/' "$work/edited.lua"
"$whatif" run "$work/edited.lua" --out "$work/edited" >"$work/edited.log" 2>&1
check "an edited script's arms are stale and rerun" grep -q "stale (the text of the script or a module it requires changed); running again" "$work/edited.log"
check "the rerun holds the edited script's metric" [ "$(h5 "$(ls "$work"/edited/*.h5 | head -1)" "print(f['metrics/finite'][()])")" = 2.5 ]
# On another machine metrics move a little: --tolerance-from-seeds accepts what the seeds' spread
# covers and refuses what it does not; exact comparison stays the default.
"$whatif" run "$here/seeds.lua" --out "$work/seeds" >/dev/null 2>&1
out=$("$whatif" verify "$here/seeds.lua" --against "$work/seeds" --tolerance-from-seeds 3 2>&1)
check "a rerun within 3 seed std passes" grep -q "3 metric(s) compared, 0 beyond tolerance 3 seed std" <<<"$out"
"$whatif" verify "$here/seeds.lua" --against "$work/seeds" >/dev/null 2>&1
check "the same rerun fails the exact comparison" [ $? -eq 1 ]
# The report: mean ± sample std over three seeds (1, 2, 3: 2 ± 1), the values themselves below three,
# in seed order (seed 10 after seed 2, though its file name sorts first).
"$whatif" report "$work/seeds" >/dev/null 2>&1
check "report gives mean ± std over three seeds" grep -qE "^\| 2 ± 1 \| 3 \|$" "$work/seeds/report.md"
"$whatif" run "$here/seeds.lua" --set seeds=10,2 --out "$work/two" >/dev/null 2>&1 && "$whatif" report "$work/two" >/dev/null 2>&1
check "report gives each seed's value below three seeds, in seed order" grep -qE "^\| 2 / 10 \| 2 \|$" "$work/two/report.md"
"$whatif" run "$here/seeds.lua" --set spread=1e-3 --out "$work/tight" >/dev/null 2>&1
"$whatif" verify "$here/seeds.lua" --against "$work/tight" --tolerance-from-seeds 3 >/dev/null 2>&1
check "a difference beyond the seeds' spread fails" [ $? -eq 1 ]
# A metric that is inf (or NaN) in both runs is reproduced, not a difference.
"$whatif" run "$here/infinite.lua" --out "$work/inf" >/dev/null 2>&1
out=$("$whatif" verify "$here/infinite.lua" --against "$work/inf" 2>&1)
check "verify accepts inf and NaN that both runs give" grep -q "9 metric(s) compared, 0 beyond tolerance" <<<"$out"
"$whatif" report "$work/inf" >/dev/null 2>&1
check "report shows inf in the table, without a spread" grep -qE "\| inf \| nan \|" "$work/inf/report.md"
check "report marks the inf point on the plot" grep -q ">inf</text>" "$work/inf/metric-twin_psnr-vs-w.svg"

# Uninterrupted sweep, then the same sweep killed with SIGKILL mid-way and rerun.
"$whatif" run "$here/sweep.lua" --out "$work/straight" >/dev/null 2>&1
check "sweep runs" [ $? -eq 0 ]
"$whatif" run "$here/sweep.lua" --out "$work/killed" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 600); do  # until the second arm has written a checkpoint
  [ -f "$work/killed/sweep-guidance=2.0-seed1/checkpoint.h5" ] && break
  sleep 0.1
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
check "the killed run left the first arm complete" [ -f "$work/killed/sweep-guidance=1.0-seed1.h5" ]
check "the killed run left no second result" [ ! -f "$work/killed/sweep-guidance=2.0-seed1.h5" ]
"$whatif" run "$here/sweep.lua" --out "$work/killed" >"$work/resume.log" 2>&1
check "the rerun completes" [ $? -eq 0 ]
check "the rerun skipped the finished arm" grep -q "guidance=1.0-seed1\] complete, skipped" "$work/resume.log"
check "the rerun resumed from the checkpoint" grep -q "resuming from" "$work/resume.log"
"$whatif" report "$work/straight" >/dev/null && "$whatif" report "$work/killed" >/dev/null
check "the resumed sweep's table equals the uninterrupted one" cmp -s "$work/straight/report.csv" "$work/killed/report.csv"
check "the report opens with the script's summary" grep -q "2 of 2 arms complete" "$work/straight/report.md"
check "the report plots each metric against the numeric parameter" [ -s "$work/straight/metric-difference-vs-guidance.svg" ]

# Shards split the arms; a failing arm is recorded and the others still run.
"$whatif" run "$here/sweep.lua" --shard 1/2 --out "$work/shard" --set steps=2 >/dev/null 2>&1
check "shard 1/2 runs exactly one arm" [ "$(ls "$work"/shard/*.h5 | wc -l)" -eq 1 ]
"$whatif" run "$here/sweep.lua" --out "$work/fail" --set steps=2 --set fail=1.0 >"$work/fail.log" 2>&1
check "a failed arm makes the run exit non-zero" [ $? -ne 0 ]
check "the failure is recorded with its message" h5 "$work/fail/sweep-guidance=1.0-seed1.h5" "assert f.attrs['status'] == 'failed' and 'failed on purpose' in f.attrs['message']"
check "the other arm still completed" h5 "$work/fail/sweep-guidance=2.0-seed1.h5" "assert f.attrs['status'] == 'complete'"
check "--shard is validated" bash -c "! '$whatif' run '$here/sweep.lua' --shard 2/2 --out '$work/x' 2>/dev/null"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
