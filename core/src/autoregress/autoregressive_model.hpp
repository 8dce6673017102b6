#pragma once
// AutoregressiveModel{tokenizer, text, generator}: multimodal autoregression (DESIGN.md §1 method
// 3). A discrete encoder (vq-vae) turns images into codes, a text encoder's tokenizer turns the
// prompt and the interpretation into ids, and one decoder-only generator reads
// [prior image][prompt] and writes [follow-up image][interpretation][end] (token_layout.hpp).
// Trains through the common Trainer with loss on the follow-up and the interpretation only;
// decodes with a KV cache, grid constraint and classifier-free guidance (decoding.hpp).
//
// Training data: the dataset's pairs (prior index, follow-up index). The follow-up's text holds
// the prompt on its first line and the interpretation on the lines after it.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autoregress/decoding.hpp"
#include "autoregress/token_layout.hpp"
#include "whatif/dataset.hpp"
#include "whatif/encoder.hpp"
#include "whatif/generator.hpp"
#include "whatif/model.hpp"
#include "whatif/registry/fields.hpp"
#include "whatif/text.hpp"

namespace whatif {

struct AutoregressiveParts {
  std::shared_ptr<Encoder> tokenizer;  // discrete: tokenize / detokenize
  std::shared_ptr<TextEncoder> text;   // its tokenizer only: tokenize / detokenize
  std::shared_ptr<Generator> generator;
};

struct AutoregressiveConfig {
  std::int64_t prompt_length = 16;  // prompt tokens (cut or padded)
  std::int64_t text_length = 64;    // interpretation tokens kept in training
  double image_weight = 1.0;        // weight of the follow-up image's cross-entropy
  double text_weight = 1.0;         // weight of the interpretation's cross-entropy
  double prompt_dropout = 0.1;      // probability a training prompt is replaced by pads (for guidance)
  bool bf16 = false;                // decode under bf16 autocast

  static const Fields<AutoregressiveConfig>& fields();
  void check() const;
};

// One training example: codes of both images, text-encoder ids of the prompt and interpretation.
struct ProgressionExample {
  at::Tensor prior, target;  // [G] codes
  std::vector<std::int64_t> prompt, interpretation;
};

// The whole training sequence [S] of an example (S = layout.sequence_length(text_length)).
at::Tensor training_sequence(const TokenLayout& layout, const ProgressionExample& example);

// Cross-entropy of next-token logits [B, S, V] against sequences [B, S]: image_weight · the mean
// over the follow-up's image tokens + text_weight · the mean over the interpretation (its text
// tokens and end). The prior, the prompt, the separators and the padding after end carry no loss.
at::Tensor sequence_loss(const TokenLayout& layout, const at::Tensor& logits, const at::Tensor& sequences,
                         double image_weight, double text_weight, std::map<std::string, double>* logs = nullptr);

// "prompt\ninterpretation..." → {prompt, interpretation}.
std::pair<std::string, std::string> split_prompt(const std::string& text);

class AutoregressiveModel : public Model {
 public:
  AutoregressiveModel(AutoregressiveParts parts, AutoregressiveConfig config);

  FitResult fit(const Dataset& data, const FitRequest& request) override;
  // condition.prior [N | 1, C, *S] with condition.prompts (N, 1 or none = unconditional).
  Generation generate(const GenerateRequest& request) override;
  // prior-conditioned (or fixed-noise, the same for this family): the same prior and sampling
  // seed under the factual and the counterfactual prompt.
  Pair counterfactual(const CounterfactualRequest& request) override;
  void save(const std::string& path) const override;
  void load(const std::string& path) override;
  std::string config_json() const override;

  // The steps generate is made of (tests and benchmarks use them).
  const TokenLayout& layout() const;
  // [bos][prior][sep][prompt][sep] for a condition; its batch is the number of examples.
  at::Tensor prefix(const Condition& condition);
  Generation generate_from(const at::Tensor& prefix, const DecodeOptions& options);
  static DecodeOptions decode_options(const Sampling& sampling);

 private:
  void eval_mode();
  // The training pairs as codes and token ids; `token_cache` (a path, or empty) keeps the codes.
  std::vector<ProgressionExample> examples(const Dataset& data, const std::string& tokenizer_dir,
                                           const std::string& token_cache);
  void check_generator(std::int64_t length) const;

  AutoregressiveParts parts_;
  AutoregressiveConfig config_;
  TokenLayout layout_;
  std::string data_json_ = "{}";  // describe_data of the training data
  bool has_layout_ = false;
};

}  // namespace whatif
