#pragma once
// Sliding-window encoding and decoding for any Encoder: the input is cut into overlapping tiles,
// each tile goes through the encoder on its own, and the outputs are blended with weights that fall
// to zero towards each tile's inner edges (see axis_weights in tiling.cpp), so memory is bounded by one tile while the result approximates
// the whole-volume pass (exactly, for encoders without spatial context such as identity and haar).
// Runs under InferenceMode and blends in fp64.
#include "whatif/encoder.hpp"

namespace whatif {

enum class TileBlend { Linear, Cosine };

struct Tiling {
  std::int64_t tile = 16;    // tile side, in voxels of the input (latent voxels for decoding)
  std::int64_t overlap = 4;  // minimum overlap of neighbouring tiles, same units; < tile
  TileBlend blend = TileBlend::Cosine;
};

// decode(z) one tile of latents at a time: tile and overlap count latent voxels.
at::Tensor tiled_decode(Encoder& encoder, const at::Tensor& z, const Tiling& tiling);
// encode(x) one tile of the image at a time; tile starts must map to whole latent voxels, so tile
// and overlap should be multiples of the encoder's downsampling factor.
at::Tensor tiled_encode(Encoder& encoder, const at::Tensor& x, const Tiling& tiling);

}  // namespace whatif
