-- text_to_ct: method 2 end to end on synthetic chest CT. A report in, a CT volume out: contrastive
-- image–report pretraining (whatif.clip), a kl-vae, and latent diffusion with rectified flow and
-- classifier-free guidance conditioned on the report by cross-attention. The ablation is the text
-- tower the diffusion model reads:
--   "scratch":        a text transformer trained jointly with the U-Net from random weights;
--   "clip-frozen":    the pretrained clip text tower, frozen;
--   "clip-finetuned": the pretrained clip text tower, fine-tuned with the U-Net.
-- `--set texts=attributes` adds the non-language reference: the same U-Net conditioned on the
-- findings' ground-truth numbers (effusion per side, consolidation, cardiomegaly, emphysema,
-- nodule count, each divided by `condition_scales`) instead of the report, which says whether the
-- diffusion model can draw the findings at all at this scale, apart from what a text tower carries.
-- All three towers have the same architecture (width, layers, EOS pooling). The clip model, the
-- kl-vae and the latent cache are trained once per seed (models/clip-seedN.h5, vae-seedN.h5,
-- latents-seedN.h5) and shared by the arms.
--
-- Judged on held-out subjects (another dataset seed):
--   clip_score:      CLIPScore (100 · max(cos, 0)) of a volume generated from each held-out report
--                    against that report; real_clip_score is the held-out scans' own.
--   auc_<finding>:   zero-shot AUC (prompt ensembles) of the generated volumes against the findings
--                    their reports state; real_auc_<finding> is the same on the real scans. Both
--                    scores are read by the clip model whose text tower the clip arms use, so they
--                    favour those arms; the two judges below do not depend on it.
--   fid:             Fréchet distance of fixed intensity-pyramid features, generated vs held-out real.
--   effect error:    fixed-noise twins from a held-out subject's baseline and follow-up reports
--                    (same z_T): the findings grown between them, read from HU without masks (metric
--                    chest-change: effusion per side, consolidation, nodules), against the true
--                    change the subject's attributes state. `<finding>_error_ml` is the mean
--                    absolute error over pairs, `<finding>_true_ml` the mean absolute true change,
--                    `chest_change_error_ml` the sum of the four errors, and
--                    `real_<finding>_error_ml` the measure's own error on the real held-out pairs.
--   twin_ms_ssim:    how much of the anatomy the two twins share.
--   augmentation:    does the model's output help a finding classifier? One classifier trained on
--                    the real training scans only, one on them plus `augment` volumes generated from
--                    training reports (labelled by what their reports state), both scored on the
--                    held-out real scans (metric augmentation-utility, for each finding in
--                    `augment_findings`): augment_<finding>_auc_real, _auc_augmented, _auc_gain.
--                    The classifier max-pools its last map (`augment_pooling`): with the mean it
--                    does not learn a 32³ effusion at all.
local spread = require "spread"
local chest = require "chest"
local findings = chest.findings

local p = whatif.params{
  seeds = {1}, texts = {"scratch", "clip-frozen", "clip-finetuned"},
  subjects = 96, heldout_subjects = 16, size = 32, followups = 2, window = {-1000.0, 1000.0}, bf16 = true,
  -- clip
  clip_steps = 800, clip_batch = 24, clip_lr = 1e-3, clip_channels = {16, 32, 64, 128}, image_width = 128,
  embed_dim = 64, text_width = 64, text_layers = 2, text_heads = 4, vocab_size = 512, text_length = 96,
  -- kl-vae
  vae_steps = 600, vae_batch = 4, vae_lr = 5e-4, vae_channels = {16, 32}, downsample = 2,
  -- latent diffusion
  steps = 1000, batch = 8, lr = 1e-3, widths = {32, 64, 64}, cross_levels = {1, 2}, sample_steps = 25,
  guidance = 3.0, pairs = 32,
  -- the attribute arm's numbers are divided by these (about each finding's spread) before embedding
  condition_scales = {150.0, 150.0, 50.0, 1.0, 5.0, 1.0},
  -- augmentation utility
  augment = 48, augment_findings = {"effusion"}, augment_steps = 300, augment_pooling = "max",
  presets = {
    smoke = {subjects = 4, heldout_subjects = 4, followups = 1, bf16 = false, clip_steps = 3, clip_batch = 4,
             clip_channels = {8, 16}, image_width = 16, embed_dim = 8, text_width = 16, text_layers = 1,
             text_heads = 2, vocab_size = 128, vae_steps = 2, vae_batch = 2, vae_channels = {8, 8}, steps = 2,
             batch = 2, widths = {8, 16}, cross_levels = {1}, sample_steps = 2, pairs = 2, augment = 2,
             augment_steps = 2},
    small = {},
    paper = {subjects = 400, heldout_subjects = 100, size = 64, clip_steps = 50000, clip_batch = 64,
             clip_channels = {32, 64, 128, 256}, image_width = 512, embed_dim = 256, text_width = 256,
             text_layers = 6, text_heads = 8, vae_steps = 100000, vae_channels = {64, 128}, steps = 200000,
             widths = {128, 256, 256}, sample_steps = 50, pairs = 64},
  },
}

local function chest_ct(subjects, seed)
  return whatif.dataset("synthetic-chest", {modality = "ct", subjects = subjects, size = p.size,
                                            followups = p.followups, seed = seed, text = "text",
                                            window = p.window})
end
local train = chest_ct(p.subjects, 0)

local function text_transformer()
  return whatif.text("transformer", {vocab_size = p.vocab_size, max_length = p.text_length, width = p.text_width,
                                     layers = p.text_layers, heads = p.text_heads, pooling = "eos"})
end

local function new_clip()
  return whatif.clip{
    image = whatif.vision("resnet", {spatial_dims = 3, channels = p.clip_channels, width = p.image_width}),
    text = text_transformer(), embed_dim = p.embed_dim, bf16 = p.bf16,
  }
end

-- Once per seed: the clip model (the judge, and the frozen arm's tower) and the kl-vae.
local shared = {}
local function pretrained(seed)
  if shared[seed] then return shared[seed] end
  local clip = new_clip()
  local clip_file = ("models/clip-seed%d.h5"):format(seed)
  local clip_seconds = 0
  if not pcall(clip.load, clip, clip_file) then
    local fit = clip:fit(train, {steps = p.clip_steps, batch_size = p.clip_batch, lr = p.clip_lr, bf16 = p.bf16,
                                 warmup = math.min(100, p.clip_steps), ema_decay = 0, seed = seed,
                                 checkpoint = ("models/clip-seed%d-checkpoint.h5"):format(seed),
                                 checkpoint_every = 200})
    clip:save(clip_file)
    clip_seconds = fit.seconds
  end
  local vae = whatif.encoder("kl-vae", {spatial_dims = 3, downsample = p.downsample, channels = p.vae_channels,
                                        groups = 0, data_range = 1.0})
  local v = vae:fit(train, {steps = p.vae_steps, batch_size = p.vae_batch, lr = p.vae_lr, bf16 = p.bf16,
                            warmup = math.min(100, p.vae_steps), seed = seed,
                            checkpoint = ("models/vae-seed%d.h5"):format(seed), checkpoint_every = 200})
  shared[seed] = {clip = clip, clip_file = clip_file, vae = vae, vae_fit = v, clip_seconds = clip_seconds}
  return shared[seed]
end

-- The fine-tuned tower comes from its own copy of the clip model, so that fine-tuning leaves the
-- judge and the frozen arm's tower as pretrained.
local function text_tower(kind, s)
  if kind == "scratch" then return text_transformer()
  elseif kind == "clip-frozen" then return s.clip:text_encoder{frozen = true}
  elseif kind == "clip-finetuned" then
    local copy = new_clip()
    copy:load(s.clip_file)
    return copy:text_encoder{frozen = false}
  end
  error(("texts: unknown text tower '%s': use scratch, clip-frozen, clip-finetuned or attributes"):format(kind))
end

-- The attribute arm's condition: the findings' numbers of example i of `data`.
local condition_names = {"effusion_right_ml", "effusion_left_ml", "consolidation_ml", "cardiomegaly",
                         "emphysema_percent", "nodule_count"}
local function condition(data, i)
  local a, out = data:attributes(i, 1)[1], {}
  for _, name in ipairs(condition_names) do out[name] = a[name] end
  return out
end

-- The attributes each augmentation finding sums, by the finding's name in scripts/chest.lua.
local finding_attributes = {effusion = {"effusion_right_ml", "effusion_left_ml"}, nodule = {"nodule_count"},
                            consolidation = {"consolidation_ml"}, cardiomegaly = {"cardiomegaly"},
                            emphysema = {"emphysema_percent"}}
for _, name in ipairs(p.augment_findings) do
  if not finding_attributes[name] then
    error(("augment_findings: unknown finding '%s': use effusion, nodule, consolidation, cardiomegaly or emphysema")
          :format(name))
  end
end

-- Whether attribute tables `list` hold both examples with and without finding `name`.
local function both_classes(list, name)
  local with, without = false, false
  for _, a in ipairs(list) do
    local size = 0
    for _, key in ipairs(finding_attributes[name]) do size = size + a[key] end
    if size > 0 then with = true else without = true end
  end
  return with and without
end

local results = whatif.experiment{
  name = "text_to_ct",
  arms = whatif.grid{text = p.texts},
  seeds = p.seeds,
  run = function(arm, ctx)
    whatif.peak_memory_mb(true)
    local s = pretrained(ctx.seed)
    local held = chest_ct(p.heldout_subjects, 1000 + ctx.seed)
    local by_attributes = arm.text == "attributes"
    local model = whatif.diffusion{
      encoder = s.vae,
      denoiser = whatif.denoiser("unet", {spatial_dims = 3, in_channels = 4, channels = p.widths,
                                          attention_levels = {}, cross_attention_levels = p.cross_levels,
                                          context_dim = p.text_width, dropout = 0.1}),
      schedule = whatif.schedule("rectified-flow", {size = p.size // p.downsample, spatial_dims = 3}),
      sampler = whatif.sampler("euler"),
      conditioning = by_attributes
        and whatif.conditioning("attributes", {categories = {0, 0, 0, 0, 0, 0}, scales = p.condition_scales,
                                               context_dim = p.text_width, dropout = 0.1})
        or whatif.conditioning("cross-attention", {context_dim = p.text_width, dropout = 0.1}),
      text = (not by_attributes) and text_tower(arm.text, s) or nil,
      target = "flow",
    }
    local fit = model:fit(train, {steps = p.steps, batch_size = p.batch, lr = p.lr, bf16 = p.bf16,
                                  warmup = math.min(100, p.steps), ema_decay = 0.995, seed = ctx.seed,
                                  checkpoint = ctx.checkpoint, checkpoint_every = 200,
                                  cache = ("models/latents-seed%d.h5"):format(ctx.seed),
                                  attributes = by_attributes and condition_names or {}})
    ctx:curve("loss", fit.losses)
    local m = {train_seconds = fit.seconds, clip_seconds = s.clip_seconds, vae_seconds = s.vae_fit.seconds,
               vae_psnr = s.vae_fit.recon_psnr}

    -- One volume per held-out report, and the held-out scans themselves, through the judges.
    local n = held:size()
    local reports, attributes = held:texts(1, n), held:attributes(1, n)
    local fid = whatif.metric("fid")
    local generated_scores, real_scores, generated_zero, real_zero = {}, {}, {}, {}
    local chunk = 8
    local prompts_of = {}  -- each finding's prompt ensembles, embedded once
    for _, f in ipairs(findings) do
      prompts_of[f.name] = {s.clip:embed{texts = f.positive}, s.clip:embed{texts = f.negative}}
      generated_zero[f.name], real_zero[f.name] = {}, {}
    end
    local sample_seconds = 0
    for first = 1, n, chunk do
      local count = math.min(chunk, n - first + 1)
      local prompts, conditions = {}, {}
      for i = 1, count do prompts[i], conditions[i] = reports[first + i - 1], condition(held, first + i - 1) end
      local t0 = whatif.clock()
      local g = model:generate{prompts = (not by_attributes) and prompts or nil,
                               attributes = by_attributes and conditions or nil,
                               seed = 100 + first, guidance = p.guidance, steps = p.sample_steps}
      sample_seconds = sample_seconds + whatif.clock() - t0
      local real = held:images(first, count)
      local text_e = s.clip:embed{texts = prompts}
      local ge, re = s.clip:embed{images = g}, s.clip:embed{images = real}
      local _, gs = whatif.clip_score(ge, text_e)
      local _, rs = whatif.clip_score(re, text_e)
      for _, f in ipairs(findings) do
        local pos, neg = prompts_of[f.name][1], prompts_of[f.name][2]
        for _, v in ipairs(whatif.zero_shot(ge, pos, neg)) do table.insert(generated_zero[f.name], v) end
        for _, v in ipairs(whatif.zero_shot(re, pos, neg)) do table.insert(real_zero[f.name], v) end
      end
      for _, v in ipairs(gs) do generated_scores[#generated_scores + 1] = v end
      for _, v in ipairs(rs) do real_scores[#real_scores + 1] = v end
      fid:update{generated = g, reference = real}
      if first == 1 then
        ctx:sample("generated", g:select(1), {note = "from the held-out report: " .. prompts[1], geometry = held})
        ctx:sample("real", real:select(1), {note = "the held-out scan of that report", geometry = held})
      end
    end
    m.sample_seconds = sample_seconds / n
    m.clip_score, m.real_clip_score = spread.mean(generated_scores), spread.mean(real_scores)
    m.fid = fid:compute().fid
    for _, f in ipairs(findings) do
      local labels, positives = {}, 0
      for i = 1, n do
        labels[i] = f.label(attributes[i])
        if labels[i] then positives = positives + 1 end
      end
      local both = positives > 0 and positives < n
      m["auc_" .. f.name] = both and whatif.auc(generated_zero[f.name], labels) or 0 / 0
      m["real_auc_" .. f.name] = both and whatif.auc(real_zero[f.name], labels) or 0 / 0
    end

    -- Fixed-noise twins of held-out (baseline, follow-up) reports against the true change.
    local change = whatif.metric("chest-change", {window = p.window})
    for k, v in pairs(change:fit(held, {seed = ctx.seed})) do m[k] = v end
    local preservation = whatif.metric("subject-preservation", {data_range = 1})
    local used = 0
    for i, pair in ipairs(held:pairs()) do
      if used == p.pairs then break end
      used = used + 1
      local texts = held:texts(pair[1], 1)
      texts[2] = held:texts(pair[2], 1)[1]
      local gb, gf = model:counterfactual{prompts = (not by_attributes) and texts or nil,
                                          attributes = by_attributes and {condition(held, pair[1]),
                                                                          condition(held, pair[2])} or nil,
                                          seed = 200 + i, guidance = p.guidance, steps = p.sample_steps}
      preservation:update{generated = gf, source = gb}
      change:update{generated = gf, source = gb, attributes = chest.pair_attributes(held, pair[1], pair[2])}
      if i == 1 then
        ctx:sample("twin_baseline", gb, {note = "fixed noise, the held-out baseline's report: " .. texts[1],
                                         geometry = held})
        ctx:sample("twin_followup", gf, {note = "same noise, the follow-up's report: " .. texts[2], geometry = held})
      end
    end
    if used == 0 then error("pairs: the held-out set has no (baseline, follow-up) pairs; raise heldout_subjects") end
    for k, v in pairs(change:compute()) do m[k] = v end
    m.twin_ms_ssim = preservation:compute().source_ms_ssim

    -- Augmentation utility: `augment` volumes from evenly spaced training reports, labelled by what
    -- the reports state, added to the real training scans of a finding classifier.
    if p.augment > 0 and #p.augment_findings > 0 then
      local generated, asked = {}, {}
      for k = 1, p.augment do
        local i = 1 + (k - 1) * train:size() // p.augment
        asked[k] = train:attributes(i, 1)[1]
        generated[k] = model:generate{prompts = (not by_attributes) and train:texts(i, 1) or nil,
                                      attributes = by_attributes and {condition(train, i)} or nil,
                                      seed = 300 + k, guidance = p.guidance, steps = p.sample_steps}
      end
      for _, name in ipairs(p.augment_findings) do
        local prefix = "augment_" .. name
        if both_classes(train:attributes(1, train:size()), name) and both_classes(attributes, name) then
          local utility = whatif.metric("augmentation-utility", {attributes = finding_attributes[name],
                                                                 steps = p.augment_steps, pooling = p.augment_pooling})
          utility:fit(train, {seed = ctx.seed})
          for k = 1, p.augment do
            local a = {}
            for _, key in ipairs(finding_attributes[name]) do a[key] = asked[k][key] end
            utility:update{generated = generated[k], attributes = a}
          end
          for first = 1, n, chunk do
            local count = math.min(chunk, n - first + 1)
            local a = {}
            for _, key in ipairs(finding_attributes[name]) do
              a[key] = {}
              for i = 1, count do a[key][i] = attributes[first + i - 1][key] end
            end
            utility:update{reference = held:images(first, count), attributes = a}
          end
          local u = utility:compute()
          m[prefix .. "_auc_real"] = u.augmentation_auc_real
          m[prefix .. "_auc_augmented"] = u.augmentation_auc_augmented
          m[prefix .. "_auc_gain"] = u.augmentation_auc_gain
        else
          whatif.warn(("augmentation: the %s finding needs scans with and without it in the training and "
                       .. "held-out sets; skipped"):format(name))
        end
      end
    end
    m.peak_rss_mb = whatif.peak_memory_mb()
    return m
  end,
}

-- In words: which tower makes volumes that match their reports, and what the judges can see.
local by = {}
for _, r in ipairs(results) do
  if r.status == "complete" then
    by[r.arm.text] = by[r.arm.text] or {}
    table.insert(by[r.arm.text], r.metrics)
  end
end
local lines = {}
for _, text in ipairs(p.texts) do
  local rows = by[text]
  if rows then
    local function cell(name, pattern)
      return spread.cell(spread.field(rows, function(m) return m[name] end), pattern or "%.2f")
    end
    local aucs = {}
    for _, f in ipairs(findings) do aucs[#aucs + 1] = ("%s %s"):format(f.name, cell("auc_" .. f.name)) end
    lines[#lines + 1] = ("**%s** (%d seed(s)): CLIPScore %s (real scans %s); zero-shot AUC on generated volumes %s; "
      .. "FID %s; effect error effusion right/left %s / %s ml, consolidation %s ml, nodules %s ml "
      .. "(mean true change %s / %s, %s, %s ml); twin MS-SSIM %s.")
      :format(text, #rows, cell("clip_score"), cell("real_clip_score"), table.concat(aucs, ", "), cell("fid", "%.3g"),
              cell("effusion_right_error_ml"), cell("effusion_left_error_ml"), cell("consolidation_error_ml"),
              cell("nodule_error_ml"), cell("effusion_right_true_ml"), cell("effusion_left_true_ml"),
              cell("consolidation_true_ml"), cell("nodule_true_ml"), cell("twin_ms_ssim", "%.4f"))
    for _, name in ipairs(p.augment_findings) do
      local prefix = "augment_" .. name
      if rows[1][prefix .. "_auc_real"] then
        lines[#lines] = lines[#lines] .. (" Augmentation: the %s classifier scores held-out real scans at AUC %s "
          .. "trained on real scans only, %s with %d generated volumes added (gain %s).")
          :format(name, cell(prefix .. "_auc_real"), cell(prefix .. "_auc_augmented"), p.augment,
                  cell(prefix .. "_auc_gain", "%+.2f"))
      end
    end
  end
end
if #lines > 0 then whatif.summary(table.concat(lines, "\n\n")) end
