#include <catch2/catch.hpp>

#include <set>

#include <ATen/ATen.h>

#include "whatif/data/synthetic_brain.hpp"
#include "whatif/registry/error.hpp"

using namespace whatif::data;

namespace {

BrainOptions options(const std::string& task, int dims = 3, std::uint64_t seed = 3) {
  BrainOptions o;
  o.task = task;
  o.size = 32;
  o.dims = dims;
  o.seed = seed;
  return o;
}

double voxel_ml(const SyntheticBrain& brain) {
  const auto s = brain.geometry().spacing;
  return s[0] * s[1] * s[2] / 1000.0;
}

}  // namespace

CATCH_TEST_CASE("synthetic brain: same seed, same subjects; another seed, another subject") {
  const SyntheticBrain a(options("ms")), b(options("ms")), c(options("ms", 3, 4));
  const auto ta = a.subject(1), tb = b.subject(1), tc = c.subject(1);
  for (int level = 0; level < 3; ++level) {
    CATCH_REQUIRE(at::equal(ta[level].example.image, tb[level].example.image));
    CATCH_REQUIRE(at::equal(ta[level].example.mask, tb[level].example.mask));
    CATCH_REQUIRE(ta[level].example.text == tb[level].example.text);
  }
  CATCH_REQUIRE(!at::equal(ta[0].example.image, tc[0].example.image));
  // One twin alone is the same as that twin among all three.
  CATCH_REQUIRE(at::equal(a.twin(1, 2).example.image, ta[2].example.image));
  CATCH_REQUIRE(ta[0].example.image.sizes() == at::IntArrayRef({1, 32, 32, 32}));
  CATCH_REQUIRE(ta[0].example.subject == "sub-00001");
}

CATCH_TEST_CASE("MS twins: nested lesions, exact volumes, identical outside the lesions") {
  const SyntheticBrain brain(options("ms"));
  for (std::int64_t s = 0; s < 2; ++s) {
    const auto twins = brain.subject(s);
    for (int level = 0; level < 3; ++level) {
      const auto& e = twins[level].example;
      CATCH_REQUIRE(e.attributes.at("level") == level);
      CATCH_REQUIRE(e.attributes.at("lesion_volume_ml") ==
                    Approx((e.mask > 0).sum().item<double>() * voxel_ml(brain)).epsilon(1e-12));
      if (level > 0) {
        const auto& lower = twins[level - 1].example;
        CATCH_REQUIRE(((lower.mask > 0) & (e.mask == 0)).sum().item<std::int64_t>() == 0);  // nested
        CATCH_REQUIRE(e.attributes.at("lesion_count") > lower.attributes.at("lesion_count"));
        CATCH_REQUIRE(e.attributes.at("lesion_volume_ml") > lower.attributes.at("lesion_volume_ml"));
      }
    }
    const auto& minimal = twins[0].example;
    const auto& high = twins[2].example;
    const at::Tensor outside = high.mask == 0;
    CATCH_REQUIRE(at::equal(minimal.image.index({outside}), high.image.index({outside})));
    // Inside, lesions are T1-hypointense: the high twin is darker wherever only it has a lesion.
    const at::Tensor only_high = (high.mask > 0) & (minimal.mask == 0);
    CATCH_REQUIRE((high.image.index({only_high}) < minimal.image.index({only_high})).all().item<bool>());
    CATCH_REQUIRE(high.attributes.at("lesion_count") >= 14);
  }
}

CATCH_TEST_CASE("AD twins differ only inside the deformation's support, with graded volumes") {
  const SyntheticBrain brain(options("ad"));
  for (std::int64_t subject = 0; subject < 3; ++subject) {
  const auto twins = brain.subject(subject);
  const at::Tensor support = brain.deformation_support(subject).unsqueeze(0);
  CATCH_REQUIRE(support.sum().item<double>() < 0.25 * support.numel());
  for (int level = 0; level < 3; ++level) {
    const auto& e = twins[level].example;
    CATCH_REQUIRE(e.attributes.at("hippocampus_volume_ml") ==
                  Approx((e.mask == 1).sum().item<double>() * voxel_ml(brain)).epsilon(1e-12));
    CATCH_REQUIRE(e.attributes.at("ventricle_volume_ml") ==
                  Approx((e.mask == 2).sum().item<double>() * voxel_ml(brain)).epsilon(1e-12));
    if (level == 0) continue;
    const at::Tensor changed = twins[0].example.image != e.image;
    CATCH_REQUIRE(changed.any().item<bool>());
    CATCH_REQUIRE((changed & ~support).sum().item<std::int64_t>() == 0);
    const auto& lower = twins[level - 1].example.attributes;
    CATCH_REQUIRE(e.attributes.at("hippocampus_volume_ml") < lower.at("hippocampus_volume_ml"));
    CATCH_REQUIRE(e.attributes.at("ventricle_volume_ml") > lower.at("ventricle_volume_ml"));
  }
  }
}

CATCH_TEST_CASE("reports name their level, and only theirs; prompts are short") {
  const std::vector<std::pair<std::string, std::vector<std::string>>> tasks{
      {"ms", {"minimal", "moderate", "high"}},
      {"ad", {"cognitively normal", "mild cognitive impairment", "dementia"}}};
  for (const auto& [task, names] : tasks) {
    const SyntheticBrain brain(options(task));
    std::set<std::string> openings;
    for (std::int64_t s = 0; s < 4; ++s) {
      const auto twins = brain.subject(s);
      for (int level = 0; level < 3; ++level) {
        const std::string& report = twins[level].example.text;
        CATCH_INFO(report);
        for (int other = 0; other < 3; ++other)
          CATCH_REQUIRE((report.find(names[other]) != std::string::npos) == (other == level));
        CATCH_REQUIRE(twins[level].prompt.find(names[level]) != std::string::npos);
        openings.insert(report.substr(0, 12));
      }
    }
    CATCH_REQUIRE(openings.size() >= 4);  // wording and order vary
  }
  const auto twin = SyntheticBrain(options("ms")).twin(0, 2);
  const auto count = static_cast<int>(twin.example.attributes.at("lesion_count"));
  CATCH_REQUIRE(twin.example.text.find(std::to_string(count)) != std::string::npos);
  CATCH_REQUIRE(twin.prompt == "high lesion load");
}

CATCH_TEST_CASE("2D mode: one axial slice with its own plane geometry") {
  const SyntheticBrain volume(options("ms", 3)), slice(options("ms", 2));
  const auto twins = slice.subject(0);
  CATCH_REQUIRE(twins[2].example.image.sizes() == at::IntArrayRef({1, 32, 32}));
  CATCH_REQUIRE(twins[2].example.mask.sum().item<std::int64_t>() > 0);
  // The plane lies on the 3D grid: its origin is a voxel centre of the volume's grid.
  const auto index = volume.geometry().point_to_index(slice.geometry().origin);
  CATCH_REQUIRE(index[0] == Approx(0).margin(1e-9));
  CATCH_REQUIRE(index[1] == Approx(0).margin(1e-9));
  CATCH_REQUIRE(index[2] == Approx(std::round(index[2])).margin(1e-9));
  CATCH_REQUIRE(twins[2].example.attributes.at("lesion_volume_ml") ==
                Approx((twins[2].example.mask > 0).sum().item<double>() * voxel_ml(slice)));
}

CATCH_TEST_CASE("synthetic brain refuses bad options and missing templates") {
  CATCH_REQUIRE_THROWS_WITH(SyntheticBrain(options("xx")), Catch::Contains("task 'xx'"));
  BrainOptions o = options("ms");
  o.size = 48;
  CATCH_REQUIRE_THROWS_WITH(SyntheticBrain(o), Catch::Contains("expected 32, 64 or 128"));
  o = options("ms");
  o.templates = "/nonexistent/templates";
  CATCH_REQUIRE_THROWS_WITH(SyntheticBrain(o), Catch::Contains("/nonexistent/templates/ch2bet.nii.gz"));
}
