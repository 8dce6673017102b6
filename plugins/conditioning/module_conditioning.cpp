#include "module_conditioning.hpp"

#include <torch/torch.h>

#include <whatif/registry/error.hpp>

namespace whatif_conditioning {

NullKind parse_null(const std::string& text) {
  if (text == "learned") return NullKind::Learned;
  if (text == "zeros") return NullKind::Zeros;
  throw whatif::Error("option 'null' must be \"learned\" or \"zeros\", got \"" + text + "\"");
}

namespace {

// `drop` [B] viewed to broadcast against a tensor of `dims` dimensions.
torch::Tensor broadcastable(const torch::Tensor& drop, std::int64_t dims) {
  std::vector<std::int64_t> shape(static_cast<std::size_t>(dims), 1);
  shape[0] = drop.size(0);
  return drop.view(shape);
}

torch::Tensor pad_tokens(const torch::Tensor& x, std::int64_t length) {
  if (x.size(1) == length) return x;
  std::vector<std::int64_t> shape = x.sizes().vec();
  shape[1] = length - x.size(1);
  return torch::cat({x, torch::zeros(shape, x.options())}, 1);
}

torch::Tensor swap(const torch::Tensor& kept, const torch::Tensor& null, const torch::Tensor& drop,
                   const char* field) {
  if (!kept.defined()) return kept;
  if (!null.defined())
    throw whatif::Error(std::string("the null condition has no '") + field +
                        "' to replace the condition's with");
  return torch::where(broadcastable(drop, kept.dim()), null.to(kept.options()), kept);
}

}  // namespace

void check_drop(const at::Tensor& drop) {
  if (!drop.defined() || drop.dim() != 1 || drop.scalar_type() != torch::kBool)
    throw whatif::Error("drop must be a [B] bool tensor (true = use the null condition)");
}

whatif::Cond replace_rows(const whatif::Cond& cond, const whatif::Cond& null,
                          const at::Tensor& drop) {
  check_drop(drop);
  whatif::Cond out;
  whatif::Cond null_padded = null;
  if (cond.context.defined() && null.context.defined()) {
    const auto length = std::max(cond.context.size(1), null.context.size(1));
    out.context = pad_tokens(cond.context, length);
    out.context_mask = pad_tokens(cond.context_mask, length);
    null_padded.context = pad_tokens(null.context, length);
    null_padded.context_mask = pad_tokens(null.context_mask, length);
  } else {
    out.context = cond.context;
    out.context_mask = cond.context_mask;
  }
  out.vector = cond.vector;
  out.spatial = cond.spatial;
  for (const auto* field : {&out.context, &out.vector, &out.spatial})
    if (field->defined() && field->size(0) != drop.size(0))
      throw whatif::Error("drop has " + std::to_string(drop.size(0)) +
                          " rows but the condition has " + std::to_string(field->size(0)));
  const auto device = [&]() {
    for (const auto* field : {&out.context, &out.vector, &out.spatial})
      if (field->defined()) return field->device();
    return drop.device();
  }();
  const auto d = drop.to(device);
  out.context = swap(out.context, null_padded.context, d, "context");
  out.context_mask = swap(out.context_mask, null_padded.context_mask, d, "context_mask");
  out.vector = swap(out.vector, null_padded.vector, d, "vector");
  out.spatial = swap(out.spatial, null_padded.spatial, d, "spatial");
  return out;
}

ModuleConditioning::ModuleConditioning(std::string name, NullKind null, double dropout)
    : name_(std::move(name)),
      null_kind_(null),
      net_(std::make_shared<torch::nn::Module>(name_)),
      dropout_(dropout) {
  if (!(dropout >= 0.0 && dropout <= 1.0))
    throw whatif::Error("option 'dropout' is a probability in [0, 1], got " +
                        std::to_string(dropout));
}

whatif::Cond ModuleConditioning::drop(const whatif::Cond& cond, const at::Tensor& drop) {
  check_drop(drop);
  return replace_rows(cond, null(drop.size(0)), drop);
}

torch::Tensor ModuleConditioning::add_null_embedding(const std::string& name, std::int64_t dim) {
  // Small random start so a learned null differs from every real condition from step one.
  if (null_kind_ == NullKind::Learned)
    return net_->register_parameter(name, torch::randn({dim}, torch::device(device_)) * 0.02);
  return net_->register_buffer(name, torch::zeros({dim}, torch::device(device_)));
}

torch::Tensor ModuleConditioning::rows(const torch::Tensor& row, std::int64_t batch_size) {
  std::vector<std::int64_t> shape = row.sizes().vec();
  shape.insert(shape.begin(), batch_size);
  return row.unsqueeze(0).expand(shape);
}

whatif::NamedTensors ModuleConditioning::named_parameters() {
  whatif::NamedTensors named;
  for (const auto& item : net_->named_parameters(true))
    named.emplace_back(item.key(), item.value());
  return named;
}

void ModuleConditioning::train(bool on) { net_->train(on); }

void ModuleConditioning::to(const c10::Device& device) {
  net_->to(device);
  device_ = device;
}

}  // namespace whatif_conditioning
