#pragma once
// kind `conditioning`: turns a batch's text / attributes / source image into a Cond, knows its
// null condition (for classifier-free guidance) and its training dropout.
#include <memory>

#include "whatif/cond.hpp"
#include "whatif/registry/component.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

class TextEncoder;

class Conditioning : public Component, public Trainable {
 public:
  ~Conditioning() override;

  // Schemes that read text get the pipeline's text encoder here before first use.
  virtual void attach_text(std::shared_ptr<TextEncoder> text) = 0;
  virtual Cond encode(const CondInput& input) = 0;
  // The condition meaning "no prompt", used for the unconditional branch of guidance.
  virtual Cond null(std::int64_t batch_size) = 0;
  // Probability of replacing an example's condition by the null one during training.
  virtual double dropout() const = 0;
  // Rows of `cond` where `drop` [B] is true are replaced by the null condition.
  virtual Cond drop(const Cond& cond, const at::Tensor& drop) = 0;
};

}  // namespace whatif
