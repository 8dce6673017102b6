-- The chest-change metric and the synthetic-chest `window` from a script. The real pairs measured
-- in HU and through the window (mapped back) give the same change; over the pairs the measured
-- effusion change is close to the truth the attributes state. `--set op=...` makes one mistake each.
local p = whatif.params{op = "ok"}
local chest = require "chest"
local options = {modality = "ct", subjects = 6, size = 32, followups = 1, seed = 3}
local raw = whatif.dataset("synthetic-chest", options)
options.window = {-1000, 1000}
local windowed = whatif.dataset("synthetic-chest", options)

local function measure(data, metric)
  local real = metric:fit(data, {seed = 1})
  for _, pair in ipairs(data:pairs()) do
    metric:update{generated = data:images(pair[2], 1), source = data:images(pair[1], 1),
                  attributes = chest.pair_attributes(data, pair[1], pair[2])}
  end
  return metric:compute(), real
end

if p.op == "ok" then
  assert((windowed:images(1, 1) * 2000 - 1000 - raw:images(1, 1)):abs():max() < 1e-2, "window inverts")
  local hu, real = measure(raw, whatif.metric("chest-change"))
  local w = measure(windowed, whatif.metric("chest-change", {window = {-1000, 1000}}))
  for _, f in ipairs({"effusion_right", "effusion_left", "consolidation", "nodule"}) do
    local k = f .. "_error_ml"
    assert(math.abs(hu[k] - w[k]) < 0.5, ("%s: HU %.3f vs windowed %.3f ml"):format(k, hu[k], w[k]))
    assert(math.abs(hu[k] - real["real_" .. k]) < 1e-9, k .. ": fit measures the same real pairs")
  end
  local error = hu.effusion_right_error_ml + hu.effusion_left_error_ml
  local truth = hu.effusion_right_true_ml + hu.effusion_left_true_ml
  whatif.info(("effusion change: mean |error| %.2f ml against mean |truth| %.2f ml"):format(error, truth))
  assert(truth > 0 and error < 0.35 * truth, "effusion change measured")
  whatif.info("chest measure ok")
elseif p.op == "unfitted" then
  whatif.metric("chest-change"):update{generated = raw:images(2, 1), source = raw:images(1, 1)}
elseif p.op == "shape" then
  local m = whatif.metric("chest-change")
  m:fit(raw, {seed = 1})
  m:update{generated = raw:images(2, 1):select(1), source = raw:images(1, 1):select(1), attributes = chest.pair_attributes(raw, 1, 2)}
elseif p.op == "window" then
  whatif.dataset("synthetic-chest", {window = {1, 0}})
end
