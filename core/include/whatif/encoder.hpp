#pragma once
// kind `encoder`: volume ↔ representation. `identity` is pixel space, `haar` a lossless wavelet,
// `kl-vae` a learned latent space, `vq-vae` a discrete one (tokenize/detokenize).
#include <map>
#include <string>
#include <vector>

#include "whatif/registry/component.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

class Encoder : public Component, public Trainable {
 public:
  ~Encoder() override;

  virtual at::Tensor encode(const at::Tensor& x) = 0;  // [B, C, *S] → [B, C', *S']
  virtual at::Tensor decode(const at::Tensor& z) = 0;  // inverse (or approximate inverse)
  // [C, *S] of an input → [C', *S'] of its representation.
  virtual std::vector<std::int64_t> latent_shape(const std::vector<std::int64_t>& input) const = 0;

  // Learned encoders train through the common trainer with this loss; fixed ones return false
  // from learnable() and throw from loss().
  virtual bool learnable() const { return false; }
  virtual at::Tensor loss(const at::Tensor& x, std::map<std::string, double>& logs);
  // After training: fits data-dependent constants on a sample `x` (the latent scale factor, so
  // latents have unit variance) and returns the factor; 1 for encoders without one.
  virtual double calibrate(const at::Tensor& x) { return 1.0; }

  // Discrete encoders (VQ) expose token ids: [B, *S'] int64 in [0, codebook_size()).
  virtual bool discrete() const { return false; }
  virtual std::int64_t codebook_size() const { return 0; }
  virtual at::Tensor tokenize(const at::Tensor& x);
  virtual at::Tensor detokenize(const at::Tensor& ids);
};

}  // namespace whatif
