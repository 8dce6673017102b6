#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

#include <ATen/ATen.h>

#include "core/data/temp_dir.hpp"
#include "whatif/data/store.hpp"
#include "whatif/data/synthetic_brain.hpp"
#include "whatif/data/synthetic_chest.hpp"
#include "whatif/data/text_metrics.hpp"
#include "whatif/data/volume.hpp"
#include "whatif/dataset.hpp"
#include "whatif/registry/registry.hpp"

namespace {

std::shared_ptr<whatif::Dataset> make(const std::string& name, const whatif::Options& options) {
  static whatif::Registry registry;
  static const bool loaded = (registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-datasets.so"), true);
  (void)loaded;
  return registry.create_as<whatif::Dataset>("dataset", name, options);
}

}  // namespace

CATCH_TEST_CASE("dataset/synthetic-brain serves the generator's twins and pairs") {
  whatif::Options o;
  o.set("subjects", std::int64_t{2});
  o.set("task", std::string("ad"));
  const auto dataset = make("synthetic-brain", o);
  CATCH_REQUIRE(dataset->size() == 6);
  CATCH_REQUIRE(dataset->pairs().size() == 12);
  whatif::data::BrainOptions b;
  b.task = "ad";
  const auto twin = whatif::data::SyntheticBrain(b).twin(1, 2);
  const auto e = dataset->get(5);
  CATCH_REQUIRE(at::equal(e.image, twin.example.image));
  CATCH_REQUIRE(e.text == twin.example.text);
  CATCH_REQUIRE(dataset->attribute_names() == std::vector<std::string>{"hippocampus_volume_ml", "level", "ventricle_volume_ml"});
}

CATCH_TEST_CASE("dataset/hdf5 reads a store back; dataset/nifti-manifest resolves relative paths") {
  whatif_test::TempDir dir;
  whatif::data::Volume v{at::rand({6, 7, 8}), {}};
  v.geometry.spacing = {2, 2, 2};
  whatif::data::write_volume(v, dir / "a.nii.gz");
  std::ofstream(dir / "m.csv") << "image,text,subject,time,age\n"
                               << "a.nii.gz,\"a report, with a comma\",s1,0,71\n";
  whatif::Options m;
  m.set("manifest", dir / "m.csv");
  m.set("size", std::int64_t{8});
  const auto manifest = make("nifti-manifest", m);
  const auto e = manifest->get(0);
  CATCH_REQUIRE(e.image.sizes() == at::IntArrayRef({1, 8, 8, 8}));
  CATCH_REQUIRE(e.text == "a report, with a comma");
  CATCH_REQUIRE(e.attributes.at("age") == 71);
  CATCH_REQUIRE(e.attributes.at("time") == 0);

  {
    whatif::data::StoreWriter writer(dir / "s.h5", {1, 8, 8, 8}, false);
    writer.append(e);
    writer.commit();
  }
  whatif::Options h;
  h.set("path", dir / "s.h5");
  const auto store = make("hdf5", h);
  CATCH_REQUIRE(store->size() == 1);
  const auto back = store->get(0);
  CATCH_REQUIRE(at::equal(back.image, e.image));
  CATCH_REQUIRE(back.spacing == e.spacing);
  CATCH_REQUIRE(back.attributes == e.attributes);

  std::ofstream(dir / "bad.csv") << "path,text\nx.nii.gz,hello\n";
  whatif::Options bad;
  bad.set("manifest", dir / "bad.csv");
  CATCH_REQUIRE_THROWS_WITH(make("nifti-manifest", bad), Catch::Contains(dir / "bad.csv") &&
                                                             Catch::Contains("missing column 'image'"));
  std::ofstream(dir / "gone.jsonl") << "{\"image\": \"gone.nii.gz\", \"text\": \"x\"}\n";
  bad.set("manifest", dir / "gone.jsonl");
  CATCH_REQUIRE_THROWS_WITH(make("nifti-manifest", bad), Catch::Contains("gone.jsonl:1") && Catch::Contains("does not exist"));
}

CATCH_TEST_CASE("dataset/synthetic-chest serves the generator's scans, pairs and interpretations") {
  whatif::Options o;
  o.set("subjects", std::int64_t{2});
  o.set("size", std::int64_t{32});
  o.set("followups", std::int64_t{1});
  const auto dataset = make("synthetic-chest", o);
  CATCH_REQUIRE(dataset->size() == 4);
  CATCH_REQUIRE(dataset->pairs() == std::vector<std::pair<std::int64_t, std::int64_t>>{{0, 1}, {2, 3}});
  whatif::data::ChestOptions c;
  c.size = 32;
  c.followups = 1;
  const auto scan = whatif::data::SyntheticChest(c).scan(1, 1);
  const auto e = dataset->get(3);
  CATCH_REQUIRE(at::equal(e.image, scan.example.image));
  CATCH_REQUIRE(e.text == scan.example.text);
  CATCH_REQUIRE(e.subject == "sub-00001");
  const auto names = dataset->attribute_names();
  CATCH_REQUIRE(std::count(names.begin(), names.end(), "effusion_right_ml") == 1);
  CATCH_REQUIRE(std::count(names.begin(), names.end(), "ctr") == 1);
  o.set("text", std::string("prompt"));
  o.set("modality", std::string("cxr"));
  const auto radiographs = make("synthetic-chest", o);
  const auto r = radiographs->get(3);
  CATCH_REQUIRE(r.image.sizes() == at::IntArrayRef({1, 64, 64}));
  CATCH_REQUIRE(r.text == scan.prompt);
  o.set("size", std::int64_t{200});
  CATCH_REQUIRE_THROWS_WITH(make("synthetic-chest", o), Catch::Contains("size 200"));
}

// text = "progression": what the autoregressive family trains on, the prompt on the first line and
// the interpretation after it. The chest's short prompt is checked against the interpretation
// read back by the sentence parser (another route to the same change), for every follow-up.
CATCH_TEST_CASE("text = progression: the change in a few words, a line break, the interpretation") {
  whatif::Options o;
  o.set("subjects", std::int64_t{12});
  o.set("size", std::int64_t{32});
  o.set("followups", std::int64_t{2});
  o.set("modality", std::string("cxr"));
  o.set("text", std::string("progression"));
  const auto dataset = make("synthetic-chest", o);
  whatif::data::ChestOptions c;
  c.size = 32;
  c.followups = 2;
  c.modality = "cxr";
  const whatif::data::SyntheticChest chest(c);
  int changed = 0, stable = 0;
  for (const auto& [baseline, followup] : dataset->pairs()) {
    const auto scan = chest.scan(followup / 3, static_cast<int>(followup % 3));
    const std::string text = dataset->get(followup).text;
    const auto cut = text.find('\n');
    CATCH_REQUIRE(cut != std::string::npos);
    const std::string prompt = text.substr(0, cut), interpretation = text.substr(cut + 1);
    CATCH_CHECK(interpretation == scan.prompt);
    // The prompt's items are the interpretation's findings whose state is not "unchanged".
    std::vector<std::string> expected;
    for (const auto& f : whatif::data::parse_findings(interpretation).findings)
      if (f.state != "unchanged") expected.push_back(f.state + " " + f.name);
    std::sort(expected.begin(), expected.end());
    std::vector<std::string> items;
    if (prompt != "no interval change")
      for (std::size_t start = 0;;) {
        const auto comma = prompt.find(", ", start);
        items.push_back(prompt.substr(start, comma - start));
        if (comma == std::string::npos) break;
        start = comma + 2;
      }
    std::sort(items.begin(), items.end());
    CATCH_CHECK(items == expected);
    (items.empty() ? stable : changed) += 1;
    // A baseline has no interpretation: its text is its impression, one line.
    CATCH_CHECK(dataset->get(baseline).text.find('\n') == std::string::npos);
  }
  CATCH_CHECK(changed > 0);  // the check above saw real changes, not only "no interval change"

  whatif::Options b;
  b.set("subjects", std::int64_t{1});
  b.set("text", std::string("progression"));
  const auto brain = make("synthetic-brain", b);
  const auto twin = whatif::data::SyntheticBrain(whatif::data::BrainOptions{}).twin(0, 2);
  CATCH_CHECK(brain->get(2).text == twin.prompt + "\n" + twin.example.text);
  b.set("text", std::string("story"));
  CATCH_REQUIRE_THROWS_WITH(make("synthetic-brain", b), Catch::Contains("text, prompt or progression"));
}
