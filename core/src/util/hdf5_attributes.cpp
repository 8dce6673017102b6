#include "util/hdf5_attributes.hpp"

namespace whatif {

ScalarAttributes read_scalar_attributes(const H5::H5Object& object, bool variable_strings) {
  ScalarAttributes out;
  for (int i = 0; i < object.getNumAttrs(); ++i) {
    H5::Attribute attribute = object.openAttribute(static_cast<unsigned>(i));
    const std::string name = attribute.getName();
    const H5T_class_t cls = attribute.getTypeClass();
    if (attribute.getSpace().getSimpleExtentNpoints() != 1 || (cls != H5T_STRING && cls != H5T_INTEGER) ||
        (cls == H5T_STRING && !variable_strings && attribute.getStrType().isVariableStr())) {
      out.other.push_back(name);
    } else if (cls == H5T_STRING) {
      std::string value;
      attribute.read(attribute.getStrType(), value);
      out.strings[name] = value;
    } else {
      std::int64_t value = 0;
      attribute.read(H5::PredType::NATIVE_INT64, &value);
      out.integers[name] = value;
    }
  }
  return out;
}

H5::StrType fixed_utf8(std::size_t bytes) {
  H5::StrType type(H5::PredType::C_S1, bytes == 0 ? 1 : bytes);
  type.setCset(H5T_CSET_UTF8);
  type.setStrpad(H5T_STR_NULLPAD);
  return type;
}

H5::FileAccPropList checksummed_file_access() {
  H5::FileAccPropList access;
  access.setLibverBounds(H5F_LIBVER_V18, H5F_LIBVER_LATEST);
  return access;
}

}  // namespace whatif
