#include "util/file_seal.hpp"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "whatif/registry/error.hpp"

namespace whatif {
namespace {

// "\nwhatif-seal v1 crc32 XXXXXXXX length NNNNNNNNNNNNNNNNNNNN" padded with spaces, then "\n".
std::string trailer(unsigned long crc, unsigned long long length) {
  char text[kSealBytes + 1];
  std::snprintf(text, sizeof text, "\nwhatif-seal v1 crc32 %08lx length %020llu", crc, length);
  std::string out(text);
  out.resize(kSealBytes - 1, ' ');
  return out + "\n";
}

// CRC-32 of the first `length` bytes of `in`.
unsigned long crc_of(std::ifstream& in, unsigned long long length) {
  std::vector<char> buffer(1 << 20);
  unsigned long crc = crc32(0L, Z_NULL, 0);
  in.seekg(0);
  while (length > 0) {
    const auto n = static_cast<std::streamsize>(std::min<unsigned long long>(length, buffer.size()));
    if (!in.read(buffer.data(), n)) return ~crc;  // shorter than it says: cannot match
    crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), static_cast<uInt>(n));
    length -= static_cast<unsigned long long>(n);
  }
  return crc;
}

}  // namespace

void seal_file(const std::string& path) {
  unsigned long long length = 0;
  unsigned long crc = 0;
  {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw Error(path + ": cannot read back to seal it");
    length = static_cast<unsigned long long>(in.tellg());
    crc = crc_of(in, length);
  }
  std::ofstream out(path, std::ios::binary | std::ios::app);
  const std::string seal = trailer(crc, length);
  if (!out.write(seal.data(), static_cast<std::streamsize>(seal.size())) || !out.flush())
    throw Error(path + ": cannot write (is the disk full?)");
}

void check_seal(const std::string& path, const std::string& remedy) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": not a file; " + remedy);
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(path + ": cannot open");
  const auto size = static_cast<long long>(in.tellg());
  char text[kSealBytes + 1] = {};
  unsigned long crc = 0;
  unsigned long long length = 0;
  if (size >= kSealBytes) {
    in.seekg(size - kSealBytes);
    in.read(text, kSealBytes);
  }
  if (size < kSealBytes || std::strncmp(text, "\nwhatif-seal v1 crc32 ", 22) != 0 ||
      std::sscanf(text, "\nwhatif-seal v1 crc32 %8lx length %20llu", &crc, &length) != 2)
    throw Error(path + ": has no whatif seal (truncated, or written by an older whatif or another tool); " + remedy);
  if (length != static_cast<unsigned long long>(size - kSealBytes) || crc_of(in, length) != crc)
    throw Error(path + ": fails its whole-file checksum: the file is truncated or corrupted; " + remedy);
}

}  // namespace whatif
