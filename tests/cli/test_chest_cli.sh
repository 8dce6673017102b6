#!/usr/bin/env bash
# `whatif data synth chest`: stores with the documented layout, CT and radiograph stores that share
# their text and findings, NIfTI exports in HU that nibabel reads with the store's affine, and
# one-line errors that leave no output behind.
# usage: test_chest_cli.sh WHATIF
set -u
whatif=$1
py=/usr/bin/python3  # Debian's python3 with nibabel and h5py
source "$(dirname "$0")/expect.sh"

mkdir -p "$work/out"
expect 0 "synth chest" -- "$whatif" data --help
expect 0 "wrote .*ct\.h5: 6 examples \(2 subjects × 3 time points\)" -- "$whatif" data synth chest --subjects 2 --size 32 --seed 4 --out "$work/ct.h5"
expect 0 "wrote .*cxr\.h5: 6 examples" -- "$whatif" data synth chest --subjects 2 --size 32 --seed 4 --modality cxr --out "$work/cxr.h5"
expect 0 "pairs +4" -- "$whatif" data info "$work/ct.h5"
expect 0 "effusion_right_ml" -- "$whatif" data info "$work/ct.h5"
expect 0 "modality +cxr" -- "$whatif" data info "$work/cxr.h5"
expect 0 "wrote .*ct\.png" -- "$whatif" data show "$work/ct.h5" --index 2 --png "$work/ct.png"
expect 0 "wrote .*cxr\.png" -- "$whatif" data show "$work/cxr.h5" --index 2 --png "$work/cxr.png"
expect 0 "effusion_ml +[0-9.]+ +[0-9.]+" -- "$whatif" data measure "$work/ct.h5"
expect 0 "wrote .*x\.nii\.gz" -- "$whatif" data export "$work/ct.h5" --index 2 --nifti "$work/x.nii.gz" --mask "$work/m.nii.gz"

expect_bad_input "not a synthetic-chest CT store" -- "$whatif" data measure "$work/cxr.h5"
expect_bad_input "size 16: expected 32 to 128" -- "$whatif" data synth chest --subjects 1 --size 16 --out "$work/out/c.h5"
expect_bad_input "size 200: expected 32 to 128" -- "$whatif" data synth chest --subjects 1 --size 200 --out "$work/out/c.h5"
expect_bad_input "subjects 0: expected at least 1" -- "$whatif" data synth chest --subjects 0 --out "$work/out/c.h5"
expect_bad_input "subjects -3: expected at least 1" -- "$whatif" data synth chest --subjects -3 --out "$work/out/c.h5"
expect_bad_input "fov 300\.0+ mm: expected 340 to 480" -- "$whatif" data synth chest --fov 300 --out "$work/out/c.h5"
expect_bad_input "followups 5: expected 1 to 4" -- "$whatif" data synth chest --followups 5 --out "$work/out/c.h5"
expect_bad_input "modality 'mri': expected ct or cxr" -- "$whatif" data synth chest --modality mri --out "$work/out/c.h5"

if ! "$py" -c "import nibabel, h5py" 2>/dev/null; then
  echo "SKIP: nibabel/h5py checks: $py cannot import nibabel and h5py (Debian: apt-get install python3-nibabel python3-h5py)"
else
  # h5py sees the documented layout and shared text; nibabel sees the store's affine and HU.
  checks=$((checks + 1))
  if ! out=$("$py" - "$work" <<'PY' 2>&1
import sys, h5py, nibabel, numpy as np
work = sys.argv[1]
with h5py.File(f"{work}/ct.h5", "r") as ct, h5py.File(f"{work}/cxr.h5", "r") as cxr:
    images, masks = ct["images"], ct["masks"]
    assert images.shape == (6, 1, 32, 32, 32) and images.dtype == np.float32, images
    assert cxr["images"].shape == (6, 1, 64, 64) and cxr["masks"].shape == (6, 1, 64, 64)
    assert [t for t in ct["text"][:]] == [t for t in cxr["text"][:]]
    assert [t for t in ct["prompt"][:]] == [t for t in cxr["prompt"][:]]
    assert sorted(map(tuple, ct["pairs"][:])) == [(0, 1), (0, 2), (3, 4), (3, 5)]
    assert [s.decode() for s in ct["subject"][:]] == ["sub-00000"] * 3 + ["sub-00001"] * 3
    for name in ct["attrs"]:
        assert np.array_equal(ct["attrs/" + name][:], cxr["attrs/" + name][:], equal_nan=True), name
    assert list(ct["attrs/time"][:]) == [0, 1, 2, 0, 1, 2]
    spacing, origin, direction = ct["spacing"][2], ct["origin"][2], ct["direction"][2]
    assert np.allclose(spacing, 360 / 32), spacing
    image2, mask2 = images[2, 0], masks[2, 0]
    effusion = ct["attrs/effusion_right_ml"][2] + ct["attrs/effusion_left_ml"][2]
    assert abs((mask2 == 2).sum() * np.prod(spacing) / 1000 - effusion) <= np.prod(spacing) / 1000 + 1e-9
lps_to_ras = np.diag([-1, -1, 1])
affine = np.eye(4)
affine[:3, :3] = lps_to_ras @ direction @ np.diag(spacing)
affine[:3, 3] = lps_to_ras @ origin
img = nibabel.load(f"{work}/x.nii.gz")
assert np.allclose(img.affine, affine, atol=1e-4), (img.affine, affine)
assert np.allclose(img.header.get_zooms()[:3], spacing)
hu = np.asarray(img.dataobj).transpose(2, 1, 0)
assert np.allclose(hu, image2), "voxels differ"
assert -1100 < hu.min() < -950 and 900 < hu.max() < 1200, (hu.min(), hu.max())
# In RAS the volume is centred on the origin; indices run toward right, anterior, superior.
centre = img.affine @ np.array([15.5, 15.5, 15.5, 1])
assert np.all(np.abs(centre[:3]) < 1e-3), centre
assert img.affine[0, 0] > 0 and img.affine[1, 1] > 0 and img.affine[2, 2] > 0
assert np.array_equal(np.asarray(nibabel.load(f"{work}/m.nii.gz").dataobj).transpose(2, 1, 0), mask2)
PY
  ); then
    fail "h5py/nibabel checks:"
    sed 's/^/    /' <<<"$out"
  fi
fi

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
