-- A rerun that differs by `shift` (as training does across machines; the rerun of `whatif verify`
-- goes to a folder ending in -verify) beside the spread its seeds give (`spread` scales them).
local p = whatif.params{spread = 1.0, shift = 0.5, seeds = {1, 2, 3}}
local rerun = whatif.run_dir:match("%-verify$") ~= nil
whatif.experiment{name = "seeds", seeds = p.seeds, run = function(arm, ctx)
  return {metric = ctx.seed * p.spread + (rerun and p.shift or 0)}
end}
