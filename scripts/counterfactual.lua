-- Measures on fixed-noise counterfactual twins (same z_T, two prompts).
--
-- A T1-hypointense lesion makes white matter darker, so a twin generated for a higher lesion load
-- should be darker than its lower-load sibling in a few places and nowhere brighter. With the
-- anatomy shared by construction, the voxels that darken by more than `delta` (image units) are
-- the measured lesion growth; the voxels that brighten by as much are the noise floor.
local M = {}

-- The intensity above which the lower-load twin reads as white matter (M.darkening's `floor`):
-- below the 1st percentile (0.54) of the real twins' lesion voxels at 32³.
M.white_floor = 0.5

-- Fraction of voxels where `high` is darker than `low` by more than delta, and the reverse; with
-- `floor`, also the fraction that is darker where `low` reads at least `floor`, and the mean change
-- (high − low) over the voxels where `low` reads at least `floor`. A lesion is a dark
-- spot in white matter, which reads bright in T1: darkening of tissue that already reads dark
-- (grey matter, CSF) is not lesion-like, however much of it there is.
function M.darkening(low, high, delta, floor)
  local darker = (low - high):gt(delta)
  local brighter = (high - low):gt(delta):mean()
  if not floor then return darker:mean(), brighter end
  local white = low:gt(floor)
  local n = white:sum()
  return darker:mean(), brighter, (darker * white):mean(), n > 0 and ((high - low) * white):sum() / n or 0
end

-- The share of the real twins' lesion darkening (level 0 → 2, by more than delta) that sits where
-- the minimal twin reads at least `floor`: how much of a true lesion the white-matter measure keeps.
-- Second: the mean change of white matter between those twins, averaged over the pairs (a lesion
-- moves it little; a diffuse darkening of white matter, much).
function M.white_share(data, delta, floor)
  local attributes, level = data:attributes(1, data:size()), {}
  for i, a in ipairs(attributes) do level[i] = a.level end
  local darker, white, change, count = 0, 0, 0, 0
  for _, pair in ipairs(data:pairs()) do
    if level[pair[1]] == 0 and level[pair[2]] == 2 then
      local d, _, w, c = M.darkening(data:images(pair[1], 1), data:images(pair[2], 1), delta, floor)
      darker, white, change, count = darker + d, white + w, change + c, count + 1
    end
  end
  return darker > 0 and white / darker or 0 / 0, count > 0 and change / count or 0 / 0
end

-- Voxel count → millilitres for a volume of `n` voxels at `spacing_mm` (isotropic).
function M.ml(fraction, voxels, spacing_mm)
  return fraction * voxels * spacing_mm ^ 3 / 1000
end

-- The judges of generated MS counterfactuals, trained once per (dataset, seed) on the real data
-- and shared by every arm of a run: an attribute classifier for text-alignment and the real twins'
-- lesion volumes for effectiveness. `opts`: delta (the effectiveness threshold), classifier_steps,
-- white_floor (default M.white_floor).
local judges = {}
function M.judges(data, seed, opts)
  local key = tostring(data) .. "#" .. seed
  if not judges[key] then
    local alignment = whatif.metric("text-alignment", {attribute = "level", steps = opts.classifier_steps})
    local effect = whatif.metric("effectiveness", {delta = opts.delta})
    local real = alignment:fit(data, {seed = seed})
    for k, v in pairs(effect:fit(data)) do real[k] = v end
    local floor = opts.white_floor or M.white_floor
    real.white_share, real.white_mean_change = M.white_share(data, opts.delta, floor)
    local spacing = data:geometry().spacing
    judges[key] = {alignment = alignment, effect = effect, real = real, data = data, white_floor = floor,
                   voxel_ml = spacing[1] * spacing[2] * (spacing[3] or 1) / 1000}
  end
  return judges[key]
end

-- The `fid` metric with its classifier trained once per (dataset, seed) on the real data and
-- shared by every arm of a run; reset it before each arm's samples.
local fids = {}
function M.fid(data, seed, classifier_steps)
  local key = tostring(data) .. "#" .. seed
  if not fids[key] then
    fids[key] = whatif.metric("fid", {steps = classifier_steps})
    fids[key]:fit(data, {seed = seed})
  end
  return fids[key]
end

local levels = {minimal = 0, high = 2}

-- `opts.pairs` fixed-noise pairs "minimal" vs "high lesion load" (seeds 101, 102, ...) at guidance
-- `opts.guidance` with `opts.steps` sampler steps (and `opts.decode_tile` when set), judged by
-- `j` (M.judges); `opts.keep` pairs (default 1) are stored as samples ("minimal", "high", then
-- "minimal-2", "high-2", ...); with `opts.by_attributes` the twins are asked for by the `level` attribute
-- instead of the prompts. Stores the first pair as samples of `ctx`, on the dataset's grid, with the change
-- real twins show as their ground truth. Returns the metrics table; the darkening fractions are
-- taken at `opts.delta` (the brighter fraction is the noise floor); `lesion_white_ml` is the part
-- of the darkening that sits in white matter (M.darkening), `real_white_share` that part's share
-- in the real twins; `white_mean_change` the mean change of white matter between the twins,
-- `real_white_mean_change` the real twins' (a lesion load moves it little, a diffuse darkening of
-- white matter much).
function M.evaluate(model, j, ctx, opts)
  j.alignment:reset()
  j.effect:reset()
  local preservation = whatif.metric("subject-preservation", {data_range = 1})
  local darker, brighter, white, white_change, voxels = 0, 0, 0, 0, 0
  local kept_pairs = {}
  local start = whatif.clock()
  for i = 1, opts.pairs do
    local minimal, high = model:counterfactual{
      prompts = (not opts.by_attributes) and {"minimal lesion load", "high lesion load"} or nil,
      attributes = opts.by_attributes and {{level = levels.minimal}, {level = levels.high}} or nil,
      seed = 100 + i, guidance = opts.guidance, steps = opts.steps, decode_tile = opts.decode_tile or 0}
    if i <= (opts.keep or 1) then kept_pairs[i] = {minimal, high} end
    preservation:update{generated = high, source = minimal}
    j.alignment:update{generated = minimal, attributes = {level = levels.minimal}}
    j.alignment:update{generated = high, attributes = {level = levels.high}}
    j.effect:update{generated = high, source = minimal,
                    attributes = {level = levels.high, source_level = levels.minimal}}
    local d, b, w, c = M.darkening(minimal, high, opts.delta, j.white_floor)
    darker, brighter, white = darker + d / opts.pairs, brighter + b / opts.pairs, white + w / opts.pairs
    white_change = white_change + c / opts.pairs
    voxels = 1
    for _, n in ipairs(minimal:shape()) do voxels = voxels * n end  -- per volume: [1, C, ...]
  end
  local seconds = whatif.clock() - start
  local kept, aligned, effect = preservation:compute(), j.alignment:compute(), j.effect:compute()
  for i, pair in ipairs(kept_pairs) do
    local suffix = i == 1 and "" or ("-" .. i)
    ctx:sample("minimal" .. suffix, pair[1], {note = "prompt: minimal lesion load", geometry = j.data})
    ctx:sample("high" .. suffix, pair[2], {
      note = ("prompt: high lesion load; w = %g, same noise as minimal%s"):format(opts.guidance, suffix),
      truth = ("real twins of levels minimal and high differ by %.2f ml of lesion (mean over the dataset's twins)")
        :format(effect.effectiveness_expected_ml),
      geometry = j.data})
  end
  return {subject_ms_ssim = kept.source_ms_ssim, subject_psnr = kept.source_psnr,
          text_alignment = aligned.text_alignment,
          classifier_heldout_accuracy = aligned.classifier_heldout_accuracy,
          effectiveness = effect.effectiveness, lesion_volume_error_ml = effect.effectiveness_error_ml,
          lesion_measured_ml = effect.effectiveness_measured_ml,
          lesion_opposite_ml = effect.effectiveness_opposite_ml,
          lesion_expected_ml = effect.effectiveness_expected_ml,
          measure_real_error_ml = effect.measure_real_error_ml,
          darker_fraction = darker, brighter_fraction = brighter,
          white_darker_fraction = white, lesion_white_ml = white * voxels * j.voxel_ml,
          real_white_share = j.real.white_share, white_mean_change = white_change,
          real_white_mean_change = j.real.white_mean_change,
          sample_pair_seconds = seconds / opts.pairs}
end

return M
