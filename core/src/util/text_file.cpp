#include "util/text_file.hpp"

#include <fstream>
#include <system_error>

#include "whatif/registry/error.hpp"

namespace whatif {

void write_text_atomically(const std::filesystem::path& path, const std::string& text) {
  namespace fs = std::filesystem;
  const fs::path partial = path.parent_path() / ("." + path.filename().string() + ".partial");
  std::error_code ec;
  bool written = false;
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    written = out && out.write(text.data(), static_cast<std::streamsize>(text.size())) && out.flush();
    out.close();
    written = written && !out.fail();
  }
  if (written) fs::rename(partial, path, ec);
  if (!written || ec) {
    fs::remove(partial, ec);
    throw Error(path.string() + ": cannot write (is the disk full or the folder read-only?)");
  }
}

}  // namespace whatif
