#pragma once
// Manifests for real data: CSV (header row) or JSONL (one object per line) with an `image` path,
// optional `text`, `subject` and `time`, and any other numeric columns as attributes. Relative
// image paths resolve against the manifest's folder.
#include <map>
#include <string>
#include <vector>

namespace whatif::data {

struct ManifestRow {
  std::string image;  // resolved path
  std::string text;
  std::string subject;
  std::map<std::string, double> attributes;  // includes `time` when given
  int line = 0;                              // line in the manifest, for messages
};

// Throws Error naming the manifest (and line) on a missing `image` column, a missing image file,
// a non-numeric attribute or malformed syntax.
std::vector<ManifestRow> read_manifest(const std::string& path);

}  // namespace whatif::data
