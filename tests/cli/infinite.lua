-- Metrics that are not finite in every arm: the PSNR of identical twins (inf at w = 0), an
-- undefined ratio (NaN).
whatif.experiment{name = "infinite", arms = whatif.grid{w = {0, 1, 2}}, run = function(arm, ctx)
  return {twin_psnr = arm.w == 0 and math.huge or 40 / arm.w, undefined = 0 / 0, finite = 1.5}
end}
