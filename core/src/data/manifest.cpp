// CSV (RFC 4180 quoting) and JSONL manifests.
#include "whatif/data/manifest.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "whatif/registry/error.hpp"

namespace fs = std::filesystem;

namespace whatif::data {
namespace {

// Splits one CSV record; quoted fields may hold commas, doubled quotes and newlines (the caller
// keeps appending lines while a quote is open).
bool split_csv(const std::string& record, std::vector<std::string>& fields) {
  fields.assign(1, "");
  bool quoted = false;
  for (std::size_t i = 0; i < record.size(); ++i) {
    const char c = record[i];
    if (quoted) {
      if (c == '"' && i + 1 < record.size() && record[i + 1] == '"') fields.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else fields.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return !quoted;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

struct RowBuilder {
  std::string manifest;
  fs::path folder;

  [[noreturn]] void fail(int line, const std::string& what) const {
    throw Error(manifest + ":" + std::to_string(line) + ": " + what);
  }

  void set(ManifestRow& row, const std::string& key, const std::string& value) const {
    if (key == "image") {
      if (value.empty()) fail(row.line, "empty image path");
      const fs::path p = fs::path(value).is_absolute() ? fs::path(value) : folder / value;
      row.image = p.lexically_normal().string();
    } else if (key == "text") {
      row.text = value;
    } else if (key == "subject") {
      row.subject = value;
    } else if (!value.empty()) {
      std::size_t used = 0;
      double number = 0;
      try {
        number = std::stod(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size())
        fail(row.line, "column '" + key + "' holds '" + value + "'; attributes must be numbers");
      row.attributes[key] = number;
    }
  }

  void finish(ManifestRow& row) const {
    std::error_code ec;
    if (!fs::exists(row.image, ec)) fail(row.line, "image file " + row.image + " does not exist");
  }
};

}  // namespace

std::vector<ManifestRow> read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the manifest");
  RowBuilder builder{path, fs::path(path).parent_path()};
  std::vector<ManifestRow> rows;
  const std::string ext = fs::path(path).extension().string();
  std::string line;
  int number = 0;
  if (ext == ".jsonl" || ext == ".ndjson") {
    while (std::getline(in, line)) {
      ++number;
      if (line.find('\0') != std::string::npos) builder.fail(number, "holds a NUL byte; a manifest is UTF-8 text");
      if (trim(line).empty()) continue;
      nlohmann::json object;
      try {
        object = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        builder.fail(number, "not a JSON object");
      }
      if (!object.is_object()) builder.fail(number, "not a JSON object");
      if (!object.contains("image")) builder.fail(number, "missing key 'image'");
      ManifestRow row;
      row.line = number;
      for (const auto& [key, value] : object.items()) {
        if (value.is_null()) continue;
        builder.set(row, key, value.is_string() ? value.get<std::string>() : value.dump());
      }
      builder.finish(row);
      rows.push_back(std::move(row));
    }
  } else if (ext == ".csv") {
    std::vector<std::string> header;
    std::string record;
    int record_line = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.find('\0') != std::string::npos) builder.fail(number, "holds a NUL byte; a manifest is UTF-8 text");
      if (record.empty()) record_line = number;
      record += record.empty() ? line : "\n" + line;
      std::vector<std::string> fields;
      if (!split_csv(record, fields)) continue;  // a quoted field spans lines
      record.clear();
      if (fields.size() == 1 && trim(fields[0]).empty()) continue;
      if (header.empty()) {
        for (auto& f : fields) header.push_back(trim(f));
        bool has_image = false;
        std::string names;
        for (const auto& h : header) has_image = has_image || h == "image", names += (names.empty() ? "" : ", ") + h;
        if (!has_image) throw Error(path + ": missing column 'image' (columns: " + names + ")");
        continue;
      }
      if (fields.size() != header.size())
        builder.fail(record_line, std::to_string(fields.size()) + " fields, the header has " +
                                      std::to_string(header.size()));
      ManifestRow row;
      row.line = record_line;
      for (std::size_t c = 0; c < header.size(); ++c) builder.set(row, header[c], trim(fields[c]));
      builder.finish(row);
      rows.push_back(std::move(row));
    }
    if (!record.empty()) builder.fail(record_line, "unterminated quoted field");
    if (header.empty()) throw Error(path + ": empty manifest (expected a header row with 'image')");
  } else {
    throw Error(path + ": unknown manifest type '" + ext + "' (use .csv or .jsonl)");
  }
  if (rows.empty()) throw Error(path + ": the manifest lists no images");
  return rows;
}

}  // namespace whatif::data
