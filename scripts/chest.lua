-- Synthetic chest CT in scripts: the zero-shot finding prompts and labels, and the attributes the
-- chest-change metric reads for a (baseline, follow-up) pair.
local M = {}

-- Per finding: prompts for and against it (a two-prompt ensemble each, Radford et al. 2021), and
-- whether an example shows it, by its ground-truth attributes.
M.findings = {
  {name = "effusion", positive = {"pleural effusion", "there is a pleural effusion"},
   negative = {"no pleural effusion", "the pleural spaces are clear"},
   label = function(a) return a.effusion_right_ml + a.effusion_left_ml > 0 end},
  {name = "nodule", positive = {"pulmonary nodule", "there is a solid nodule"},
   negative = {"no pulmonary nodules", "there are no lung nodules"},
   label = function(a) return a.nodule_count > 0 end},
  {name = "consolidation", positive = {"consolidation", "there is airspace consolidation"},
   negative = {"no focal consolidation", "the lungs are without consolidation"},
   label = function(a) return a.consolidation_ml > 0 end},
  {name = "cardiomegaly", positive = {"cardiomegaly", "the heart is enlarged"},
   negative = {"normal heart size", "no cardiomegaly"},
   label = function(a) return a.cardiomegaly > 0 end},
  {name = "emphysema", positive = {"emphysema", "there is emphysema"},
   negative = {"no emphysema", "no emphysematous change"},
   label = function(a) return a.emphysema_percent > 0 end},
}

-- The follow-up's attributes under their names and the baseline's under source_<name>: what
-- chest-change's update takes as `attributes` for the twins of dataset examples `baseline` and
-- `followup` (1-based).
function M.pair_attributes(data, baseline, followup)
  local out = {}
  for k, v in pairs(data:attributes(followup, 1)[1]) do out[k] = v end
  for k, v in pairs(data:attributes(baseline, 1)[1]) do out["source_" .. k] = v end
  return out
end

return M
