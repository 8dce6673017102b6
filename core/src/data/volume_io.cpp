// Reading and writing volumes through ITK, with geometry kept end to end.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>

#include <zlib.h>

#include <itkGDCMImageIO.h>
#include <itkGDCMImageIOFactory.h>
#include <itkGDCMSeriesFileNames.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkImageIOFactory.h>
#include <itkImageSeriesReader.h>
#include <itkMetaImageIOFactory.h>
#include <itkNiftiImageIOFactory.h>
#include <itkNrrdImageIOFactory.h>
#include <itkPNGImageIOFactory.h>

#include "data/itk_image.hpp"
#include "data/nifti_header.hpp"
#include "data/volume_io.hpp"
#include "whatif/dataset.hpp"
#include "whatif/registry/error.hpp"

namespace fs = std::filesystem;

namespace whatif::data {

std::array<double, 16> Geometry::ras_affine() const {
  std::array<double, 16> affine{};
  for (int r = 0; r < 3; ++r) {
    const double flip = r < 2 ? -1.0 : 1.0;  // LPS → RAS
    for (int c = 0; c < 3; ++c) affine[r * 4 + c] = flip * direction[r * 3 + c] * spacing[c];
    affine[r * 4 + 3] = flip * origin[r];
  }
  affine[15] = 1.0;
  return affine;
}

std::array<double, 3> Geometry::index_to_point(const std::array<double, 3>& index) const {
  std::array<double, 3> point = origin;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) point[r] += direction[r * 3 + c] * spacing[c] * index[c];
  return point;
}

std::array<double, 3> Geometry::point_to_index(const std::array<double, 3>& point) const {
  // Direction cosines are orthonormal (ITK requires it), so the inverse is the transpose.
  std::array<double, 3> index{};
  for (int c = 0; c < 3; ++c) {
    double sum = 0;
    for (int r = 0; r < 3; ++r) sum += direction[r * 3 + c] * (point[r] - origin[r]);
    index[c] = sum / spacing[c];
  }
  return index;
}

double Volume::voxel_volume_mm3() const {
  return geometry.spacing[0] * geometry.spacing[1] * geometry.spacing[2];
}

Geometry geometry_of(const Example& example) {
  return Geometry{example.spacing, example.origin, example.direction};
}

void set_geometry(Example& example, const Geometry& geometry) {
  example.spacing = geometry.spacing;
  example.origin = geometry.origin;
  example.direction = geometry.direction;
}

void register_image_io() {
  static std::once_flag once;
  std::call_once(once, [] {
    // ITK's warnings go to stderr beside whatif's one-line errors; what matters is thrown.
    itk::Object::GlobalWarningDisplayOff();
    itk::NiftiImageIOFactory::RegisterOneFactory();
    itk::NrrdImageIOFactory::RegisterOneFactory();
    itk::MetaImageIOFactory::RegisterOneFactory();
    itk::GDCMImageIOFactory::RegisterOneFactory();
    itk::PNGImageIOFactory::RegisterOneFactory();
  });
}

std::string itk_reason(const itk::ExceptionObject& e) {
  std::string text = e.GetDescription();
  std::replace(text.begin(), text.end(), '\n', ' ');
  text.erase(text.find_last_not_of(" \t\r") + 1);
  if (text.size() > 160) text = text.substr(0, 157) + "...";
  return text;
}

void remove_stale_partials(const std::string& folder) {
  std::error_code ec;
  const std::string prefix = ".whatif-partial-";
  for (const auto& entry : fs::directory_iterator(folder.empty() ? "." : folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (pid <= 0 || !end || *end != '-') continue;
    // Only a process that no longer exists leaves its partial file for good.
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove(entry.path(), ec);
  }
}

std::string temporary_sibling(const std::string& path) {
  const fs::path p(path);
  remove_stale_partials(p.parent_path().string());
  return (p.parent_path() / (".whatif-partial-" + std::to_string(::getpid()) + "-" +
                             p.filename().string()))
      .string();
}

namespace {

void check_finite(const Volume& volume, const std::string& path) {
  const auto bad = (~at::isfinite(volume.voxels)).sum().item<std::int64_t>();
  if (bad > 0)
    throw Error(path + ": " + std::to_string(bad) + " voxels are NaN or infinite; fix or mask them " +
                "before importing");
}

// ITK's NIfTI reader accepts a .gz stream that ends early (it zero-fills the rest), so the stream
// is checked first: zlib reports the missing end.
void check_gzip_complete(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw Error(path + ": cannot open");
  std::vector<char> buffer(1 << 20);
  int n = 0;
  while ((n = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) {
  }
  int status = Z_OK;
  const std::string message = gzerror(file, &status);
  gzclose(file);
  if (n < 0 || status != Z_OK)
    throw Error(path + ": truncated or corrupt gzip data (" + message + ")");
}

// A NIfTI-1 file may carry a qform and an sform that disagree (mricron's JHU atlas does: its qform
// flips z). ITK 5.2 takes the qform; nibabel, FSL and SPM take the sform. whatif follows the sform,
// so a volume sits where those tools show it.
std::optional<Geometry> nifti_sform(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");  // reads plain files as they are
  if (!file) return std::nullopt;
  unsigned char header[348];
  const int n = gzread(file, header, sizeof header);
  gzclose(file);
  if (n != static_cast<int>(sizeof header)) return std::nullopt;
  std::int32_t size = 0;
  std::memcpy(&size, header, 4);
  const bool swap = size != 348;
  if (swap && __builtin_bswap32(static_cast<std::uint32_t>(size)) != 348u) return std::nullopt;
  const auto read16 = [&](int at) {
    std::uint16_t v;
    std::memcpy(&v, header + at, 2);
    return static_cast<std::int16_t>(swap ? __builtin_bswap16(v) : v);
  };
  const auto read_float = [&](int at) {
    std::uint32_t v;
    std::memcpy(&v, header + at, 4);
    if (swap) v = __builtin_bswap32(v);
    float f;
    std::memcpy(&f, &v, 4);
    return static_cast<double>(f);
  };
  if (read16(254) <= 0) return std::nullopt;  // sform_code
  double srow[3][4];
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) srow[r][c] = read_float(280 + 16 * r + 4 * c);
  Geometry g;
  for (int c = 0; c < 3; ++c) {
    const double norm = std::sqrt(srow[0][c] * srow[0][c] + srow[1][c] * srow[1][c] + srow[2][c] * srow[2][c]);
    if (!(norm > 0)) return std::nullopt;
    g.spacing[c] = norm;
    for (int r = 0; r < 3; ++r) g.direction[r * 3 + c] = (r < 2 ? -1.0 : 1.0) * srow[r][c] / norm;  // RAS → LPS
  }
  for (int r = 0; r < 3; ++r) g.origin[r] = (r < 2 ? -1.0 : 1.0) * srow[r][3];
  return g;
}

// ITK's NIfTI reader turns NaN voxels into numbers, so floating-point NIfTI data is checked raw.
std::int64_t nifti_nonfinite_voxels(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) return 0;
  unsigned char header[348];
  std::int64_t bad = 0;
  if (gzread(file, header, sizeof header) == static_cast<int>(sizeof header)) {
    std::int32_t size = 0;
    std::memcpy(&size, header, 4);
    const bool swap = size != 348;
    std::int16_t datatype = 0;
    std::memcpy(&datatype, header + 70, 2);
    if (swap) datatype = static_cast<std::int16_t>(__builtin_bswap16(static_cast<std::uint16_t>(datatype)));
    float offset = 0;
    std::uint32_t raw_offset = 0;
    std::memcpy(&raw_offset, header + 108, 4);
    if (swap) raw_offset = __builtin_bswap32(raw_offset);
    std::memcpy(&offset, &raw_offset, 4);
    const int bytes = datatype == 16 ? 4 : datatype == 64 ? 8 : 0;  // FLOAT32, FLOAT64
    if (bytes > 0 && offset >= 348 && gzseek(file, static_cast<z_off_t>(offset), SEEK_SET) >= 0) {
      std::vector<unsigned char> buffer(static_cast<std::size_t>(bytes) << 18);
      int n = 0;
      while ((n = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) {
        for (int at = 0; at + bytes <= n; at += bytes) {
          unsigned char value[8];
          for (int b = 0; b < bytes; ++b) value[b] = buffer[at + (swap ? bytes - 1 - b : b)];
          double v;
          if (bytes == 4) {
            float f;
            std::memcpy(&f, value, 4);
            v = f;
          } else {
            std::memcpy(&v, value, 8);
          }
          bad += !std::isfinite(v);
        }
      }
    }
  }
  gzclose(file);
  return bad;
}

bool is_nifti(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  const auto ends = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends(".nii") || ends(".nii.gz");
}

Volume read_dicom_series(const std::string& folder) {
  auto names = itk::GDCMSeriesFileNames::New();
  names->SetUseSeriesDetails(true);
  names->SetDirectory(folder);
  const auto series = names->GetSeriesUIDs();
  if (series.empty()) throw Error(folder + ": no DICOM series in this folder");
  using Reader = itk::ImageSeriesReader<FloatImage<3>>;
  auto reader = Reader::New();
  reader->SetImageIO(itk::GDCMImageIO::New());
  reader->SetFileNames(names->GetFileNames(series.front()));
  reader->Update();
  return from_itk<3>(reader->GetOutput());
}

// The file's voxel type by the names the dataset store uses.
std::string voxel_type_name(itk::IOComponentEnum type) {
  using T = itk::IOComponentEnum;
  switch (type) {
    case T::UCHAR: return "uint8";
    case T::CHAR: return "int8";
    case T::USHORT: return "uint16";
    case T::SHORT: return "int16";
    case T::UINT: return "uint32";
    case T::INT: return "int32";
    case T::DOUBLE: return "float64";
    default: return "float32";
  }
}

template <unsigned Dim>
Volume read_as(const std::string& path, itk::ImageIOBase* io) {
  auto reader = itk::ImageFileReader<FloatImage<Dim>>::New();
  reader->SetImageIO(io);
  reader->SetFileName(path);
  reader->Update();
  return from_itk<Dim>(reader->GetOutput());
}

}  // namespace

Volume read_volume(const std::string& path, int expected_dims) {
  register_image_io();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path + ": no such file or folder");
  Volume volume;
  try {
    if (fs::is_directory(path)) {
      volume = read_dicom_series(path);
    } else {
      if (is_nifti(path))
        check_nifti(path);  // before ITK: sizes, spacing, orientation, data length
      else if (fs::path(path).extension() == ".gz")
        check_gzip_complete(path);
      auto io = itk::ImageIOFactory::CreateImageIO(path.c_str(), itk::IOFileModeEnum::ReadMode);
      if (!io)
        throw Error(path + ": not a readable image (expected .nii/.nii.gz, .nrrd, .mha, .png or a " +
                    "DICOM folder)");
      io->SetFileName(path);
      io->ReadImageInformation();
      unsigned dims = io->GetNumberOfDimensions();
      while (dims > 3 && io->GetDimensions(dims - 1) == 1) --dims;  // trailing singleton axes
      if (io->GetNumberOfComponents() != 1)
        throw Error(path + ": has " + std::to_string(io->GetNumberOfComponents()) +
                    " components per voxel; expected a scalar image");
      if (dims != 2 && dims != 3)
        throw Error(path + ": has " + std::to_string(dims) + " dimensions; expected 2 or 3");
      volume = dims == 3 ? read_as<3>(path, io) : read_as<2>(path, io);
      volume.source_type = voxel_type_name(io->GetComponentType());
      if (dims == 3 && is_nifti(path))
        if (const auto sform = nifti_sform(path)) volume.geometry = *sform;
      if (is_nifti(path))
        if (const auto bad = nifti_nonfinite_voxels(path))
          throw Error(path + ": " + std::to_string(bad) + " voxels are NaN or infinite; fix or mask them " +
                      "before importing");
    }
  } catch (const itk::ExceptionObject& e) {
    throw Error(path + ": cannot read (truncated or corrupt?): " + itk_reason(e));
  }
  if (expected_dims != 0 && volume.dims() != expected_dims)
    throw Error(path + ": has " + std::to_string(volume.dims()) + " dimensions; expected " +
                std::to_string(expected_dims));
  check_finite(volume, path);
  // Scaled integer data (NIfTI scl_slope) holds fractions: its values are float.
  if (volume.source_type != "float32" && volume.source_type != "float64" &&
      !at::equal(volume.voxels, volume.voxels.round()))
    volume.source_type = "float32";
  return volume;
}

namespace {

template <class Image>
void write_image(const Image* image, const std::string& path) {
  auto writer = itk::ImageFileWriter<Image>::New();
  writer->SetInput(image);
  writer->SetFileName(path);
  writer->SetUseCompression(true);
  writer->Update();
}

}  // namespace

void write_itk_atomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  register_image_io();
  if (const fs::path parent = fs::path(path).parent_path(); !parent.empty() && !fs::is_directory(parent))
    throw Error(path + ": cannot write: the folder " + parent.string() + " does not exist");
  const std::string partial = temporary_sibling(path);
  try {
    write(partial);
    // ITK's writers do not all report a failed open or a full disk: check what arrived.
    std::error_code ec;
    const auto size = fs::file_size(partial, ec);
    if (ec || size == 0)
      throw Error(path + ": cannot write (" + (ec ? "the folder is missing or not writable" : "nothing was written") +
                  "; is the disk full?)");
    if (is_nifti(path)) {
      try {
        check_nifti(partial);
      } catch (const Error&) {
        throw Error(path + ": was written incompletely; is the disk full?");
      }
    }
    fs::rename(partial, path);
  } catch (const itk::ExceptionObject& e) {
    std::error_code ec;
    fs::remove(partial, ec);
    throw Error(path + ": cannot write: " + itk_reason(e));
  } catch (...) {
    std::error_code ec;
    fs::remove(partial, ec);
    throw;
  }
}

void write_volume(const Volume& volume, const std::string& path) {
  const bool png = fs::path(path).extension() == ".png";
  if (volume.dims() != 2 && volume.dims() != 3)
    throw Error(path + ": cannot write a volume with " + std::to_string(volume.dims()) + " dimensions");
  if (png && volume.dims() != 2) throw Error(path + ": PNG holds 2D images only; use .nii.gz");
  write_itk_atomically(path, [&](const std::string& partial) {
    if (png) {
      // 8-bit PNG: rescale the intensity range to 0..255.
      const at::Tensor v = volume.voxels.to(at::kFloat);
      const float lo = v.min().item<float>(), hi = v.max().item<float>();
      const at::Tensor bytes =
          ((v - lo) * (255.0f / std::max(hi - lo, 1e-12f))).round().clamp(0, 255).to(at::kByte).contiguous();
      using Image = itk::Image<unsigned char, 2>;
      auto image = Image::New();
      Image::SizeType size{{static_cast<itk::SizeValueType>(v.size(1)),
                            static_cast<itk::SizeValueType>(v.size(0))}};
      image->SetRegions(Image::RegionType(size));
      image->Allocate();
      std::copy_n(bytes.data_ptr<std::uint8_t>(), bytes.numel(), image->GetBufferPointer());
      write_image(image.GetPointer(), partial);
    } else if (volume.dims() == 3) {
      write_image(to_itk<3>(volume).GetPointer(), partial);
    } else {
      write_image(to_itk<2>(volume).GetPointer(), partial);
    }
  });
}

}  // namespace whatif::data
