// The plugin's one registration function and its ABI entry.
#include <whatif/registry/fields.hpp>
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "attribute_metrics.hpp"
#include "fid.hpp"
#include "interpretation_metric.hpp"
#include "similarity.hpp"
#include "similarity_metrics.hpp"

namespace {

using whatif::OptionType;

const whatif::OptionSpec kDataRange{"data_range", OptionType::Double, 2.0,
                                    "intensity range R = max − min (2 for data in [-1, 1])"};

// The classifier behind fid and text-alignment; defaults are ClassifierOptions'.
const whatif::Fields<whatif_metrics::ClassifierOptions>& classifier_fields() {
  using C = whatif_metrics::ClassifierOptions;
  static const whatif::Fields<C> fields = whatif::Fields<C>()
      .add("attribute", &C::attribute, "the attribute the classifier learns to tell apart")
      .add("steps", &C::steps, "classifier training steps")
      .add("batch", &C::batch, "classifier batch size")
      .add("width", &C::width, "channels of the classifier's first convolution")
      .add("lr", &C::lr, "classifier learning rate (AdamW)")
      .add("pooling", &C::pooling, "mean or max: how the classifier pools its last map (max for findings of a few voxels)");
  return fields;
}

whatif_metrics::ClassifierOptions classifier_options(const whatif::Options& o) {
  whatif_metrics::ClassifierOptions c;
  classifier_fields().read(o, c);
  return c;
}

void add_paired(whatif::Registry& registry, const std::string& name, const std::string& key,
                whatif_metrics::Similarity similarity, const std::string& doc) {
  registry.add<whatif::Metric>("metric", name, doc, {kDataRange},
                               [key, similarity](const whatif::Options& o) {
                                 return std::make_shared<whatif_metrics::PairedSimilarityMetric>(
                                     key, similarity, o.get_double("data_range"));
                               });
}

void register_components(whatif::Registry& registry) {
  add_paired(registry, "psnr", "psnr", &whatif_metrics::psnr,
             "peak signal-to-noise ratio of generated vs reference, dB, mean over examples");
  add_paired(registry, "ssim", "ssim", &whatif_metrics::ssim,
             "SSIM (Wang et al. 2004) of generated vs reference, 2D or 3D, mean over examples");
  add_paired(registry, "ms-ssim", "ms_ssim", &whatif_metrics::ms_ssim,
             "multi-scale SSIM (Wang et al. 2003) of generated vs reference, 2D or 3D, scales "
             "adapted to small volumes");
  registry.add<whatif::Metric>(
      "metric", "interpretation",
      "generated texts against their ground truth (item.texts, item.reference_texts): BLEU-4, "
      "ROUGE-L and the parsed findings' precision, recall and F1",
      {}, [](const whatif::Options&) { return std::make_shared<whatif_metrics::InterpretationMetric>(); });
  registry.add<whatif::Metric>(
      "metric", "diversity",
      "mean MS-SSIM over pairs of samples within each item (lower = more diverse)", {kDataRange},
      [](const whatif::Options& o) {
        return std::make_shared<whatif_metrics::DiversityMetric>(o.get_double("data_range"));
      });
  registry.add<whatif::Metric>(
      "metric", "subject-preservation",
      "MS-SSIM and PSNR of each counterfactual to its source, and to its ground-truth twin "
      "(item.reference) when given",
      {kDataRange}, [](const whatif::Options& o) {
        return std::make_shared<whatif_metrics::SubjectPreservationMetric>(
            o.get_double("data_range"));
      });
  std::vector<whatif::OptionSpec> fid_options{
      {"extractor", OptionType::String, std::string(),
       "TorchScript feature extractor, forward(x [B,C,(D,)H,W]) -> [B,...]; empty: the attribute "
       "classifier's penultimate features after fit(dataset), fixed intensity-pyramid features "
       "before"}};
  const auto classifier_schema = classifier_fields().schema();
  fid_options.insert(fid_options.end(), classifier_schema.begin(), classifier_schema.end());
  registry.add<whatif::Metric>(
      "metric", "fid",
      "Fréchet distance (Heusel et al. 2017) between Gaussian fits of reference and generated "
      "features",
      fid_options, [](const whatif::Options& o) {
        return std::make_shared<whatif_metrics::FidMetric>(o.get_string("extractor"), classifier_options(o));
      });
  registry.add<whatif::Metric>(
      "metric", "text-alignment",
      "fraction of generated volumes an attribute classifier, trained on the real training split "
      "by fit(dataset), assigns to the requested class; its held-out accuracy on real volumes "
      "beside it",
      classifier_fields().schema(), [](const whatif::Options& o) {
        return std::make_shared<whatif_metrics::TextAlignmentMetric>(classifier_options(o));
      });
  registry.add<whatif::Metric>(
      "metric", "effectiveness",
      "volume that changed between a counterfactual and its source (darker by > delta for a "
      "higher requested level) against the change real twins show; fit(dataset) reads the twins",
      {{"attribute", OptionType::String, std::string("lesion_volume_ml"),
        "ground-truth volume attribute (ml) the change is compared with"},
       {"level", OptionType::String, std::string("level"), "attribute naming a twin's level"},
       {"delta", OptionType::Double, 0.1, "intensity change (image units) that counts a voxel as changed"}},
      [](const whatif::Options& o) {
        return std::make_shared<whatif_metrics::EffectivenessMetric>(whatif_metrics::EffectivenessOptions{
            o.get_string("attribute"), o.get_string("level"), o.get_double("delta")});
      });
  registry.add<whatif::Metric>(
      "metric", "chest-change",
      "chest CT twins: effusion per side, consolidation and nodules grown between source and generated, "
      "read from HU without masks, against the true change their attributes state; fit(dataset) reads the grid",
      {{"window", OptionType::DoubleList, std::vector<double>{},
        "{} for HU; {low, high} for volumes mapped low -> 0, high -> 1 (mapped back before measuring)"}},
      [](const whatif::Options& o) { return std::make_shared<whatif_metrics::ChestChangeMetric>(o.get_doubles("window")); });
  std::vector<whatif::OptionSpec> augmentation_options{
      {"attributes", OptionType::StringList, std::vector<std::string>{},
       "the finding's attribute(s), summed per example (effusion: effusion_right_ml, effusion_left_ml)"},
      {"threshold", OptionType::Double, 0.0, "an example shows the finding when the sum exceeds this"}};
  for (const auto& spec : classifier_schema)
    if (spec.name != "attribute") augmentation_options.push_back(spec);
  registry.add<whatif::Metric>(
      "metric", "augmentation-utility",
      "ROC AUC on held-out real volumes (item.reference) of a finding classifier trained on the real "
      "dataset of fit(dataset) only, and on it plus the generated volumes (item.generated), each "
      "labelled by item.attributes",
      augmentation_options, [](const whatif::Options& o) {
        whatif_metrics::ClassifierOptions c;
        c.steps = o.get_int("steps");
        c.batch = o.get_int("batch");
        c.width = o.get_int("width");
        c.lr = o.get_double("lr");
        c.pooling = o.get_string("pooling");
        return std::make_shared<whatif_metrics::AugmentationUtilityMetric>(
            whatif_metrics::AugmentationOptions{o.get_strings("attributes"), o.get_double("threshold"), c});
      });
}

}  // namespace

WHATIF_PLUGIN("metrics", "0.1.0", register_components)
