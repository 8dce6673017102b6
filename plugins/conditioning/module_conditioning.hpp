#pragma once
// What the conditioning schemes share: parameters in one torch module, a null embedding that is
// learned or zero, a training dropout probability, and drop() as a row-wise swap for null().
#include <torch/nn.h>

#include <whatif/conditioning.hpp>

namespace whatif_conditioning {

enum class NullKind { Learned, Zeros };
// "learned" or "zeros" (option 'null').
NullKind parse_null(const std::string& text);

// Throws unless `drop` is a [B] bool tensor.
void check_drop(const at::Tensor& drop);

// Rows of `cond` where `drop` [B] bool is true take the rows of `null` (same batch size). A null
// context shorter than the batch's is padded with masked zero tokens.
whatif::Cond replace_rows(const whatif::Cond& cond, const whatif::Cond& null,
                          const at::Tensor& drop);

class ModuleConditioning : public whatif::Conditioning {
 public:
  ModuleConditioning(std::string name, NullKind null, double dropout);

  // Schemes that do not read text ignore the encoder.
  void attach_text(std::shared_ptr<whatif::TextEncoder> text) override {}
  double dropout() const override { return dropout_; }
  whatif::Cond drop(const whatif::Cond& cond, const at::Tensor& drop) override;

  whatif::NamedTensors named_parameters() override;
  void train(bool on) override;
  void to(const c10::Device& device) override;

 protected:
  // A [dim] null embedding registered as `name`: a parameter when learned, a constant otherwise.
  torch::Tensor add_null_embedding(const std::string& name, std::int64_t dim);
  // `row` [..., dim] repeated for `batch_size` rows.
  static torch::Tensor rows(const torch::Tensor& row, std::int64_t batch_size);

  std::string name_;  // e.g. "conditioning/film", for messages
  NullKind null_kind_;
  std::shared_ptr<torch::nn::Module> net_;
  c10::Device device_ = c10::Device(c10::kCPU);

 private:
  double dropout_;
};

}  // namespace whatif_conditioning
