#pragma once
// A small convolutional attribute classifier trained on real volumes: the judge behind
// `text-alignment` (does a generated volume show the class its prompt asked for?) and the feature
// map behind `fid` once it is fitted. 2D or 3D from the data; classes are the distinct values the
// attribute takes in the data (the synthetic brain's `level`: 0, 1, 2).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include <whatif/dataset.hpp>

namespace whatif_metrics {

struct ClassifierOptions {
  std::string attribute = "level";
  std::int64_t steps = 300;
  std::int64_t batch = 16;
  std::int64_t width = 16;  // channels of the first convolution (then 2×, 4×)
  // How the last feature map is pooled: "mean", or "max" for findings of a few voxels (a pleural
  // effusion at 32³), whose share of the mean is too small to train on.
  std::string pooling = "mean";
  double lr = 2e-3;
};

// Subjects are split by a fixed rule so the split does not depend on the seed: with S ≥ 2 subjects
// sorted by id, ⌈S/5⌉ of them, evenly spaced, are held out (never fewer than one); every example
// of a subject lands on the same side.
struct Split {
  std::vector<std::int64_t> train, heldout;
};
Split split_by_subject(const whatif::Dataset& data);

class AttributeClassifier {
 public:
  explicit AttributeClassifier(ClassifierOptions options);

  // Trains on the training subjects of `data`; returns the accuracy on the held-out ones.
  double fit(const whatif::Dataset& data, std::uint64_t seed);
  // Trains on all of `images` [N, C, (D,) H, W] with their attribute values (the classes are the
  // distinct values); the same network, loop and seeding as fit(data).
  void fit(const at::Tensor& images, const std::vector<double>& values, std::uint64_t seed);
  bool fitted() const { return !classes_.empty(); }

  // Class index of each value (an error names the values the classifier knows).
  at::Tensor class_index(const at::Tensor& values) const;
  at::Tensor predict(const at::Tensor& x);        // [B] class index
  at::Tensor probabilities(const at::Tensor& x);  // [B, classes] softmax, float64, classes in sorted order
  at::Tensor features(const at::Tensor& x);  // [B, F] penultimate activations, float64
  const std::string& attribute() const { return options_.attribute; }

 private:
  at::Tensor logits(const at::Tensor& x);
  // Sets the classes from `values`, builds the network for `images`' shape and trains it on the
  // rows `train` of images.
  void train(const at::Tensor& images, const std::vector<double>& values, const std::vector<std::int64_t>& train,
             std::uint64_t seed);
  void check_input(const at::Tensor& x) const;

  ClassifierOptions options_;
  std::vector<double> classes_;  // sorted distinct attribute values
  std::vector<std::int64_t> shape_;
  torch::nn::Sequential body_{nullptr};
  torch::nn::Linear head_{nullptr};
};

}  // namespace whatif_metrics
