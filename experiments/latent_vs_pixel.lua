-- latent_vs_pixel: the same diffusion pipeline in three spaces — pixels (identity), the lossless
-- Haar wavelet (the paper's front-end) and a learned kl-vae latent — under three schedules.
-- Question: at equal training steps, what does each space cost (training-step time, sampling time,
-- peak memory) and what does it give (fidelity as FID on classifier features, diversity, text-
-- alignment, subject preservation between counterfactual twins, lesion effectiveness, and the
-- VAE's reconstruction PSNR where there is one)?
--
-- The kl-vae is trained once per seed (models/vae-seedN.h5; later arms resume the finished
-- checkpoint, so they do not retrain) and the dataset is encoded once into a latent cache
-- (models/latents-seedN.h5, tagged with the VAE's hash) that every kl-vae arm reads.
-- `--set spaces=kl-vae --set schedules=cosine` runs one arm.
local cf = require "counterfactual"

local p = whatif.params{
  seeds = {1},
  subjects = 32, size = 32, dims = 3, steps = 1500, vae_steps = 1500, batch = 4, lr = 1e-3,
  vae_lr = 5e-4, sample_steps = 50, pairs = 4, delta = 0.1, guidance = 2.0, bf16 = true,
  classifier_steps = 300, downsample = 4, spaces = {"pixel", "haar", "kl-vae"},
  schedules = {"cosine", "shifted-cosine", "rectified-flow"},
  presets = {
    smoke = {subjects = 2, dims = 2, steps = 2, vae_steps = 2, batch = 2, sample_steps = 2, pairs = 2,
             bf16 = false, classifier_steps = 2},
    small = {subjects = 32, steps = 600, vae_steps = 800, sample_steps = 25, pairs = 4, downsample = 2},
    paper = {subjects = 400, size = 128, steps = 200000, vae_steps = 100000, sample_steps = 100, pairs = 64},
  },
}

local data = whatif.dataset("synthetic-brain", {task = "ms", subjects = p.subjects, size = p.size,
                                                 dims = p.dims, text = "prompt"})

local vaes = {}
local function vae_for(seed)
  if not vaes[seed] then
    local vae = whatif.encoder("kl-vae", {spatial_dims = p.dims, downsample = p.downsample,
                                          groups = 0, data_range = 1.0})
    local fit = vae:fit(data, {steps = p.vae_steps, batch_size = p.batch, lr = p.vae_lr, seed = seed,
                               checkpoint = ("models/vae-seed%d.h5"):format(seed), checkpoint_every = 200})
    vaes[seed] = {vae = vae, fit = fit}
  end
  return vaes[seed]
end

local function encoder(space, seed)
  if space == "pixel" then return whatif.encoder("identity"), 1 end
  if space == "haar" then return whatif.encoder("haar", {spatial_dims = p.dims}), 2 ^ p.dims end
  return vae_for(seed).vae, 4
end

whatif.experiment{
  name = "latent_vs_pixel",
  arms = whatif.grid{space = p.spaces, schedule = p.schedules},
  seeds = p.seeds,
  run = function(arm, ctx)
    local enc, channels = encoder(arm.space, ctx.seed)
    local schedule = arm.schedule == "cosine" and whatif.schedule("cosine")
                     or whatif.schedule(arm.schedule, {size = p.size, spatial_dims = p.dims})
    local model = whatif.diffusion{
      encoder = enc,
      denoiser = whatif.denoiser("unet", {spatial_dims = p.dims, in_channels = channels,
                                          channels = {32, 64}, attention_levels = {},
                                          cross_attention_levels = {1}, context_dim = 64}),
      schedule = schedule,
      sampler = whatif.sampler(arm.schedule == "rectified-flow" and "euler" or "ddim"),
      conditioning = whatif.conditioning("cross-attention", {context_dim = 64, dropout = 0.1}),
      text = whatif.text("transformer", {width = 64, layers = 1, heads = 4, vocab_size = 64}),
      target = arm.schedule == "rectified-flow" and "flow" or "v",
    }
    whatif.peak_memory_mb(true)
    local fit = model:fit(data, {steps = p.steps, batch_size = p.batch, lr = p.lr, bf16 = p.bf16,
                                 seed = ctx.seed, checkpoint = ctx.checkpoint, checkpoint_every = 200,
                                 cache = arm.space == "kl-vae" and ("models/latents-seed%d.h5"):format(ctx.seed) or ""})
    ctx:curve("loss", fit.losses)
    local metrics = cf.evaluate(model, cf.judges(data, ctx.seed, {delta = p.delta, classifier_steps = p.classifier_steps}),
                                ctx, {pairs = p.pairs, guidance = p.guidance, steps = p.sample_steps, delta = p.delta})
    -- Fidelity and diversity on independent samples of each prompt.
    local fid, diversity = cf.fid(data, ctx.seed, p.classifier_steps), whatif.metric("diversity", {data_range = 1})
    fid:reset()
    for _, prompt in ipairs({"minimal lesion load", "high lesion load"}) do
      local prompts = {}
      for i = 1, p.pairs do prompts[i] = prompt end
      local samples = model:generate{prompts = prompts, seed = 7, guidance = p.guidance, steps = p.sample_steps}
      fid:update{generated = samples}
      diversity:update{generated = samples}
    end
    metrics.fid = fid:compute().fid
    metrics.diversity_ms_ssim = diversity:compute().diversity_ms_ssim
    metrics.train_step_ms = 1000 * fit.seconds / math.max(1, fit.steps)
    metrics.peak_rss_mb = whatif.peak_memory_mb()
    if arm.space == "kl-vae" then metrics.vae_psnr = vae_for(ctx.seed).fit.recon_psnr end
    return metrics
  end,
}
