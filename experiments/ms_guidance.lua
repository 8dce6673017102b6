-- ms_guidance: the guidance sweep of method 1 on fixed-noise counterfactuals.
-- Question: as classifier-free guidance w grows (0, 0.5, 1, 2, 3), does the prompt steer the MS
-- lesion load more strongly (the high-load twin grows more lesion-like darkening) while the
-- subject is preserved less (lower MS-SSIM and PSNR between a subject's twins)? The paper reports
-- subject MS-SSIM 0.964, 0.964, 0.926, 0.898 for w = 0, 1, 2, 3.
--
-- One model is trained per seed and shared by the arms of that seed (saved in the run directory).
local cf = require "counterfactual"

local p = whatif.params{
  subjects = 32, size = 32, dims = 3, steps = 1500, batch = 4, lr = 1e-3, bf16 = true,
  sample_steps = 50, pairs = 8, delta = 0.3,
  presets = {
    smoke = {subjects = 2, dims = 2, steps = 2, batch = 2, sample_steps = 2, pairs = 1, bf16 = false},
    small = {subjects = 32, steps = 1500},
    paper = {subjects = 400, size = 128, steps = 200000, sample_steps = 100, pairs = 64},
  },
}

local data = whatif.dataset("synthetic-brain", {task = "ms", subjects = p.subjects, size = p.size,
                                                 dims = p.dims, text = "prompt"})

local function build()
  return whatif.diffusion{
    encoder = whatif.encoder("identity"),
    denoiser = whatif.denoiser("unet", {spatial_dims = p.dims, channels = {32, 64, 64},
                                        attention_levels = {}, cross_attention_levels = {1, 2},
                                        context_dim = 64, dropout = 0.1}),
    schedule = whatif.schedule("cosine"),
    sampler = whatif.sampler("ddim"),
    conditioning = whatif.conditioning("cross-attention", {context_dim = 64, dropout = 0.1}),
    text = whatif.text("transformer", {width = 64, layers = 1, heads = 4, vocab_size = 64}),
  }
end

whatif.experiment{
  name = "ms_guidance",
  arms = whatif.grid{guidance = {0.0, 0.5, 1.0, 2.0, 3.0}},
  seeds = {1},
  run = function(arm, ctx)
    local model = build()
    local saved = ("models/seed%d.h5"):format(ctx.seed)
    if not pcall(model.load, model, saved) then
      local fit = model:fit(data, {steps = p.steps, batch_size = p.batch, lr = p.lr, bf16 = p.bf16,
                                   warmup = 100, ema_decay = 0.995, seed = ctx.seed,
                                   checkpoint = ("models/seed%d-checkpoint.h5"):format(ctx.seed),
                                   checkpoint_every = 100})
      model:save(saved)
      ctx:curve("loss", fit.losses)
    end
    local preservation = whatif.metric("subject-preservation")
    local darker, brighter = 0, 0
    for i = 1, p.pairs do
      local minimal, high = model:counterfactual{prompts = {"minimal lesion load", "high lesion load"},
                                                 seed = 100 + i, guidance = arm.guidance,
                                                 steps = p.sample_steps}
      if i == 1 then
        ctx:sample("minimal", minimal)
        ctx:sample("high", high)
      end
      preservation:update{generated = high, source = minimal}
      local d, b = cf.darkening(minimal, high, p.delta)
      darker, brighter = darker + d / p.pairs, brighter + b / p.pairs
    end
    local kept = preservation:compute()
    return {subject_ms_ssim = kept.source_ms_ssim, subject_psnr = kept.source_psnr,
            darker_fraction = darker, brighter_fraction = brighter,
            lesion_signal = darker - brighter}
  end,
}
