#include "data/montage.hpp"

#include <algorithm>

#include <ATen/ATen.h>
#include <itkImageFileWriter.h>
#include <itkRGBPixel.h>

#include "data/volume_io.hpp"
#include "whatif/registry/error.hpp"

namespace whatif::data {
namespace {

// Mid-slices as [rows, cols] with superior/anterior up (index axes run right, anterior, superior
// after reorientation, so rows are flipped).
std::vector<at::Tensor> mid_slices(const at::Tensor& volume) {
  if (volume.dim() == 2) return {volume.flip(0)};
  const auto d = volume.size(0), h = volume.size(1), w = volume.size(2);
  return {volume.select(0, d / 2).flip(0), volume.select(1, h / 2).flip(0), volume.select(2, w / 2).flip(0)};
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
  const auto gray = mid_slices(((image - lo) / (hi - lo)).clamp(0, 1));
  std::vector<at::Tensor> labels;
  if (example.mask.defined()) labels = mid_slices(example.mask[0].to(at::kLong));

  const std::int64_t largest = std::max(image.size(-1), image.size(-2));
  const std::int64_t zoom = std::max<std::int64_t>(1, (256 + largest - 1) / largest);  // small volumes readable
  std::int64_t rows = 0, cols = 0;
  for (const auto& g : gray) rows = std::max(rows, g.size(0) * zoom), cols += g.size(1) * zoom + 4;
  at::Tensor rgb = at::zeros({rows, cols, 3}, at::kFloat);
  std::int64_t x0 = 0;
  const at::Tensor colours = at::tensor({0.f, 0.f, 0.f, 1.f, 0.15f, 0.15f, 0.2f, 0.45f, 1.f, 1.f, 0.85f, 0.1f}).view({4, 3});
  for (std::size_t p = 0; p < gray.size(); ++p) {
    at::Tensor panel = gray[p].repeat_interleave(zoom, 0).repeat_interleave(zoom, 1).unsqueeze(-1).repeat({1, 1, 3});
    if (!labels.empty()) {
      const at::Tensor label = labels[p].repeat_interleave(zoom, 0).repeat_interleave(zoom, 1).clamp(0, 3);
      const at::Tensor alpha = (label > 0).to(at::kFloat).unsqueeze(-1) * 0.5f;
      panel = panel * (1 - alpha) + colours.index({label}) * alpha;
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
