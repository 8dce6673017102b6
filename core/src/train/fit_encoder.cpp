#include "train/fit_encoder.hpp"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include "train/data_description.hpp"
#include "util/progress.hpp"
#include "whatif/batch_sampler.hpp"
#include "whatif/dataset.hpp"
#include "whatif/encoder.hpp"
#include "whatif/registry/error.hpp"

namespace whatif {

EncoderFit fit_encoder(Encoder& encoder, const Dataset& data, TrainConfig config, std::int64_t batch_size,
                       std::int64_t calibration_examples) {
  if (!encoder.learnable())
    throw Error(encoder.identity().label() + " has nothing to train");
  const std::int64_t n = data.size();
  if (n == 0) throw Error("encoder fit: the dataset is empty");
  std::vector<at::Tensor> images;
  {
    Progress progress(n, "reading data");
    for (std::int64_t i = 0; i < n; ++i) {
      images.push_back(data.get(i).image);
      progress.tick();
    }
  }
  EncoderFit result;
  config.data_json = describe_data(data);
  Trainer trainer(config, {{"encoder", &encoder}});
  const BatchSampler sampler(n, batch_size, config.accumulate, config.seed);
  result.train = trainer.fit([&](std::int64_t step, std::int64_t micro, at::Generator&,
                                 std::map<std::string, double>& logs) {
    std::vector<at::Tensor> batch;
    for (const std::int64_t i : sampler.indices(step, micro)) batch.push_back(images[static_cast<std::size_t>(i)]);
    const at::Tensor loss = encoder.loss(at::stack(batch), logs);
    for (const auto& [name, value] : logs) result.logs[name].push_back(value);
    return loss;
  });
  trainer.use_ema(true);
  encoder.train(false);
  const std::int64_t m = std::min(n, calibration_examples);
  const at::Tensor sample = at::stack(std::vector<at::Tensor>(images.begin(), images.begin() + m));
  result.scale = encoder.calibrate(sample);
  {
    at::NoGradGuard no_grad;
    const at::Tensor x = sample.to(at::kDouble);
    const double range = (x.max() - x.min()).item<double>();
    const double mse = (encoder.decode(encoder.encode(sample)).to(at::kDouble) - x).pow(2).mean().item<double>();
    result.recon_psnr = 10.0 * std::log10(range * range / std::max(mse, 1e-20));
  }
  return result;
}

}  // namespace whatif
