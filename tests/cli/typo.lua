-- A misspelled option on line 3.
local p = whatif.params{snr = 2.0}
local schedule = whatif.schedule("constant-snr", {snrr = p.snr})
