#include "text_conditioning.hpp"

#include <torch/torch.h>
#include <whatif/registry/error.hpp>
#include <whatif/text.hpp>

namespace whatif_conditioning {

namespace {
const char* scheme(TextTarget target) {
  return target == TextTarget::Context ? "conditioning/cross-attention" : "conditioning/film";
}
}  // namespace

TextConditioning::TextConditioning(TextTarget target, std::int64_t dim, NullKind null,
                                   double dropout, std::int64_t vector_dim)
    : ModuleConditioning(scheme(target), null, dropout), target_(target), dim_(dim),
      vector_dim_(target == TextTarget::Context ? vector_dim : 0) {
  if (dim < 1)
    throw whatif::Error(std::string("option '") +
                        (target == TextTarget::Context ? "context_dim" : "vector_dim") +
                        "' must be at least 1, got " + std::to_string(dim));
  if (vector_dim_ < 0)
    throw whatif::Error("option 'vector_dim' must be 0 (tokens only) or more, got " + std::to_string(vector_dim_));
  null_embedding_ = add_null_embedding("null_embedding", dim);
  if (vector_dim_ > 0) null_vector_ = add_null_embedding("null_vector", vector_dim_);
}

void TextConditioning::attach_text(std::shared_ptr<whatif::TextEncoder> text) {
  if (!text) throw whatif::Error(name_ + " needs a text encoder (pipeline option 'text')");
  if (projection_) {
    if (projection_->options.in_features() != text->width())
      throw whatif::Error(name_ + " was built for text of width " +
                          std::to_string(projection_->options.in_features()) +
                          " but the new encoder's width is " + std::to_string(text->width()));
  } else {
    projection_ = net_->register_module("projection", torch::nn::Linear(text->width(), dim_));
    projection_->to(device_);
    if (vector_dim_ > 0) {
      vector_projection_ =
          net_->register_module("vector_projection", torch::nn::Linear(text->width(), vector_dim_));
      vector_projection_->to(device_);
    }
  }
  text_ = std::move(text);
}

whatif::Cond TextConditioning::encode(const whatif::CondInput& input) {
  if (!text_) throw whatif::Error(name_ + ": no text encoder attached (call attach_text first)");
  if (input.text.empty())
    throw whatif::Error(name_ + " conditions on text, but the batch has none: use a dataset with "
                                "reports or prompts, or conditioning 'attributes'");
  const whatif::TextEmbedding embedding = text_->encode(input.text);
  whatif::Cond cond;
  if (target_ == TextTarget::Context) {
    cond.context = projection_(embedding.tokens);
    cond.context_mask = embedding.mask;
    if (vector_projection_) cond.vector = vector_projection_(embedding.pooled);
  } else {
    cond.vector = projection_(embedding.pooled);
  }
  return cond;
}

whatif::Cond TextConditioning::null(std::int64_t batch_size) {
  whatif::Cond cond;
  if (target_ == TextTarget::Context) {
    cond.context = rows(null_embedding_.unsqueeze(0), batch_size);
    cond.context_mask = torch::ones({batch_size, 1}, torch::dtype(torch::kBool).device(device_));
    if (null_vector_.defined()) cond.vector = rows(null_vector_, batch_size);
  } else {
    cond.vector = rows(null_embedding_, batch_size);
  }
  return cond;
}

}  // namespace whatif_conditioning
