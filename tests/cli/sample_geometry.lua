-- ctx:sample's options refused with the reason: `--set op=spacing|field|kind|direction` picks the
-- mistake; `op=ok` stores a sample on the dataset's grid and prints that grid's spacing.
local p = whatif.params{op = "ok"}
local data = whatif.dataset("synthetic-brain", {task = "ms", subjects = 1, size = 32, dims = 2})
local options = {ok = {note = "n", truth = "t", geometry = data}, spacing = {geometry = {spacing = {0, 1, 1}}},
                 field = {geometri = data}, kind = {geometry = "5 mm"},
                 direction = {geometry = {spacing = {1, 1, 1}, direction = {1, 0, 0, 0, 1, 0, 0, 0, 0}}}}
whatif.experiment{name = "g", arms = whatif.grid{a = {1}}, seeds = {1},
  run = function(arm, ctx)
    ctx:sample("x", data:images(1, 1), options[p.op])
    local g = data:geometry()
    ctx:log(("grid spacing %.4f %.4f %.4f"):format(g.spacing[1], g.spacing[2], g.spacing[3]))
    return {x = 1}
  end}
