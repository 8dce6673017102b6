-- Measures on fixed-noise counterfactual twins (same z_T, two prompts).
--
-- A T1-hypointense lesion makes white matter darker, so a twin generated for a higher lesion load
-- should be darker than its lower-load sibling in a few places and nowhere brighter. With the
-- anatomy shared by construction, the voxels that darken by more than `delta` (image units) are
-- the measured lesion growth; the voxels that brighten by as much are the noise floor.
local M = {}

-- Fraction of voxels where `high` is darker than `low` by more than delta, and the reverse.
function M.darkening(low, high, delta)
  local darker = (low - high):gt(delta):mean()
  local brighter = (high - low):gt(delta):mean()
  return darker, brighter
end

-- Voxel count → millilitres for a volume of `n` voxels at `spacing_mm` (isotropic).
function M.ml(fraction, voxels, spacing_mm)
  return fraction * voxels * spacing_mm ^ 3 / 1000
end

return M
