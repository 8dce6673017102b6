// Checkpoints: a bit-exact round trip of every stored kind of value, and the errors for files that
// are missing, not HDF5, HDF5 but not a checkpoint, or from another model.
#include <catch2/catch.hpp>

#include <H5Cpp.h>

#include <cstring>
#include <fstream>
#include <limits>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "core/data/temp_dir.hpp"
#include "support/error_of.hpp"
#include "train/checkpoint.hpp"
#include "util/file_seal.hpp"
#include "whatif/registry/error.hpp"

using whatif::test::error_of;
using whatif_test::TempDir;

namespace {

at::Tensor find(const whatif::Checkpoint& c, const std::string& group, const std::string& name) {
  for (const auto& [n, t] : c.groups.at(group))
    if (n == name) return t;
  return {};
}

// Same dtype, shape and bytes: NaN payloads and −0 included.
bool bit_equal(const at::Tensor& a, const at::Tensor& b) {
  if (!a.defined() || !b.defined() || a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes())
    return false;
  const at::Tensor ca = a.contiguous(), cb = b.contiguous();
  if (ca.numel() == 0) return true;  // no bytes (and data_ptr may be null)
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

// A float tensor whose values equality alone would not pin down.
at::Tensor awkward_floats() {
  at::Tensor t = at::tensor({0.0f, -0.0f, 1.0f, std::numeric_limits<float>::denorm_min(),
                             std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::max(),
                             0.0f, 0.1f});
  std::uint32_t payload = 0x7fc01234u;  // a quiet NaN with a payload
  std::memcpy(t.data_ptr<float>() + 6, &payload, sizeof payload);
  return t;
}

}  // namespace

CATCH_TEST_CASE("a checkpoint round-trips tensors, attributes and losses bit for bit") {
  TempDir dir;
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(3);
  whatif::Checkpoint c;
  c.groups["params"] = {{"net.weight", at::randn({3, 4}, g)},
                        {"net.bias", awkward_floats()},
                        {"net.scale", at::randn({}, g, at::kDouble)},  // 0-d
                        {"net.transposed", at::randn({4, 5}, g).t()},  // not contiguous
                        {"net.empty", at::empty({0, 3})}};
  c.groups["buffers"] = {{"tokenizer", at::tensor({0, 7, 255}).to(at::kByte)},
                         {"counts", at::tensor({std::numeric_limits<std::int64_t>::min(), std::int64_t{-1},
                                                std::numeric_limits<std::int64_t>::max()})},
                         {"ids", at::tensor({-5, 0, 2147483647}, at::kInt)}};
  c.groups["optim/m"] = {{"net.weight", at::randn({3, 4}, g, at::kDouble)}};
  c.groups["optim/v"] = {{"net.weight", at::rand({3, 4}, g, at::kDouble)}};
  c.groups["ema"] = {{"net.weight", at::randn({3, 4}, g)}};
  c.strings["config"] = R"({"lr": 0.001, "prompt": "läsion ↑"})";
  c.strings["format"] = "whatif-checkpoint-1";
  c.strings["empty"] = "";
  c.integers["step"] = 1234;
  c.integers["seed"] = std::numeric_limits<std::int64_t>::max();
  c.integers["negative"] = -7;
  c.losses = {0.5, 0.1, std::numeric_limits<double>::quiet_NaN(), 1e-300};

  const std::string path = dir / "run/ck.h5";  // the parent folder is created
  whatif::write_checkpoint(path, c);
  CATCH_REQUIRE(!std::filesystem::exists(path + ".tmp"));
  const whatif::Checkpoint r = whatif::read_checkpoint(path);

  for (const auto& [group, tensors] : c.groups) {
    CATCH_CAPTURE(group);
    CATCH_REQUIRE(r.groups.at(group).size() == tensors.size());
    for (const auto& [name, tensor] : tensors) {
      CATCH_CAPTURE(name);
      CATCH_REQUIRE(bit_equal(find(r, group, name), tensor));
    }
  }
  CATCH_REQUIRE(r.groups.size() == c.groups.size());
  // Every checkpoint also says which whatif wrote it.
  auto strings = r.strings;
  CATCH_REQUIRE(!strings.at("whatif_version").empty());
  CATCH_REQUIRE(!strings.at("whatif_commit").empty());
  strings.erase("whatif_version");
  strings.erase("whatif_commit");
  CATCH_REQUIRE(strings == c.strings);
  CATCH_REQUIRE(r.integers == c.integers);
  CATCH_REQUIRE(r.losses.size() == c.losses.size());
  CATCH_REQUIRE(std::memcmp(r.losses.data(), c.losses.data(), c.losses.size() * sizeof(double)) == 0);

  // Writing again replaces the file as a whole: nothing of the first checkpoint survives.
  whatif::Checkpoint small;
  small.groups["params"] = {{"net.weight", at::zeros({2})}};
  whatif::write_checkpoint(path, small);
  const whatif::Checkpoint again = whatif::read_checkpoint(path);
  CATCH_REQUIRE(again.groups.size() == 1);
  CATCH_REQUIRE(bit_equal(find(again, "params", "net.weight"), at::zeros({2})));
  CATCH_REQUIRE(again.strings.size() == 2);  // whatif_version and whatif_commit only
  CATCH_REQUIRE(again.integers.empty());
  CATCH_REQUIRE(again.losses.empty());
}

CATCH_TEST_CASE("half-precision and bool tensors are stored as float32 and uint8") {
  TempDir dir;
  whatif::Checkpoint c;
  c.groups["params"] = {{"h", at::tensor({1.5f, -2.0f}).to(at::kBFloat16)},
                        {"f16", at::tensor({0.25f}).to(at::kHalf)},
                        {"mask", at::tensor({1, 0, 1}).to(at::kBool)}};
  whatif::write_checkpoint(dir / "ck.h5", c);
  const auto r = whatif::read_checkpoint(dir / "ck.h5");
  CATCH_REQUIRE(bit_equal(find(r, "params", "h"), at::tensor({1.5f, -2.0f})));
  CATCH_REQUIRE(bit_equal(find(r, "params", "f16"), at::tensor({0.25f})));
  CATCH_REQUIRE(bit_equal(find(r, "params", "mask"), at::tensor({1, 0, 1}).to(at::kByte)));
}

CATCH_TEST_CASE("restore_tensors copies by name, resizes only resizable targets") {
  at::Tensor weight = at::zeros({2, 3}), bias = at::zeros({3});
  const whatif::NamedTensors source{{"bias", at::tensor({1.0f, 2.0f, 3.0f})},
                                    {"weight", at::arange(6, at::kFloat).reshape({2, 3})},
                                    {"unused", at::ones({9})}};
  whatif::restore_tensors(source, {{"weight", weight}, {"bias", bias}}, false, "ck.h5");
  CATCH_REQUIRE(weight.equal(at::arange(6, at::kFloat).reshape({2, 3})));  // in place
  CATCH_REQUIRE(bias.equal(at::tensor({1.0f, 2.0f, 3.0f})));

  // A uint8 tensor read back restores a bool buffer; a resizable one takes the stored shape.
  at::Tensor mask = at::zeros({2}, at::kBool), tokens = at::zeros({1}, at::kByte);
  whatif::restore_tensors({{"mask", at::tensor({0, 1}).to(at::kByte)}, {"tokens", at::tensor({4, 5, 6}).to(at::kByte)}},
                          {{"mask", mask}, {"tokens", tokens}}, true, "ck.h5");
  CATCH_REQUIRE(mask.equal(at::tensor({0, 1}).to(at::kBool)));
  CATCH_REQUIRE(tokens.equal(at::tensor({4, 5, 6}).to(at::kByte)));
}

CATCH_TEST_CASE("a checkpoint missing a tensor or with a wrong shape names the file and the tensor") {
  TempDir dir;
  const std::string path = dir / "other.h5";
  whatif::Checkpoint c;
  c.groups["params"] = {{"net.weight", at::zeros({3, 2})}};
  whatif::write_checkpoint(path, c);
  const auto params = whatif::read_checkpoint(path).groups.at("params");

  at::Tensor weight = at::zeros({2, 3}), bias = at::zeros({3});
  CATCH_REQUIRE(error_of([&] { whatif::restore_tensors(params, {{"net.weight", weight}}, false, path); }) ==
                path + ": tensor 'net.weight' has shape [3, 2] but the model expects [2, 3]");
  CATCH_REQUIRE(weight.equal(at::zeros({2, 3})));
  at::Tensor right = at::ones({3, 2});
  CATCH_REQUIRE(error_of([&] {
                  whatif::restore_tensors(params, {{"net.weight", right}, {"net.bias", bias}}, false, path);
                }) == path + ": has no tensor 'net.bias' (was it saved from another model?)");
}

CATCH_TEST_CASE("a missing file and a file that is not HDF5 are refused with the path") {
  TempDir dir;
  const std::string missing = dir / "none.h5";
  CATCH_REQUIRE(error_of([&] { whatif::read_checkpoint(missing); }) == missing + ": no such checkpoint");
  const std::string junk = dir / "junk.h5";
  std::ofstream(junk) << "this is a text file, not HDF5\n";
  CATCH_REQUIRE_THROWS_WITH(whatif::read_checkpoint(junk), Catch::StartsWith(junk + ": has no whatif seal"));
  whatif::seal_file(junk);  // sealed, but still not HDF5
  CATCH_REQUIRE_THROWS_WITH(whatif::read_checkpoint(junk),
                            Catch::StartsWith(junk + ": not a readable whatif checkpoint"));
  const std::string folder = dir / "folder.h5";
  std::filesystem::create_directories(folder);
  CATCH_REQUIRE_THROWS_WITH(whatif::read_checkpoint(folder), Catch::StartsWith(folder + ": not a file"));
}

CATCH_TEST_CASE("HDF5 files that are not checkpoints are refused with the path and what is wrong") {
  TempDir dir;
  H5::Exception::dontPrint();
  // Like a dataset store: root datasets, strings, 16-bit integers, array attributes.
  const auto make = [&](const std::string& name, const std::function<void(H5::H5File&)>& fill) {
    const std::string path = dir / name;
    {
      H5::H5File file(path, H5F_ACC_TRUNC);
      fill(file);
    }
    whatif::seal_file(path);  // a well-formed but foreign file: what the reader checks after the seal
    return path;
  };
  const hsize_t three[1] = {3};

  // A root-level tensor: read into the unnamed group, so a model then finds none of its own.
  const std::string root = make("root.h5", [&](H5::H5File& f) {
    const float values[3] = {1, 2, 3};
    f.createDataSet("images", H5::PredType::NATIVE_FLOAT, H5::DataSpace(1, three))
        .write(values, H5::PredType::NATIVE_FLOAT);
  });
  const whatif::Checkpoint r = whatif::read_checkpoint(root);
  CATCH_REQUIRE(bit_equal(find(r, "", "images"), at::tensor({1.0f, 2.0f, 3.0f})));
  CATCH_REQUIRE(r.groups.count("params") == 0);

  const std::string shorts = make("int16.h5", [&](H5::H5File& f) {
    H5::Group g = f.createGroup("params");
    const std::int16_t values[3] = {1, 2, 3};
    g.createDataSet("w", H5::PredType::NATIVE_INT16, H5::DataSpace(1, three))
        .write(values, H5::PredType::NATIVE_INT16);
  });
  CATCH_REQUIRE_THROWS_WITH(whatif::read_checkpoint(shorts),
                            Catch::StartsWith(shorts + ": dataset '/params/w'") &&
                                Catch::Contains("unsupported element type"));

  const std::string strings = make("strings.h5", [&](H5::H5File& f) {
    const H5::StrType type(H5::PredType::C_S1, 8);
    f.createGroup("reports").createDataSet("text", type, H5::DataSpace(1, three));
  });
  CATCH_REQUIRE_THROWS_WITH(whatif::read_checkpoint(strings),
                            Catch::StartsWith(strings + ": dataset '/reports/text'") &&
                                Catch::Contains("unsupported element type"));

  const std::string array_attribute = make("spacing.h5", [&](H5::H5File& f) {
    const std::int64_t values[3] = {1, 2, 3};
    f.openGroup("/")
        .createAttribute("spacing", H5::PredType::NATIVE_INT64, H5::DataSpace(1, three))
        .write(H5::PredType::NATIVE_INT64, values);
  });
  CATCH_REQUIRE_THROWS_WITH(whatif::read_checkpoint(array_attribute),
                            Catch::StartsWith(array_attribute + ": attribute 'spacing'"));

  const std::string float_attribute = make("version.h5", [&](H5::H5File& f) {
    const double value = 2.5;
    f.openGroup("/")
        .createAttribute("version", H5::PredType::NATIVE_DOUBLE, H5::DataSpace(H5S_SCALAR))
        .write(H5::PredType::NATIVE_DOUBLE, &value);
  });
  CATCH_REQUIRE_THROWS_WITH(whatif::read_checkpoint(float_attribute),
                            Catch::StartsWith(float_attribute + ": attribute 'version'"));
}

CATCH_TEST_CASE("a flipped byte in a stored tensor fails its checksum; NaN weights are refused on restore") {
  TempDir dir;
  const std::string path = dir / "weights.h5";
  whatif::Checkpoint c;
  // 1.25f is 0x3FA00000: a run of it is easy to find among the file's bytes.
  c.groups["params"] = {{"w", at::full({4096}, 1.25f)}};
  whatif::write_checkpoint(path, c);
  CATCH_REQUIRE(whatif::read_checkpoint(path).groups.at("params").front().second.equal(at::full({4096}, 1.25f)));

  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  float value = 1.25f;
  std::string run;
  for (int i = 0; i < 64; ++i) run.append(reinterpret_cast<const char*>(&value), sizeof value);
  const auto at = bytes.find(run);
  CATCH_REQUIRE(at != std::string::npos);
  bytes[at + 100] ^= 0x01;  // one bit of one weight, as a disk or a copy might flip it
  const std::string corrupted = dir / "corrupted.h5";
  std::ofstream(corrupted, std::ios::binary) << bytes;
  CATCH_REQUIRE(error_of([&] { whatif::read_checkpoint(corrupted); }) ==
                corrupted + ": fails its whole-file checksum: the file is truncated or corrupted; restore it, or "
                            "rerun what wrote it");
  // Damage from before the seal was written (in memory, say) is still caught by the array's own checksum.
  const std::string resealed = dir / "resealed.h5";
  std::ofstream(resealed, std::ios::binary) << bytes.substr(0, bytes.size() - whatif::kSealBytes);
  whatif::seal_file(resealed);
  CATCH_REQUIRE(error_of([&] { whatif::read_checkpoint(resealed); }) ==
                resealed + ": dataset '/params/w' fails its checksum or cannot be read; the file is corrupted "
                           "(restore it or rerun what wrote it)");
  const std::string cut = dir / "cut.h5";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  CATCH_REQUIRE_THROWS_WITH(whatif::read_checkpoint(cut), Catch::StartsWith(cut + ": has no whatif seal"));

  at::Tensor w = at::zeros({3});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CATCH_REQUIRE(error_of([&] { whatif::restore_tensors({{"w", at::tensor({1.0f, nan, 2.0f})}}, {{"w", w}}, false, path); }) ==
                path + ": tensor 'w' holds NaN or infinite values (saved from a diverged run?); use an earlier checkpoint");
  CATCH_REQUIRE(w.equal(at::zeros({3})));
}
