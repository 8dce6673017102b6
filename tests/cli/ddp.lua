-- Data-parallel training of two families, small enough for the tests: the diffusion model (pixel
-- space, a tiny U-Net with dropout, attribute conditioning with condition dropout) or the kl-vae.
-- Each fit checkpoints into the arm's folder; the tests compare those checkpoints across world sizes.
local p = whatif.params{family = "diffusion", steps = 6, batch = 2, accumulate = 2, every = 2}
local data = whatif.dataset("synthetic-brain", {task = "ms", subjects = 4, size = 32, dims = 2, text = "prompt"})
whatif.experiment{
  name = "ddp",
  arms = {{family = p.family}},
  run = function(arm, ctx)
    local train = {steps = p.steps, batch_size = p.batch, accumulate = p.accumulate, warmup = 2, lr = 2e-3,
                   seed = ctx.seed, checkpoint = ctx.checkpoint, checkpoint_every = p.every}
    local fit
    if arm.family == "kl-vae" then
      local vae = whatif.encoder("kl-vae", {spatial_dims = 2, downsample = 2, channels = {8, 8}, latent_channels = 2,
                                            groups = 4})
      fit = vae:fit(data, train)
    else
      local model = whatif.diffusion{
        encoder = whatif.encoder("identity"),
        denoiser = whatif.denoiser("unet", {spatial_dims = 2, channels = {8, 16}, attention_levels = {},
                                            cross_attention_levels = {}, context_dim = 0, vector_dim = 16,
                                            dropout = 0.2}),
        schedule = whatif.schedule("cosine"),
        sampler = whatif.sampler("ddim"),
        conditioning = whatif.conditioning("attributes", {categories = {3}, vector_dim = 16, dropout = 0.3}),
      }
      train.attributes = {"level"}
      fit = model:fit(data, train)
    end
    ctx:curve("loss", fit.losses)
    return {loss = fit.losses[#fit.losses]}
  end,
}
