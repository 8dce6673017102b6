-- scripts/counterfactual.lua's white-matter share and mean change on the real twins of a small synthetic brain,
-- printed for test_experiments.sh to compare with the same quantity computed by h5py on the store
-- `whatif data synth brain` writes; floor 0 keeps all of the darkening, a floor above every
-- intensity none of it.
local cf = require "counterfactual"
local p = whatif.params{subjects = 4, size = 32, floor = 0.8}
local data = whatif.dataset("synthetic-brain", {task = "ms", subjects = p.subjects, size = p.size, dims = 3, seed = 0})
assert(math.abs(cf.white_share(data, 0.1, 0) - 1) < 1e-12, "floor 0 keeps all of the darkening")
assert(cf.white_share(data, 0.1, 10) == 0, "a floor above every intensity keeps none")
whatif.info("darkening", ("white_share %.9f white_mean_change %.9f"):format(cf.white_share(data, 0.1, p.floor)))
