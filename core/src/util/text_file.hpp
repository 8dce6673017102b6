#pragma once
// Writing a text file so that it appears complete or not at all: a hidden sibling is written,
// flushed and checked (a full disk fails here), then renamed over the target.
#include <filesystem>
#include <string>

namespace whatif {

// Throws Error naming `path` when the text cannot be written whole; nothing is left behind then.
void write_text_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace whatif
