-- vae_recon: how faithfully does the kl-vae (the latent space of method 2) reconstruct the
-- synthetic brain? Question: at 32³, with the default 4× downsampling (a 4×8³ latent, 1/16 of the
-- voxels) or 2× (`--set downsample=2`: a 4×16³ latent, 1/2 of the voxels), what PSNR and SSIM does
-- decode(encode(x)) reach on subjects the VAE never saw, with the L1 + KL loss alone and with the
-- MS-SSIM term added? The held-out subjects come from another seed of the synthetic brain. Do a
-- subject's twins stay apart after the round trip? `lesion_retention` is the lesion growth
-- measured between the reconstructions of a held-out subject's minimal and high-load twins over
-- the true growth (1 = every lesion voxel survives; the `effectiveness` metric, docs/metrics.md).
-- `l2_weights` adds the squared error beside the L1 (a grid axis); `logvar_init` starts the posterior's
-- log-variance at a constant, `hard_weight` adds the squared error over each volume's worst
-- `hard_fraction` of voxels (docs/latent.md).
-- The `small` preset (one arm, L1 + KL, 2× downsampling) is the VAE that
-- `latent_vs_pixel.lua --preset small` trains too: same options, data, seed and steps.
local p = whatif.params{
  seeds = {1},
  subjects = 32, heldout = 8, size = 32, dims = 3, steps = 1500, batch = 4, lr = 5e-4, bf16 = false,
  ms_ssim_weights = {0.0, 0.5}, l2_weights = {0.0}, downsample = 4,
  logvar_init = 0.0, hard_weight = 0.0, hard_fraction = 0.01,
  presets = {
    smoke = {subjects = 2, heldout = 1, dims = 2, steps = 2, batch = 2},
    small = {steps = 800, ms_ssim_weights = {0.0}, downsample = 2, seeds = {1, 2}},
    paper = {subjects = 400, heldout = 40, size = 128, steps = 100000},
  },
}

local function brain(subjects, seed)
  return whatif.dataset("synthetic-brain", {task = "ms", subjects = subjects, size = p.size, dims = p.dims,
                                            seed = seed})
end
local train, test = brain(p.subjects, 0), brain(p.heldout, 1000)
whatif.experiment{
  name = "vae_recon",
  arms = whatif.grid{ms_ssim_weight = p.ms_ssim_weights, l2_weight = p.l2_weights},
  seeds = p.seeds,
  run = function(arm, ctx)
    local vae = whatif.encoder("kl-vae", {spatial_dims = p.dims, downsample = p.downsample,
                                          groups = 0, data_range = 1.0, ms_ssim_weight = arm.ms_ssim_weight,
                                          l2_weight = arm.l2_weight, logvar_init = p.logvar_init,
                                          hard_weight = p.hard_weight, hard_fraction = p.hard_fraction})
    local fit = vae:fit(train, {steps = p.steps, batch_size = p.batch, lr = p.lr, bf16 = p.bf16,
                                seed = ctx.seed, checkpoint = ctx.checkpoint, checkpoint_every = 200})
    ctx:curve("loss", fit.losses)
    if fit.psnr then ctx:curve("train_psnr", fit.psnr) end
    if fit.kl then ctx:curve("kl", fit.kl) end
    local psnr, ssim = whatif.metric("psnr", {data_range = 1}), whatif.metric("ssim", {data_range = 1})
    local n = test:size()
    for first = 1, n, 8 do
      local x = test:images(first, math.min(8, n - first + 1))
      local y = vae:decode(vae:encode(x))
      psnr:update{generated = y, reference = x}
      ssim:update{generated = y, reference = x}
      if first == 1 then
        ctx:sample("input", x)
        ctx:sample("reconstruction", y)
      end
    end
    -- Examples are subject-major, levels 0, 1, 2: the minimal twin of subject s is 3s + 1.
    local effect = whatif.metric("effectiveness")
    effect:fit(test)
    for first = 1, n, 3 do
      local minimal, high = test:images(first, 1), test:images(first + 2, 1)
      effect:update{generated = vae:decode(vae:encode(high)), source = vae:decode(vae:encode(minimal)),
                    attributes = {level = 2, source_level = 0}}
    end
    local kept = effect:compute()
    return {lesion_retention = kept.effectiveness, lesion_error_ml = kept.effectiveness_error_ml,
            heldout_psnr = psnr:compute().psnr, heldout_ssim = ssim:compute().ssim,
            train_recon_psnr = fit.recon_psnr, scale = fit.scale,
            train_step_ms = 1000 * fit.seconds / math.max(1, fit.steps)}
  end,
}
