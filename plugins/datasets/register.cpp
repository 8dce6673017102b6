// The datasets plugin's one registration function and its ABI entry.
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "hdf5_dataset.hpp"
#include "manifest_dataset.hpp"
#include "synthetic_brain_dataset.hpp"
#include "synthetic_chest_dataset.hpp"

namespace {

using whatif::OptionType;

void register_components(whatif::Registry& registry) {
  registry.add<whatif::Dataset>(
      "dataset", "hdf5", "a whatif HDF5 dataset store (docs/data.md), streamed from disk",
      {{"path", OptionType::String, std::string(), "store file (.h5)"},
       {"text", OptionType::String, std::string("text"), "what Example::text holds: text (report) or prompt"}},
      [](const whatif::Options& o) {
        if (o.get_string("path").empty()) throw whatif::Error("option 'path' is required (a .h5 store)");
        return std::make_shared<whatif_datasets::Hdf5Dataset>(o.get_string("path"), o.get_string("text"));
      });
  registry.add<whatif::Dataset>(
      "dataset", "nifti-manifest",
      "image files (NIfTI, NRRD, MHA, DICOM folder, PNG) listed in a CSV or JSONL manifest",
      {{"manifest", OptionType::String, std::string(), "manifest file (.csv or .jsonl)"},
       {"size", OptionType::Int, std::int64_t{0}, "cubic output size (0 keeps the size)"},
       {"spacing", OptionType::Double, 0.0, "isotropic spacing in mm (0: keep, or fit `size`)"},
       {"normalize", OptionType::String, std::string("percentile"), "percentile | window | none"},
       {"low", OptionType::Double, 1.0, "low percentile, or window low (HU)"},
       {"high", OptionType::Double, 99.0, "high percentile, or window high (HU)"}},
      [](const whatif::Options& o) {
        if (o.get_string("manifest").empty()) throw whatif::Error("option 'manifest' is required");
        whatif::data::PreprocessOptions p;
        const std::int64_t size = o.get_int("size");
        p.size = {size, size, size};
        p.spacing = o.get_double("spacing");
        p.normalize = o.get_string("normalize");
        p.low = o.get_double("low");
        p.high = o.get_double("high");
        return std::make_shared<whatif_datasets::ManifestDataset>(o.get_string("manifest"), p);
      });
  registry.add<whatif::Dataset>(
      "dataset", "synthetic-brain",
      "brain MRI twins with ground truth from real anatomy: MS lesion load or AD atrophy",
      {{"task", OptionType::String, std::string("ms"), "ms (lesion load) or ad (cognition)"},
       {"subjects", OptionType::Int, std::int64_t{16}, "subjects (3 twins each)"},
       {"size", OptionType::Int, std::int64_t{32}, "32, 64 or 128"},
       {"dims", OptionType::Int, std::int64_t{3}, "3, or 2 for one axial slice"},
       {"seed", OptionType::Int, std::int64_t{0}, "random seed"},
       {"text", OptionType::String, std::string("text"),
        "report (text), short prompt (prompt), or progression: the prompt, a line break, the report "
        "(what the autoregressive family trains on)"},
       {"templates", OptionType::String, std::string("/usr/share/mricron/templates"),
        "folder with ch2bet, aal and JHU-WhiteMatter-labels-1mm"}},
      [](const whatif::Options& o) {
        whatif::data::BrainOptions b;
        b.task = o.get_string("task");
        b.size = o.get_int("size");
        b.dims = static_cast<int>(o.get_int("dims"));
        b.seed = static_cast<std::uint64_t>(o.get_int("seed"));
        b.templates = o.get_string("templates");
        return std::make_shared<whatif_datasets::SyntheticBrainDataset>(b, o.get_int("subjects"),
                                                                        o.get_string("text"));
      });
  registry.add<whatif::Dataset>(
      "dataset", "synthetic-chest",
      "longitudinal chest CT (HU) or radiographs with exact findings, reports and interpretations",
      {{"modality", OptionType::String, std::string("ct"), "ct (HU volumes [1, S, S, S]) or cxr (radiographs [1, 2S, 2S])"},
       {"subjects", OptionType::Int, std::int64_t{16}, "subjects (a baseline and `followups` scans each)"},
       {"size", OptionType::Int, std::int64_t{64}, "CT grid size³, 32 to 128"},
       {"followups", OptionType::Int, std::int64_t{2}, "follow-up scans per subject, 1 to 4"},
       {"fov", OptionType::Double, 360.0, "field of view in mm, 340 to 480 (spacing = fov / size)"},
       {"seed", OptionType::Int, std::int64_t{0}, "random seed"},
       {"text", OptionType::String, std::string("text"),
        "report (text); prompt: the interpretation against the baseline (a baseline's impression); or "
        "progression: the change in a few words, a line break, the interpretation (a baseline: its impression)"},
       {"window", OptionType::DoubleList, std::vector<double>{},
        "{} keeps the intensities; {low, high} maps them linearly, low -> 0 and high -> 1 (unclipped)"}},
      [](const whatif::Options& o) {
        whatif::data::ChestOptions c;
        c.modality = o.get_string("modality");
        c.size = o.get_int("size");
        c.followups = static_cast<int>(o.get_int("followups"));
        c.fov_mm = o.get_double("fov");
        c.seed = static_cast<std::uint64_t>(o.get_int("seed"));
        return std::make_shared<whatif_datasets::SyntheticChestDataset>(c, o.get_int("subjects"),
                                                                        o.get_string("text"), o.get_doubles("window"));
      });
}

}  // namespace

WHATIF_PLUGIN("datasets", "0.1.0", register_components)
