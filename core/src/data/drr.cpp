#include "whatif/data/drr.hpp"

#include <cmath>
#include <random>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "whatif/registry/error.hpp"

namespace whatif::data {
namespace {

// Separable Gaussian blur with replicated borders: a uniform image stays exactly uniform.
void blur(std::vector<double>& image, std::int64_t rows, std::int64_t cols, double sigma) {
  if (sigma <= 0) return;
  const auto radius = static_cast<std::int64_t>(std::ceil(3 * sigma));
  std::vector<double> kernel(static_cast<std::size_t>(2 * radius + 1));
  double total = 0;
  for (std::int64_t t = -radius; t <= radius; ++t)
    total += kernel[static_cast<std::size_t>(t + radius)] = std::exp(-0.5 * double(t * t) / (sigma * sigma));
  for (auto& k : kernel) k /= total;
  std::vector<double> out(image.size());
  const auto pass = [&](std::int64_t lines, std::int64_t length, std::int64_t line_stride, std::int64_t step) {
    for (std::int64_t l = 0; l < lines; ++l)
      for (std::int64_t x = 0; x < length; ++x) {
        double sum = 0;
        for (std::int64_t t = -radius; t <= radius; ++t) {
          const std::int64_t u = std::min(std::max<std::int64_t>(x + t, 0), length - 1);
          sum += kernel[static_cast<std::size_t>(t + radius)] * image[static_cast<std::size_t>(l * line_stride + u * step)];
        }
        out[static_cast<std::size_t>(l * line_stride + x * step)] = sum;
      }
    image.swap(out);
  };
  pass(rows, cols, cols, 1);  // along each row
  pass(cols, rows, 1, cols);  // along each column
}

}  // namespace

at::Tensor drr_projection(const at::Tensor& hu, double step_mm, const DrrOptions& options) {
  if (!hu.defined() || hu.dim() != 3) throw Error("drr: expected a [D, H, W] volume of Hounsfield units");
  const at::Tensor v = hu.to(at::kFloat).contiguous();
  const std::int64_t depth = v.size(0), beam = v.size(1), cols = v.size(2);
  const float* voxels = v.data_ptr<float>();
  std::vector<double> intensity(static_cast<std::size_t>(depth * cols));
  at::parallel_for(0, depth, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<double> line(static_cast<std::size_t>(cols));
    for (std::int64_t k = begin; k < end; ++k) {
      std::fill(line.begin(), line.end(), 0.0);
      for (std::int64_t j = 0; j < beam; ++j) {
        const float* row = voxels + (k * beam + j) * cols;
        for (std::int64_t i = 0; i < cols; ++i)
          line[static_cast<std::size_t>(i)] += std::max(0.0, 1.0 + double(row[i]) / 1000.0);
      }
      for (std::int64_t i = 0; i < cols; ++i)
        intensity[static_cast<std::size_t>(k * cols + i)] =
            std::exp(-options.mu_water_per_mm * step_mm * line[static_cast<std::size_t>(i)]);
    }
  });
  blur(intensity, depth, cols, options.blur_sigma_px);
  at::Tensor out = at::empty({depth, cols}, at::kFloat);
  float* p = out.data_ptr<float>();
  std::mt19937_64 rng(options.seed);
  const auto uniform01 = [&] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; };
  for (std::size_t n = 0; n < intensity.size(); ++n) {
    double fraction = intensity[n];
    if (options.photons > 0) {
      // Counts N ~ Poisson(I0 I) approximated by N(I0 I, I0 I); Box–Muller from explicit draws.
      const double mean = options.photons * fraction;
      const double z = std::sqrt(-2.0 * std::log(uniform01())) * std::cos(2.0 * M_PI * uniform01());
      fraction = std::max(mean + std::sqrt(mean) * z, 1.0) / options.photons;
    }
    p[n] = static_cast<float>(-std::log(fraction));
  }
  return out;
}

}  // namespace whatif::data
