// The HDF5 dataset store: writer (temporary file, renamed on commit) and streaming reader.
#include "whatif/data/store.hpp"

#include <H5Cpp.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>

#include <ATen/ATen.h>

#include "data/volume_io.hpp"
#include "host/environment.hpp"
#include "util/file_seal.hpp"
#include "util/hdf5_attributes.hpp"
#include "whatif/registry/error.hpp"

namespace fs = std::filesystem;

namespace whatif::data {
namespace {

constexpr const char* kFormat = "whatif-dataset";
// Version 2: fixed-length strings and checksummed metadata (version 1 kept strings in HDF5's global
// heap, which has no checksum: a damaged one crashes libhdf5, so version 1 is refused).
constexpr int kVersion = 2;

// The serial HDF5 library keeps global state: every call into it goes through this lock.
std::mutex& hdf5_mutex() {
  static std::mutex m;
  return m;
}

void quiet_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5::Exception::dontPrint(); });
}

std::string h5_reason(const H5::Exception& e) {
  return e.getFuncName() + ": " + e.getDetailMsg();
}

// Metadata arrays carry HDF5's Fletcher-32 checksum per chunk (checked on every read); a chunk
// holds up to `rows` rows.
H5::DSetCreatPropList checksummed(const std::vector<hsize_t>& dims, hsize_t rows = 4096) {
  H5::DSetCreatPropList plist;
  if (dims.empty() || dims[0] == 0) return plist;
  std::vector<hsize_t> chunk = dims;
  chunk[0] = std::min(dims[0], rows);
  plist.setChunk(static_cast<int>(chunk.size()), chunk.data());
  plist.setFletcher32();
  return plist;
}

// Fixed-length strings (the longest value's bytes, null-padded): no global heap, checksummed.
void write_strings(H5::Group& group, const std::string& name, const std::vector<std::string>& values) {
  const hsize_t n = values.size();
  std::size_t width = 1;
  for (const auto& v : values) width = std::max(width, v.size());
  const H5::StrType type = fixed_utf8(width);
  std::vector<char> packed(static_cast<std::size_t>(n) * width, '\0');
  for (std::size_t i = 0; i < values.size(); ++i) std::copy(values[i].begin(), values[i].end(), packed.begin() + i * width);
  H5::DataSpace space(1, &n);
  auto set = group.createDataSet(name, type, space, checksummed({n}, std::max<hsize_t>(1, (1 << 20) / width)));
  if (n > 0) set.write(packed.data(), type);
}

void write_doubles(H5::Group& group, const std::string& name, const std::vector<double>& values,
                   std::vector<hsize_t> dims) {
  H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
  auto set = group.createDataSet(name, H5::PredType::IEEE_F64LE, space, checksummed(dims));
  if (!values.empty()) set.write(values.data(), H5::PredType::NATIVE_DOUBLE);
}

void write_string_attribute(H5::H5Object& object, const std::string& name, const std::string& value) {
  const H5::StrType type = fixed_utf8(value.size());
  auto attribute = object.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  attribute.write(type, value.c_str());
}

void write_int_attribute(H5::H5Object& object, const std::string& name, int value) {
  auto attribute = object.createAttribute(name, H5::PredType::STD_I32LE, H5::DataSpace(H5S_SCALAR));
  attribute.write(H5::PredType::NATIVE_INT, &value);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writer

struct StoreWriter::Impl {
  std::string path, partial;
  std::vector<std::int64_t> shape;
  bool masks = false, prompts = false, committed = false;
  H5::H5File file;
  H5::DataSet images, mask_set;
  std::int64_t count = 0;
  std::vector<std::string> text, prompt, subject;
  std::map<std::string, std::vector<double>> attrs;
  std::vector<double> spacing, origin, direction;
  std::vector<std::int64_t> pairs;
  std::map<std::string, std::string> root;
  std::string voxel_type = "float32";

  H5::DataSet create_examples(const std::string& name, const H5::PredType& type, std::int64_t channels) {
    std::vector<hsize_t> dims{0}, max{H5S_UNLIMITED}, chunk{1};
    for (std::size_t a = 0; a < shape.size(); ++a) {
      const hsize_t d = a == 0 ? static_cast<hsize_t>(channels) : static_cast<hsize_t>(shape[a]);
      dims.push_back(d), max.push_back(d), chunk.push_back(d);
    }
    H5::DSetCreatPropList plist;
    plist.setChunk(static_cast<int>(chunk.size()), chunk.data());
    plist.setShuffle();
    plist.setDeflate(4);
    return file.createDataSet(name, type, H5::DataSpace(static_cast<int>(dims.size()), dims.data(), max.data()),
                              plist);
  }

  void append_block(H5::DataSet& set, const void* data, const H5::PredType& mem_type) {
    H5::DataSpace space = set.getSpace();
    std::vector<hsize_t> dims(space.getSimpleExtentNdims());
    space.getSimpleExtentDims(dims.data());
    dims[0] = static_cast<hsize_t>(count + 1);
    set.extend(dims.data());
    H5::DataSpace file_space = set.getSpace();
    std::vector<hsize_t> start(dims.size(), 0), block = dims;
    start[0] = static_cast<hsize_t>(count);
    block[0] = 1;
    file_space.selectHyperslab(H5S_SELECT_SET, block.data(), start.data());
    H5::DataSpace mem_space(static_cast<int>(block.size()), block.data());
    set.write(data, mem_type, mem_space, file_space);
  }
};

namespace {

// File types of the voxel types a store may hold (Volume::source_type's names).
const std::map<std::string, H5::PredType>& voxel_types() {
  static const std::map<std::string, H5::PredType> types{
      {"uint8", H5::PredType::STD_U8LE},   {"int8", H5::PredType::STD_I8LE},
      {"uint16", H5::PredType::STD_U16LE}, {"int16", H5::PredType::STD_I16LE},
      {"uint32", H5::PredType::STD_U32LE}, {"int32", H5::PredType::STD_I32LE},
      {"float32", H5::PredType::IEEE_F32LE}, {"float64", H5::PredType::IEEE_F64LE}};
  return types;
}

// The range of an integer voxel type; none for floating point.
std::optional<std::pair<double, double>> integer_range(const std::string& type) {
  static const std::map<std::string, std::pair<double, double>> ranges{
      {"uint8", {0, 255}},           {"int8", {-128, 127}},
      {"uint16", {0, 65535}},        {"int16", {-32768, 32767}},
      {"uint32", {0, 4294967295.0}}, {"int32", {-2147483648.0, 2147483647.0}}};
  const auto it = ranges.find(type);
  if (it == ranges.end()) return std::nullopt;
  return it->second;
}

}  // namespace

StoreWriter::StoreWriter(const std::string& path, std::vector<std::int64_t> shape, bool masks,
                         bool prompts, const std::string& voxel_type)
    : impl_(std::make_unique<Impl>()) {
  quiet_hdf5();
  if (shape.size() != 3 && shape.size() != 4)
    throw Error(path + ": an example's image must be [C, H, W] or [C, D, H, W]");
  impl_->path = path;
  impl_->partial = temporary_sibling(path);
  impl_->shape = std::move(shape);
  impl_->masks = masks;
  impl_->prompts = prompts;
  const auto type = voxel_types().find(voxel_type);
  if (type == voxel_types().end()) throw Error(path + ": unknown voxel type '" + voxel_type + "'");
  impl_->voxel_type = voxel_type;
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  try {
    impl_->file = H5::H5File(impl_->partial, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, checksummed_file_access());
    impl_->images = impl_->create_examples("images", type->second, impl_->shape[0]);
    if (masks) impl_->mask_set = impl_->create_examples("masks", H5::PredType::STD_U8LE, 1);
  } catch (const H5::Exception& e) {
    std::error_code ec;
    fs::remove(impl_->partial, ec);
    throw Error(path + ": cannot create the store (" + h5_reason(e) + "); is the folder writable and the disk not full?");
  }
}

StoreWriter::~StoreWriter() {
  if (impl_->committed) return;
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  try {
    impl_->images.close();
    impl_->mask_set.close();
    impl_->file.close();
  } catch (const H5::Exception&) {
  }
  std::error_code ec;
  fs::remove(impl_->partial, ec);
}

std::int64_t StoreWriter::size() const { return impl_->count; }

std::int64_t StoreWriter::append(const Example& example, const std::string& prompt) {
  Impl& s = *impl_;
  if (!example.image.defined() || example.image.sizes().vec() != s.shape)
    throw Error(s.path + ": example " + std::to_string(s.count) + " has image shape " +
                (example.image.defined() ? c10::str(example.image.sizes()) : "none") +
                ", the store holds " + c10::str(at::IntArrayRef(s.shape)));
  std::vector<std::int64_t> mask_shape = s.shape;
  mask_shape[0] = 1;
  if (s.masks && (!example.mask.defined() || example.mask.sizes().vec() != mask_shape))
    throw Error(s.path + ": example " + std::to_string(s.count) + " needs a mask of shape " +
                c10::str(at::IntArrayRef(mask_shape)));
  at::Tensor image = example.image.to(at::kFloat).contiguous();
  if (!at::isfinite(image).all().item<bool>())
    throw Error(s.path + ": example " + std::to_string(s.count) + " (" + example.subject +
                ") has NaN or infinite voxels");
  if (const auto range = integer_range(s.voxel_type)) {  // stored as integers: nearest value
    image = image.round();
    const double low = image.min().item<double>(), high = image.max().item<double>();
    if (low < range->first || high > range->second)
      throw Error(s.path + ": example " + std::to_string(s.count) + " (" + example.subject + ") has values " +
                  std::to_string(low) + ".." + std::to_string(high) + " outside " + s.voxel_type +
                  "'s range; store it as float32");
  }
  const at::Tensor mask = s.masks ? example.mask.to(at::kByte).contiguous() : at::Tensor();
  {
    std::lock_guard<std::mutex> lock(hdf5_mutex());
    try {
      s.append_block(s.images, image.data_ptr<float>(), H5::PredType::NATIVE_FLOAT);
      if (s.masks) s.append_block(s.mask_set, mask.data_ptr<std::uint8_t>(), H5::PredType::NATIVE_UINT8);
    } catch (const H5::Exception& e) {
      throw Error(s.path + ": cannot write example " + std::to_string(s.count) + ": " + h5_reason(e));
    }
  }
  s.text.push_back(example.text);
  s.prompt.push_back(prompt);
  s.subject.push_back(example.subject);
  for (auto& [name, column] : s.attrs)
    column.push_back(example.attributes.count(name) ? example.attributes.at(name)
                                                    : std::numeric_limits<double>::quiet_NaN());
  for (const auto& [name, value] : example.attributes)
    if (!s.attrs.count(name)) {
      std::vector<double> column(static_cast<std::size_t>(s.count), std::numeric_limits<double>::quiet_NaN());
      column.push_back(value);
      s.attrs.emplace(name, std::move(column));
    }
  s.spacing.insert(s.spacing.end(), example.spacing.begin(), example.spacing.end());
  s.origin.insert(s.origin.end(), example.origin.begin(), example.origin.end());
  s.direction.insert(s.direction.end(), example.direction.begin(), example.direction.end());
  return s.count++;
}

void StoreWriter::add_pair(std::int64_t factual, std::int64_t counterfactual) {
  if (factual < 0 || counterfactual < 0 || factual == counterfactual)
    throw Error(impl_->path + ": invalid pair (" + std::to_string(factual) + ", " +
                std::to_string(counterfactual) + ")");
  impl_->pairs.push_back(factual);
  impl_->pairs.push_back(counterfactual);
}

void StoreWriter::set_root_attribute(const std::string& name, const std::string& value) {
  impl_->root[name] = value;
}

void StoreWriter::commit() {
  Impl& s = *impl_;
  for (const auto v : s.pairs)
    if (v >= s.count)
      throw Error(s.path + ": pair index " + std::to_string(v) + " is beyond the " +
                  std::to_string(s.count) + " examples");
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  try {
    const hsize_t n = static_cast<hsize_t>(s.count);
    H5::Group root = s.file.openGroup("/");
    write_strings(root, "text", s.text);
    if (s.prompts) write_strings(root, "prompt", s.prompt);
    write_strings(root, "subject", s.subject);
    H5::Group attrs = s.file.createGroup("attrs");
    for (const auto& [name, column] : s.attrs) write_doubles(attrs, name, column, {n});
    write_doubles(root, "spacing", s.spacing, {n, 3});
    write_doubles(root, "origin", s.origin, {n, 3});
    write_doubles(root, "direction", s.direction, {n, 3, 3});
    const hsize_t pair_dims[2] = {s.pairs.size() / 2, 2};
    auto pairs = s.file.createDataSet("pairs", H5::PredType::STD_I64LE, H5::DataSpace(2, pair_dims),
                                      checksummed({pair_dims[0], pair_dims[1]}));
    if (!s.pairs.empty()) pairs.write(s.pairs.data(), H5::PredType::NATIVE_INT64);
    write_string_attribute(root, "format", kFormat);
    write_int_attribute(root, "version", kVersion);
    if (!s.root.count("whatif_version")) write_string_attribute(root, "whatif_version", whatif_version());
    if (!s.root.count("whatif_commit")) write_string_attribute(root, "whatif_commit", whatif_git_commit());
    write_int_attribute(root, "dims", static_cast<int>(s.shape.size()) - 1);
    write_string_attribute(root, "length_units", "mm");  // spacing and origin
    for (const auto& [name, value] : s.root) write_string_attribute(root, name, value);
    pairs.close();
    s.images.close();
    s.mask_set.close();
    s.file.close();
  } catch (const H5::Exception& e) {
    throw Error(s.path + ": cannot finish the store (" + h5_reason(e) + "); is the disk full?");
  }
  seal_file(s.partial);
  std::error_code ec;
  fs::rename(s.partial, s.path, ec);
  if (ec) throw Error(s.path + ": cannot move the finished store into place: " + ec.message());
  s.committed = true;
}

// ---------------------------------------------------------------------------------------------
// Reader

struct StoreReader::Impl {
  std::string path;
  H5::H5File file;
  H5::DataSet images, masks;
  bool has_masks = false, has_prompts = false;
  bool direct = false;  // chunks are [1, ...] with exactly shuffle + deflate: read raw, inflate here
  std::int64_t n = 0;
  std::vector<std::int64_t> shape;
  std::vector<std::string> text, prompt, subject;
  std::map<std::string, std::vector<double>> attrs;
  std::vector<double> spacing, origin, direction;
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  std::map<std::string, std::string> root;
  std::string voxel_type = "float32";
  std::int64_t declared_dims = 0;

  [[noreturn]] void fail(const std::string& what) const { throw Error(path + ": " + what); }

  // The root attributes that make a file a store of this version: format, version, dims.
  void check_identity() {
    const ScalarAttributes attributes = read_scalar_attributes(file.openGroup("/"), false);
    const auto format = attributes.strings.find("format");
    if (format == attributes.strings.end() || format->second != kFormat)
      fail("not a whatif dataset store (its root attribute 'format' is " +
           (format == attributes.strings.end() ? std::string("missing") : "'" + format->second + "'") +
           ", expected '" + kFormat + "'; see docs/data.md)");
    const auto version = attributes.integers.find("version");
    if (version != attributes.integers.end() && version->second == 1)
      fail("store format version 1 was written by an older whatif and has no checksums; write it again with "
           "whatif data synth/import");
    if (version == attributes.integers.end() || version->second != kVersion)
      fail("store format version " +
           (version == attributes.integers.end() ? std::string("missing") : std::to_string(version->second)) +
           "; this whatif reads version " + std::to_string(kVersion) + " (write it again with this whatif)");
    const auto dims = attributes.integers.find("dims");
    if (dims == attributes.integers.end() || (dims->second != 2 && dims->second != 3))
      fail("root attribute 'dims' must be 2 or 3");
    declared_dims = dims->second;
  }

  // Sizes the header declares, before anything is allocated by them: the images' rank against
  // `dims`, one example at most 2^29 values (2 GiB as float32), and at least 8 stored bytes per
  // declared example (a compressed chunk is never smaller).
  void check_sizes(int rank) {
    if (rank - 2 != declared_dims)
      fail("/images has " + std::to_string(rank - 2) + " spatial axes but the root attribute 'dims' says " +
           std::to_string(declared_dims));
    std::int64_t numel = 1;
    for (const auto d : shape) {
      if (d < 1 || d > (std::int64_t{1} << 29) || numel > (std::int64_t{1} << 29) / d)
        fail("/images declares examples of shape " + c10::str(at::IntArrayRef(shape)) +
             ", more than 2^29 values each; not a store this whatif writes");
      numel *= d;
    }
    const hsize_t stored = H5Dget_storage_size(images.getId());
    if (n > 0 && stored / 8 < static_cast<hsize_t>(n))
      fail("/images declares " + std::to_string(n) + " examples but stores only " + std::to_string(stored) +
           " bytes; the file is truncated or corrupted");
  }

  // Every example's geometry must describe a grid: finite, positive spacing; finite origin;
  // finite, non-singular direction.
  void check_geometry() const {
    for (std::int64_t i = 0; i < n; ++i) {
      const double* sp = &spacing[static_cast<std::size_t>(3 * i)];
      const double* o = &origin[static_cast<std::size_t>(3 * i)];
      const double* d = &direction[static_cast<std::size_t>(9 * i)];
      bool ok = true;
      for (int a = 0; a < 3; ++a) ok = ok && std::isfinite(sp[a]) && sp[a] > 0 && std::isfinite(o[a]);
      for (int a = 0; a < 9; ++a) ok = ok && std::isfinite(d[a]);
      const double det = d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) +
                         d[2] * (d[3] * d[7] - d[4] * d[6]);
      if (!ok || !(std::abs(det) > 1e-6))
        fail("example " + std::to_string(i) + " has an invalid geometry (spacing must be finite and positive, " +
             "origin and direction finite, direction non-singular); fix /spacing, /origin, /direction");
    }
  }

  // Reads all of `set`; a failed read (a checksum, a damaged chunk) names the dataset.
  void read_all(const H5::DataSet& set, void* out, const H5::DataType& type, const std::string& name) const {
    try {
      set.read(out, type);
    } catch (const H5::Exception&) {
      fail("/" + name + " fails its checksum or cannot be read; the file is corrupted (write it again)");
    }
  }

  std::vector<std::string> read_strings(const std::string& name, bool required) {
    if (!file.nameExists(name)) {
      if (required) fail("no /" + name + " dataset; see docs/data.md for the layout");
      return std::vector<std::string>(static_cast<std::size_t>(n));
    }
    H5::DataSet set = file.openDataSet(name);
    if (set.getTypeClass() != H5T_STRING) fail("/" + name + " must hold strings");
    H5::DataSpace space = set.getSpace();
    if (space.getSimpleExtentNpoints() != n) fail("/" + name + " must have one entry per example");
    if (!set.getStrType().isVariableStr()) {  // fixed length: no global heap
      const H5::StrType type = set.getStrType();
      const std::size_t width = type.getSize();
      const double declared = static_cast<double>(n) * static_cast<double>(width);
      if (width == 0 || declared > static_cast<double>(H5Dget_storage_size(set.getId())) + 4096)
        fail("/" + name + " declares " + std::to_string(static_cast<long long>(declared)) +
             " bytes of text beyond what the file stores; the file is truncated or corrupted");
      std::vector<char> packed(static_cast<std::size_t>(n) * width);
      if (n > 0) read_all(set, packed.data(), type, name);
      std::vector<std::string> out;
      for (std::int64_t i = 0; i < n; ++i) {
        const char* start = packed.data() + static_cast<std::size_t>(i) * width;
        out.emplace_back(start, strnlen(start, width));
      }
      return out;
    }
    fail("/" + name + " holds variable-length strings; this whatif writes fixed-length ones (write it again)");
  }

  std::vector<double> read_doubles(const std::string& name, hsize_t per_example) {
    H5::DataSet set = file.openDataSet(name);
    if (set.getSpace().getSimpleExtentNpoints() != static_cast<hssize_t>(n * per_example))
      fail("/" + name + " must have " + std::to_string(per_example) + " values per example");
    std::vector<double> out(static_cast<std::size_t>(n * per_example));
    if (!out.empty()) read_all(set, out.data(), H5::PredType::NATIVE_DOUBLE, name);
    return out;
  }

  bool chunks_are_direct(const H5::DataSet& set, std::size_t element, H5T_class_t cls) {
    const H5::DSetCreatPropList plist = set.getCreatePlist();
    if (plist.getLayout() != H5D_CHUNKED) return false;
    std::vector<hsize_t> chunk(shape.size() + 1);
    plist.getChunk(static_cast<int>(chunk.size()), chunk.data());
    H5::DataSpace space = set.getSpace();
    std::vector<hsize_t> dims(chunk.size());
    space.getSimpleExtentDims(dims.data());
    if (chunk[0] != 1) return false;
    for (std::size_t a = 1; a < chunk.size(); ++a)
      if (chunk[a] != dims[a]) return false;
    if (plist.getNfilters() != 2) return false;
    unsigned flags = 0;
    std::size_t nelmts = 4;
    unsigned values[4];
    char name[64];
    unsigned config = 0;
    if (plist.getFilter(0, flags, nelmts, values, sizeof name, name, config) != H5Z_FILTER_SHUFFLE)
      return false;
    nelmts = 4;
    if (plist.getFilter(1, flags, nelmts, values, sizeof name, name, config) != H5Z_FILTER_DEFLATE)
      return false;
    const H5::DataType type = set.getDataType();
    return type.getClass() == cls && type.getSize() == element &&
           (element == 1 || H5Tget_order(type.getId()) == H5T_ORDER_LE);
  }

  // Reads example `index` of `set` into `out` (numel elements of `element` bytes each).
  void read_example(const H5::DataSet& set, std::int64_t index, std::size_t element,
                    const H5::PredType& mem_type, void* out, std::size_t numel) const {
    if (index < 0 || index >= n)
      fail("example " + std::to_string(index) + " is out of range (the store has " + std::to_string(n) + ")");
    const std::size_t bytes = numel * element;
    std::vector<hsize_t> offset(shape.size() + 1, 0);
    offset[0] = static_cast<hsize_t>(index);
    if (!direct) {
      std::lock_guard<std::mutex> lock(hdf5_mutex());
      try {
        H5::DataSpace file_space = set.getSpace();
        std::vector<hsize_t> dims(offset.size());
        file_space.getSimpleExtentDims(dims.data());
        dims[0] = 1;
        file_space.selectHyperslab(H5S_SELECT_SET, dims.data(), offset.data());
        H5::DataSpace mem_space(static_cast<int>(dims.size()), dims.data());
        set.read(out, mem_type, mem_space, file_space);
      } catch (const H5::Exception& e) {
        fail("cannot read example " + std::to_string(index) + ": " + h5_reason(e));
      }
      return;
    }
    std::vector<unsigned char> raw;
    std::uint32_t filter_mask = 0;
    {
      std::lock_guard<std::mutex> lock(hdf5_mutex());
      hsize_t stored = 0;
      if (H5Dget_chunk_storage_size(set.getId(), offset.data(), &stored) < 0 || stored == 0)
        fail("example " + std::to_string(index) + " has no stored data (truncated file?)");
      raw.resize(stored);
      if (H5Dread_chunk(set.getId(), H5P_DEFAULT, offset.data(), &filter_mask, raw.data()) < 0)
        fail("cannot read example " + std::to_string(index) + " (truncated file?)");
    }
    // Filters run shuffle then deflate on write; a set bit in filter_mask marks one skipped.
    const bool deflated = !(filter_mask & 2u), shuffled = !(filter_mask & 1u);
    std::vector<unsigned char> plain;
    if (deflated) {
      plain.resize(bytes);
      uLongf size = static_cast<uLongf>(bytes);
      if (uncompress(plain.data(), &size, raw.data(), static_cast<uLong>(raw.size())) != Z_OK || size != bytes)
        fail("example " + std::to_string(index) + " does not decompress (corrupt file?)");
    } else {
      plain = std::move(raw);
      if (plain.size() != bytes) fail("example " + std::to_string(index) + " has the wrong size");
    }
    auto* dst = static_cast<unsigned char*>(out);
    if (shuffled && element > 1) {
      for (std::size_t b = 0; b < element; ++b)
        for (std::size_t i = 0; i < numel; ++i) dst[i * element + b] = plain[b * numel + i];
    } else {
      std::memcpy(dst, plain.data(), bytes);
    }
  }
};

StoreReader::StoreReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  quiet_hdf5();
  Impl& s = *impl_;
  s.path = path;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(path + ": no such store file");
  // The seal reads the whole file and needs no HDF5: checked before taking the library's lock.
  check_seal(path, "write it again with whatif data synth/import");
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  try {
    if (H5Fis_hdf5(path.c_str()) <= 0) s.fail("not an HDF5 file (or truncated)");
    try {
      s.file = H5::H5File(path, H5F_ACC_RDONLY);
    } catch (const H5::Exception&) {
      s.fail("cannot open: the file is truncated or corrupted (write it again with whatif data synth/import)");
    }
    s.check_identity();
    if (!s.file.nameExists("images")) s.fail("no /images dataset: not a whatif dataset store (see docs/data.md)");
    s.images = s.file.openDataSet("images");
    if (s.images.getTypeClass() != H5T_FLOAT && s.images.getTypeClass() != H5T_INTEGER)
      s.fail("/images must hold numbers (floating point or integer)");
    for (const auto& [name, type] : voxel_types())
      if (s.images.getDataType() == type) s.voxel_type = name;
    H5::DataSpace space = s.images.getSpace();
    const int rank = space.getSimpleExtentNdims();
    if (rank != 4 && rank != 5) s.fail("/images must be [N, C, H, W] or [N, C, D, H, W]");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    space.getSimpleExtentDims(dims.data());
    s.n = static_cast<std::int64_t>(dims[0]);
    for (int a = 1; a < rank; ++a) s.shape.push_back(static_cast<std::int64_t>(dims[a]));
    s.check_sizes(rank);
    s.has_masks = s.file.nameExists("masks");
    if (s.has_masks) {
      s.masks = s.file.openDataSet("masks");
      std::vector<hsize_t> mdims(static_cast<std::size_t>(rank));
      if (s.masks.getSpace().getSimpleExtentNdims() != rank) s.fail("/masks must have the rank of /images");
      s.masks.getSpace().getSimpleExtentDims(mdims.data());
      if (mdims[0] != dims[0] || mdims[1] != 1 || !std::equal(mdims.begin() + 2, mdims.end(), dims.begin() + 2))
        s.fail("/masks must be [N, 1, ...] with the spatial size of /images");
    }
    s.direct = s.chunks_are_direct(s.images, 4, H5T_FLOAT) &&
               (!s.has_masks || s.chunks_are_direct(s.masks, 1, H5T_INTEGER));
    s.text = s.read_strings("text", false);
    s.has_prompts = s.file.nameExists("prompt");
    s.prompt = s.read_strings("prompt", false);
    s.subject = s.read_strings("subject", false);
    if (s.file.nameExists("attrs")) {
      H5::Group group = s.file.openGroup("attrs");
      for (hsize_t i = 0; i < group.getNumObjs(); ++i) {
        const std::string name = group.getObjnameByIdx(i);
        s.attrs[name] = s.read_doubles("attrs/" + name, 1);
      }
    }
    const std::int64_t n = s.n;
    s.spacing = s.file.nameExists("spacing") ? s.read_doubles("spacing", 3) : std::vector<double>(n * 3, 1.0);
    s.origin = s.file.nameExists("origin") ? s.read_doubles("origin", 3) : std::vector<double>(n * 3, 0.0);
    if (s.file.nameExists("direction")) {
      s.direction = s.read_doubles("direction", 9);
    } else {
      for (std::int64_t i = 0; i < n; ++i) s.direction.insert(s.direction.end(), {1, 0, 0, 0, 1, 0, 0, 0, 1});
    }
    if (s.file.nameExists("pairs")) {
      H5::DataSet set = s.file.openDataSet("pairs");
      H5::DataSpace ps = set.getSpace();
      hsize_t pd[2] = {0, 0};
      if (ps.getSimpleExtentNdims() != 2 || (ps.getSimpleExtentDims(pd), pd[1] != 2)) s.fail("/pairs must be [M, 2]");
      std::vector<std::int64_t> flat(pd[0] * 2);
      if (!flat.empty()) s.read_all(set, flat.data(), H5::PredType::NATIVE_INT64, "pairs");
      for (std::size_t i = 0; i < pd[0]; ++i) {
        if (flat[2 * i] < 0 || flat[2 * i] >= n || flat[2 * i + 1] < 0 || flat[2 * i + 1] >= n)
          s.fail("/pairs row " + std::to_string(i) + " points outside the examples");
        s.pairs.emplace_back(flat[2 * i], flat[2 * i + 1]);
      }
    }
    s.check_geometry();
    // Scalar root attributes as text (a store's own are strings and integers; others are skipped).
    const ScalarAttributes attributes = read_scalar_attributes(s.file.openGroup("/"), false);
    s.root = attributes.strings;
    for (const auto& [name, value] : attributes.integers) s.root[name] = std::to_string(value);
  } catch (const H5::Exception& e) {
    s.fail("cannot read the store: " + h5_reason(e));
  }
}

StoreReader::~StoreReader() {
  std::lock_guard<std::mutex> lock(hdf5_mutex());
  try {
    impl_->images.close();
    impl_->masks.close();
    impl_->file.close();
  } catch (const H5::Exception&) {
  }
}

const std::string& StoreReader::path() const { return impl_->path; }
std::int64_t StoreReader::size() const { return impl_->n; }
int StoreReader::dims() const { return static_cast<int>(impl_->shape.size()) - 1; }
const std::vector<std::int64_t>& StoreReader::shape() const { return impl_->shape; }
bool StoreReader::has_masks() const { return impl_->has_masks; }
bool StoreReader::has_prompts() const { return impl_->has_prompts; }
const std::string& StoreReader::text(std::int64_t index) const { return impl_->text.at(index); }
const std::string& StoreReader::prompt(std::int64_t index) const { return impl_->prompt.at(index); }
const std::vector<std::pair<std::int64_t, std::int64_t>>& StoreReader::pairs() const { return impl_->pairs; }
std::map<std::string, std::string> StoreReader::root_attributes() const { return impl_->root; }

std::string StoreReader::voxel_type() const { return impl_->voxel_type; }

std::vector<std::string> StoreReader::attribute_names() const {
  std::vector<std::string> names;
  for (const auto& [name, column] : impl_->attrs) names.push_back(name);
  return names;
}

at::Tensor StoreReader::image(std::int64_t index) const {
  at::Tensor out = at::empty(impl_->shape, at::kFloat);
  impl_->read_example(impl_->images, index, 4, H5::PredType::NATIVE_FLOAT, out.data_ptr<float>(),
                      static_cast<std::size_t>(out.numel()));
  return out;
}

at::Tensor StoreReader::mask(std::int64_t index) const {
  if (!impl_->has_masks) return {};
  std::vector<std::int64_t> shape = impl_->shape;
  shape[0] = 1;
  at::Tensor out = at::empty(shape, at::kByte);
  impl_->read_example(impl_->masks, index, 1, H5::PredType::NATIVE_UINT8, out.data_ptr<std::uint8_t>(),
                      static_cast<std::size_t>(out.numel()));
  return out;
}

Example StoreReader::example(std::int64_t index, const std::string& text_field) const {
  const Impl& s = *impl_;
  if (text_field != "text" && text_field != "prompt")
    throw Error(s.path + ": text field '" + text_field + "': expected text or prompt");
  Example e;
  e.image = image(index);
  e.mask = mask(index);
  e.text = text_field == "prompt" ? s.prompt.at(index) : s.text.at(index);
  e.subject = s.subject.at(index);
  for (const auto& [name, column] : s.attrs)
    if (!std::isnan(column[index])) e.attributes[name] = column[index];
  for (int a = 0; a < 3; ++a) {
    e.spacing[a] = s.spacing[index * 3 + a];
    e.origin[a] = s.origin[index * 3 + a];
  }
  for (int a = 0; a < 9; ++a) e.direction[a] = s.direction[index * 9 + a];
  return e;
}

}  // namespace whatif::data
