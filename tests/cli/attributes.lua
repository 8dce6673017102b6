-- The non-language baseline from Lua: a model conditioned on the dataset's `level` attribute,
-- sampled by attributes, with fixed-noise and inversion counterfactuals and one-line errors.
local data = whatif.dataset("synthetic-brain", {task = "ms", subjects = 2, size = 32, dims = 2})
local model = whatif.diffusion{
  encoder = whatif.encoder("identity"),
  denoiser = whatif.denoiser("unet", {spatial_dims = 2, channels = {8, 16}, attention_levels = {},
                                      cross_attention_levels = {}, context_dim = 0, vector_dim = 16}),
  schedule = whatif.schedule("cosine"),
  sampler = whatif.sampler("ddim"),
  conditioning = whatif.conditioning("attributes", {categories = {3}, width = 16, vector_dim = 16,
                                                    context_dim = 0}),
}
local function fails(pattern, f, ...)
  local ok, message = pcall(f, ...)
  assert(not ok, "expected an error matching '" .. pattern .. "'")
  assert(tostring(message):find(pattern), "error '" .. tostring(message) .. "' does not match '" .. pattern .. "'")
end

fails("no attribute 'grade'", model.fit, model, data, {steps = 1, batch_size = 2, attributes = {"grade"}})
model:fit(data, {steps = 4, batch_size = 2, warmup = 1, attributes = {"level"}})

local request = {attributes = {{level = 0}, {level = 2}}, seed = 3, steps = 3, guidance = 2}
local both = model:generate(request)
assert(#request.attributes == 2, "generate changed the caller's table")
assert(both:shape()[1] == 2 and both:shape()[3] == 32, "two 32x32 samples")
-- One row at a time from the same seed gives the same volumes: z_T depends on the seed only.
local low = model:generate{attributes = {{level = 0}}, seed = 3, steps = 3, guidance = 2}
local a, b = model:counterfactual{attributes = {{level = 0}, {level = 2}}, seed = 3, steps = 3, guidance = 2}
-- Equal to float rounding: a batch of two may take other convolution kernels than a batch of one
-- (2.4e-7 measured on one CPU type, 0 on another).
assert((a - low):abs():max() < 1e-5, "the factual twin is the level-0 sample of that seed")
assert((a - b):abs():max() > 0, "the twins differ")
local edited = model:counterfactual{protocol = "inversion", source = a, attributes = {{level = 0}, {level = 2}},
                                    steps = 3, guidance = 2}
assert(edited:shape()[1] == 1, "one edited volume per source")

fails("missing 'level'", model.generate, model, {attributes = {{grade = 1}}, steps = 2})
fails("prompts or attributes, not both", model.generate, model, {prompts = {"x"}, attributes = {{level = 0}}})
fails("attributes%[1%] must be a table", model.generate, model, {attributes = {0, 2}})
fails("give prompts = {factual, counterfactual} or attributes", model.counterfactual, model,
      {attributes = {{level = 0}}, steps = 2})
print("attributes ok")
