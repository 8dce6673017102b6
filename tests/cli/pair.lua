-- A tiny text-conditioned 3D model per guidance weight, for the HTML report and `whatif serve`
-- tests: each arm saves its model, stores a fixed-noise pair (factual first, counterfactual last)
-- and a loss curve, so the page has a metric plot, curves and volumes whose twins differ; the
-- samples carry the dataset's grid (once as the dataset, once as its geometry table) and a truth.
local p = whatif.params{steps = 6, sample_steps = 4, seed = 7}
local data = whatif.dataset("synthetic-brain", {task = "ms", subjects = 2, size = 32, dims = 3, text = "prompt"})
whatif.experiment{
  name = "pair",
  arms = whatif.grid{guidance = {1.0, 3.0}},
  seeds = {1},
  run = function(arm, ctx)
    local model = whatif.diffusion{
      encoder = whatif.encoder("identity"),
      denoiser = whatif.denoiser("unet", {spatial_dims = 3, channels = {8, 16}, attention_levels = {},
                                          cross_attention_levels = {}, context_dim = 0, vector_dim = 16}),
      schedule = whatif.schedule("cosine"),
      sampler = whatif.sampler("ddim"),
      conditioning = whatif.conditioning("film", {vector_dim = 16}),
      text = whatif.text("transformer", {width = 16, layers = 1, heads = 2, vocab_size = 40}),
    }
    local fit = model:fit(data, {steps = p.steps, batch_size = 2, warmup = 2, seed = ctx.seed})
    ctx:curve("loss", fit.losses)
    model:save(("model-w%g.h5"):format(arm.guidance))
    local factual, counterfactual = model:counterfactual{prompts = {"minimal lesion load", "high lesion load"},
                                                         seed = p.seed, guidance = arm.guidance,
                                                         steps = p.sample_steps}
    ctx:sample("factual", factual, {note = "prompt: minimal lesion load", geometry = data})
    ctx:sample("counterfactual", counterfactual,
               {note = "prompt: high lesion load", truth = "lesions grow (level 0 to 2)", geometry = data:geometry()})
    return {loss = fit.losses[#fit.losses], difference = (counterfactual - factual):abs():mean()}
  end,
}
