-- latent_vs_pixel: the same diffusion pipeline in three spaces — pixels (identity), the lossless
-- Haar wavelet (the paper's front-end) and a learned kl-vae latent — under three schedules.
-- Question: at equal training steps, what does each space cost (step time, sampling time) and what
-- does it give (prompt-driven lesion darkening, subject preservation between counterfactual twins,
-- the VAE's reconstruction PSNR where there is one)?
local cf = require "counterfactual"

local p = whatif.params{
  subjects = 32, size = 32, dims = 3, steps = 1500, vae_steps = 1500, batch = 4, lr = 1e-3,
  sample_steps = 50, pairs = 4, delta = 0.3, guidance = 2.0, bf16 = true,
  presets = {
    smoke = {subjects = 2, dims = 2, steps = 2, vae_steps = 2, batch = 2, sample_steps = 2, pairs = 1,
             bf16 = false},
    small = {subjects = 32, steps = 1200, vae_steps = 1200},
    paper = {subjects = 400, size = 128, steps = 200000, vae_steps = 100000, sample_steps = 100, pairs = 64},
  },
}

local data = whatif.dataset("synthetic-brain", {task = "ms", subjects = p.subjects, size = p.size,
                                                 dims = p.dims, text = "prompt"})

local function encoder(space, ctx)
  if space == "pixel" then return whatif.encoder("identity"), 1, nil end
  if space == "haar" then return whatif.encoder("haar", {spatial_dims = p.dims}), 2 ^ p.dims, nil end
  local vae = whatif.encoder("kl-vae", {spatial_dims = p.dims, downsample = 4, channels = {32, 64, 64},
                                        groups = 0, data_range = 1.0})
  local fit = vae:fit(data, {steps = p.vae_steps, batch_size = p.batch, lr = p.lr, seed = ctx.seed,
                             checkpoint = ctx.dir .. "/vae-checkpoint.h5", checkpoint_every = 200})
  ctx:curve("vae_loss", fit.losses)
  return vae, 4, fit.psnr[#fit.psnr]
end

whatif.experiment{
  name = "latent_vs_pixel",
  arms = whatif.grid{space = {"pixel", "haar", "kl-vae"}, schedule = {"cosine", "shifted-cosine", "rectified-flow"}},
  seeds = {1},
  run = function(arm, ctx)
    local enc, channels, vae_psnr = encoder(arm.space, ctx)
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
    local fit = model:fit(data, {steps = p.steps, batch_size = p.batch, lr = p.lr, bf16 = p.bf16,
                                 seed = ctx.seed, checkpoint = ctx.checkpoint, checkpoint_every = 200})
    ctx:curve("loss", fit.losses)
    local preservation = whatif.metric("subject-preservation")
    local darker, brighter, sampling = 0, 0, 0
    for i = 1, p.pairs do
      local minimal, high = model:counterfactual{prompts = {"minimal lesion load", "high lesion load"},
                                                 seed = 100 + i, guidance = p.guidance, steps = p.sample_steps}
      if i == 1 then ctx:sample("minimal", minimal); ctx:sample("high", high) end
      preservation:update{generated = high, source = minimal}
      local d, b = cf.darkening(minimal, high, p.delta)
      darker, brighter = darker + d / p.pairs, brighter + b / p.pairs
    end
    local kept = preservation:compute()
    local metrics = {subject_ms_ssim = kept.source_ms_ssim, darker_fraction = darker,
                     brighter_fraction = brighter, train_step_ms = 1000 * fit.seconds / math.max(1, #fit.losses)}
    if vae_psnr then metrics.vae_psnr = vae_psnr end
    return metrics
  end,
}
