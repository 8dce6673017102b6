-- A tiny script the CLI tests run: parameters, a component, a log line.
local p = whatif.params{snr = 2.0, presets = {smoke = {snr = 3.0}}}
local schedule = whatif.schedule("constant-snr", {snr = p.snr})
whatif.info("logsnr", schedule:logsnr(0.5))
