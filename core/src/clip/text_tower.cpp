#include "clip/text_tower.hpp"

#include <ATen/ATen.h>

namespace whatif {
namespace {

class ClipTextTower : public TextEncoder {
 public:
  ClipTextTower(std::shared_ptr<TextEncoder> tower, bool frozen) : tower_(std::move(tower)), frozen_(frozen) {
    Options options;
    options.set("frozen", frozen);
    options.set("tower", tower_->identity().label() + " " + tower_->hyperparams().to_json());
    stamp({"text", "clip", "builtin", tower_->identity().version, ""}, options);
    if (frozen_) tower_->train(false);
  }
  // The tokenizer is the one the contrastive training fitted; a fine-tuned tower keeps it too, so
  // token ids mean what the tower learned them to mean.
  void fit_tokenizer(const std::vector<std::string>&, const std::string&) override {}
  std::vector<std::int64_t> tokenize(const std::string& text) const override { return tower_->tokenize(text); }
  std::string detokenize(const std::vector<std::int64_t>& ids) const override { return tower_->detokenize(ids); }
  TextEmbedding encode(const std::vector<std::string>& texts) override {
    if (!frozen_) return tower_->encode(texts);
    at::NoGradGuard no_grad;
    return tower_->encode(texts);
  }
  std::int64_t width() const override { return tower_->width(); }
  bool frozen() const override { return frozen_; }
  NamedTensors named_parameters() override { return tower_->named_parameters(); }
  NamedTensors named_buffers() override { return tower_->named_buffers(); }
  void train(bool on) override { tower_->train(on && !frozen_); }
  void to(const c10::Device& device) override { tower_->to(device); }

 private:
  std::shared_ptr<TextEncoder> tower_;
  bool frozen_;
};

}  // namespace

std::shared_ptr<TextEncoder> clip_text_tower(std::shared_ptr<TextEncoder> tower, bool frozen) {
  return std::make_shared<ClipTextTower>(std::move(tower), frozen);
}

}  // namespace whatif
