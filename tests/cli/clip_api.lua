-- The joint-space API from a script: `--set op=ok` checks retrieval, zero-shot, CLIPScore and AUC values on
-- hand-made embeddings and a clip model's shapes; the other ops make one mistake each.
local p = whatif.params{op = "ok"}
local data = whatif.dataset("synthetic-brain", {task = "ms", subjects = 2, size = 32, dims = 2, text = "prompt"})
local clip = whatif.clip{image = whatif.vision("resnet", {spatial_dims = 2, channels = {8}, width = 8}),
                         text = whatif.text("transformer", {vocab_size = 32, width = 8, layers = 1, heads = 2}),
                         embed_dim = 4}
clip:fit(data, {steps = 2, batch_size = 3, accumulate = 2, warmup = 1})
if p.op == "ok" then
  local e = clip:embed{images = data:images(1, 6)}
  local t = clip:embed{texts = data:texts(1, 6)}
  assert(#e:shape() == 2 and e:shape()[1] == 6 and e:shape()[2] == 4, "embedding shape")
  -- The same embeddings of three different texts on both sides: each finds itself first.
  local three = clip:embed{texts = {"minimal lesion load", "moderate lesion load", "high lesion load"}}
  local r = whatif.retrieval(three, three, {k = {1, 3}})
  assert(r.image_to_text_r1 == 1 and r.text_to_image_r1 == 1 and r.text_to_image_r3 == 1, "retrieval of identical embeddings")
  assert(math.abs(r.chance_r1 - 1 / 3) < 1e-12, "chance")
  assert(whatif.auc({0.1, 0.4, 0.35, 0.8}, {false, false, true, true}) == 0.75, "auc")
  assert(#whatif.zero_shot(e, t, t) == 6, "zero-shot scores")
  -- CLIPScore of unit vectors against themselves: cos = 1, so 100 each; against the negated
  -- vectors cos = -1, clamped to 0.
  local same, each = whatif.clip_score(t, t)
  assert(math.abs(same - 100) < 1e-3 and #each == 6 and math.abs(each[6] - 100) < 1e-3, "clip_score of itself")
  assert(whatif.clip_score(t, t * -1) == 0, "clip_score clamps at zero")
  -- The auxiliary mask loss: its curve comes back with the fit, one value per step.
  local masked = whatif.clip{image = whatif.vision("resnet", {spatial_dims = 2, channels = {8}, width = 8}),
                             text = whatif.text("transformer", {vocab_size = 32, width = 8, layers = 1, heads = 2}),
                             embed_dim = 4, mask_weight = 1}
  local fit = masked:fit(data, {steps = 2, batch_size = 3, warmup = 1})
  assert(#fit.mask_loss == 2 and fit.mask_loss[1] > 0, "mask loss curve")
  local pooled, tokens = clip:text_encoder{frozen = true}:encode{"high lesion load"}
  assert(pooled:shape()[1] == 1 and tokens:shape()[1] == 1, "text tower encode")
  whatif.info("clip api ok")
elseif p.op == "embed" then
  clip:embed{images = data:images(1, 1), texts = {"x"}}
elseif p.op == "diffusion" then
  local d = whatif.diffusion{encoder = whatif.encoder("identity"),
                             denoiser = whatif.denoiser("unet", {spatial_dims = 2, channels = {8}}),
                             schedule = whatif.schedule("cosine"), sampler = whatif.sampler("ddim")}
  d:embed{texts = {"x"}}
elseif p.op == "labels" then
  local e = clip:embed{texts = {"a", "b"}}
  whatif.retrieval(e, e, {labels = {"a"}})
elseif p.op == "auc" then
  whatif.auc({1, 2}, {true, true})
elseif p.op == "clip_score" then
  whatif.clip_score(clip:embed{texts = {"a", "b"}}, clip:embed{texts = {"a"}})
elseif p.op == "generate" then
  clip:generate{prompts = {"x"}}
end
