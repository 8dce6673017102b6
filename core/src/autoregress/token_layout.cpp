#include "autoregress/token_layout.hpp"

#include <algorithm>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "whatif/registry/error.hpp"

namespace whatif {

std::int64_t TokenLayout::grid_count() const {
  std::int64_t n = 1;
  for (const auto s : grid) n *= s;
  return grid.empty() ? 0 : n;
}

std::int64_t TokenLayout::segment(std::int64_t position) const {
  const std::int64_t g = grid_count();
  if (position <= g) return kPrior;
  if (position <= g + prompt_length + 1) return kPrompt;
  if (position <= 2 * g + prompt_length + 2) return kTarget;
  return kText;
}

at::Tensor TokenLayout::segments(std::int64_t batch, std::int64_t first, std::int64_t length) const {
  at::Tensor row = at::empty({length}, at::kLong);
  auto* data = row.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < length; ++i) data[i] = segment(first + i);
  return row.unsqueeze(0).expand({batch, length}).contiguous();
}

std::vector<std::int64_t> TokenLayout::text_tokens(const std::vector<std::int64_t>& ids) const {
  std::vector<std::int64_t> out;
  out.reserve(ids.size());
  for (const auto id : ids) {
    const auto it = std::lower_bound(text_ids.begin(), text_ids.end(), id);
    out.push_back(it != text_ids.end() && *it == id ? kSpecials + (it - text_ids.begin()) : kUnk);
  }
  return out;
}

std::vector<std::int64_t> TokenLayout::text_ids_of(const std::vector<std::int64_t>& tokens) const {
  std::vector<std::int64_t> out;
  for (const auto t : tokens)
    if (is_text(t)) out.push_back(text_ids[static_cast<std::size_t>(t - kSpecials)]);
  return out;
}

at::Tensor TokenLayout::prefix(const at::Tensor& prior_codes,
                               const std::vector<std::vector<std::int64_t>>& prompts) const {
  const std::int64_t batch = prior_codes.size(0), g = grid_count();
  if (prior_codes.dim() != 2 || prior_codes.size(1) != g)
    throw Error("autoregressive: the prior has " + std::to_string(prior_codes.numel() / std::max<std::int64_t>(batch, 1)) +
                " tokens, the model's grid " + std::to_string(g) + ": give priors of the size it was trained on");
  if (static_cast<std::int64_t>(prompts.size()) != batch) throw Error("autoregressive: one prompt per prior");
  at::Tensor out = at::full({batch, prefix_length()}, kPad, at::kLong);
  out.select(1, 0).fill_(kBos);
  out.narrow(1, 1, g).copy_(prior_codes.to(at::kLong) + image_offset());
  out.select(1, g + 1).fill_(kSep);
  out.select(1, g + prompt_length + 2).fill_(kSep);
  auto acc = out.accessor<std::int64_t, 2>();
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto tokens = text_tokens(prompts[static_cast<std::size_t>(b)]);
    const auto n = std::min<std::int64_t>(prompt_length, static_cast<std::int64_t>(tokens.size()));
    for (std::int64_t i = 0; i < n; ++i) acc[b][g + 2 + i] = tokens[static_cast<std::size_t>(i)];
  }
  return out;
}

at::Tensor TokenLayout::unconditional(const at::Tensor& prefix) const {
  at::Tensor out = prefix.clone();
  out.narrow(1, grid_count() + 2, prompt_length).fill_(kPad);
  return out;
}

std::string TokenLayout::to_json() const {
  return nlohmann::json{{"text_ids", text_ids},           {"codebook", codebook},
                        {"grid", grid},                   {"prompt_length", prompt_length},
                        {"text_length", text_length}}
      .dump();
}

TokenLayout TokenLayout::from_json(const std::string& json) {
  const auto j = nlohmann::json::parse(json);
  TokenLayout l;
  l.text_ids = j.at("text_ids").get<std::vector<std::int64_t>>();
  l.codebook = j.at("codebook").get<std::int64_t>();
  l.grid = j.at("grid").get<std::vector<std::int64_t>>();
  l.prompt_length = j.at("prompt_length").get<std::int64_t>();
  l.text_length = j.at("text_length").get<std::int64_t>();
  return l;
}

}  // namespace whatif
