#include "model/requests.hpp"

namespace whatif {

const Fields<TrainConfig>& train_fields() {
  using T = TrainConfig;
  static const Fields<T> fields = Fields<T>()
      .add("steps", &T::steps, "optimizer steps")
      .add("accumulate", &T::accumulate, "micro-batches per step")
      .add("lr", &T::lr, "peak learning rate")
      .add("warmup", &T::warmup, "linear warmup steps")
      .add("min_lr_ratio", &T::min_lr_ratio, "final lr / peak lr (cosine decay)")
      .add("weight_decay", &T::weight_decay, "AdamW weight decay")
      .add("grad_clip", &T::grad_clip, "global gradient norm clip (0 = off)")
      .add("ema_decay", &T::ema_decay, "EMA decay, warmed up as min(decay, (1+step)/(10+step)) (0 = off)")
      .add("bf16", &T::bf16, "bf16 autocast")
      .add("seed", &T::seed, "training seed")
      .add("checkpoint", &T::checkpoint, "checkpoint file (relative to the run directory)")
      .add("checkpoint_every", &T::checkpoint_every, "steps between checkpoints (0 = end only)");
  return fields;
}

const Fields<FitRequest>& part_fit_fields() {
  using R = FitRequest;
  static const Fields<R> fields =
      Fields<R>()
          .nest<TrainConfig>(train_fields(), [](R& r) -> TrainConfig& { return r.train; })
          .add("batch_size", &R::batch_size, "examples per micro-batch");
  return fields;
}

const Fields<FitRequest>& fit_fields() {
  using R = FitRequest;
  static const Fields<R> fields =
      Fields<R>(part_fit_fields())
          .add("cache", &R::latent_cache, "latent cache file (HDF5, relative to the run directory); \"\" = in memory")
          .add("attributes", &R::attributes, "dataset attributes the conditioning sees, in order (default: all)");
  return fields;
}

const Fields<Sampling>& sampling_fields() {
  using S = Sampling;
  static const Fields<S> fields = Fields<S>()
      .add("seed", &S::seed, "seed of the starting noise (or of token sampling)")
      .add("steps", &S::steps, "sampler steps")
      .add("guidance", &S::guidance, "classifier-free guidance w (0 = unconditional)")
      .add("t_start", &S::t_start, "time sampling starts from (1 = pure noise)")
      .add("temperature", &S::temperature, "token sampling temperature")
      .add("top_k", &S::top_k, "sample among the k likeliest tokens (0 = all)")
      .add("top_p", &S::top_p, "sample among the likeliest tokens holding this probability (1 = all)")
      .add("max_text_length", &S::max_text_length, "text tokens written after the image, at most");
  return fields;
}

const Fields<Condition>& condition_fields() {
  using C = Condition;
  static const Fields<C> fields = Fields<C>()
      .add("prompts", &C::prompts, "one example per prompt")
      .add("count", &C::count, "unconditional examples");
  return fields;
}

const Fields<CounterfactualRequest>& counterfactual_fields() {
  using R = CounterfactualRequest;
  static const Fields<R> fields = Fields<R>()
      .add("protocol", &R::protocol, "fixed-noise | inversion | prior-conditioned")
      .add("strength", &R::strength, "inversion: invert up to t = strength");
  return fields;
}

const Fields<Decoding>& decoding_fields() {
  using D = Decoding;
  static const Fields<D> fields = Fields<D>()
      .add("decode_tile", &D::tile, "decode tile by tile, this many latent voxels a side (0 = whole)")
      .add("decode_overlap", &D::overlap, "overlap of decoding tiles, latent voxels");
  return fields;
}

namespace {

// The sampling fields `family` reads, then the decoding fields.
Schema sampling_schema(const ModelFamily& family) {
  Schema schema;
  for (auto& spec : sampling_fields().schema())
    if (family.sampling.count(spec.name)) schema.push_back(spec);
  for (auto& spec : decoding_fields().schema()) schema.push_back(spec);
  return schema;
}

}  // namespace

Schema generate_schema(const ModelFamily& family) {
  Schema schema = condition_fields().schema();
  for (auto& spec : sampling_schema(family)) schema.push_back(spec);
  return schema;
}

Schema counterfactual_schema(const ModelFamily& family) {
  Schema schema = counterfactual_fields().schema();
  for (auto& spec : sampling_schema(family)) schema.push_back(spec);
  return schema;
}

Sampling read_sampling(const Options& resolved, const ModelFamily& family) {
  Sampling s;
  for (const auto& e : sampling_fields().entries())
    if (family.sampling.count(e.spec.name)) e.set(resolved, s);
  return s;
}

}  // namespace whatif
