#include "util/hdf5_attributes.hpp"

namespace whatif {

ScalarAttributes read_scalar_attributes(const H5::H5Object& object) {
  ScalarAttributes out;
  for (int i = 0; i < object.getNumAttrs(); ++i) {
    H5::Attribute attribute = object.openAttribute(static_cast<unsigned>(i));
    const std::string name = attribute.getName();
    const H5T_class_t cls = attribute.getTypeClass();
    if (attribute.getSpace().getSimpleExtentNpoints() != 1 || (cls != H5T_STRING && cls != H5T_INTEGER)) {
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

}  // namespace whatif
