#pragma once
// The options of fit, generate and counterfactual requests as they appear to scripts, each bound to
// its field in the request structs of whatif/model.hpp: the structs hold every default once, and the
// Lua schemas, their docs and `whatif plugins info model/NAME` are generated from them.
#include "whatif/model.hpp"
#include "whatif/model_family.hpp"
#include "whatif/registry/fields.hpp"

namespace whatif {

// steps, accumulate, lr, warmup, min_lr_ratio, weight_decay, grad_clip, ema_decay, bf16, seed,
// checkpoint, checkpoint_every (what every trained thing takes, models and encoders alike)
const Fields<TrainConfig>& train_fields();
// train_fields() + batch_size: what a trainable part's fit takes (encoder:fit)
const Fields<FitRequest>& part_fit_fields();
// part_fit_fields() + cache, attributes: what model:fit takes
const Fields<FitRequest>& fit_fields();
// seed, steps, guidance, t_start, temperature, top_k, top_p, max_text_length
const Fields<Sampling>& sampling_fields();
// prompts, count (attribute rows and prior volumes are read apart: they are not options)
const Fields<Condition>& condition_fields();
// protocol, strength
const Fields<CounterfactualRequest>& counterfactual_fields();
// decode_tile, decode_overlap
const Fields<Decoding>& decoding_fields();

// What a family's generate takes: condition_fields(), the sampling fields it reads, decoding_fields().
Schema generate_schema(const ModelFamily& family);
// What a family's counterfactual takes: counterfactual_fields(), its sampling fields, decoding_fields().
Schema counterfactual_schema(const ModelFamily& family);
// The sampling fields `family` reads, filled from options resolved against one of those schemas.
Sampling read_sampling(const Options& resolved, const ModelFamily& family);

}  // namespace whatif
