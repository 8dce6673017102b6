-- lesion_readability: can one scan's finding be read at all, and at which resolution?
-- Question: a contrastive image tower can only ground a prompt in what a single scan shows. Trained
-- with the labels themselves (a supervised 3D classifier, the `text-alignment` metric's, on real
-- synthetic-brain scans), how well is the level of a finding told apart on held-out subjects, at
-- 32³ and at 64³? MS lesion load (minimal / moderate / high: lesions of a few voxels) against AD
-- (cognitively normal / MCI / dementia: atrophy of whole structures) as the positive control.
-- `heldout_accuracy` is on whole held-out subjects (a fifth of them, docs/metrics.md), chance 1/3.
-- `poolings`: the classifier's last map averaged ("mean") or max-pooled ("max", for findings of a
-- few voxels). `lr` 5e-4, below the metric's default: at 64³ the classifier does not train at 2e-3
-- (its loss stays at log 3 even for AD).
-- If the supervised classifier cannot read MS lesion load at a size, no language tower trained on
-- scans of that size can steer by it, and neither can a classifier judge it (ms_guidance.lua).
local spread = require "spread"

local p = whatif.params{
  seeds = {1}, tasks = {"ms", "ad"}, sizes = {32, 64}, poolings = {"mean", "max"}, subjects = 48,
  steps = 1000, batch = 16, width = 16, lr = 5e-4,
  presets = {
    smoke = {tasks = {"ms"}, sizes = {32}, poolings = {"max"}, subjects = 5, steps = 2, batch = 2, width = 4},
    small = {},
    paper = {subjects = 200, sizes = {32, 64, 128}, steps = 3000},
  },
}

local results = whatif.experiment{
  name = "lesion_readability",
  arms = whatif.grid{task = p.tasks, size = p.sizes, pooling = p.poolings},
  seeds = p.seeds,
  run = function(arm, ctx)
    local data = whatif.dataset("synthetic-brain", {task = arm.task, subjects = p.subjects, size = arm.size,
                                                     dims = 3, text = "prompt", seed = ctx.seed})
    local classifier = whatif.metric("text-alignment", {attribute = "level", steps = p.steps, batch = p.batch,
                                                        width = p.width, lr = p.lr, pooling = arm.pooling})
    local t0 = whatif.clock()
    local fit = classifier:fit(data, {seed = ctx.seed})
    return {heldout_accuracy = fit.classifier_heldout_accuracy, chance = 1 / 3, seconds = whatif.clock() - t0}
  end,
}

local cells = {}
for _, task in ipairs(p.tasks) do
  for _, size in ipairs(p.sizes) do
    for _, pooling in ipairs(p.poolings) do
      local rows = {}
      for _, r in ipairs(results) do
        if r.status == "complete" and r.arm.task == task and r.arm.size == size and r.arm.pooling == pooling then
          rows[#rows + 1] = r.metrics
        end
      end
      if #rows > 0 then
        cells[#cells + 1] = ("%s at %d³, %s pooling: %s"):format(task, size, pooling,
          spread.cell(spread.field(rows, function(m) return m.heldout_accuracy end), "%.2f"))
      end
    end
  end
end
if #cells > 0 then
  whatif.summary(("Held-out accuracy of a supervised level classifier (chance 0.33): %s.")
                 :format(table.concat(cells, "; ")))
end
