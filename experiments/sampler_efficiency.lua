-- sampler_efficiency: how few steps does a trained model need? One text-conditioned pixel-space
-- model (the quickstart's, on axial MS slices) is trained once per seed; every arm loads its
-- weights under another sampler and step count and makes the same fixed-noise counterfactual
-- pairs "minimal" vs "high lesion load". Each arm reports its time per pair and its quality beside
-- the ancestral DDPM sampler at 1000 steps: FID on classifier features against the real slices,
-- and the ground-truth effect error of the twins (measured lesion growth against the real twins').
local cf = require "counterfactual"

local p = whatif.params{
  seeds = {1},
  subjects = 24, size = 32, dims = 2, steps = 1500, batch = 16, lr = 2e-3,
  guidance = 2.0, pairs = 8, delta = 0.3, classifier_steps = 300, max_sample_steps = 1000,
  presets = {
    smoke = {subjects = 2, steps = 3, batch = 2, pairs = 1, classifier_steps = 2, max_sample_steps = 2},
    small = {subjects = 48, steps = 2000, seeds = {1, 2}},
    paper = {subjects = 400, size = 128, dims = 3, steps = 200000, batch = 4},
  },
}

local data = whatif.dataset("synthetic-brain", {task = "ms", subjects = p.subjects, size = p.size,
                                                 dims = p.dims, text = "prompt"})

local function build(sampler)
  return whatif.diffusion{
    encoder = whatif.encoder("identity"),
    denoiser = whatif.denoiser("unet", {spatial_dims = p.dims, channels = {32, 64, 64}, attention_levels = {},
                                        cross_attention_levels = {1, 2}, context_dim = 64}),
    schedule = whatif.schedule("cosine"),
    sampler = sampler,
    conditioning = whatif.conditioning("cross-attention", {context_dim = 64, dropout = 0.1}),
    text = whatif.text("transformer", {width = 64, layers = 1, heads = 4, vocab_size = 64}),
  }
end

-- The trained weights, once per seed: every arm samples the same model.
local trained = {}
local function weights(seed)
  if not trained[seed] then
    local path = ("models/sampler-base-n%d-s%d-seed%d.h5"):format(p.subjects, p.steps, seed)
    local model = build(whatif.sampler("ddim"))
    model:fit(data, {steps = p.steps, batch_size = p.batch, lr = p.lr, warmup = 50, ema_decay = 0.99,
                     seed = seed, checkpoint = path .. ".train", checkpoint_every = 500})
    model:save(path)
    trained[seed] = path
  end
  return trained[seed]
end

local function arm(name, steps)
  return {sampler = name, steps = steps}
end

whatif.experiment{
  name = "sampler_efficiency",
  arms = {arm("ddpm", 1000), arm("ddim", 50), arm("ddim", 25), arm("dpmpp-2m", 20),
          arm("dpmpp-2m", 10), arm("heun", 10), arm("euler", 20)},
  seeds = p.seeds,
  run = function(a, ctx)
    local steps = math.min(a.steps, p.max_sample_steps)  -- the smoke preset samples 2 steps
    local model = build(whatif.sampler(a.sampler))
    model:load(weights(ctx.seed))
    local metrics = cf.evaluate(model, cf.judges(data, ctx.seed, {delta = p.delta, classifier_steps = p.classifier_steps}),
                                ctx, {pairs = p.pairs, guidance = p.guidance, steps = steps, delta = p.delta})
    local fid = cf.fid(data, ctx.seed, p.classifier_steps)
    fid:reset()
    for _, prompt in ipairs({"minimal lesion load", "high lesion load"}) do
      local prompts = {}
      for i = 1, p.pairs do prompts[i] = prompt end
      fid:update{generated = model:generate{prompts = prompts, seed = 7, guidance = p.guidance, steps = steps}}
    end
    metrics.fid = fid:compute().fid
    return metrics
  end,
}
