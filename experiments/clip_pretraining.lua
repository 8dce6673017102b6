-- clip_pretraining: does contrastive pretraining on our own reports give a joint image–text space
-- that sorts held-out scans? (DESIGN.md §1 method 2: the 3D vision–language pretraining behind
-- text-to-CT.) Per task, a 3D image tower (vision/resnet) and a text tower (text/transformer,
-- EOS pooling) are trained with the symmetric InfoNCE of whatif.clip on the training subjects'
-- scans and reports, then judged on held-out subjects (another dataset seed):
--   retrieval: image→text and text→image Recall@1/5/10 over the held-out set (a retrieved report
--              is a hit when it is the query's own text; `chance_r<k>` is a random ranking's);
--   zero-shot: per finding, the AUC of cos(image, "finding" prompts) − cos(image, "no finding"
--              prompts) against the ground-truth attribute (prompt ensembles, Radford et al. 2021).
-- Tasks: "ms" (MS lesion load, high vs minimal), "ad" (dementia vs cognitively normal), "chest"
-- (synthetic chest CT: effusion, nodule, consolidation, cardiomegaly, emphysema).
-- `text` picks the datasets' text field: "text" (the reports) or "prompt" (the brain's level
-- alone, e.g. "dementia"), which leaves the text tower nothing to read but the finding and so
-- tells whether the image tower or the text tower holds a run back.
-- `mask_weight` (1; 0 turns it off) weighs whatif.clip's auxiliary mask loss: the image tower also segments the
-- datasets' masks (MS lesions; AD hippocampus and ventricles; chest findings), so that it learns
-- where a finding is before it must say which report it goes with.
local spread = require "spread"
local chest = require "chest"

local p = whatif.params{
  seeds = {1}, tasks = {"ms", "ad", "chest"}, text = "text",
  subjects = 400, heldout_subjects = 16, brain_size = 32, chest_size = 32,
  steps = 1000, batch = 24, accumulate = 1, lr = 3e-4, weight_decay = 0.0, bf16 = true,
  channels = {16, 32, 64, 128}, pooling = "mean", image_width = 128, embed_dim = 64, mask_weight = 1.0,
  text_width = 64, text_layers = 2, text_heads = 4, vocab_size = 512, text_length = 96,
  presets = {
    smoke = {subjects = 4, heldout_subjects = 2, steps = 3, batch = 4, bf16 = false,
             channels = {8, 16}, image_width = 16, embed_dim = 8, text_width = 16, text_layers = 1,
             text_heads = 2, vocab_size = 128},
    small = {},
    paper = {subjects = 400, heldout_subjects = 100, brain_size = 64, chest_size = 64, steps = 50000,
             batch = 64, accumulate = 4, channels = {32, 64, 128, 256}, image_width = 512, embed_dim = 256,
             text_width = 256, text_layers = 6, text_heads = 8},
  },
}

-- Zero-shot findings per task: prompts for and against, and which held-out examples are positive
-- (true), negative (false) or left out (nil) by their attributes.
local findings = {
  ms = {{name = "high_lesion_load", positive = {"high lesion load", "the white matter lesion load is high"},
         negative = {"minimal lesion load", "the white matter lesion load is minimal"},
         label = function(a) if a.level == 2 then return true elseif a.level == 0 then return false end end}},
  ad = {{name = "dementia", positive = {"dementia", "findings are consistent with dementia"},
         negative = {"cognitively normal", "findings are consistent with a cognitively normal brain"},
         label = function(a) if a.level == 2 then return true elseif a.level == 0 then return false end end}},
  chest = chest.findings,
}

local function dataset(task, subjects, seed)
  if task == "ms" or task == "ad" then
    return whatif.dataset("synthetic-brain", {task = task, subjects = subjects, size = p.brain_size, dims = 3,
                                              seed = seed, text = p.text})
  elseif task == "chest" then
    return whatif.dataset("synthetic-chest", {modality = "ct", subjects = subjects, size = p.chest_size,
                                              followups = 2, seed = seed, text = p.text})
  end
  error(("tasks: unknown task '%s': use ms, ad or chest"):format(task))
end

local results = whatif.experiment{
  name = "clip_pretraining",
  arms = whatif.grid{task = p.tasks},
  seeds = p.seeds,
  run = function(arm, ctx)
    whatif.peak_memory_mb(true)
    local train, held = dataset(arm.task, p.subjects, 0), dataset(arm.task, p.heldout_subjects, 1000 + ctx.seed)
    local clip = whatif.clip{
      image = whatif.vision("resnet", {spatial_dims = 3, channels = p.channels, pooling = p.pooling,
                                      width = p.image_width}),
      text = whatif.text("transformer", {vocab_size = p.vocab_size, max_length = p.text_length, width = p.text_width,
                                         layers = p.text_layers, heads = p.text_heads, pooling = "eos"}),
      embed_dim = p.embed_dim, bf16 = p.bf16, mask_weight = p.mask_weight,
    }
    local fit = clip:fit(train, {steps = p.steps, batch_size = p.batch, accumulate = p.accumulate, lr = p.lr,
                                 weight_decay = p.weight_decay,
                                 bf16 = p.bf16, warmup = math.min(100, p.steps), ema_decay = 0, seed = ctx.seed,
                                 checkpoint = ctx.checkpoint, checkpoint_every = 200})
    ctx:curve("loss", fit.losses)
    ctx:curve("temperature", fit.temperature)
    if fit.mask_loss then ctx:curve("mask_loss", fit.mask_loss) end
    local n = held:size()
    local texts = held:texts(1, n)
    local images = clip:embed{images = held:images(1, n)}
    local m = whatif.retrieval(images, clip:embed{texts = texts}, {labels = texts, k = {1, 5, 10}})
    local attributes = held:attributes(1, n)
    for _, f in ipairs(findings[arm.task]) do
      local scores = whatif.zero_shot(images, clip:embed{texts = f.positive}, clip:embed{texts = f.negative})
      local kept, labels, positives = {}, {}, 0
      for i = 1, n do
        local label = f.label(attributes[i])
        if label ~= nil then
          kept[#kept + 1], labels[#labels + 1] = scores[i], label
          if label then positives = positives + 1 end
        end
      end
      if positives > 0 and positives < #labels then
        m["auc_" .. f.name] = whatif.auc(kept, labels)
      else
        m["auc_" .. f.name] = 0 / 0  -- one class only among the held-out examples
      end
    end
    m.train_seconds, m.peak_rss_mb, m.heldout_examples = fit.seconds, whatif.peak_memory_mb(), n
    clip:save(ctx.dir .. "/clip.h5")
    return m
  end,
}

-- In words: retrieval against chance and the zero-shot AUCs, per task (means over seeds).
local by = {}
for _, r in ipairs(results) do
  if r.status == "complete" then
    by[r.arm.task] = by[r.arm.task] or {}
    table.insert(by[r.arm.task], r.metrics)
  end
end
local lines = {}
for _, task in ipairs(p.tasks) do
  local rows = by[task]
  if rows then
    local function mean(name) return spread.mean(spread.field(rows, function(m) return m[name] end)) end
    local aucs = {}
    for _, f in ipairs(findings[task]) do aucs[#aucs + 1] = ("%s %.2f"):format(f.name, mean("auc_" .. f.name)) end
    lines[#lines + 1] = ("**%s** (%d held-out scans, %d seed(s)): image→text R@5 %.2f, text→image R@5 %.2f "
      .. "(chance %.2f); zero-shot AUC %s."):format(task, rows[1].heldout_examples, #rows,
      mean("image_to_text_r5"), mean("text_to_image_r5"), mean("chance_r5"), table.concat(aucs, ", "))
  end
end
if #lines > 0 then whatif.summary(table.concat(lines, "\n\n")) end
