-- A two-arm sweep small enough for the tests: exercises skip, resume from checkpoint, shards,
-- failures, verify, the script's summary and the report's metric plots.
local p = whatif.params{steps = 12, fail = "none"}
local data = whatif.dataset("synthetic-brain", {task = "ms", subjects = 2, size = 32, dims = 2, text = "prompt"})
local results = whatif.experiment{
  name = "sweep",
  arms = whatif.grid{guidance = {1.0, 2.0}},
  seeds = {1},
  run = function(arm, ctx)
    if p.fail == tostring(arm.guidance) then error("arm failed on purpose") end
    local model = whatif.diffusion{
      encoder = whatif.encoder("identity"),
      denoiser = whatif.denoiser("unet", {spatial_dims = 2, channels = {8, 16}, attention_levels = {},
                                          cross_attention_levels = {}, context_dim = 0, vector_dim = 16}),
      schedule = whatif.schedule("cosine"),
      sampler = whatif.sampler("ddim"),
      conditioning = whatif.conditioning("film", {vector_dim = 16}),
      text = whatif.text("transformer", {width = 16, layers = 1, heads = 2, vocab_size = 40}),
    }
    local fit = model:fit(data, {steps = p.steps, batch_size = 2, warmup = 2, seed = ctx.seed,
                                 checkpoint = ctx.checkpoint, checkpoint_every = 2})
    ctx:curve("loss", fit.losses)
    local a, b = model:counterfactual{prompts = {"minimal lesion load", "high lesion load"},
                                      seed = 7, guidance = arm.guidance, steps = 3}
    ctx:sample("minimal", a)
    return {loss = fit.losses[#fit.losses], difference = (a - b):abs():mean()}
  end,
}

local done = 0
for _, r in ipairs(results) do
  if r.status == "complete" then done = done + 1 end
end
whatif.summary(("%d of %d arms complete."):format(done, #results))
