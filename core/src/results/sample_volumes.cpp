#include "results/sample_volumes.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <ATen/ATen.h>

#include "whatif/data/volume.hpp"
#include "whatif/registry/error.hpp"

namespace whatif {
namespace fs = std::filesystem;

at::Tensor sample_image(const at::Tensor& sample) {
  at::Tensor x = sample.detach().to(at::kFloat);
  while (x.dim() > 3) x = x.select(0, 0);       // first example, first channel
  if (x.dim() == 3 && x.size(0) == 1) x = x[0];  // a 2D sample [1, 1, H, W]
  if (x.dim() < 2) return {};
  return x.contiguous();
}

std::string write_sample_nifti(const at::Tensor& image, const data::Geometry& geometry, const std::string& path) {
  data::Volume v;
  v.voxels = image.contiguous();
  v.geometry = geometry;
  data::write_volume(v, path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read back the volume just written");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string sample_nifti_bytes(const at::Tensor& image, const data::Geometry& geometry) {
  static std::atomic<std::uint64_t> counter{0};
  const fs::path path = fs::temp_directory_path() /
                        ("whatif-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".nii.gz");
  std::string bytes;
  try {
    bytes = write_sample_nifti(image, geometry, path.string());
  } catch (...) {
    std::error_code ignored;
    fs::remove(path, ignored);
    throw;
  }
  std::error_code ignored;
  fs::remove(path, ignored);
  return bytes;
}

std::string base64(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16 |
                            static_cast<unsigned char>(bytes[i + 1]) << 8 | static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += alphabet[(n >> s) & 63];
  }
  if (i < bytes.size()) {
    std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace whatif
