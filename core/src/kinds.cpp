// Out-of-line destructors (so each interface's vtable and type_info live once, in libwhatif, and
// dynamic_cast works across plugin libraries) and the interfaces' default behaviour.
#include <ATen/Functions.h>

#include "whatif/conditioning.hpp"
#include "whatif/dataset.hpp"
#include "whatif/denoiser.hpp"
#include "whatif/encoder.hpp"
#include "whatif/generator.hpp"
#include "whatif/metric.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/sampler.hpp"
#include "whatif/schedule.hpp"
#include "whatif/text.hpp"
#include "whatif/vision.hpp"

namespace whatif {

Trainable::~Trainable() = default;
Schedule::~Schedule() = default;
TextEncoder::~TextEncoder() = default;
VisionEncoder::~VisionEncoder() = default;
Conditioning::~Conditioning() = default;
Denoiser::~Denoiser() = default;
Encoder::~Encoder() = default;
Sampler::~Sampler() = default;
GeneratorState::~GeneratorState() = default;
Generator::~Generator() = default;
Dataset::~Dataset() = default;
Metric::~Metric() = default;

std::pair<at::Tensor, at::Tensor> Schedule::alpha_sigma(const at::Tensor& t) const {
  const at::Tensor lambda = logsnr(t);
  return {at::sigmoid(lambda).sqrt(), at::sigmoid(-lambda).sqrt()};
}

VisionEncoder::WithMap VisionEncoder::embed_with_map(const at::Tensor&) {
  throw Error(identity().label() + " gives no full-resolution feature map for a mask loss; use vision/resnet");
}

at::Tensor Encoder::loss(const at::Tensor&, std::map<std::string, double>&) {
  throw Error(identity().label() + " has nothing to train");
}

at::Tensor Encoder::tokenize(const at::Tensor&) {
  throw Error(identity().label() + " is not a discrete encoder (use vq-vae for tokens)");
}

at::Tensor Encoder::detokenize(const at::Tensor&) {
  throw Error(identity().label() + " is not a discrete encoder (use vq-vae for tokens)");
}

std::string TextEncoder::detokenize(const std::vector<std::int64_t>&) const {
  throw Error(identity().label() + " cannot turn token ids back into text");
}

at::Tensor Sampler::invert(const DenoiseFn&, const Schedule&, at::Tensor,
                           const SampleOptions&) const {
  throw Error(identity().label() + " cannot invert (use a deterministic sampler such as ddim)");
}

std::int64_t CondInput::batch_size() const {
  if (!text.empty()) return static_cast<std::int64_t>(text.size());
  if (attributes.defined()) return attributes.size(0);
  if (source.defined()) return source.size(0);
  return 0;
}

}  // namespace whatif
