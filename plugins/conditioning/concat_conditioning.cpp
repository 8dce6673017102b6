#include "concat_conditioning.hpp"

#include <torch/torch.h>
#include <whatif/registry/error.hpp>

namespace whatif_conditioning {

namespace {
std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text;
  for (const auto n : shape) text += (text.empty() ? "" : "x") + std::to_string(n);
  return text;
}
}  // namespace

ConcatConditioning::ConcatConditioning(std::int64_t channels, std::vector<std::int64_t> size,
                                       double dropout)
    : ModuleConditioning("conditioning/concat", NullKind::Zeros, dropout),
      channels_(channels),
      size_(std::move(size)) {
  if (channels < 1)
    throw whatif::Error("option 'channels' must be at least 1, got " + std::to_string(channels));
  if (!size_.empty() && size_.size() != 2 && size_.size() != 3)
    throw whatif::Error("option 'size' lists the source's spatial size, {H, W} or {D, H, W}");
}

whatif::Cond ConcatConditioning::encode(const whatif::CondInput& input) {
  const at::Tensor& source = input.source;
  if (!source.defined())
    throw whatif::Error(name_ + " needs a source image per example: use a dataset with paired "
                                "images, or another conditioning");
  if ((source.dim() != 4 && source.dim() != 5) || source.size(1) != channels_)
    throw whatif::Error(name_ + " expects the source as [B, " + std::to_string(channels_) +
                        ", (D,) H, W] (option 'channels'), got " + c10::str(source.sizes()));
  const std::vector<std::int64_t> spatial(source.sizes().begin() + 2, source.sizes().end());
  if (!size_.empty() && spatial != size_)
    throw whatif::Error(name_ + ": the source is " + shape_text(spatial) +
                        " but option 'size' says " + shape_text(size_));
  last_size_ = spatial;
  whatif::Cond cond;
  cond.spatial = source.to(device_);
  return cond;
}

whatif::Cond ConcatConditioning::null(std::int64_t batch_size) {
  const auto& spatial = size_.empty() ? last_size_ : size_;
  if (spatial.empty())
    throw whatif::Error(name_ + ": the null image's size is unknown: set option 'size' (e.g. "
                                "{32, 32, 32}) or encode a batch first");
  std::vector<std::int64_t> shape{batch_size, channels_};
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  whatif::Cond cond;
  cond.spatial = torch::zeros(shape, torch::device(device_));
  return cond;
}

whatif::Cond ConcatConditioning::drop(const whatif::Cond& cond, const at::Tensor& drop) {
  whatif::Cond zeros;
  if (cond.spatial.defined()) zeros.spatial = torch::zeros_like(cond.spatial);
  return replace_rows(cond, zeros, drop);
}

}  // namespace whatif_conditioning
