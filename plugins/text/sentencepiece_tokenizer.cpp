#include "sentencepiece_tokenizer.hpp"

#include <ATen/Functions.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <whatif/registry/error.hpp>

namespace whatif_text {

namespace {

constexpr std::int64_t kHeaderBytes = 8;

}  // namespace

const SentencePieceLibrary& sentencepiece_library() {
  static const SentencePieceLibrary* library = [] {
    Dl_info self{};
    if (::dladdr(reinterpret_cast<void*>(&sentencepiece_library), &self) == 0 || !self.dli_fname)
      throw whatif::Error("the text plugin cannot find its own file to locate " +
                          std::string(kSentencePieceLibraryFile));
    return &open_sentencepiece(
        (std::filesystem::path(self.dli_fname).parent_path() / kSentencePieceLibraryFile).string());
  }();
  return *library;
}

std::string train_sentencepiece(const std::vector<std::string>& corpus,
                                const TokenizerTraining& spec) {
  if (corpus.empty())
    throw whatif::Error("cannot train a tokenizer on an empty corpus: the dataset gave no reports");
  // A soft vocabulary limit: a small corpus yields fewer pieces than asked for rather than an
  // error.
  const std::map<std::string, std::string> flags{{"vocab_size", std::to_string(spec.vocab_size)},
                                                 {"model_type", spec.model_type},
                                                 {"hard_vocab_limit", "false"},
                                                 {"normalization_rule_name", "identity"},
                                                 {"character_coverage", "1.0"},
                                                 {"split_digits", "true"},
                                                 {"pad_id", "3"},
                                                 {"num_threads", "1"},
                                                 {"minloglevel", "2"}};
  const SentencePieceLibrary& library = sentencepiece_library();
  try {
    return library.train(corpus, flags);
  } catch (const std::runtime_error& e) {
    throw whatif::Error(e.what() + std::string(" (try another 'vocab_size')"));
  }
}

void write_tokenizer(const std::string& serialized, const std::string& folder) {
  std::error_code ignored;  // a failure to create shows up as a failure to write
  std::filesystem::create_directories(folder, ignored);
  const std::filesystem::path path = std::filesystem::path(folder) / "tokenizer.model";
  std::ofstream out(path, std::ios::binary);
  out.write(serialized.data(), static_cast<std::streamsize>(serialized.size()));
  if (!out)
    throw whatif::Error("cannot write the tokenizer to " + path.string() +
                        ": check that the folder is writable");
}

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& serialized,
                                               const std::string& what)
    : serialized_(serialized) {
  const SentencePieceLibrary& library = sentencepiece_library();
  try {
    processor_ = library.load(serialized_);
  } catch (const std::runtime_error& e) {
    throw whatif::Error(what + ": " + e.what());
  }
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<std::int64_t> SentencePieceTokenizer::encode(const std::string& text,
                                                         std::int64_t max_length, bool add_bos,
                                                         bool add_eos) const {
  std::vector<int> pieces;
  try {
    pieces = processor_->encode(text);
  } catch (const std::runtime_error& e) {
    throw whatif::Error(e.what());
  }
  const std::int64_t room = max_length - (add_bos ? 1 : 0) - (add_eos ? 1 : 0);
  if (room < 1)
    throw whatif::Error("option 'max_length' (" + std::to_string(max_length) +
                        ") leaves no room for a token after BOS/EOS");
  if ((add_bos && processor_->bos_id() < 0) || (add_eos && processor_->eos_id() < 0))
    throw whatif::Error(std::string("the tokenizer has no ") + (add_bos ? "BOS" : "EOS") +
                        " piece: set option 'add_bos'/'add_eos' to false");
  std::vector<std::int64_t> ids;
  ids.reserve(static_cast<std::size_t>(max_length));
  if (add_bos) ids.push_back(processor_->bos_id());
  const std::size_t kept = std::min(pieces.size(), static_cast<std::size_t>(room));
  ids.insert(ids.end(), pieces.begin(), pieces.begin() + static_cast<std::ptrdiff_t>(kept));
  if (add_eos) ids.push_back(processor_->eos_id());
  return ids;
}

TokenBatch SentencePieceTokenizer::batch(const std::vector<std::string>& texts,
                                         std::int64_t max_length, bool add_bos,
                                         bool add_eos) const {
  std::vector<std::vector<std::int64_t>> rows;
  rows.reserve(texts.size());
  std::size_t longest = 1;
  for (const auto& text : texts) {
    rows.push_back(encode(text, max_length, add_bos, add_eos));
    longest = std::max(longest, rows.back().size());
  }
  const auto batch_size = static_cast<std::int64_t>(rows.size());
  const auto length = static_cast<std::int64_t>(longest);
  at::Tensor ids = at::full({batch_size, length}, pad_id(), at::kLong);
  at::Tensor mask = at::zeros({batch_size, length}, at::kBool);
  auto id = ids.accessor<std::int64_t, 2>();
  auto real = mask.accessor<bool, 2>();
  for (std::int64_t b = 0; b < batch_size; ++b) {
    const auto& row = rows[static_cast<std::size_t>(b)];
    for (std::size_t t = 0; t < row.size(); ++t) {
      id[b][static_cast<std::int64_t>(t)] = row[t];
      real[b][static_cast<std::int64_t>(t)] = true;
    }
  }
  return {ids, mask};
}

std::string SentencePieceTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::vector<int> pieces;
  pieces.reserve(ids.size());
  for (const std::int64_t id : ids) {
    if (id < 0 || id >= vocab_size())
      throw whatif::Error("token id " + std::to_string(id) + " is outside the tokenizer's " +
                          std::to_string(vocab_size()) + " pieces");
    pieces.push_back(static_cast<int>(id));
  }
  try {
    return processor_->decode(pieces);
  } catch (const std::runtime_error& e) {
    throw whatif::Error(e.what());
  }
}

std::int64_t SentencePieceTokenizer::vocab_size() const { return processor_->piece_size(); }

std::int64_t SentencePieceTokenizer::pad_id() const {
  return processor_->pad_id() >= 0 ? processor_->pad_id() : 0;
}

StoredTokenizer::StoredTokenizer(std::int64_t capacity)
    : buffer_(at::zeros({kHeaderBytes + capacity}, at::kByte)) {}

void StoredTokenizer::store(const std::string& serialized) {
  const auto size = static_cast<std::int64_t>(serialized.size());
  if (size > buffer_.numel() - kHeaderBytes)
    throw whatif::Error("the trained tokenizer takes " + std::to_string(size) +
                        " bytes, more than the " + std::to_string(buffer_.numel() - kHeaderBytes) +
                        " reserved for it (lower 'vocab_size')");
  auto fresh = std::make_shared<const SentencePieceTokenizer>(serialized, "the trained tokenizer");
  at::Tensor bytes = at::zeros_like(buffer_);
  auto* data = bytes.data_ptr<std::uint8_t>();
  for (int i = 0; i < kHeaderBytes; ++i)
    data[i] = static_cast<std::uint8_t>((static_cast<std::uint64_t>(size) >> (8 * i)) & 0xff);
  std::memcpy(data + kHeaderBytes, serialized.data(), serialized.size());
  std::lock_guard<std::mutex> lock(mutex_);
  buffer_.copy_(bytes);
  loaded_ = std::move(fresh);
}

std::string StoredTokenizer::bytes() const {
  const at::Tensor cpu = buffer_.to(at::kCPU).contiguous();
  const auto* data = cpu.data_ptr<std::uint8_t>();
  std::uint64_t size = 0;
  for (int i = 0; i < kHeaderBytes; ++i) size |= static_cast<std::uint64_t>(data[i]) << (8 * i);
  if (size > static_cast<std::uint64_t>(cpu.numel() - kHeaderBytes))
    throw whatif::Error("buffer 'tokenizer.model' is corrupt: it claims " + std::to_string(size) +
                        " bytes but holds " + std::to_string(cpu.numel() - kHeaderBytes));
  return std::string(reinterpret_cast<const char*>(data + kHeaderBytes), size);
}

bool StoredTokenizer::empty() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes().empty();
}

std::shared_ptr<const SentencePieceTokenizer> StoredTokenizer::current() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string serialized = bytes();
  if (serialized.empty())
    throw whatif::Error(
        "the text encoder has no tokenizer yet: call fit_tokenizer on the report corpus or "
        "restore a checkpoint that holds 'tokenizer.model'");
  if (!loaded_ || loaded_->serialized() != serialized)
    loaded_ =
        std::make_shared<const SentencePieceTokenizer>(serialized, "buffer 'tokenizer.model'");
  return loaded_;
}

}  // namespace whatif_text
