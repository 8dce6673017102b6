#include "cli/data_command.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <future>
#include <iomanip>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>

#include <ATen/ATen.h>
#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "cli/parse.hpp"
#include "data/montage.hpp"
#include "util/progress.hpp"
#include "whatif/data/chest_measures.hpp"
#include "whatif/data/manifest.hpp"
#include "whatif/data/preprocess.hpp"
#include "whatif/data/store.hpp"
#include "whatif/data/synthetic_brain.hpp"
#include "whatif/data/synthetic_chest.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/registry/suggest.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace whatif {
namespace {

const char* kDataUsage =
    "usage: whatif data <action> [options]\n"
    "\n"
    "actions:\n"
    "  synth brain --task ms|ad --subjects N --size S [--dims 2|3] [--seed K] [--out F.h5]\n"
    "                      the ground-truth counterfactual brain benchmark\n"
    "  synth chest --subjects N --size S [--modality ct|cxr] [--followups F] [--seed K] [--out F.h5]\n"
    "                      the longitudinal chest benchmark: CT in HU or radiographs, reports\n"
    "  import MANIFEST (--size S|X,Y,Z [--spacing MM] | --keep-grid) [--normalize none] --out F.h5\n"
    "                      NIfTI/NRRD/MHA/DICOM/PNG files listed in a CSV or JSONL manifest\n"
    "  info F.h5           what a store holds\n"
    "  show F.h5 --index I --png out.png      mid-slices with the mask overlaid\n"
    "  export F.h5 --index I --nifti out.nii.gz   one example with its geometry\n"
    "  measure F.h5        chest effect measures against the truth of a synthetic-chest CT store\n"
    "\n"
    "Each action takes --help. Stores are described in docs/data.md.\n";

bool parse_action(const std::vector<std::string>& args, const std::string& usage, po::options_description& options,
           const po::positional_options_description& positional, po::variables_map& vm) {
  return parse_command(args, usage, options, positional, vm, "whatif data --help");
}

void refuse_existing_folder(const std::string& out) {
  if (fs::is_directory(out)) throw Error(out + ": is a folder; --out takes a file name");
}

int synth_chest(const std::vector<std::string>& args) {
  po::options_description options("synth chest options");
  options.add_options()("kind", po::value<std::string>()->required(), "chest")(
      "subjects", po::value<std::int64_t>()->default_value(16), "number of subjects (a baseline and follow-ups each)")(
      "size", po::value<std::int64_t>()->default_value(64), "CT grid size³, 32 to 128 (radiographs: (2 size)²)")(
      "modality", po::value<std::string>()->default_value("ct"), "ct (HU volumes) or cxr (PA radiographs)")(
      "followups", po::value<int>()->default_value(2), "follow-up scans per subject, 1 to 4")(
      "fov", po::value<double>()->default_value(360.0), "field of view in mm, 340 to 480")(
      "seed", po::value<std::uint64_t>()->default_value(0), "random seed")(
      "out", po::value<std::string>(), "output store (default chest-MODALITY-SIZE.h5)");
  po::positional_options_description positional;
  positional.add("kind", 1);
  po::variables_map vm;
  if (!parse_action(args, "usage: whatif data synth chest --subjects N --size S [--modality ct|cxr] [--followups F] "
                   "[--seed K] [--out F.h5]",
             options, positional, vm))
    return 0;
  data::ChestOptions chest;
  chest.size = vm["size"].as<std::int64_t>();
  chest.modality = vm["modality"].as<std::string>();
  chest.followups = vm["followups"].as<int>();
  chest.fov_mm = vm["fov"].as<double>();
  chest.seed = vm["seed"].as<std::uint64_t>();
  const std::int64_t subjects = vm["subjects"].as<std::int64_t>();
  if (subjects < 1) throw Error("synthetic-chest: --subjects " + std::to_string(subjects) + ": expected at least 1");
  const data::SyntheticChest generator(chest);
  const std::string out = vm.count("out") ? vm["out"].as<std::string>()
                                          : "chest-" + chest.modality + "-" + std::to_string(chest.size) + ".h5";
  refuse_existing_folder(out);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::int64_t> shape =
      chest.modality == "ct" ? std::vector<std::int64_t>{1, chest.size, chest.size, chest.size}
                             : std::vector<std::int64_t>{1, 2 * chest.size, 2 * chest.size};
  data::StoreWriter writer(out, shape, true, true);
  writer.set_root_attribute("source", "synthetic-chest");
  writer.set_root_attribute("modality", chest.modality);
  writer.set_root_attribute("timepoints", std::to_string(generator.timepoints()));
  writer.set_root_attribute("labels", "1 nodule, 2 pleural effusion, 3 consolidation, 4 emphysema, 5 cardiomegaly");
  writer.set_root_attribute("units", generator.units());
  writer.set_root_attribute("options", nlohmann::json{{"size", chest.size}, {"modality", chest.modality},
                                                      {"followups", chest.followups}, {"fov", chest.fov_mm},
                                                      {"seed", chest.seed}, {"subjects", subjects}}
                                           .dump());
  // The next subject is generated while the current one is compressed and written.
  std::future<std::vector<data::ChestScan>> next =
      std::async(std::launch::async, [&generator] { return generator.subject(0); });
  Progress progress(subjects, "synth chest " + chest.modality);
  for (std::int64_t s = 0; s < subjects; ++s) {
    const std::vector<data::ChestScan> scans = next.get();
    if (s + 1 < subjects) next = std::async(std::launch::async, [&generator, s] { return generator.subject(s + 1); });
    for (const auto& scan : scans) writer.append(scan.example, scan.prompt);
    progress.tick();
  }
  progress.finish();
  for (const auto& [a, b] : data::SyntheticChest::pairs(subjects, generator.timepoints())) writer.add_pair(a, b);
  writer.commit();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "wrote " << out << ": " << writer.size() << " examples (" << subjects << " subjects × "
            << generator.timepoints() << " time points) in " << std::fixed << std::setprecision(1) << seconds << " s\n";
  return 0;
}

int synth(const std::vector<std::string>& args) {
  if (!args.empty() && args.front() == "chest") return synth_chest(args);
  po::options_description options("synth options");
  options.add_options()("kind", po::value<std::string>()->required(), "brain")(
      "task", po::value<std::string>()->default_value("ms"), "ms (lesion load) or ad (cognition)")(
      "subjects", po::value<std::int64_t>()->default_value(16), "number of subjects (3 twins each)")(
      "size", po::value<std::int64_t>()->default_value(32), "32, 64 or 128")(
      "dims", po::value<int>()->default_value(3), "3, or 2 for one axial slice")(
      "seed", po::value<std::uint64_t>()->default_value(0), "random seed")(
      "templates", po::value<std::string>()->default_value("/usr/share/mricron/templates"),
      "folder with ch2bet, aal and JHU-WhiteMatter-labels-1mm")(
      "out", po::value<std::string>(), "output store (default brain-TASK-SIZE[-2d].h5)");
  po::positional_options_description positional;
  positional.add("kind", 1);
  po::variables_map vm;
  if (!parse_action(args, "usage: whatif data synth brain --task ms|ad --subjects N --size S [--dims 2|3] "
                   "[--seed K] [--out F.h5]",
             options, positional, vm))
    return 0;
  const std::string kind = vm["kind"].as<std::string>();
  if (kind != "brain")
    throw UsageError("data synth " + kind + ": unknown kind" + did_you_mean(kind, {"brain", "chest"}) +
                         " (available: brain, chest)");
  data::BrainOptions brain;
  brain.task = vm["task"].as<std::string>();
  brain.size = vm["size"].as<std::int64_t>();
  brain.dims = vm["dims"].as<int>();
  brain.seed = vm["seed"].as<std::uint64_t>();
  brain.templates = vm["templates"].as<std::string>();
  const std::int64_t subjects = vm["subjects"].as<std::int64_t>();
  if (subjects < 1) throw UsageError("--subjects must be at least 1");
  const std::string out = vm.count("out") ? vm["out"].as<std::string>()
                                          : "brain-" + brain.task + "-" + std::to_string(brain.size) +
                                                (brain.dims == 2 ? "-2d" : "") + ".h5";
  refuse_existing_folder(out);
  const auto start = std::chrono::steady_clock::now();
  const data::SyntheticBrain generator(brain);
  std::vector<std::int64_t> shape{1};
  for (int a = 0; a < brain.dims; ++a) shape.push_back(brain.size);
  data::StoreWriter writer(out, shape, true, true);
  writer.set_root_attribute("source", "synthetic-brain");
  writer.set_root_attribute("task", brain.task);
  writer.set_root_attribute("units", generator.units());
  writer.set_root_attribute("levels", generator.level_names()[0] + "," + generator.level_names()[1] + "," +
                                          generator.level_names()[2]);
  writer.set_root_attribute("options", nlohmann::json{{"task", brain.task}, {"size", brain.size},
                                                      {"dims", brain.dims}, {"seed", brain.seed},
                                                      {"subjects", subjects}, {"templates", brain.templates}}
                                           .dump());
  Progress progress(subjects, "synth " + brain.task);
  for (std::int64_t s = 0; s < subjects; ++s) {
    for (const auto& twin : generator.subject(s)) writer.append(twin.example, twin.prompt);
    progress.tick();
  }
  progress.finish();
  for (const auto& [a, b] : data::SyntheticBrain::pairs(subjects)) writer.add_pair(a, b);
  writer.commit();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "wrote " << out << ": " << writer.size() << " examples (" << subjects << " subjects × 3 twins) in "
            << std::fixed << std::setprecision(1) << seconds << " s\n";
  return 0;
}

// --size: "S" (cubic, square in 2D) or "X,Y,Z" in voxels, in NIfTI axis order.
std::array<std::int64_t, 3> parse_grid(const std::string& text) {
  std::array<std::int64_t, 3> size{0, 0, 0};
  std::vector<std::int64_t> values;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    std::size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || value < 1 || value > 4096)
      throw UsageError("--size '" + text + "': expected S or X,Y,Z, each a voxel count from 1 to 4096");
    values.push_back(value);
    start = comma + 1;
  }
  if (values.size() == 1) return {values[0], values[0], values[0]};
  if (values.size() != 3 && values.size() != 2)
    throw UsageError("--size '" + text + "': expected S or X,Y,Z (X,Y in 2D)");
  for (std::size_t a = 0; a < values.size(); ++a) size[a] = values[a];
  return size;
}

int import(const std::vector<std::string>& args) {
  po::options_description options("import options");
  options.add_options()("manifest", po::value<std::string>()->required(), "CSV or JSONL manifest")(
      "size", po::value<std::string>(), "output grid in voxels: S (cubic) or X,Y,Z (NIfTI axis order)")(
      "keep-grid", po::bool_switch(), "keep each file's own grid (reoriented to RAS only); all files must share it")(
      "spacing", po::value<double>()->default_value(0.0), "isotropic spacing in mm (default: fit the size)")(
      "normalize", po::value<std::string>()->default_value("percentile"),
      "percentile | window | none (none keeps the source's voxel type)")(
      "low", po::value<double>()->default_value(1.0), "low percentile, or window low (HU)")(
      "high", po::value<double>()->default_value(99.0), "high percentile, or window high (HU)")(
      "out", po::value<std::string>()->required(), "output store");
  po::positional_options_description positional;
  positional.add("manifest", 1);
  po::variables_map vm;
  if (!parse_action(args, "usage: whatif data import MANIFEST (--size S|X,Y,Z [--spacing MM] | --keep-grid) --out F.h5",
             options, positional, vm))
    return 0;
  const bool keep_grid = vm["keep-grid"].as<bool>();
  data::PreprocessOptions prep;
  prep.spacing = vm["spacing"].as<double>();
  prep.normalize = vm["normalize"].as<std::string>();
  prep.low = vm["low"].as<double>();
  prep.high = vm["high"].as<double>();
  if (keep_grid && (vm.count("size") || prep.spacing != 0.0))
    throw UsageError("--keep-grid keeps the source grid: leave out --size and --spacing");
  if (!keep_grid && !vm.count("size"))
    throw UsageError("give the output grid: --size S (cubic) or --size X,Y,Z, or --keep-grid to keep the source's");
  if (vm.count("size")) prep.size = parse_grid(vm["size"].as<std::string>());
  if (!std::isfinite(prep.spacing) || prep.spacing < 0) throw UsageError("--spacing must be a positive number of mm");
  const std::string out = vm["out"].as<std::string>();
  refuse_existing_folder(out);
  const auto rows = data::read_manifest(vm["manifest"].as<std::string>());
  std::unique_ptr<data::StoreWriter> writer;
  std::string first_image, voxel_type = "float32";
  std::vector<std::int64_t> first_shape;
  std::optional<Progress> progress;
  const std::string manifest = vm["manifest"].as<std::string>();
  for (const auto& row : rows) {
    const data::Volume source = [&] {
      try {
        return data::read_volume(row.image);
      } catch (const Error& e) {
        throw Error(manifest + ":" + std::to_string(row.line) + ": " + e.what());
      }
    }();
    Example e;
    e.attributes = row.attributes;
    const data::Volume volume = data::preprocess(source, prep, e.attributes);
    e.image = volume.voxels.unsqueeze(0);
    e.text = row.text;
    e.subject = row.subject;
    data::set_geometry(e, volume.geometry);
    if (!writer) {
      first_image = row.image;
      first_shape = e.image.sizes().vec();
      if (prep.normalize == "none") voxel_type = source.source_type;
      writer = std::make_unique<data::StoreWriter>(out, e.image.sizes().vec(), false, false, voxel_type);
      writer->set_root_attribute("source", vm["manifest"].as<std::string>());
      writer->set_root_attribute("units", data::intensity_units(prep));
      writer->set_root_attribute("preprocessing",
                                 nlohmann::json{{"size", keep_grid ? nlohmann::json("source grid") : nlohmann::json(prep.size)},
                                                {"spacing", prep.spacing}, {"normalize", prep.normalize},
                                                {"low", prep.low}, {"high", prep.high}, {"orientation", "RAS"}}
                                     .dump());
    }
    if (prep.normalize == "none" && source.source_type != voxel_type)
      throw Error(row.image + ": voxels are " + source.source_type + " but " + first_image + "'s are " + voxel_type +
                  "; with --normalize none every file must have one voxel type (or normalise)");
    if (e.image.sizes().vec() != first_shape)
      throw Error(row.image + ": its grid " + c10::str(e.image.sizes().slice(1)) + " differs from " + first_image +
                  "'s " + c10::str(at::IntArrayRef(first_shape).slice(1)) +
                  (keep_grid ? "; --keep-grid needs one grid for all files (use --size to resample)"
                             : "; give --size for every axis"));
    try {
      writer->append(e);
    } catch (const Error& error) {
      throw Error(row.image + ": " + error.what());
    }
    if (!progress) {
      progress.emplace(static_cast<std::int64_t>(rows.size()), "import");
      progress->set_patience(2.0);  // a quick import (or a bad second file) prints no bar
    }
    progress->tick();
  }
  progress->finish();
  writer->commit();
  std::cout << "wrote " << out << ": " << writer->size() << " examples, " << voxel_type << "\n";
  return 0;
}

void add_store(po::options_description& options, po::positional_options_description& positional) {
  options.add_options()("store", po::value<std::string>()->required(), "dataset store (.h5)");
  positional.add("store", 1);
}

std::int64_t checked_index(const data::StoreReader& store, std::int64_t index) {
  if (index < 0 || index >= store.size())
    throw Error(store.path() + ": --index " + std::to_string(index) + " is out of range (0.." +
                std::to_string(store.size() - 1) + ")");
  return index;
}

int info(const std::vector<std::string>& args) {
  po::options_description options("info options");
  po::positional_options_description positional;
  add_store(options, positional);
  po::variables_map vm;
  if (!parse_action(args, "usage: whatif data info F.h5", options, positional, vm)) return 0;
  const data::StoreReader store(vm["store"].as<std::string>());
  const auto row = [](const std::string& key) -> std::ostream& {
    return std::cout << std::left << std::setw(12) << key;
  };
  std::set<std::string> subjects;
  for (std::int64_t i = 0; i < store.size(); ++i) subjects.insert(store.example(i).subject);
  row("file") << store.path() << "\n";
  row("examples") << store.size() << " (" << subjects.size() << " subjects)\n";
  row("image") << c10::str(at::IntArrayRef(store.shape())) << " " << store.voxel_type() << ", " << store.dims() << "D"
               << (store.has_masks() ? ", with masks" : "") << "\n";
  if (store.size() > 0) {
    const Example e = store.example(0);
    row("spacing") << e.spacing[0] << " × " << e.spacing[1] << " × " << e.spacing[2] << " mm (example 0)\n";
  }
  row("pairs") << store.pairs().size() << "\n";
  std::string names;
  for (const auto& n : store.attribute_names()) names += (names.empty() ? "" : ", ") + n;
  row("attributes") << (names.empty() ? "none" : names) << "\n";
  for (const auto& [key, value] : store.root_attributes()) row(key) << value << "\n";
  if (store.size() > 0) {
    row("text[0]") << store.text(0) << "\n";
    if (store.has_prompts()) row("prompt[0]") << store.prompt(0) << "\n";
  }
  return 0;
}

int show(const std::vector<std::string>& args) {
  po::options_description options("show options");
  po::positional_options_description positional;
  add_store(options, positional);
  options.add_options()("index", po::value<std::int64_t>()->default_value(0), "example index")(
      "png", po::value<std::string>()->required(), "output PNG");
  po::variables_map vm;
  if (!parse_action(args, "usage: whatif data show F.h5 --index I --png out.png", options, positional, vm)) return 0;
  const data::StoreReader store(vm["store"].as<std::string>());
  const std::string png = vm["png"].as<std::string>();
  data::write_montage_png(store.example(checked_index(store, vm["index"].as<std::int64_t>())), png);
  std::cout << "wrote " << png << "\n";
  return 0;
}

int export_nifti(const std::vector<std::string>& args) {
  po::options_description options("export options");
  po::positional_options_description positional;
  add_store(options, positional);
  options.add_options()("index", po::value<std::int64_t>()->default_value(0), "example index")(
      "nifti", po::value<std::string>()->required(), "output image (.nii.gz; .nrrd and .mha work too)")(
      "mask", po::value<std::string>(), "also write the example's mask here");
  po::variables_map vm;
  if (!parse_action(args, "usage: whatif data export F.h5 --index I --nifti out.nii.gz [--mask mask.nii.gz]", options,
             positional, vm))
    return 0;
  const data::StoreReader store(vm["store"].as<std::string>());
  const Example e = store.example(checked_index(store, vm["index"].as<std::int64_t>()));
  const data::Geometry geometry = data::geometry_of(e);
  if (e.image.size(0) != 1)
    throw Error(store.path() + ": example has " + std::to_string(e.image.size(0)) +
                " channels; NIfTI export takes single-channel images");
  const std::string out = vm["nifti"].as<std::string>();
  // The mask first: a failure leaves neither file.
  if (vm.count("mask") && !e.mask.defined()) throw Error(store.path() + ": the store has no masks to export");
  if (vm.count("mask")) data::write_volume(data::Volume{e.mask[0].to(at::kFloat), geometry}, vm["mask"].as<std::string>());
  try {
    data::write_volume(data::Volume{e.image[0], geometry}, out);
  } catch (const Error&) {
    std::error_code ec;
    if (vm.count("mask")) fs::remove(vm["mask"].as<std::string>(), ec);
    throw;
  }
  std::cout << "wrote " << out << "\n";
  if (vm.count("mask")) {
    const std::string mask = vm["mask"].as<std::string>();
    std::cout << "wrote " << mask << "\n";
  }
  return 0;
}

int measure(const std::vector<std::string>& args) {
  po::options_description options("measure options");
  po::positional_options_description positional;
  add_store(options, positional);
  po::variables_map vm;
  if (!parse_action(args, "usage: whatif data measure F.h5", options, positional, vm)) return 0;
  const data::StoreReader store(vm["store"].as<std::string>());
  const auto root = store.root_attributes();
  if (root.count("source") == 0 || root.at("source") != "synthetic-chest" || store.dims() != 3)
    throw Error(store.path() + ": not a synthetic-chest CT store (make one with whatif data synth chest --modality ct)");
  const auto result = data::calibrate_chest_measures(store.pairs(), [&](std::int64_t i) { return store.example(i); });
  std::cout << "pairs " << result.at("pairs") << " (scales fitted on even subjects, errors on odd subjects)\n";
  std::cout << std::left << std::setw(20) << "measure" << std::setw(10) << "scale" << std::setw(12) << "error"
            << std::setw(14) << "mean |truth|" << "correlation\n";
  for (const char* name : {"effusion_ml", "consolidation_ml", "nodule_ml", "emphysema_percent", "ctr"}) {
    const std::string n = name;
    std::cout << std::setw(20) << n << std::fixed << std::setprecision(3) << std::setw(10) << result.at(n + "_scale")
              << std::setw(12) << result.at(n + "_error") << std::setw(14) << result.at(n + "_truth")
              << result.at(n + "_correlation") << "\n";
  }
  return 0;
}

}  // namespace

int command_data(const std::vector<std::string>& args) {
  static const std::map<std::string, int (*)(const std::vector<std::string>&)> actions{
      {"synth", synth},         {"import", import},         {"info", info},
      {"show", show},           {"export", export_nifti},   {"measure", measure}};
  try {
    if (args.empty()) {
      std::cerr << kDataUsage;
      return 2;
    }
    if (args.front() == "--help" || args.front() == "-h") {
      std::cout << kDataUsage;
      return 0;
    }
    const auto it = actions.find(args.front());
    if (it == actions.end()) {
      std::vector<std::string> names;
      for (const auto& [name, fn] : actions) names.push_back(name);
      throw UsageError("data " + args.front() + ": unknown action" + did_you_mean(args.front(), names) +
                           " (see whatif data --help)");
    }
    return it->second(std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const UsageError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace whatif
