#pragma once
// The models a run saved (model:save), rebuilt from their files alone: a saved model records its
// family in `format` ("whatif-<family>-1"), every part's registry kind, name and resolved options
// and the family's own options in `config`, and its weights. Training checkpoints are not models
// (they lack the image shape and attribute names a model needs to sample) and are not listed.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "whatif/data/volume.hpp"
#include "whatif/model.hpp"
#include "whatif/registry/registry.hpp"

namespace whatif {

struct SavedModel {
  std::string id;      // path relative to the run directory
  std::string path;
  std::string family;  // "diffusion"
  std::vector<std::string> attributes;      // attribute names it was trained on ({} = prompts)
  std::vector<std::int64_t> image_shape;    // [C, (D,) H, W]
  bool text = false;                        // has a text encoder (takes prompts)
  data::Geometry geometry;                  // grid of its training data (1 mm at the origin if unrecorded)
};

// Saved models in `run_dir` and its arm folders (one level down), sorted by id.
std::vector<SavedModel> find_saved_models(const std::string& run_dir);

// Called after each sampler step with (step, steps) while the model samples.
using StepCallback = std::function<void(std::int64_t, std::int64_t)>;

// Builds the model's parts through `registry` from the recorded config, the family's model from
// them, and loads the weights. With `on_step`, the sampler reports every step to it.
std::shared_ptr<Model> rebuild_model(const SavedModel& saved, const Registry& registry,
                                     StepCallback on_step = {});

}  // namespace whatif
