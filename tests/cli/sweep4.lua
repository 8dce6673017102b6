-- A four-arm sweep for the Slurm test: two guidance weights × two learning rates of a tiny
-- pixel-space diffusion model, a few steps each.
local p = whatif.params{steps = 4}
local data = whatif.dataset("synthetic-brain", {task = "ms", subjects = 2, size = 32, dims = 2, text = "prompt"})
whatif.experiment{
  name = "sweep4",
  arms = whatif.grid{guidance = {1.0, 3.0}, lr = {1e-3, 3e-3}},
  seeds = {1},
  run = function(arm, ctx)
    local model = whatif.diffusion{
      encoder = whatif.encoder("identity"),
      denoiser = whatif.denoiser("unet", {spatial_dims = 2, channels = {8, 16}, attention_levels = {},
                                          cross_attention_levels = {}, context_dim = 0, vector_dim = 16}),
      schedule = whatif.schedule("cosine"),
      sampler = whatif.sampler("ddim"),
      conditioning = whatif.conditioning("attributes", {categories = {3}, vector_dim = 16, dropout = 0.1}),
    }
    local fit = model:fit(data, {steps = p.steps, batch_size = 2, lr = arm.lr, warmup = 1, seed = ctx.seed,
                                 attributes = {"level"}, checkpoint = ctx.checkpoint})
    ctx:curve("loss", fit.losses)
    local a, b = model:counterfactual{attributes = {{level = 0}, {level = 2}}, seed = 7, guidance = arm.guidance,
                                      steps = 3}
    return {loss = fit.losses[#fit.losses], difference = (a - b):abs():mean()}
  end,
}
