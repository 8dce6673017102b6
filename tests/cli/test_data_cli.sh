#!/usr/bin/env bash
# `whatif data`: stores that h5py reads with the documented layout, NIfTI exports whose affine
# nibabel agrees with, and one-line errors that leave no output behind.
# usage: test_data_cli.sh WHATIF
set -u
whatif=$1
py=/usr/bin/python3  # Debian's python3 with nibabel and h5py
source "$(dirname "$0")/expect.sh"

mkdir -p "$work/out"
expect 0 "synth brain" -- "$whatif" data --help
expect 2 "unknown action.*did you mean 'info'" -- "$whatif" data inf
expect 2 "unknown kind" -- "$whatif" data synth brian
expect 0 "wrote .*ms\.h5: 6 examples" -- "$whatif" data synth brain --task ms --subjects 2 --size 32 --seed 5 --out "$work/ms.h5"
expect 0 "wrote .*ad2d\.h5: 6 examples" -- "$whatif" data synth brain --task ad --subjects 2 --size 32 --dims 2 --out "$work/ad2d.h5"
expect 0 "pairs +12" -- "$whatif" data info "$work/ms.h5"
expect 0 "lesion_volume_ml" -- "$whatif" data info "$work/ms.h5"
expect 0 "wrote .*show\.png" -- "$whatif" data show "$work/ms.h5" --index 2 --png "$work/show.png"
expect 0 "wrote .*show2d\.png" -- "$whatif" data show "$work/ad2d.h5" --index 1 --png "$work/show2d.png"
expect 0 "wrote .*x\.nii\.gz" -- "$whatif" data export "$work/ms.h5" --index 2 --nifti "$work/x.nii.gz" --mask "$work/m.nii.gz"
expect 1 "out of range" -- "$whatif" data export "$work/ms.h5" --index 6 --nifti "$work/y.nii.gz"

# h5py sees the documented layout; nibabel sees the affine the store's geometry implies.
checks=$((checks + 1))
if ! out=$("$py" - "$work" <<'PY' 2>&1
import sys, h5py, nibabel, numpy as np
work = sys.argv[1]
with h5py.File(f"{work}/ms.h5", "r") as f:
    assert f.attrs["format"] == b"whatif-dataset" or f.attrs["format"] == "whatif-dataset", f.attrs["format"]
    images, masks = f["images"], f["masks"]
    assert images.shape == (6, 1, 32, 32, 32) and images.dtype == np.float32, images
    assert images.chunks == (1, 1, 32, 32, 32) and images.compression == "gzip" and images.shuffle
    assert masks.shape == (6, 1, 32, 32, 32) and masks.dtype == np.uint8
    text = [t.decode() for t in f["text"][:]]
    prompts = [t.decode() for t in f["prompt"][:]]
    assert prompts[2] == "high lesion load", prompts
    assert f["pairs"].shape == (12, 2) and sorted(map(tuple, f["pairs"][:6])) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    vol = f["attrs/lesion_volume_ml"][2]
    spacing, origin, direction = f["spacing"][2], f["origin"][2], f["direction"][2]
    assert np.isclose(vol, (masks[2] > 0).sum() * np.prod(spacing) / 1000)
    image2, mask2 = images[2, 0], masks[2, 0]
# The store's geometry is LPS with axes (x, y, z) = array axes (W, H, D); NIfTI is RAS over (i, j, k).
lps_to_ras = np.diag([-1, -1, 1])
affine = np.eye(4)
affine[:3, :3] = lps_to_ras @ direction @ np.diag(spacing)
affine[:3, 3] = lps_to_ras @ origin
img = nibabel.load(f"{work}/x.nii.gz")
assert np.allclose(img.affine, affine, atol=1e-4), (img.affine, affine)
assert np.allclose(np.asarray(img.dataobj).transpose(2, 1, 0), image2), "voxels differ"
assert np.array_equal(np.asarray(nibabel.load(f"{work}/m.nii.gz").dataobj).transpose(2, 1, 0), mask2)
# The brain sits where the MNI template puts it: the export's centre is near the origin of MNI space.
centre = img.affine @ np.array([15.5, 15.5, 15.5, 1])
assert np.all(np.abs(centre[:3]) < 40), centre
PY
); then
  fail "h5py/nibabel checks:"
  sed 's/^/    /' <<<"$out"
fi

# Import: a good manifest, then malformed inputs.
"$py" - "$work" <<'PY'
import sys, nibabel, numpy as np, gzip
w = sys.argv[1]
aff = np.diag([1.5, 1.5, 2.0, 1.0]); aff[:3, 3] = [-20, -30, 10]
vol = np.random.default_rng(0).random((20, 24, 16)).astype(np.float32)
nibabel.save(nibabel.Nifti1Image(vol, aff), f"{w}/good.nii.gz")
nibabel.save(nibabel.Nifti1Image(np.zeros((8, 8, 8, 3), np.float32), aff), f"{w}/four_d.nii.gz")
bad = vol.copy(); bad[3, 4, 5] = np.nan
nibabel.save(nibabel.Nifti1Image(bad, aff), f"{w}/nan.nii.gz")
data = open(f"{w}/good.nii.gz", "rb").read()
open(f"{w}/truncated.nii.gz", "wb").write(data[: len(data) // 2])
for name in ["good", "four_d", "nan", "truncated", "missing"]:
    open(f"{w}/{name}.csv", "w").write(f"image,text,subject,age\n{name}.nii.gz,\"a, b\",s1,70\n")
open(f"{w}/nocolumn.csv", "w").write("path,text\ngood.nii.gz,x\n")
PY
expect 0 "wrote .*good\.h5: 1 examples" -- "$whatif" data import "$work/good.csv" --size 16 --out "$work/good.h5"
expect 0 "source_spacing_z" -- "$whatif" data info "$work/good.h5"
expect_bad_input "truncated\.nii\.gz.*truncated" -- "$whatif" data import "$work/truncated.csv" --size 16 --out "$work/out/t.h5"
expect_bad_input "four_d\.nii\.gz.*4 dimensions" -- "$whatif" data import "$work/four_d.csv" --size 16 --out "$work/out/t.h5"
expect_bad_input "nan\.nii\.gz.*NaN" -- "$whatif" data import "$work/nan.csv" --size 16 --out "$work/out/t.h5"
expect_bad_input "nocolumn\.csv.*missing column 'image'" -- "$whatif" data import "$work/nocolumn.csv" --size 16 --out "$work/out/t.h5"
expect_bad_input "missing\.csv:2.*missing\.nii\.gz does not exist" -- "$whatif" data import "$work/missing.csv" --size 16 --out "$work/out/t.h5"

# Import keeping the source: an int16 CT-like scan on a non-cubic grid comes back as it was.
"$py" - "$work" <<'PY'
import sys, nibabel, numpy as np
w = sys.argv[1]
aff = np.diag([0.8, 0.8, 2.5, 1.0]); aff[:3, 3] = [-10, -12, 4]
hu = np.random.default_rng(1).integers(-1024, 3000, size=(21, 17, 9)).astype(np.int16)
nibabel.save(nibabel.Nifti1Image(hu, aff), f"{w}/ct.nii.gz")
nibabel.save(nibabel.Nifti1Image(np.zeros((20, 17, 9), np.uint8), aff), f"{w}/other.nii.gz")
nibabel.save(nibabel.Nifti1Image(np.zeros((20, 17, 9), np.int16), aff), f"{w}/othergrid.nii.gz")
open(f"{w}/ct.csv", "w").write("image,text,subject\nct.nii.gz,ct,s1\n")
open(f"{w}/mixed.csv", "w").write("image,text,subject\nct.nii.gz,ct,s1\nother.nii.gz,ct,s2\n")
open(f"{w}/grids.csv", "w").write("image,text,subject\nct.nii.gz,ct,s1\nothergrid.nii.gz,ct,s2\n")
PY
expect 0 "wrote .*ct_kept\.h5: 1 examples, int16" -- "$whatif" data import "$work/ct.csv" --keep-grid --normalize none --out "$work/ct_kept.h5"
expect 0 "image +\[1, 9, 17, 21\] int16" -- "$whatif" data info "$work/ct_kept.h5"
expect 0 "wrote .*ct_axes\.h5: 1 examples, float32" -- "$whatif" data import "$work/ct.csv" --size 24,16,8 --out "$work/ct_axes.h5"
expect 0 "image +\[1, 8, 16, 24\] float32" -- "$whatif" data info "$work/ct_axes.h5"
expect_bad_input "other\.nii\.gz: voxels are uint8 but .*ct\.nii\.gz's are int16" -- "$whatif" data import "$work/mixed.csv" --keep-grid --normalize none --out "$work/out/t.h5"
expect_bad_input "othergrid\.nii\.gz: its grid .*--keep-grid needs one grid" -- "$whatif" data import "$work/grids.csv" --keep-grid --out "$work/out/t.h5"
expect 2 "--size '24,x': expected S or X,Y,Z" -- "$whatif" data import "$work/ct.csv" --size 24,x --out "$work/out/t.h5"
expect 2 "leave out --size and --spacing" -- "$whatif" data import "$work/ct.csv" --keep-grid --size 8 --out "$work/out/t.h5"
expect 2 "give the output grid" -- "$whatif" data import "$work/ct.csv" --out "$work/out/t.h5"
checks=$((checks + 1))
if ! out=$("$py" - "$work" <<'PY' 2>&1
import sys, h5py, nibabel, numpy as np, json
w = sys.argv[1]
img = nibabel.load(f"{w}/ct.nii.gz")
src = np.asarray(img.dataobj)
with h5py.File(f"{w}/ct_kept.h5", "r") as f:
    images = f["images"]
    assert images.dtype == np.int16, images.dtype
    # Reoriented to RAS only (the source is RAS already): array axes (D, H, W) = NIfTI (k, j, i).
    assert np.array_equal(images[0, 0], src.transpose(2, 1, 0)), "voxels changed"
    assert np.allclose(f["spacing"][0], [0.8, 0.8, 2.5])
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    assert attrs["units"].startswith("the source's units"), attrs["units"]
    assert attrs["length_units"] == "mm", attrs
    assert json.loads(attrs["preprocessing"])["size"] == "source grid", attrs["preprocessing"]
with h5py.File(f"{w}/ct_axes.h5", "r") as f:
    # The isotropic spacing that fits every asked axis: max(21·0.8/24, 17·0.8/16, 9·2.5/8) = 2.8125 mm.
    assert np.allclose(f["spacing"][0], [2.8125] * 3), f["spacing"][0]
    assert f.attrs["units"].decode().startswith("0..1: each volume's percentiles 1 to 99"), f.attrs["units"]
PY
); then
  fail "import --keep-grid / --size X,Y,Z checks:"
  sed 's/^/    /' <<<"$out"
fi
expect_bad_input "nothere\.h5: no such store" -- "$whatif" data info "$work/out/nothere.h5"
expect_bad_input "templates/ch2bet\.nii\.gz: missing template" -- "$whatif" data synth brain --templates "$work/templates" --out "$work/out/b.h5"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
