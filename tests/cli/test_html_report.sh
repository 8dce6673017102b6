#!/usr/bin/env bash
# `whatif report --html`, checked as a new user would see it: a small run's report.html opened from
# the file system in headless Chromium (software GL). The page must draw without console errors,
# every Vega view must have data marks, the three Niivue canvases must not be blank and the
# difference overlay must show where the twins differ. Screenshots go to SHOT_DIR (report.png; the
# samples and the plots at half scale, as docs/results.md shows them).
# Usage: test_html_report.sh WHATIF SOURCE_DIR SHOT_DIR
set -u
whatif=$1 src=$2 shots=$3
source "$(dirname "$0")/expect.sh"
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ] || ! command -v node >/dev/null; then
  echo "SKIP: headless Chromium and node are needed (make deps installs chromium and nodejs)"
  exit 77
fi
mkdir -p "$shots" "$work/out"
run=$work/run

start=$(date +%s.%N)
expect 0 "pair-guidance=3.0-seed1" -- "$whatif" run "$src/tests/cli/pair.lua" --out "$run"
echo "run: $(echo "$(date +%s.%N) - $start" | bc) s"

# Without the vendored libraries the page is refused in one line naming what to run.
expect_bad_input "make deps" -- env WHATIF_WEB_DIR="$work/none" "$whatif" report "$run" --html
[ -e "$run/report.html" ] && fail "report.html written although its JavaScript is missing"

start=$(date +%s.%N)
expect 0 "wrote .*report.html" -- "$whatif" report "$run" --html
echo "report --html: $(echo "$(date +%s.%N) - $start" | bc) s"
for f in report_files/niivue.umd.js report_files/vega.min.js volumes/pair-guidance=3.0-seed1/factual.nii.gz; do
  [ -s "$run/$f" ] || fail "$f is missing"
done
# The exported volume is the stored sample, voxel for voxel.
checks=$((checks + 1))
/usr/bin/python3 - "$run" <<'PY' || fail "volumes/*.nii.gz differ from the stored samples"
import sys, h5py, nibabel, numpy as np
run = sys.argv[1]
stored = h5py.File(f"{run}/pair-guidance=3.0-seed1.h5")["samples/counterfactual"][0, 0]
nifti = np.asarray(nibabel.load(f"{run}/volumes/pair-guidance=3.0-seed1/counterfactual.nii.gz").dataobj)
assert nifti.transpose(2, 1, 0).shape == stored.shape, (nifti.shape, stored.shape)
assert np.array_equal(nifti.transpose(2, 1, 0), stored)
# ... on the dataset's grid: the affine nibabel reads equals the one the saved model's data record
# implies (LPS geometry → RAS affine), and it is not the 1 mm default.
import json
data = json.loads(h5py.File(f"{run}/model-w3.h5").attrs["data"])["geometry"]
d = np.array(data["direction"]).reshape(3, 3)
lps = np.eye(4); lps[:3, :3] = d * np.array(data["spacing"]); lps[:3, 3] = data["origin"]
expected = np.diag([-1, -1, 1, 1]) @ lps
for side in ("factual", "counterfactual"):
    affine = nibabel.load(f"{run}/volumes/pair-guidance=3.0-seed1/{side}.nii.gz").affine
    assert np.allclose(affine, expected, atol=1e-4), (side, affine, expected)
assert not np.allclose(np.array(data["spacing"]), 1.0), data
print("sample affine = dataset grid:", np.round(np.diag(expected)[:3], 3), "mm")
PY
checks=$((checks + 1))
grep -q "ground truth: lesions grow (level 0 to 2)" "$run/report.md" || fail "report.md does not print the sample's ground truth"
echo "page: $(stat -c %s "$run/report.html") bytes + report_files $(du -cb "$run"/report_files/* | tail -1 | cut -f1) bytes"

result=$(node "$src/tests/web/check_page.js" "$chromium" "file://$run/report.html" "$shots/report.png" 60 \
         "#samples=$shots/report-samples.png" ".plots=$shots/report-plots.png")
echo "$result" | head -c 4000; echo
checks=$((checks + 1))
node -e '
const r = JSON.parse(process.argv[1]);
const bad = [];
if (!r.check) bad.push("the page never finished drawing");
const c = r.check || { errors: [], views: [], viewers: [] };
if (r.errors.length) bad.push("console errors: " + r.errors.join(" | "));
if (c.errors.length) bad.push("page errors: " + c.errors.join(" | "));
// loss vs guidance, difference vs guidance, the loss curve
if (c.views.length < 3) bad.push(`${c.views.length} Vega views drawn, want 3`);
for (const v of c.views) if (!(v.marks > 0)) bad.push(`Vega view "${v.name}" has no data marks`);
if (c.viewers.length !== 3) bad.push(`${c.viewers.length} Niivue views, want 3`);
for (const v of c.viewers) if (!(v.variance > 20)) bad.push(`Niivue ${v.role} view is blank (pixel variance ${v.variance})`);
if (!c.overlay || !(c.overlay.max_abs_difference > 0)) bad.push("the twins do not differ: nothing to overlay");
else if (!(c.overlay.coloured_pixels > 100)) bad.push(`difference overlay not visible (${c.overlay && c.overlay.coloured_pixels} coloured pixels)`);
const text = c.samples_text || {};
if (!/^ground truth: lesions grow/.test(text.truth || "")) bad.push(`the ground truth is not shown beside the views: "${text.truth}"`);
if (!/\d × [\d.]+ × [\d.]+ mm voxels/.test(text.stats || "") || /1 mm voxels/.test(text.stats)) bad.push(`the voxel size shown is not the dataset grid: "${text.stats}"`);
if (bad.length) { console.log("FAIL: " + bad.join("\nFAIL: ")); process.exit(1); }
console.log(`draw: ${r.draw_seconds} s; views: ${c.views.map((v) => v.marks).join(",")} marks; ` +
            `viewer variance: ${c.viewers.map((v) => v.variance.toFixed(0)).join(",")}; overlay pixels: ${c.overlay.coloured_pixels}`);
' "$result" || failures=$((failures + 1))
[ -s "$shots/report.png" ] || fail "no screenshot"

# The results table as report.md writes it: below three seeds each seed's value in seed order,
# from three on mean ± std (seeds.lua's metric is the seed: 2 / 10, and 2 ± 1 for seeds 1, 2, 3).
for case in "10,2|2 / 10" "1,2,3|2 ± 1"; do
  seeds=${case%%|*} want=${case#*|} dir=$work/seeds-${case%%|*}
  "$whatif" run "$src/tests/cli/seeds.lua" --set seeds="$seeds" --out "$dir" >/dev/null 2>&1 &&
    "$whatif" report "$dir" --html >/dev/null 2>&1 || fail "seeds.lua --set seeds=$seeds: run or report failed"
  checks=$((checks + 1))
  node -e '
const r = JSON.parse(process.argv[1]), want = process.argv[2];
const rows = (r.check && r.check.results) || [];
const head = rows[0] || [], cell = rows.length === 2 ? rows[1][head.indexOf("metric")] : undefined;
if (cell !== want) { console.log(`FAIL: seeds ${process.argv[3]}: metric cell "${cell}", want "${want}" (table ${JSON.stringify(rows)})`); process.exit(1); }
console.log(`seeds ${process.argv[3]}: metric cell "${cell}"`);
' "$(node "$src/tests/web/check_page.js" "$chromium" "file://$dir/report.html" "$work/seeds.png" 60)" "$want" "$seeds" ||
    failures=$((failures + 1))
done

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
