-- effect_measure: how accurate is the `effectiveness` metric's change measure on real twins?
-- Question: counting voxels that darken by more than delta between a subject's twins, how close
-- does the measure come to the true change of lesion volume (MS) and of hippocampal volume (AD),
-- as delta varies? The answer bounds how far the lesion-volume error of generated counterfactuals
-- (ms_guidance.lua, latent_vs_pixel.lua) can be trusted. No training: it reads the synthetic
-- brain's ground-truth twins.
local p = whatif.params{
  subjects = 32, size = 32, dims = 3, deltas = {0.1, 0.2, 0.3},
  presets = {
    smoke = {subjects = 2, dims = 2, deltas = {0.3}},
    small = {},
    paper = {subjects = 64, size = 128},
  },
}

local truth = {ms = "lesion_volume_ml", ad = "hippocampus_volume_ml"}
local data = {}
local function brain(task)
  if not data[task] then
    data[task] = whatif.dataset("synthetic-brain", {task = task, subjects = p.subjects, size = p.size,
                                                     dims = p.dims})
  end
  return data[task]
end

whatif.experiment{
  name = "effect_measure",
  arms = whatif.grid{task = {"ms", "ad"}, delta = p.deltas},
  seeds = {1},
  run = function(arm, ctx)
    local effect = whatif.metric("effectiveness", {attribute = truth[arm.task], delta = arm.delta})
    local real = effect:fit(brain(arm.task))
    return {error_ml = real.measure_real_error_ml, ratio = real.measure_real_ratio,
            correlation = real.measure_real_correlation}
  end,
}
