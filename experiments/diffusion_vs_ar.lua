-- diffusion_vs_ar: the second axis of the product. One task — a prior scan and a prompt in, the
-- counterfactual follow-up out — solved by the two model families on the two benchmarks:
--   task "brain": MS twins (3D, 32³), prior = a held-out subject's minimal-load twin, target = its
--                 high-load twin, prompt "high lesion load";
--   task "chest": synthetic chest radiographs (2D, the ProgEmu setting), prior = a held-out
--                 subject's baseline, target = a follow-up, prompt = the change in a few words.
-- Families:
--   "diffusion":      a text-conditioned pixel-space U-Net (cosine schedule, DDIM) trained on single
--                     images with their text (brain: the level's prompt; chest: the report), given the
--                     prior by DDIM inversion: the prior is inverted under its own text and regenerated
--                     under the target's (protocol "inversion", strength `strength`). No concat
--                     conditioning: the same model family as the rest of the project, unchanged.
--   "autoregressive": a vq-vae tokenizer, then one decoder-only transformer trained on the dataset's
--                     pairs (text = "progression"), writing [follow-up codes][interpretation] after
--                     [prior codes][prompt] (docs/autoregression.md).
-- Columns, on `pairs` held-out pairs (another dataset seed): effect_fraction (the output's change
-- projected on the true change, Σ(g−p)(t−p)/Σ(t−p)²: 1 = the whole true change, 0 = none),
-- effect_error (mean |g − t| where the true change exceeds `change_threshold` of the prior's
-- range), preservation_drift (mean |g − p| where it does not: what moved that should not),
-- fid (fixed intensity-pyramid features, generated against the true follow-ups), for the brain
-- also lesion_volume_error_ml (the effectiveness measure against the real twins), for the AR model
-- the interpretation's finding_f1 / BLEU-4 / ROUGE-L against the true follow-up's text, and the
-- cost: train_seconds (tokenizer included), sample_seconds per example, peak_rss_mb.
local spread = require "spread"

local p = whatif.params{
  seeds = {1}, tasks = {"brain", "chest"}, families = {"diffusion", "autoregressive"},
  subjects = 32, brain_size = 32, brain_dims = 3, chest_size = 32, followups = 2, pairs = 8,
  change_threshold = 0.05, bf16 = true,
  -- diffusion
  diffusion_steps = 2000, batch = 4, lr = 1e-3, widths = {16, 32, 64}, sample_steps = 25, guidance = 2.0,
  strength = 0.8, text_length = 96,
  -- autoregressive
  vq_steps = 800, vq_batch = 4, codebook_size = 256, vq_downsample = 4, vq_channels = {16, 32, 32},
  ar_steps = 1500, ar_batch = 4, ar_checkpointing = false,
  ar_lr = 1e-3, width = 128, layers = 4, heads = 4, prompt_length = 24, interpretation_length = 64,
  temperature = 1.0, top_p = 0.9, ar_guidance = 1.0,
  presets = {
    smoke = {subjects = 2, brain_dims = 2, followups = 1, pairs = 2, bf16 = false, diffusion_steps = 2, batch = 2,
             widths = {8, 16}, sample_steps = 2, vq_steps = 2, vq_batch = 2, codebook_size = 16, ar_steps = 2,
             ar_batch = 2, width = 16, layers = 1, heads = 2, interpretation_length = 8},
    small = {},
    paper = {subjects = 400, brain_size = 128, chest_size = 128, pairs = 64, diffusion_steps = 200000,
             sample_steps = 100, vq_steps = 100000, vq_batch = 8, vq_channels = {64, 128, 256}, ar_steps = 200000,
             ar_batch = 16, ar_checkpointing = true, width = 512, layers = 12, heads = 8},
  },
}

-- `plugin`'s dataset with the options `base` overridden by `changes`.
local function dataset(plugin, base, changes)
  local options = {}
  for k, v in pairs(base) do options[k] = v end
  for k, v in pairs(changes) do options[k] = v end
  return whatif.dataset(plugin, options)
end

-- A task's datasets: for the diffusion model (images with the text it is conditioned on), for the
-- AR model (the same images, text = "progression"), and the held-out pairs both are judged on
-- (another seed; for the chest also their reports, the diffusion model's texts).
local function datasets(task, seed)
  local heldout = {seed = 1000 + seed, subjects = math.max(1, p.pairs)}
  local function held(text)
    local changes = {text = text}
    for k, v in pairs(heldout) do changes[k] = v end
    return changes
  end
  if task == "brain" then
    local o = {task = "ms", subjects = p.subjects, size = p.brain_size, dims = p.brain_dims, seed = 0}
    return {diffusion = dataset("synthetic-brain", o, {text = "prompt"}),
            autoregressive = dataset("synthetic-brain", o, {text = "progression"}),
            heldout = dataset("synthetic-brain", o, held("progression"))}
  elseif task == "chest" then
    local o = {modality = "cxr", subjects = p.subjects, size = p.chest_size, followups = p.followups, seed = 0}
    return {diffusion = dataset("synthetic-chest", o, {text = "text"}),
            autoregressive = dataset("synthetic-chest", o, {text = "progression"}),
            heldout = dataset("synthetic-chest", o, held("progression")),
            heldout_reports = dataset("synthetic-chest", o, held("text"))}
  end
  error(("tasks: unknown task '%s': use brain or chest"):format(task))
end

-- The held-out pairs: {prior index, target index} (1-based). Brain: each subject's minimal → high
-- twin; chest: each subject's baseline → first follow-up.
local function heldout_pairs(task, d)
  local out = {}
  for _, pair in ipairs(d.heldout:pairs()) do
    local prior, target = pair[1], pair[2]
    if task == "brain" and (prior - 1) % 3 == 0 and (target - 1) % 3 == 2 then out[#out + 1] = pair end
    if task == "chest" and target == prior + 1 then out[#out + 1] = pair end
    if #out == p.pairs then break end
  end
  return out
end

-- "prompt\ninterpretation" → prompt, interpretation.
local function split(text)
  local cut = text:find("\n", 1, true)
  if not cut then return text, "" end
  return text:sub(1, cut - 1), text:sub(cut + 1)
end

local function diffusion_model(task)
  local dims = task == "brain" and p.brain_dims or 2
  return whatif.diffusion{
    encoder = whatif.encoder("identity"),
    denoiser = whatif.denoiser("unet", {spatial_dims = dims, channels = p.widths, attention_levels = {},
                                        cross_attention_levels = {1}, context_dim = 64}),
    schedule = whatif.schedule("cosine"),
    sampler = whatif.sampler("ddim"),
    conditioning = whatif.conditioning("cross-attention", {context_dim = 64, dropout = 0.1}),
    text = whatif.text("transformer", {width = 64, layers = 1, heads = 4, vocab_size = 256,
                                       max_length = p.text_length}),
  }
end

-- Trains the family's model for `task` (or resumes its checkpoint); returns the model and the
-- training seconds.
local function train(task, family, d, ctx)
  local dims = task == "brain" and p.brain_dims or 2
  if family == "diffusion" then
    local model = diffusion_model(task)
    local fit = model:fit(d.diffusion, {steps = p.diffusion_steps, batch_size = p.batch, lr = p.lr, bf16 = p.bf16,
                                        warmup = math.min(100, p.diffusion_steps), ema_decay = 0.995,
                                        seed = ctx.seed, checkpoint = ctx.checkpoint, checkpoint_every = 200})
    ctx:curve("loss", fit.losses)
    return model, fit.seconds
  end
  if family ~= "autoregressive" then
    error(("families: unknown family '%s': use diffusion or autoregressive"):format(family))
  end
  local vq = whatif.encoder("vq-vae", {spatial_dims = dims, codebook_size = p.codebook_size, codebook_dim = 8,
                                      channels = p.vq_channels,
                                      downsample = p.vq_downsample, dead_code_steps = 50})
  local v = vq:fit(d.autoregressive, {steps = p.vq_steps, batch_size = p.vq_batch, lr = 1e-3, bf16 = p.bf16,
                                      warmup = math.min(50, p.vq_steps), ema_decay = 0, seed = ctx.seed,
                                      checkpoint = ctx.dir .. "/vq.h5", checkpoint_every = 200})
  ctx:curve("vq_loss", v.losses)
  local grid = (task == "brain" and p.brain_size or 2 * p.chest_size) // p.vq_downsample
  local codes = grid ^ dims
  local text_tokens = 512
  local gen = whatif.generator("transformer", {vocab_size = 5 + text_tokens + p.codebook_size,
                                               max_length = math.floor(2 * codes + p.prompt_length + p.interpretation_length + 8),
                                               width = p.width, layers = p.layers, heads = p.heads,
                                               checkpointing = p.ar_checkpointing})
  local ar = whatif.autoregressive{tokenizer = vq, text = whatif.text("transformer", {vocab_size = text_tokens}),
                                   generator = gen, prompt_length = p.prompt_length,
                                   text_length = p.interpretation_length, bf16 = p.bf16}
  local fit = ar:fit(d.autoregressive, {steps = p.ar_steps, batch_size = p.ar_batch, lr = p.ar_lr, bf16 = p.bf16,
                                        warmup = math.min(100, p.ar_steps), ema_decay = 0, seed = ctx.seed,
                                        checkpoint = ctx.checkpoint, checkpoint_every = 200,
                                        cache = ctx.dir .. "/tokens.h5"})
  ctx:curve("loss", fit.losses)
  return ar, v.seconds + fit.seconds
end

-- The output's change against the true change (see the header).
local function effect(prior, target, out)
  local tau = p.change_threshold * (prior:max() - prior:min())
  local true_change, change = target - prior, out - prior
  local changed, kept = true_change:abs():gt(tau), true_change:abs():lt(tau)
  local n_changed, n_kept = changed:sum(), kept:sum()
  return {fraction = (change * true_change):sum() / math.max((true_change * true_change):sum(), 1e-12),
          error = n_changed > 0 and ((out - target):abs() * changed):sum() / n_changed or 0,
          drift = n_kept > 0 and (change:abs() * kept):sum() / n_kept or 0}
end

local results = whatif.experiment{
  name = "diffusion_vs_ar",
  arms = whatif.grid{task = p.tasks, family = p.families},
  seeds = p.seeds,
  run = function(arm, ctx)
    whatif.peak_memory_mb(true)
    local d = datasets(arm.task, ctx.seed)
    local model, train_seconds = train(arm.task, arm.family, d, ctx)
    local fid = whatif.metric("fid")
    local interpretation = whatif.metric("interpretation")
    local lesions
    if arm.task == "brain" then
      lesions = whatif.metric("effectiveness", {delta = 0.1})
      lesions:fit(d.heldout)
    end
    local sums = {fraction = 0, error = 0, drift = 0}
    local chosen = heldout_pairs(arm.task, d)
    if #chosen == 0 then error("no held-out pairs: raise `pairs`") end
    local sample_seconds = 0
    for i, pair in ipairs(chosen) do
      local prior, target = d.heldout:images(pair[1], 1), d.heldout:images(pair[2], 1)
      local prompt, truth = split(d.heldout:texts(pair[2], 1)[1])
      local start = whatif.clock()
      local out, text
      if arm.family == "diffusion" then
        -- The texts the diffusion model was trained on: the level's prompt, or the report.
        local source_text = arm.task == "brain" and split(d.heldout:texts(pair[1], 1)[1]) or d.heldout_reports:texts(pair[1], 1)[1]
        local target_text = arm.task == "brain" and prompt or d.heldout_reports:texts(pair[2], 1)[1]
        out = model:counterfactual{protocol = "inversion", source = prior, factual = source_text,
                                   counterfactual = target_text, strength = p.strength,
                                   steps = p.sample_steps, guidance = p.guidance}
      else
        local extra
        out, extra = model:generate{prior = prior, prompts = {prompt}, seed = 100 + i, temperature = p.temperature,
                                    top_p = p.top_p, guidance = p.ar_guidance,
                                    max_text_length = p.interpretation_length}
        text = extra.texts[1]
        interpretation:update{texts = {text}, reference_texts = {truth}}
      end
      sample_seconds = sample_seconds + whatif.clock() - start
      local e = effect(prior, target, out)
      for k, v in pairs(e) do sums[k] = sums[k] + v / #chosen end
      fid:update{generated = out, reference = target}
      if lesions then lesions:update{generated = out, source = prior, attributes = {level = 2, source_level = 0}} end
      if i == 1 then
        ctx:sample("prior", prior, {note = "the held-out prior", geometry = d.heldout})
        ctx:sample("target", target, {note = "the true follow-up", truth = truth, geometry = d.heldout})
        ctx:sample("generated", out, {note = ("prompt: %s%s"):format(prompt, text and ("; wrote: " .. text) or ""),
                                      truth = truth, geometry = d.heldout})
      end
    end
    local m = {effect_fraction = sums.fraction, effect_error = sums.error, preservation_drift = sums.drift,
               train_seconds = train_seconds, sample_seconds = sample_seconds / #chosen,
               peak_rss_mb = whatif.peak_memory_mb()}
    m.fid = #chosen >= 2 and fid:compute().fid or 0 / 0
    if lesions then
      local l = lesions:compute()
      m.lesion_volume_error_ml, m.lesion_measured_ml, m.lesion_expected_ml =
        l.effectiveness_error_ml, l.effectiveness_measured_ml, l.effectiveness_expected_ml
    end
    if arm.family == "autoregressive" then
      local t = interpretation:compute()
      m.finding_f1, m.finding_precision, m.finding_recall = t.finding_f1, t.finding_precision, t.finding_recall
      m.interpretation_bleu4, m.interpretation_rouge_l = t.interpretation_bleu4, t.interpretation_rouge_l
    end
    return m
  end,
}

-- Which family won on what, per task, in words (means over seeds; the table has the spread).
local by = {}
for _, r in ipairs(results) do
  if r.status == "complete" then
    local key = r.arm.task .. "/" .. r.arm.family
    by[key] = by[key] or {}
    by[key][#by[key] + 1] = r.metrics
  end
end
local function mean(rows, name)
  return spread.mean(spread.field(rows, function(m) return m[name] end))
end
local paragraphs = {}
for _, task in ipairs(p.tasks) do
  local dif, ar = by[task .. "/diffusion"], by[task .. "/autoregressive"]
  if dif and ar then
    local function better(name, higher)
      local a, b = mean(dif, name), mean(ar, name)
      if a == b then return "tie" end
      return ((a > b) == higher) and "diffusion" or "autoregression"
    end
    paragraphs[#paragraphs + 1] = table.concat({
      ("**%s** (%d seed(s), %d held-out pairs): the true change is reproduced better by **%s** "
        .. "(effect fraction %.2f diffusion vs %.2f autoregression; 1 = the whole change), "
        .. "the rest of the scan is kept better by **%s** (drift %.4f vs %.4f), "
        .. "the follow-ups look more like real ones to the pyramid features by **%s** (FID %.3g vs %.3g); "
        .. "sampling takes %.2f s vs %.2f s per example and training %.0f s vs %.0f s. "
        .. "The autoregressive model's interpretations score finding F1 %.2f, BLEU-4 %.2f, ROUGE-L %.2f.")
        :format(task, #dif, p.pairs, better("effect_fraction", true), mean(dif, "effect_fraction"),
                mean(ar, "effect_fraction"), better("preservation_drift", false), mean(dif, "preservation_drift"),
                mean(ar, "preservation_drift"), better("fid", false), mean(dif, "fid"), mean(ar, "fid"),
                mean(dif, "sample_seconds"), mean(ar, "sample_seconds"), mean(dif, "train_seconds"),
                mean(ar, "train_seconds"), mean(ar, "finding_f1"), mean(ar, "interpretation_bleu4"),
                mean(ar, "interpretation_rouge_l"))}, "\n")
  end
end
if #paragraphs > 0 then whatif.summary(table.concat(paragraphs, "\n\n")) end
