#include "data/montage.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <itkImageFileWriter.h>
#include <itkRGBPixel.h>

#include "data/volume_io.hpp"
#include "whatif/registry/error.hpp"

namespace whatif::data {
namespace {

// Slices as [rows, cols] with superior/anterior up (index axes run right, anterior, superior
// after reorientation, so rows are flipped): through the middle, or through the plane of each axis
// holding the most mask voxels when the example has a non-empty mask.
std::vector<at::Tensor> slices(const at::Tensor& volume, const std::array<std::int64_t, 3>& plane) {
  if (volume.dim() == 2) return {volume.flip(0)};
  return {volume.select(0, plane[0]).flip(0), volume.select(1, plane[1]).flip(0), volume.select(2, plane[2]).flip(0)};
}

std::array<std::int64_t, 3> slice_indices(const at::Tensor& image, const at::Tensor& labels) {
  std::array<std::int64_t, 3> plane{image.size(0) / 2, image.dim() == 3 ? image.size(1) / 2 : 0,
                                 image.dim() == 3 ? image.size(2) / 2 : 0};
  if (image.dim() != 3 || !labels.defined() || !(labels > 0).any().item<bool>()) return plane;
  const at::Tensor present = (labels > 0).to(at::kLong);
  plane[0] = present.sum(at::IntArrayRef{1, 2}).argmax().item<std::int64_t>();
  plane[1] = present.sum(at::IntArrayRef{0, 2}).argmax().item<std::int64_t>();
  plane[2] = present.sum(at::IntArrayRef{0, 1}).argmax().item<std::int64_t>();
  return plane;
}

// Pixels of a label image whose label differs from a 4-neighbour's and is not 0.
at::Tensor outline(const at::Tensor& label) {
  const at::Tensor padded = at::constant_pad_nd(label, {1, 1, 1, 1}, 0);
  using at::indexing::Slice;
  const at::Tensor centre = padded.index({Slice(1, -1), Slice(1, -1)});
  at::Tensor edge = at::zeros_like(label, at::kBool);
  for (const auto& [dr, dc] : std::vector<std::pair<int, int>>{{0, 1}, {2, 1}, {1, 0}, {1, 2}})
    edge = edge | (padded.index({Slice(dr, dr + label.size(0)), Slice(dc, dc + label.size(1))}) != centre);
  return edge & (label > 0);
}
}  // namespace

void write_montage_png(const Example& example, const std::string& path) {
  if (!example.image.defined() || (example.image.dim() != 3 && example.image.dim() != 4))
    throw Error(path + ": the example has no [C, (D,) H, W] image to show");
  const at::Tensor image = example.image[0].to(at::kFloat);
  const at::Tensor flat = image.flatten();
  const auto rank = [&](double p) { return 1 + static_cast<std::int64_t>(p * static_cast<double>(flat.numel() - 1)); };
  const float lo = std::get<0>(flat.kthvalue(rank(0.01))).item<float>();
  const float hi = std::max(std::get<0>(flat.kthvalue(rank(0.99))).item<float>(), lo + 1e-6f);
  const at::Tensor labels = example.mask.defined() ? example.mask[0].to(at::kLong) : at::Tensor();
  const auto plane = slice_indices(image, labels);
  const auto gray = slices(((image - lo) / (hi - lo)).clamp(0, 1), plane);
  std::vector<at::Tensor> label_slices;
  if (labels.defined()) label_slices = slices(labels, plane);

  const std::int64_t largest = std::max(image.size(-1), image.size(-2));
  const std::int64_t zoom = std::max<std::int64_t>(1, (256 + largest - 1) / largest);  // small volumes readable
  std::int64_t rows = 0, cols = 0;
  for (const auto& g : gray) rows = std::max(rows, g.size(0) * zoom), cols += g.size(1) * zoom + 4;
  at::Tensor rgb = at::zeros({rows, cols, 3}, at::kFloat);
  std::int64_t x0 = 0;
  // Label colours: 1 red, 2 blue, 3 yellow, 4 green, 5 magenta, higher labels white.
  const at::Tensor colours = at::tensor({0.f, 0.f, 0.f, 1.f, 0.15f, 0.15f, 0.2f, 0.45f, 1.f, 1.f, 0.85f, 0.1f,
                                         0.2f, 0.9f, 0.3f, 0.95f, 0.3f, 0.95f, 1.f, 1.f, 1.f})
                                 .view({7, 3});
  for (std::size_t p = 0; p < gray.size(); ++p) {
    at::Tensor panel = gray[p].repeat_interleave(zoom, 0).repeat_interleave(zoom, 1).unsqueeze(-1).repeat({1, 1, 3});
    if (!label_slices.empty()) {
      const at::Tensor label = label_slices[p].repeat_interleave(zoom, 0).repeat_interleave(zoom, 1).clamp(0, 6);
      const at::Tensor edge = outline(label).unsqueeze(-1);
      panel = at::where(edge, colours.index({label}), panel);
    }
    const auto r = panel.size(0), c = panel.size(1);
    rgb.index_put_({at::indexing::Slice(rows - r, rows), at::indexing::Slice(x0, x0 + c)}, panel);
    x0 += c + 4;
  }
  const at::Tensor bytes = (rgb * 255).round().clamp(0, 255).to(at::kByte).contiguous();

  using Pixel = itk::RGBPixel<unsigned char>;
  using Image = itk::Image<Pixel, 2>;
  auto out = Image::New();
  Image::SizeType size{{static_cast<itk::SizeValueType>(cols), static_cast<itk::SizeValueType>(rows)}};
  out->SetRegions(Image::RegionType(size));
  out->Allocate();
  std::copy_n(bytes.data_ptr<std::uint8_t>(), bytes.numel(), reinterpret_cast<unsigned char*>(out->GetBufferPointer()));
  write_itk_atomically(path, [&](const std::string& partial) {
    auto writer = itk::ImageFileWriter<Image>::New();
    writer->SetInput(out);
    writer->SetFileName(partial);
    writer->Update();
  });
}

}  // namespace whatif::data
