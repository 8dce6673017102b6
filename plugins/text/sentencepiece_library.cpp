#include "sentencepiece_library.hpp"

#include <dlfcn.h>

#include <mutex>

#include <whatif/registry/error.hpp>

namespace whatif_text {

const SentencePieceLibrary& open_sentencepiece(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, const SentencePieceLibrary*> opened;
  std::lock_guard<std::mutex> lock(mutex);
  if (const auto found = opened.find(path); found != opened.end()) return *found->second;
  // Never closed: the library's objects may live as long as the process.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!handle)
    throw whatif::Error("cannot open " + path + " (built with the text plugin): " + ::dlerror());
  using Entry = const SentencePieceLibrary* (*)();
  const auto entry = reinterpret_cast<Entry>(::dlsym(handle, kSentencePieceEntry));
  if (!entry) throw whatif::Error(path + " does not export " + kSentencePieceEntry);
  const SentencePieceLibrary* library = entry();
  opened.emplace(path, library);
  return *library;
}

}  // namespace whatif_text
