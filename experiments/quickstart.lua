-- quickstart: what `make demo` runs.
-- Question: is this machine ready for whatif? It resolves the parameters, lists the registered
-- components, and builds each schedule it finds to print its noise levels. Training and reports
-- join this script as the diffusion and experiment parts land.
local p = whatif.params{
  points = 5,
  presets = {smoke = {points = 3}, small = {points = 5}, paper = {points = 11}},
}

whatif.info(("whatif on %s with %d threads; run directory %s"):format(whatif.device, whatif.threads, whatif.run_dir))
local plugins = whatif.plugins()
whatif.info(("%d components registered"):format(#plugins))
for _, c in ipairs(plugins) do
  whatif.info(("  %-13s %-18s %s"):format(c.kind, c.name, c.doc))
end

for _, c in ipairs(plugins) do
  if c.kind == "schedule" then
    local ok, schedule = pcall(whatif.schedule, c.name)
    if ok then
      local row = {}
      for i = 0, p.points - 1 do
        local t = i / (p.points - 1)
        local alpha, sigma = schedule:alpha_sigma(t)
        row[#row + 1] = ("t=%.2f α=%.3f σ=%.3f"):format(t, alpha, sigma)
      end
      whatif.info(c.name .. ": " .. table.concat(row, "  "))
    else
      whatif.warn(c.name .. ": " .. tostring(schedule))
    end
  end
end
