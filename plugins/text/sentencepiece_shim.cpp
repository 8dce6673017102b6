// libwhatif-sentencepiece.so: sentencepiece behind SentencePieceLibrary (see
// sentencepiece_library.hpp for why it is a library of its own).
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <stdexcept>
#include <unordered_map>

#include "sentencepiece_library.hpp"

namespace {

class CorpusIterator : public sentencepiece::SentenceIterator {
 public:
  explicit CorpusIterator(const std::vector<std::string>& corpus) : corpus_(corpus) {}
  bool done() const override { return index_ >= corpus_.size(); }
  void Next() override { ++index_; }
  const std::string& value() const override { return corpus_[index_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  const std::vector<std::string>& corpus_;
  std::size_t index_ = 0;
};

void check(const sentencepiece::util::Status& status, const std::string& what) {
  if (!status.ok()) throw std::runtime_error(what + ": " + status.ToString());
}

class Model : public whatif_text::SentencePieceModel {
 public:
  explicit Model(const std::string& serialized) {
    check(processor_.LoadFromSerializedProto(serialized), "not a sentencepiece model");
  }
  std::vector<int> encode(const std::string& text) const override {
    std::vector<int> ids;
    check(processor_.Encode(text, &ids), "sentencepiece could not tokenize \"" + text + "\"");
    return ids;
  }
  std::string decode(const std::vector<int>& ids) const override {
    std::string text;
    check(processor_.Decode(ids, &text), "sentencepiece could not decode the ids");
    return text;
  }
  int piece_size() const override { return processor_.GetPieceSize(); }
  int unk_id() const override { return processor_.unk_id(); }
  int bos_id() const override { return processor_.bos_id(); }
  int eos_id() const override { return processor_.eos_id(); }
  int pad_id() const override { return processor_.pad_id(); }

 private:
  sentencepiece::SentencePieceProcessor processor_;
};

class Library : public whatif_text::SentencePieceLibrary {
 public:
  std::string train(const std::vector<std::string>& corpus,
                    const std::map<std::string, std::string>& flags) const override {
    CorpusIterator sentences(corpus);
    std::string serialized;
    check(sentencepiece::SentencePieceTrainer::Train(
              std::unordered_map<std::string, std::string>(flags.begin(), flags.end()),
              &sentences, &serialized),
          "sentencepiece could not train a tokenizer on " + std::to_string(corpus.size()) +
              " sentences");
    return serialized;
  }
  std::unique_ptr<whatif_text::SentencePieceModel> load(
      const std::string& serialized) const override {
    return std::make_unique<Model>(serialized);
  }
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const whatif_text::SentencePieceLibrary*
whatif_sentencepiece_library() {
  static const Library library;
  return &library;
}
