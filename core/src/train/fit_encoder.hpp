#pragma once
// Trains a learnable encoder (the kl-vae) on a dataset through the common Trainer, then calibrates
// its latent scale on a sample of the data.
#include <map>
#include <string>
#include <vector>

#include "whatif/trainer.hpp"

namespace whatif {

class Dataset;
class Encoder;

struct EncoderFit {
  TrainResult train;
  std::map<std::string, std::vector<double>> logs;  // per step: "psnr", "l1", "kl", ...
  double scale = 1.0;                               // what calibrate() set
  // After training and calibration, in eval mode: PSNR of decode(encode(x)) over the calibration
  // sample, with R = max − min of those images. Also set when the checkpoint was already complete.
  double recon_psnr = 0.0;
};

EncoderFit fit_encoder(Encoder& encoder, const Dataset& data, TrainConfig config,
                       std::int64_t batch_size, std::int64_t calibration_examples = 64);

}  // namespace whatif
