#include "torchscript_text_encoder.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <whatif/registry/error.hpp>

namespace whatif_text {

namespace {

std::string read_file(const std::string& path, const std::string& key) {
  if (path.empty()) throw whatif::Error("option '" + key + "' is required: give a file path");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw whatif::Error("option '" + key + "': cannot read " + path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

torch::jit::Module load_module(const std::string& path) {
  if (path.empty()) throw whatif::Error("option 'path' is required: give the exported .pt file");
  if (!std::filesystem::exists(path))
    throw whatif::Error("option 'path': no TorchScript module at " + path);
  try {
    return torch::jit::load(path);
  } catch (const c10::Error& e) {
    throw whatif::Error(path + " is not a TorchScript module: " + e.what_without_backtrace());
  }
}

}  // namespace

TorchScriptTextEncoder::TorchScriptTextEncoder(const TorchScriptTextOptions& options)
    : options_(options),
      tokenizer_(std::make_unique<SentencePieceTokenizer>(
          read_file(options.tokenizer, "tokenizer"), options.tokenizer)),
      module_(load_module(options.path)) {
  if (!module_.find_method("forward"))
    throw whatif::Error(options_.path + " has no forward(ids, mask) method");
  // An export may carry either flag; the option decides.
  for (const auto& parameter : module_.parameters()) parameter.requires_grad_(!options_.frozen);
  module_.eval();
  // The width is whatever the module produces; one short probe finds it.
  torch::NoGradGuard no_grad;
  width_ = run(tokenizer_->batch({"a"}, options_.max_length, options_.add_bos, options_.add_eos))
               .second.size(1);
}

std::pair<at::Tensor, at::Tensor> TorchScriptTextEncoder::run(const TokenBatch& batch) {
  const auto ids = batch.ids.to(device_);
  const auto mask = batch.mask.to(device_);
  c10::IValue output;
  try {
    output = module_.forward({ids, mask});
  } catch (const c10::Error& e) {
    throw whatif::Error(options_.path + ": forward(ids, mask) failed: " +
                        e.what_without_backtrace());
  }
  const auto expected = " must return (tokens [B, T, W], pooled [B, W])";
  if (!output.isTuple() || output.toTuple()->elements().size() != 2)
    throw whatif::Error(options_.path + expected);
  const auto& parts = output.toTuple()->elements();
  if (!parts[0].isTensor() || !parts[1].isTensor()) throw whatif::Error(options_.path + expected);
  at::Tensor tokens = parts[0].toTensor(), pooled = parts[1].toTensor();
  if (tokens.dim() != 3 || pooled.dim() != 2 || tokens.size(0) != ids.size(0) ||
      tokens.size(1) != ids.size(1) || pooled.size(0) != ids.size(0) ||
      pooled.size(1) != tokens.size(2))
    throw whatif::Error(options_.path + expected + ", got tokens " +
                        c10::str(tokens.sizes()) + " and pooled " + c10::str(pooled.sizes()) +
                        " for ids " + c10::str(ids.sizes()));
  return {tokens, pooled};
}

void TorchScriptTextEncoder::fit_tokenizer(const std::vector<std::string>&,
                                           const std::string& folder) {
  if (!folder.empty()) write_tokenizer(tokenizer_->serialized(), folder);
}

std::vector<std::int64_t> TorchScriptTextEncoder::tokenize(const std::string& text) const {
  return tokenizer_->encode(text, options_.max_length, options_.add_bos, options_.add_eos);
}

std::string TorchScriptTextEncoder::detokenize(const std::vector<std::int64_t>& ids) const {
  return tokenizer_->decode(ids);
}

whatif::TextEmbedding TorchScriptTextEncoder::encode(const std::vector<std::string>& texts) {
  const auto batch =
      tokenizer_->batch(texts, options_.max_length, options_.add_bos, options_.add_eos);
  auto [tokens, pooled] = run(batch);
  return {tokens, batch.mask.to(device_), pooled};
}

whatif::NamedTensors TorchScriptTextEncoder::named_parameters() {
  whatif::NamedTensors named;
  for (const auto& parameter : module_.named_parameters(true))
    named.emplace_back(parameter.name, parameter.value);
  return named;
}

void TorchScriptTextEncoder::train(bool on) { module_.train(on); }

void TorchScriptTextEncoder::to(const c10::Device& device) {
  module_.to(device);
  device_ = device;
}

}  // namespace whatif_text
