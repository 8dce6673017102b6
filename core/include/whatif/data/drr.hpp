#pragma once
// Digitally reconstructed radiographs: parallel-beam Beer–Lambert projection of a CT volume.
//   mu(HU) = mu_water (1 + HU / 1000)            linear attenuation at the effective energy
//   I / I0 = exp(-sum_j mu(HU_j) step)           one ray per detector pixel, along the H axis
//   detector: Gaussian blur of I, then quantum noise (Gaussian approximation of Poisson counts
//   with I0 photons per pixel), then the log transform p = -ln(I / I0).
// A uniform slab of thickness T and value HU therefore gives p = mu_water (1 + HU/1000) T, plus
// noise of variance 1 / (I0 exp(-p)).
#include <cstdint>

#include "whatif/tensor.hpp"

namespace whatif::data {

struct DrrOptions {
  // Water at the effective energy of a 120 kVp chest beam, taken as 60 keV:
  // NIST XCOM mass attenuation 0.2059 cm²/g, density 1 g/cm³.
  double mu_water_per_mm = 0.02059;
  double blur_sigma_px = 0.7;  // detector point spread (Gaussian), pixels; 0 = none
  double photons = 1e5;        // I0 per pixel; 0 = noiseless
  std::uint64_t seed = 0;      // noise stream
};

// hu: [D, H, W] float; the beam runs along H with `step_mm` per voxel. Returns [D, W] float32,
// -ln(I / I0) per ray. Throws Error on a tensor of another rank.
at::Tensor drr_projection(const at::Tensor& hu, double step_mm, const DrrOptions& options);

}  // namespace whatif::data
