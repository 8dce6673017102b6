#pragma once
// Debian's libsentencepiece carries its own copy of protobuf-lite 3.14, whose symbols collide with
// the protobuf 3.21 that LibTorch loads first: linked directly, sentencepiece's protobuf calls
// land in LibTorch's and the process aborts. So sentencepiece lives behind this narrow interface
// in its own library (libwhatif-sentencepiece.so, next to the text plugin), opened with
// RTLD_DEEPBIND so that it binds to its own protobuf. Errors cross as std::runtime_error.
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace whatif_text {

class SentencePieceModel {
 public:
  virtual ~SentencePieceModel() = default;
  virtual std::vector<int> encode(const std::string& text) const = 0;
  virtual std::string decode(const std::vector<int>& ids) const = 0;
  virtual int piece_size() const = 0;
  virtual int unk_id() const = 0;
  virtual int bos_id() const = 0;  // -1 when the model has none
  virtual int eos_id() const = 0;
  virtual int pad_id() const = 0;
};

class SentencePieceLibrary {
 public:
  virtual ~SentencePieceLibrary() = default;
  // Trains on an in-memory corpus with sentencepiece's trainer flags; returns the serialized model.
  virtual std::string train(const std::vector<std::string>& corpus,
                            const std::map<std::string, std::string>& flags) const = 0;
  virtual std::unique_ptr<SentencePieceModel> load(const std::string& serialized) const = 0;
};

// The C symbol the library exports.
inline constexpr const char* kSentencePieceEntry = "whatif_sentencepiece_library";
inline constexpr const char* kSentencePieceLibraryFile = "libwhatif-sentencepiece.so";

// Opens the library at `path` once (it stays loaded for the life of the process) and returns it.
// Throws whatif::Error naming the file if it cannot.
const SentencePieceLibrary& open_sentencepiece(const std::string& path);

}  // namespace whatif_text
