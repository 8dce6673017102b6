#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <set>

#include <ATen/ATen.h>

#include "core/data/temp_dir.hpp"
#include "whatif/data/store.hpp"
#include "whatif/registry/error.hpp"

using namespace whatif::data;
using whatif::Example;

namespace {

Example make_example(int i, int dims) {
  Example e;
  std::vector<std::int64_t> shape{1, 5, 6};
  if (dims == 3) shape.insert(shape.begin() + 1, 4);
  e.image = at::rand(shape, at::kFloat) + i;
  e.mask = (at::rand(shape) > 0.7).to(at::kByte) * static_cast<std::uint8_t>(1 + i % 2);
  e.text = "lésion n°" + std::to_string(i) + " — volume ≥ 3 mL";
  e.subject = "sub-" + std::to_string(i / 2);
  e.attributes["level"] = i % 3;
  if (i % 2 == 0) e.attributes["only_even"] = 0.5 * i;
  e.spacing = {1.0 + i, 2.0, 3.5};
  e.origin = {-i * 1.0, 4.0, 8.0};
  e.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  return e;
}

// A dataset over a store, as the hdf5 plugin is (kept here so the test needs no plugin).
class StoreDataset : public whatif::Dataset {
 public:
  explicit StoreDataset(const std::string& path) : store_(path) {}
  std::int64_t size() const override { return store_.size(); }
  Example get(std::int64_t i) const override { return store_.example(i); }
  std::vector<std::string> attribute_names() const override { return store_.attribute_names(); }

 private:
  StoreReader store_;
};

std::string write_store(const whatif_test::TempDir& dir, int n, int dims) {
  const std::string path = dir / ("store" + std::to_string(dims) + ".h5");
  std::vector<std::int64_t> shape{1, 5, 6};
  if (dims == 3) shape.insert(shape.begin() + 1, 4);
  StoreWriter writer(path, shape, true, true);
  for (int i = 0; i < n; ++i) writer.append(make_example(i, dims), "prompt " + std::to_string(i));
  writer.add_pair(0, 1);
  writer.add_pair(1, 0);
  writer.set_root_attribute("task", "test");
  writer.commit();
  return path;
}

}  // namespace

CATCH_TEST_CASE("a store round trip keeps images, masks, text, attributes, geometry and pairs") {
  whatif_test::TempDir dir;
  for (const int dims : {2, 3}) {
    at::manual_seed(dims);
    std::vector<Example> written;
    for (int i = 0; i < 5; ++i) written.push_back(make_example(i, dims));
    at::manual_seed(dims);
    const StoreReader store(write_store(dir, 5, dims));
    CATCH_REQUIRE(store.size() == 5);
    CATCH_REQUIRE(store.dims() == dims);
    CATCH_REQUIRE(store.pairs() == std::vector<std::pair<std::int64_t, std::int64_t>>{{0, 1}, {1, 0}});
    CATCH_REQUIRE(store.root_attributes().at("task") == "test");
    CATCH_REQUIRE(store.root_attributes().at("format") == "whatif-dataset");
    CATCH_REQUIRE(store.attribute_names() == std::vector<std::string>{"level", "only_even"});
    for (int i = 0; i < 5; ++i) {
      const Example e = store.example(i);
      CATCH_REQUIRE(at::equal(e.image, written[i].image));
      CATCH_REQUIRE(at::equal(e.mask, written[i].mask));
      CATCH_REQUIRE(e.text == written[i].text);
      CATCH_REQUIRE(store.prompt(i) == "prompt " + std::to_string(i));
      CATCH_REQUIRE(e.subject == written[i].subject);
      CATCH_REQUIRE(e.attributes == written[i].attributes);  // NaN (absent) stays absent
      CATCH_REQUIRE(e.spacing == written[i].spacing);
      CATCH_REQUIRE(e.origin == written[i].origin);
      CATCH_REQUIRE(e.direction == written[i].direction);
    }
  }
}

CATCH_TEST_CASE("an uncommitted store leaves nothing behind; bad stores name the file") {
  whatif_test::TempDir dir;
  {
    StoreWriter writer(dir / "never.h5", {1, 4, 4}, false);
    Example e;
    e.image = at::zeros({1, 4, 4});
    writer.append(e);
    Example wrong;
    wrong.image = at::zeros({1, 3, 4});
    CATCH_REQUIRE_THROWS_AS(writer.append(wrong), whatif::Error);
  }
  CATCH_REQUIRE(dir.count() == 0);
  {
    std::ofstream(dir / "text.h5") << "not hdf5";
  }
  CATCH_REQUIRE_THROWS_WITH(StoreReader(dir / "text.h5"), Catch::Contains(dir / "text.h5") && Catch::Contains("has no whatif seal"));
  const std::string good = write_store(dir, 3, 3);
  {
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream out(dir / "cut.h5", std::ios::binary);
    out << bytes.substr(0, bytes.size() / 2);
  }
  CATCH_REQUIRE_THROWS_WITH(StoreReader(dir / "cut.h5"), Catch::Contains(dir / "cut.h5"));
}
