// Vision towers: image → feature vector, the image side of whatif.clip.
#include <whatif/registry/fields.hpp>
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "resnet.hpp"
#include "vit.hpp"

namespace {

// Options of vision/resnet; defaults are ResNetConfig's.
const whatif::Fields<whatif_vision::ResNetConfig>& resnet_fields() {
  using R = whatif_vision::ResNetConfig;
  static const whatif::Fields<R> fields = whatif::Fields<R>()
      .add("spatial_dims", &R::spatial_dims, "2 or 3")
      .add("in_channels", &R::in_channels, "image channels")
      .add("channels", &R::channels, "width of each stage; every stage after the first halves the resolution")
      .add("blocks", &R::blocks, "residual blocks per stage")
      .add("groups", &R::groups, "GroupNorm groups (must divide every width)")
      .add("width", &R::width, "output features")
      .add("pooling", &R::pooling, "mean, max or mean-max: how the last stage is pooled (max terms see small findings)");
  return fields;
}

// Options of vision/vit; defaults are ViTConfig's.
const whatif::Fields<whatif_vision::ViTConfig>& vit_fields() {
  using V = whatif_vision::ViTConfig;
  static const whatif::Fields<V> fields = whatif::Fields<V>()
      .add("spatial_dims", &V::spatial_dims, "2 or 3")
      .add("in_channels", &V::in_channels, "image channels")
      .add("patch", &V::patch, "patch side in voxels (image sizes must be multiples of it)")
      .add("hidden", &V::hidden, "token width")
      .add("layers", &V::layers, "transformer blocks")
      .add("heads", &V::heads, "attention heads (must divide hidden)")
      .add("mlp_ratio", &V::mlp_ratio, "MLP hidden width / hidden")
      .add("width", &V::width, "output features");
  return fields;
}

void register_components(whatif::Registry& registry) {
  registry.add<whatif::VisionEncoder>(
      "vision", "resnet", "pre-activation residual network (2D/3D, GroupNorm) pooled to a feature vector",
      resnet_fields().schema(), [](const whatif::Options& o) {
        whatif_vision::ResNetConfig config;
        resnet_fields().read(o, config);
        config.check();
        return std::make_shared<whatif_vision::ResNetEncoder>(config);
      });
  registry.add<whatif::VisionEncoder>(
      "vision", "vit", "vision transformer (2D/3D patches, sinusoidal positions, class token) to a feature vector",
      vit_fields().schema(), [](const whatif::Options& o) {
        whatif_vision::ViTConfig config;
        vit_fields().read(o, config);
        config.check();
        return std::make_shared<whatif_vision::ViTEncoder>(config);
      });
}

}  // namespace

WHATIF_PLUGIN("vision", "0.1.0", register_components)
