-- scripts/spread.lua against closed forms: the sample std of 1..4 is sqrt(5/3).
local spread = require "spread"
local function near(a, b) assert(math.abs(a - b) < 1e-12, ("%.15g ~= %.15g"):format(a, b)) end
near(spread.mean({1, 2, 3, 4}), 2.5)
near(spread.std({1, 2, 3, 4}), math.sqrt(5 / 3))
near(spread.std({7}), 0)
assert(spread.cell({1, 2, 3, 4}, "%.3f") == "2.500 ± 1.291", spread.cell({1, 2, 3, 4}, "%.3f"))
assert(spread.cell({0.25, 0.5}, "%.2f") == "0.25 / 0.50", spread.cell({0.25, 0.5}, "%.2f"))
assert(spread.cell({3}, "%g") == "3")
local rows = spread.field({{x = 1}, {x = 4}}, function(r) return r.x * 2 end)
assert(rows[1] == 2 and rows[2] == 8)
whatif.info("spread", "ok")
