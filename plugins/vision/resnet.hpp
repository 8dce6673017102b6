#pragma once
// vision/resnet: a pre-activation residual network (He et al. 2016, "Identity mappings"), 2D or
// 3D, as the image tower of a dual encoder (3D ResNets as in Hara et al. 2018 and the 3D CLIP
// towers of CT-CLIP / M3D). Stages of residual blocks at halving resolutions, a final norm and
// SiLU, global pooling and a linear map to the output width. GroupNorm instead of batch
// norm: contrastive batches on CPU are small, and batch statistics would leak across the
// negatives. Pooling: `mean` (global average), `max`, or `mean-max` (both, concatenated). A finding
// of a few voxels moves the mean of a 4³ map by a sixty-fourth of what it moves the maximum, so the
// max terms are for small lesions (multiple-instance pooling, Ilse et al. 2018 compare the choices).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include <whatif/nn/layers.hpp>

#include "tower.hpp"

namespace whatif_vision {

struct ResNetConfig {
  std::int64_t spatial_dims = 3;
  std::int64_t in_channels = 1;
  std::vector<std::int64_t> channels{32, 64, 128, 256};  // one stage each; stages after the first halve
  std::int64_t blocks = 1;                                // residual blocks per stage
  std::int64_t groups = 8;
  std::int64_t width = 256;  // output features
  std::string pooling = "mean";  // mean | max | mean-max

  void check() const;  // throws naming the first bad option
};

// norm → SiLU → conv3 → norm → SiLU → conv3 (zero-initialised), plus the input.
struct PreActBlockImpl : torch::nn::Module {
  PreActBlockImpl(int dims, std::int64_t channels, std::int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);
  whatif::nn::GroupNorm32 norm1{nullptr}, norm2{nullptr};
  whatif::nn::Conv conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(PreActBlock);

struct ResNetImpl : torch::nn::Module {
  explicit ResNetImpl(const ResNetConfig& config);
  void check_input(const torch::Tensor& x) const;
  torch::Tensor forward(const torch::Tensor& x);   // [B, C, *S] → [B, width]
  torch::Tensor features(const torch::Tensor& x);  // the last stage after norm and SiLU, before pooling
  // forward(x), and the first stage's output [B, channels[0], *S] at the input's resolution.
  std::pair<torch::Tensor, torch::Tensor> forward_with_map(const torch::Tensor& x);
  ResNetConfig config;
 private:
  std::pair<torch::Tensor, torch::Tensor> last_and_first(const torch::Tensor& x);  // (features, first stage)
  torch::Tensor pool(const torch::Tensor& h);                                    // → [B, width]

 public:
  whatif::nn::Conv stem{nullptr};
  torch::nn::ModuleList stages;  // per stage: [downsampling conv,] blocks
  whatif::nn::GroupNorm32 norm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(ResNet);

// The resnet tower also hands out its first stage as a full-resolution map (whatif.clip's mask loss).
class ResNetEncoder : public Tower<ResNet> {
 public:
  using Tower<ResNet>::Tower;
  WithMap embed_with_map(const at::Tensor& x) override {
    net()->check_input(x);
    auto [embedding, map] = net()->forward_with_map(x);
    return {embedding, map};
  }
  std::int64_t map_channels() const override { return net()->config.channels.front(); }
};

}  // namespace whatif_vision
