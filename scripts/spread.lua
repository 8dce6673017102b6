-- Seed spread for experiment summaries: one value per seed in, the text a table cell shows out.
-- With three or more seeds a cell reads "mean ± std" (sample standard deviation, n − 1); with
-- fewer it lists the seeds' values, since a spread of two draws says little.
local M = {}

function M.mean(values)
  local sum = 0
  for _, v in ipairs(values) do sum = sum + v end
  return sum / #values
end

function M.std(values)
  if #values < 2 then return 0 end
  local mean, sum = M.mean(values), 0
  for _, v in ipairs(values) do sum = sum + (v - mean) ^ 2 end
  return math.sqrt(sum / (#values - 1))
end

-- `values` formatted with the printf pattern `pattern` (e.g. "%.3f").
function M.cell(values, pattern)
  if #values >= 3 then return (pattern .. " ± " .. pattern):format(M.mean(values), M.std(values)) end
  local parts = {}
  for i, v in ipairs(values) do parts[i] = pattern:format(v) end
  return table.concat(parts, " / ")
end

-- field(rows, f): the list f(row) over rows (one row per seed).
function M.field(rows, f)
  local out = {}
  for i, r in ipairs(rows) do out[i] = f(r) end
  return out
end

return M
