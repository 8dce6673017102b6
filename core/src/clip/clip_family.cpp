// The `clip` model family: whatif.clip{image =, text =, embed_dim =, temperature =,
// max_logit_scale =, bf16 =, mask_weight =}.
#include "clip/clip_model.hpp"
#include "whatif/model_family.hpp"

namespace whatif {

ModelFamily clip_family() {
  ModelFamily f;
  f.name = "clip";
  f.doc = "ClipModel{image, text}: contrastive image–text pretraining (symmetric InfoNCE, learned temperature); "
          "embeds images and texts in one space";
  f.parts = {"image", "text"};
  f.options = ClipConfig::fields().schema();
  f.sampling = {};
  f.make = [](const ModelParts& p) -> std::shared_ptr<Model> {
    ClipParts parts;
    parts.image = p.get<VisionEncoder>("image", true);
    parts.text = p.get<TextEncoder>("text", true);
    ClipConfig config;
    ClipConfig::fields().read(p.options, config);
    return std::make_shared<ClipModel>(std::move(parts), config);
  };
  return f;
}

}  // namespace whatif
