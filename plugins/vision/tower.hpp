#pragma once
// A torch network as a vision tower: Tower<Net> adapts any module holder whose impl has `config`
// (with spatial_dims, in_channels, width), `check_input(x)` and `forward(x) → [B, width]`.
#include <string>

#include <torch/torch.h>

#include <whatif/registry/error.hpp>
#include <whatif/vision.hpp>

namespace whatif_vision {

// Throws unless x is [B, in_channels, *S] with `dims` spatial axes; `who` names the component.
inline void check_images(const std::string& who, const torch::Tensor& x, std::int64_t dims, std::int64_t channels) {
  if (x.dim() != dims + 2 || x.size(1) != channels)
    throw whatif::Error(who + ": expects images [B, " + std::to_string(channels) +
                        (dims == 3 ? ", D, H, W]" : ", H, W]") + ", got " + std::to_string(x.dim()) +
                        " dimensions with " + std::to_string(x.dim() > 1 ? x.size(1) : 0) + " channels");
}

template <class Net>
class Tower : public whatif::VisionEncoder {
 public:
  template <class Config>
  explicit Tower(const Config& config) : net_(config) {}
  at::Tensor embed(const at::Tensor& x) override {
    net_->check_input(x);
    return net_->forward(x);
  }
  std::int64_t width() const override { return net_->config.width; }
  int spatial_dims() const override { return static_cast<int>(net_->config.spatial_dims); }
  whatif::NamedTensors named_parameters() override {
    whatif::NamedTensors out;
    for (const auto& item : net_->named_parameters()) out.emplace_back(item.key(), item.value());
    return out;
  }
  void train(bool on) override { net_->train(on); }
  void to(const c10::Device& device) override { net_->to(device); }

 protected:
  Net& net() { return net_; }
  const Net& net() const { return net_; }

 private:
  Net net_;
};

}  // namespace whatif_vision
