#pragma once
// The HDF5 dataset store (layout in docs/data.md):
//   /images    [N, C, (D,) H, W] float32, one example per chunk, shuffle + deflate
//   /masks     [N, 1, (D,) H, W] uint8 (optional)
//   /text, /prompt, /subject  [N] variable-length UTF-8 strings (/prompt optional)
//   /attrs/<name>  [N] float64 (NaN where an example lacks it)
//   /spacing, /origin [N, 3], /direction [N, 3, 3] float64 (ITK LPS, axes x y z)
//   /pairs     [M, 2] int64 (factual, counterfactual) example indices of the same subject
// Root attributes: format = "whatif-dataset", version = 1, dims = 2|3, plus free-form strings.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "whatif/dataset.hpp"

namespace whatif::data {

// Writes a store under a temporary name; `commit()` renames it into place. A writer destroyed
// without commit removes its temporary file, so a failed run leaves nothing behind.
class StoreWriter {
 public:
  // `shape` is one example's image shape [C, (D,) H, W]. `voxel_type` is the file type of the
  // images (Volume::source_type's names); integer types store each voxel's nearest integer.
  StoreWriter(const std::string& path, std::vector<std::int64_t> shape, bool masks,
              bool prompts = false, const std::string& voxel_type = "float32");
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // Appends one example; its image (and mask) must have the store's shape. Returns its index.
  std::int64_t append(const Example& example, const std::string& prompt = "");
  void add_pair(std::int64_t factual, std::int64_t counterfactual);
  void set_root_attribute(const std::string& name, const std::string& value);
  void commit();
  std::int64_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Opens a store for reading. Metadata (text, attributes, geometry, pairs) is read at open; images
// and masks stream from disk per example. Safe to call from several threads at once: the raw
// chunk read is serialised (the HDF5 library is not thread-safe), decompression runs in parallel.
class StoreReader {
 public:
  explicit StoreReader(const std::string& path);
  ~StoreReader();

  const std::string& path() const;
  std::int64_t size() const;
  int dims() const;
  const std::vector<std::int64_t>& shape() const;  // one example's image shape
  bool has_masks() const;
  bool has_prompts() const;
  at::Tensor image(std::int64_t index) const;  // [C, (D,) H, W] float32
  at::Tensor mask(std::int64_t index) const;   // [1, (D,) H, W] uint8, undefined without masks
  // `text_field` = "text" or "prompt" picks what lands in Example::text.
  Example example(std::int64_t index, const std::string& text_field = "text") const;
  const std::string& text(std::int64_t index) const;
  const std::string& prompt(std::int64_t index) const;
  std::vector<std::string> attribute_names() const;
  const std::vector<std::pair<std::int64_t, std::int64_t>>& pairs() const;
  std::map<std::string, std::string> root_attributes() const;
  // The images' file type (uint8 … float64); examples are read as float32 whatever it is.
  std::string voxel_type() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace whatif::data
