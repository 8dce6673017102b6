#include "train/checkpoint.hpp"

#include <H5Cpp.h>

#include <algorithm>
#include <filesystem>

#include <ATen/ATen.h>

#include "host/environment.hpp"
#include "util/file_seal.hpp"
#include "util/hdf5_attributes.hpp"
#include "whatif/registry/error.hpp"

namespace whatif {
namespace {

struct HdfType {
  H5::PredType type;
  at::ScalarType scalar;
};

HdfType hdf_type(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return {H5::PredType::NATIVE_FLOAT, at::kFloat};
    case at::kDouble: return {H5::PredType::NATIVE_DOUBLE, at::kDouble};
    case at::kLong: return {H5::PredType::NATIVE_INT64, at::kLong};
    case at::kInt: return {H5::PredType::NATIVE_INT32, at::kInt};
    case at::kByte: return {H5::PredType::NATIVE_UINT8, at::kByte};
    case at::kBool: return {H5::PredType::NATIVE_UINT8, at::kByte};
    // bf16/fp16 tensors are stored as float32: every HDF5 reader understands them.
    default: return {H5::PredType::NATIVE_FLOAT, at::kFloat};
  }
}

// `where` names the file and dataset for the error.
at::ScalarType scalar_of(const H5::DataType& type, const std::string& where) {
  const H5T_class_t cls = type.getClass();
  const size_t size = type.getSize();
  if (cls == H5T_FLOAT) return size == 8 ? at::kDouble : at::kFloat;
  if (cls == H5T_INTEGER) {
    if (size == 8) return at::kLong;
    if (size == 4) return at::kInt;
    if (size == 1) return at::kByte;
  }
  throw Error(where + ": unsupported element type (checkpoints hold float, integer or uint8 "
                      "tensors); is this a whatif checkpoint?");
}

void write_tensor(H5::Group& group, const std::string& name, const at::Tensor& tensor) {
  const HdfType t = hdf_type(tensor.scalar_type());
  const at::Tensor data = tensor.detach().to(at::kCPU, t.scalar).contiguous();
  std::vector<hsize_t> dims(data.sizes().begin(), data.sizes().end());
  const H5::DataSpace space(static_cast<int>(dims.size()), dims.data());
  // Every non-empty array carries HDF5's Fletcher-32 checksum (per chunk), which HDF5 verifies on
  // every read: a flipped bit is refused instead of loaded as weights. Chunks stay under 1 GiB.
  H5::DSetCreatPropList plist;
  if (!dims.empty() && data.numel() > 0) {
    std::vector<hsize_t> chunk = dims;
    const double bytes = static_cast<double>(data.numel()) * static_cast<double>(data.element_size());
    chunk[0] = std::max<hsize_t>(1, static_cast<hsize_t>(static_cast<double>(dims[0]) * std::min(1.0, double(1 << 30) / bytes)));
    plist.setChunk(static_cast<int>(chunk.size()), chunk.data());
    plist.setFletcher32();
  }
  H5::DataSet set = group.createDataSet(name, t.type, space, plist);
  if (data.numel() > 0) set.write(data.data_ptr(), t.type);
}

template <class T>
void write_attribute(H5::H5Object& object, const std::string& name, const T& value);

template <>
void write_attribute(H5::H5Object& object, const std::string& name, const std::string& value) {
  // Variable length, so h5py reads them as str; the file's seal guards the heap they live in.
  const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  object.createAttribute(name, type, H5::DataSpace(H5S_SCALAR)).write(type, value);
}

template <>
void write_attribute(H5::H5Object& object, const std::string& name, const std::int64_t& value) {
  object.createAttribute(name, H5::PredType::NATIVE_INT64, H5::DataSpace(H5S_SCALAR))
      .write(H5::PredType::NATIVE_INT64, &value);
}

}  // namespace

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  namespace fs = std::filesystem;
  if (const fs::path parent = fs::path(path).parent_path(); !parent.empty())
    fs::create_directories(parent);
  const std::string temporary = path + ".tmp";
  try {
    {  // every group handle closes with this block, so HDF5 has written its last byte before the seal
      H5::H5File file(temporary, H5F_ACC_TRUNC, H5::FileCreatPropList::DEFAULT, checksummed_file_access());
      for (const auto& [group_name, tensors] : checkpoint.groups) {
        // Nested names such as "optim/m" become nested groups.
        H5::Group group = file.openGroup("/");
        std::string walked;
        std::size_t start = 0;
        while (start <= group_name.size()) {
          const std::size_t slash = group_name.find('/', start);
          const std::string part = group_name.substr(start, slash - start);
          walked += "/" + part;
          group = file.nameExists(walked) ? file.openGroup(walked) : file.createGroup(walked);
          if (slash == std::string::npos) break;
          start = slash + 1;
        }
        for (const auto& [name, tensor] : tensors) write_tensor(group, name, tensor);
      }
      H5::Group root = file.openGroup("/");
      // Every checkpoint says which whatif wrote it.
      for (const auto& [k, v] : {std::pair<const char*, std::string>{"whatif_version", whatif_version()},
                                 {"whatif_commit", whatif_git_commit()}})
        if (!checkpoint.strings.count(k)) write_attribute(root, k, v);
      for (const auto& [k, v] : checkpoint.strings) write_attribute(root, k, v);
      for (const auto& [k, v] : checkpoint.integers) write_attribute(root, k, v);
      H5::Group root_group = file.openGroup("/");
      write_tensor(root_group, "losses", at::tensor(checkpoint.losses, at::kDouble));
      file.close();
    }
    seal_file(temporary);
  } catch (const H5::Exception& e) {
    std::filesystem::remove(temporary);
    throw Error(path + ": cannot write checkpoint: " + e.getDetailMsg());
  } catch (const Error&) {
    std::filesystem::remove(temporary);
    throw;
  }
  std::filesystem::rename(temporary, path);
}

Checkpoint read_checkpoint(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(path + ": no such checkpoint");
  check_seal(path, "restore it, or rerun what wrote it");
  Checkpoint checkpoint;
  try {
    H5::Exception::dontPrint();
    H5::H5File file(path, H5F_ACC_RDONLY);
    // Walk every dataset below the root; its group path names the Checkpoint group.
    std::function<void(const std::string&)> walk = [&](const std::string& group_path) {
      H5::Group group = file.openGroup(group_path.empty() ? "/" : group_path);
      for (hsize_t i = 0; i < group.getNumObjs(); ++i) {
        const std::string name = group.getObjnameByIdx(i);
        const std::string full = group_path + "/" + name;
        if (group.getObjTypeByIdx(i) == H5G_GROUP) {
          walk(full);
          continue;
        }
        H5::DataSet set = group.openDataSet(name);
        const H5::DataSpace space = set.getSpace();
        std::vector<hsize_t> dims(space.getSimpleExtentNdims());
        space.getSimpleExtentDims(dims.data());
        const at::ScalarType scalar = scalar_of(set.getDataType(), path + ": dataset '" + full + "'");
        // What the header declares must be in the file before it is allocated (arrays are stored
        // uncompressed, with a 4-byte checksum per chunk).
        double declared = static_cast<double>(c10::elementSize(scalar));
        for (const hsize_t d : dims) declared *= static_cast<double>(d);
        if (declared > static_cast<double>(H5Dget_storage_size(set.getId())) + 4096)
          throw Error(path + ": dataset '" + full + "' declares " + std::to_string(static_cast<long long>(declared)) +
                      " bytes but the file stores " + std::to_string(H5Dget_storage_size(set.getId())) +
                      "; the file is truncated or corrupted (restore it or rerun what wrote it)");
        at::Tensor t = at::empty(std::vector<std::int64_t>(dims.begin(), dims.end()), scalar);
        try {
          if (t.numel() > 0) set.read(t.data_ptr(), hdf_type(scalar).type);
        } catch (const H5::Exception& e) {
          throw Error(path + ": dataset '" + full + "' fails its checksum or cannot be read; the file is " +
                      "corrupted (restore it or rerun what wrote it)");
        }
        if (group_path.empty() && name == "losses") {
          const at::Tensor d = t.to(at::kDouble);
          checkpoint.losses.assign(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
        } else {
          // Root-level tensors other than the losses form the unnamed group "".
          checkpoint.groups[group_path.empty() ? "" : group_path.substr(1)].emplace_back(name, t);
        }
      }
    };
    walk("");
    const ScalarAttributes attributes = read_scalar_attributes(file.openGroup("/"));
    // Only scalar strings and integers are ours.
    if (!attributes.other.empty())
      throw Error(path + ": attribute '" + attributes.other.front() +
                  "' is not a single string or integer; is this a whatif checkpoint?");
    checkpoint.strings = attributes.strings;
    checkpoint.integers = attributes.integers;
  } catch (const H5::Exception& e) {
    throw Error(path + ": not a readable whatif checkpoint (" + e.getDetailMsg() + ")");
  }
  return checkpoint;
}

void restore_tensors(const NamedTensors& source, const NamedTensors& target, bool resizable,
                     const std::string& what) {
  std::map<std::string, const at::Tensor*> by_name;
  for (const auto& [name, tensor] : source) by_name[name] = &tensor;
  at::NoGradGuard no_grad;
  for (const auto& [name, tensor] : target) {
    const auto it = by_name.find(name);
    if (it == by_name.end())
      throw Error(what + ": has no tensor '" + name + "' (was it saved from another model?)");
    const at::Tensor& src = *it->second;
    if (src.is_floating_point() && !at::isfinite(src).all().item<bool>())
      throw Error(what + ": tensor '" + name + "' holds NaN or infinite values (saved from a diverged run?); " +
                  "use an earlier checkpoint");
    if (src.sizes() != tensor.sizes()) {
      if (!resizable)
        throw Error(what + ": tensor '" + name + "' has shape " + c10::str(src.sizes()) +
                    " but the model expects " + c10::str(tensor.sizes()));
      at::Tensor mutable_target = tensor;
      mutable_target.resize_(src.sizes());
    }
    at::Tensor mutable_target = tensor;
    mutable_target.copy_(src);
  }
}

}  // namespace whatif
