#include "attributes_conditioning.hpp"

#include <cmath>

#include <torch/torch.h>
#include <whatif/registry/error.hpp>

namespace whatif_conditioning {

AttributesConditioning::AttributesConditioning(const AttributesOptions& options)
    : ModuleConditioning("conditioning/attributes", options.null, options.dropout),
      options_(options) {
  if (options.categories.empty())
    throw whatif::Error("option 'categories' needs one entry per attribute column "
                        "(0 = numeric, n = n classes)");
  if (!options.scales.empty() && options.scales.size() != options.categories.size())
    throw whatif::Error("option 'scales' has " + std::to_string(options.scales.size()) +
                        " entries for " + std::to_string(options.categories.size()) +
                        " attribute columns: give one per column, or none");
  for (const double scale : options.scales)
    if (!(scale > 0) || !std::isfinite(scale))
      throw whatif::Error("option 'scales': every entry must be a positive number, got " + std::to_string(scale));
  if (options.width < 1)
    throw whatif::Error("option 'width' must be at least 1, got " + std::to_string(options.width));
  if (options.vector_dim < 0 || options.context_dim < 0 ||
      options.vector_dim + options.context_dim == 0)
    throw whatif::Error("options 'vector_dim' and 'context_dim' are >= 0 and not both 0");
  for (std::size_t i = 0; i < options.categories.size(); ++i) {
    const auto classes = options.categories[i];
    const std::string name = "attribute" + std::to_string(i);
    if (classes < 0)
      throw whatif::Error("option 'categories' entry " + std::to_string(i) +
                          " is negative: use 0 for numeric, n for n classes");
    if (classes == 0) {
      numeric_.push_back(net_->register_module(name, torch::nn::Linear(1, options.width)));
      categorical_.push_back(torch::nn::Embedding{nullptr});
    } else {
      numeric_.push_back(torch::nn::Linear{nullptr});
      categorical_.push_back(
          net_->register_module(name, torch::nn::Embedding(classes, options.width)));
    }
  }
  if (options.vector_dim > 0) {
    vector_out_ =
        net_->register_module("vector_out", torch::nn::Linear(options.width, options.vector_dim));
    null_vector_ = add_null_embedding("null_vector", options.vector_dim);
  }
  if (options.context_dim > 0) {
    context_out_ = net_->register_module("context_out",
                                         torch::nn::Linear(options.width, options.context_dim));
    null_context_ = add_null_embedding("null_context", options.context_dim);
  }
}

torch::Tensor AttributesConditioning::embed(const torch::Tensor& attributes) {
  const auto columns = static_cast<std::int64_t>(options_.categories.size());
  if (!attributes.defined())
    throw whatif::Error(name_ + " needs attributes: use a dataset that provides them");
  if (attributes.dim() != 2 || attributes.size(1) != columns)
    throw whatif::Error(name_ + ": attributes are " + c10::str(attributes.sizes()) +
                        " but option 'categories' lists " + std::to_string(columns) +
                        " columns");
  const auto values = attributes.to(device_, torch::kFloat);
  torch::Tensor sum;
  for (std::int64_t i = 0; i < columns; ++i) {
    const auto column = values.select(1, i);
    torch::Tensor e;
    if (numeric_[static_cast<std::size_t>(i)]) {
      const double scale = options_.scales.empty() ? 1.0 : options_.scales[static_cast<std::size_t>(i)];
      e = numeric_[static_cast<std::size_t>(i)]((column / scale).unsqueeze(1));
    } else {
      const auto index = column.round().to(torch::kLong);
      const auto classes = options_.categories[static_cast<std::size_t>(i)];
      if (!torch::equal(index.to(torch::kFloat), column) || index.min().item<std::int64_t>() < 0 ||
          index.max().item<std::int64_t>() >= classes)
        throw whatif::Error(name_ + ": attribute column " + std::to_string(i) +
                            " is categorical with " + std::to_string(classes) +
                            " classes, so it must hold integers in [0, " +
                            std::to_string(classes - 1) + "]");
      e = categorical_[static_cast<std::size_t>(i)](index);
    }
    sum = sum.defined() ? sum + e : e;
  }
  return torch::silu(sum);
}

whatif::Cond AttributesConditioning::encode(const whatif::CondInput& input) {
  const auto h = embed(input.attributes);
  whatif::Cond cond;
  if (vector_out_) cond.vector = vector_out_(h);
  if (context_out_) {
    cond.context = context_out_(h).unsqueeze(1);
    cond.context_mask = torch::ones({h.size(0), 1}, torch::dtype(torch::kBool).device(device_));
  }
  return cond;
}

whatif::Cond AttributesConditioning::null(std::int64_t batch_size) {
  whatif::Cond cond;
  if (null_vector_.defined()) cond.vector = rows(null_vector_, batch_size);
  if (null_context_.defined()) {
    cond.context = rows(null_context_.unsqueeze(0), batch_size);
    cond.context_mask = torch::ones({batch_size, 1}, torch::dtype(torch::kBool).device(device_));
  }
  return cond;
}

}  // namespace whatif_conditioning
