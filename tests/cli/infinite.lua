-- Metrics that are not finite in every run: the PSNR of identical twins, an undefined ratio.
whatif.experiment{name = "infinite", run = function(arm, ctx)
  return {twin_psnr = math.huge, undefined = 0 / 0, finite = 1.5}
end}
