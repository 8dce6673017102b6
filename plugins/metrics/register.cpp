// The plugin's one registration function and its ABI entry.
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "fid.hpp"
#include "similarity.hpp"
#include "similarity_metrics.hpp"

namespace {

using whatif::OptionType;

const whatif::OptionSpec kDataRange{"data_range", OptionType::Double, 2.0,
                                    "intensity range R = max − min (2 for data in [-1, 1])"};

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
  registry.add<whatif::Metric>(
      "metric", "fid",
      "Fréchet distance (Heusel et al. 2017) between Gaussian fits of reference and generated "
      "features",
      {{"extractor", OptionType::String, std::string(),
        "TorchScript feature extractor, forward(x [B,C,(D,)H,W]) -> [B,...]; empty: fixed "
        "intensity-pyramid features"}},
      [](const whatif::Options& o) {
        return std::make_shared<whatif_metrics::FidMetric>(o.get_string("extractor"));
      });
}

}  // namespace

WHATIF_PLUGIN("metrics", "0.1.0", register_components)
