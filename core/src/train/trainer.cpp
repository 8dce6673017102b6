#include "whatif/trainer.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "model/requests.hpp"
#include "train/autocast.hpp"
#include "train/checkpoint.hpp"
#include "train/distributed.hpp"
#include "util/log.hpp"
#include "util/progress.hpp"
#include "whatif/registry/error.hpp"

#include <spdlog/spdlog.h>

namespace whatif {

std::uint64_t Trainer::step_seed(std::uint64_t seed, std::int64_t step, std::int64_t micro) {
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(step) * 0xBF58476D1CE4E5B9ULL +
                    static_cast<std::uint64_t>(micro) * 0x94D049BB133111EBULL + 0x2545F4914F6CDD1DULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) >> 1;  // keep it positive for at::manual_seed
}

Trainer::Trainer(TrainConfig config, std::vector<std::pair<std::string, Trainable*>> parts)
    : config_(std::move(config)), parts_(std::move(parts)) {
  if (config_.steps < 0 || config_.accumulate < 1)
    throw Error("training needs steps >= 0 and accumulate >= 1");
  for (const auto& [prefix, part] : parts_)
    for (auto& [name, p] : part->named_parameters())
      if (p.requires_grad()) params_.emplace_back(prefix + "." + name, p);
  for (const auto& [name, p] : params_) {
    decays_.push_back(decays(name, p));
    m_.push_back(at::zeros_like(p));
    v_.push_back(at::zeros_like(p));
    if (config_.ema_decay > 0) ema_.push_back(p.detach().clone());
  }
}

bool Trainer::decays(const std::string& name, const at::Tensor& parameter) {
  if (parameter.dim() < 2) return false;  // biases, norm scales and shifts, scalars
  const auto last_dot = name.rfind('.');
  const std::string owner = name.substr(0, last_dot == std::string::npos ? 0 : last_dot);
  const std::string leaf = name.substr(last_dot == std::string::npos ? 0 : last_dot + 1);
  return owner.find("embedding") == std::string::npos && leaf.find("embedding") == std::string::npos;
}

double Trainer::learning_rate(std::int64_t step) const {
  if (config_.warmup > 0 && step < config_.warmup)
    return config_.lr * static_cast<double>(step + 1) / static_cast<double>(config_.warmup);
  const double span = std::max<std::int64_t>(1, config_.steps - config_.warmup);
  const double progress = std::min(1.0, static_cast<double>(step - config_.warmup) / span);
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
  return config_.lr * (config_.min_lr_ratio + (1.0 - config_.min_lr_ratio) * cosine);
}

double Trainer::ema_decay(std::int64_t step) const {
  return std::min(config_.ema_decay, static_cast<double>(step + 1) / static_cast<double>(step + 10));
}

void Trainer::use_ema(bool on) {
  if (ema_.empty() || on == ema_active_) return;
  at::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    at::Tensor current = params_[i].second.detach().clone();
    params_[i].second.copy_(ema_[i]);
    ema_[i] = current;
  }
  ema_active_ = on;
}

namespace {

// The training options as scripts name them (model/requests.hpp), with this run's values.
std::string train_config_json(const TrainConfig& config) {
  std::string out = "{";
  for (const auto& spec : train_fields().schema(config))
    out += (out.size() > 1 ? ", \"" : "\"") + spec.name + "\": " + to_json(spec.default_value);
  return out + "}";
}

// FNV-1a over the bytes of `tensors`: equal on every rank exactly when the tensors are.
std::int64_t fingerprint(const std::vector<at::Tensor>& tensors) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const at::Tensor& t : tensors) {
    const at::Tensor c = t.detach().contiguous();
    const auto* bytes = static_cast<const unsigned char*>(c.data_ptr());
    for (std::size_t i = 0, n = c.numel() * c.element_size(); i < n; ++i) h = (h ^ bytes[i]) * 0x100000001b3ULL;
  }
  return static_cast<std::int64_t>(h >> 1);
}

std::int64_t text_fingerprint(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;
  return static_cast<std::int64_t>(h >> 1);
}

}  // namespace

void Trainer::save(std::int64_t step, const std::vector<double>& losses) {
  if (config_.checkpoint.empty()) return;
  Checkpoint c;
  auto& params = c.groups["params"];
  auto& buffers = c.groups["buffers"];
  for (const auto& [prefix, part] : parts_) {
    for (auto& [name, p] : part->named_parameters()) params.emplace_back(prefix + "." + name, p);
    for (auto& [name, b] : part->named_buffers()) buffers.emplace_back(prefix + "." + name, b);
  }
  for (std::size_t i = 0; i < params_.size(); ++i) {
    c.groups["optim/m"].emplace_back(params_[i].first, m_[i]);
    c.groups["optim/v"].emplace_back(params_[i].first, v_[i]);
    if (!ema_.empty()) c.groups["ema"].emplace_back(params_[i].first, ema_[i]);
  }
  c.integers["step"] = step;
  c.integers["seed"] = static_cast<std::int64_t>(config_.seed);
  c.strings["config"] = config_.config_json;
  c.strings["train_config"] = train_config_json(config_);
  c.strings["data"] = config_.data_json;
  c.strings["format"] = "whatif-checkpoint-1";
  c.losses = losses;
  write_checkpoint(config_.checkpoint, c);
}

std::int64_t Trainer::load(std::vector<double>& losses) {
  const Checkpoint c = read_checkpoint(config_.checkpoint);
  const std::string what = config_.checkpoint;
  if (c.strings.count("config") && c.strings.at("config") != config_.config_json)
    throw Error(what + ": was written by another configuration; delete it or use another "
                       "checkpoint path to start over");
  NamedTensors all_params, all_buffers;
  for (const auto& [prefix, part] : parts_) {
    for (auto& [name, p] : part->named_parameters()) all_params.emplace_back(prefix + "." + name, p);
    for (auto& [name, b] : part->named_buffers()) all_buffers.emplace_back(prefix + "." + name, b);
  }
  auto group = [&](const std::string& g) {
    const auto it = c.groups.find(g);
    return it == c.groups.end() ? NamedTensors{} : it->second;
  };
  restore_tensors(group("params"), all_params, false, what);
  restore_tensors(group("buffers"), all_buffers, true, what);
  auto aligned = [&](std::vector<at::Tensor>& into) {
    NamedTensors view;
    for (std::size_t i = 0; i < params_.size(); ++i) view.emplace_back(params_[i].first, into[i]);
    return view;
  };
  restore_tensors(group("optim/m"), aligned(m_), false, what);
  restore_tensors(group("optim/v"), aligned(v_), false, what);
  if (!ema_.empty()) restore_tensors(group("ema"), aligned(ema_), false, what);
  losses = c.losses;
  return c.integers.count("step") ? c.integers.at("step") : 0;
}

// Data parallelism keeps the step a single process would take. A step is `accumulate` micro-batches
// v = 0..A−1, each with its examples and generators from (seed, step, v); with W ranks, rank r runs
// micro-batches r·A/W … (r+1)·A/W − 1 and the gradients are summed over ranks before the update.
// So W ranks and one process see the same examples and the same noise and reach the same weights
// up to the order of float additions, and a checkpoint resumes under any W that divides A.
TrainResult Trainer::fit(const MicroLoss& loss) {
  DataParallel* const group = DataParallel::current();
  const std::int64_t world = group ? group->world() : 1, rank = group ? group->rank() : 0;
  // Micro-batches that cannot be shared evenly are all computed by every rank: the same step,
  // without the speed-up (a metric's own small classifier, say), and no gradient exchange.
  const bool shared = config_.accumulate % world == 0;
  if (!shared && rank == 0)
    logger()->warn("{}: accumulate = {} micro-batches per step cannot be shared by {} ranks, so every rank "
                   "computes the whole step (no speed-up); use a multiple of {} (the global batch is "
                   "batch_size x accumulate: halve batch_size to keep it)",
                   config_.label, config_.accumulate, world, world);
  if (group && !group->same_everywhere(text_fingerprint(config_.label + "\n" + config_.config_json + "\n" +
                                                        train_config_json(config_)),
                                       "the training configuration"))
    stop_rank(static_cast<int>(rank), config_.label + ": the ranks are not training the same thing (another "
                                      "configuration, or a rank skipped a training); stopping");
  TrainResult result;
  std::vector<double> losses;
  std::int64_t start = 0;
  if (!config_.checkpoint.empty() && config_.resume && std::filesystem::exists(config_.checkpoint)) {
    start = load(losses);
    logger()->info("{}: resuming from {} at step {}", config_.label, config_.checkpoint, start);
  }
  if (group) {
    // Rank 0's view of the checkpoint wins: the step it resumes from and the losses so far reach
    // every rank (one that cannot see the checkpoint, or saw one rank 0 has just discarded, agrees).
    at::Tensor head = at::tensor({start, static_cast<std::int64_t>(losses.size())}, at::kLong);
    group->broadcast({head}, config_.label + " resume step");
    start = head[0].item<std::int64_t>();
    at::Tensor curve = at::zeros({head[1].item<std::int64_t>()}, at::kDouble);
    if (curve.numel() > 0) {
      if (rank == 0) curve.copy_(at::tensor(losses, at::kDouble));
      group->broadcast({curve}, config_.label + " loss curve");
    }
    losses.assign(curve.data_ptr<double>(), curve.data_ptr<double>() + curve.numel());
    // Identical starting point: rank 0's weights, buffers, moments and EMA.
    std::vector<at::Tensor> state;
    for (const auto& [prefix, part] : parts_) {
      for (auto& [name, p] : part->named_parameters()) state.push_back(p.detach());
      for (auto& [name, b] : part->named_buffers()) state.push_back(b);
    }
    for (auto* group_of : {&m_, &v_, &ema_}) state.insert(state.end(), group_of->begin(), group_of->end());
    group->broadcast(state, config_.label + " initial state");
  }
  result.resumed_from = start;
  for (const auto& [prefix, part] : parts_) part->train(true);
  const auto began = std::chrono::steady_clock::now();
  Progress progress(config_.steps - start, config_.label);
  const double b1 = config_.beta1, b2 = config_.beta2;
  const std::int64_t per_rank = shared ? config_.accumulate / world : config_.accumulate;
  const std::int64_t first_micro = shared ? rank * per_rank : 0;
  std::vector<at::Tensor> trained;
  for (const auto& [name, p] : params_) trained.push_back(p);
  std::int64_t step = start;
  for (; step < config_.steps; ++step) {
    for (auto& [name, p] : params_) p.mutable_grad() = at::Tensor();
    std::map<std::string, double> logs;
    double step_loss = 0;
    bool finite = true;
    std::string nonfinite = "NaN or Inf";
    std::string failure;  // a data-parallel rank's own error, raised after the ranks compared notes
    for (std::int64_t micro = first_micro; micro < first_micro + per_rank; ++micro) {
      const std::uint64_t s = step_seed(config_.seed, step, micro);
      at::manual_seed(s);  // dropout and anything else drawing from the global generator
      at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(s);
      try {
        at::Tensor value;
        {
          AutocastGuard autocast(config_.bf16);
          value = loss(step, micro, generator, logs);
        }
        const double v = value.item<double>();
        if (!std::isfinite(v)) {
          finite = false;
          nonfinite = std::isnan(v) ? "NaN" : "Inf";
          break;
        }
        (value / static_cast<double>(config_.accumulate)).backward();
        step_loss += v / static_cast<double>(config_.accumulate);
      } catch (const std::exception& e) {
        if (!group) throw;
        failure = e.what();
        break;
      }
    }
    if (group) {
      // [loss, ranks with a non-finite loss, one failure flag per rank], summed with the gradients.
      at::Tensor scalars = at::zeros({2 + world}, at::kDouble);
      scalars[0] = shared ? step_loss : 0.0;
      scalars[1] = finite ? 0.0 : 1.0;
      if (!failure.empty()) scalars[2 + rank] = 1.0;
      all_reduce_gradients(*group, shared ? trained : std::vector<at::Tensor>{}, scalars,
                           config_.label + " gradients at step " + std::to_string(step));
      if (shared) step_loss = scalars[0].item<double>();
      if (finite && scalars[1].item<double>() != 0) nonfinite = "NaN or Inf on another rank";
      finite = scalars[1].item<double>() == 0;
      for (std::int64_t r = 0; r < world; ++r)
        if (scalars[2 + r].item<double>() != 0) {
          if (r == rank) throw Error(failure);
          throw Error(config_.label + ": rank " + std::to_string(r) + " failed at step " + std::to_string(step) +
                      " (its error is in whatif.rank" + std::to_string(r) + ".log, or whatif.log for rank 0)");
        }
    }
    if (!finite)
      throw Error(config_.label + ": loss is " + nonfinite + " at step " + std::to_string(step) +
                  "; stopping (lower lr, keep grad_clip on, check the data)");
    at::NoGradGuard no_grad;
    if (config_.grad_clip > 0) {
      double total = 0;
      for (auto& [name, p] : params_)
        if (p.grad().defined()) total += p.grad().to(at::kDouble).square().sum().item<double>();
      const double norm = std::sqrt(total);
      logs["grad_norm"] = norm;
      if (!std::isfinite(norm))
        throw Error(config_.label + ": gradient is not finite at step " + std::to_string(step));
      if (norm > config_.grad_clip)
        for (auto& [name, p] : params_)
          if (p.grad().defined()) p.mutable_grad().mul_(config_.grad_clip / (norm + 1e-6));
    }
    const double lr = learning_rate(step);
    const double t = static_cast<double>(step + 1);
    const double correction1 = 1.0 - std::pow(b1, t), correction2 = 1.0 - std::pow(b2, t);
    const double decay = ema_decay(step);
    for (std::size_t i = 0; i < params_.size(); ++i) {
      at::Tensor& p = params_[i].second;
      if (!p.grad().defined()) continue;
      const at::Tensor g = p.grad();
      if (config_.weight_decay > 0 && decays_[i]) p.mul_(1.0 - lr * config_.weight_decay);
      m_[i].mul_(b1).add_(g, 1.0 - b1);
      v_[i].mul_(b2).addcmul_(g, g, 1.0 - b2);
      const at::Tensor denominator = (v_[i] / correction2).sqrt_().add_(config_.eps);
      p.addcdiv_(m_[i], denominator, -lr / correction1);
      if (!ema_.empty()) ema_[i].mul_(decay).add_(p, 1.0 - decay);
    }
    losses.push_back(step_loss);
    std::ostringstream status;
    status << "loss=" << step_loss << " lr=" << lr;
    progress.tick(1, status.str());
    const bool last = step + 1 == config_.steps;
    if (rank == 0 && ((config_.checkpoint_every > 0 && (step + 1) % config_.checkpoint_every == 0) || last))
      save(step + 1, losses);
    if (config_.stop_after >= 0 && step + 1 >= config_.stop_after) {
      ++step;
      break;
    }
  }
  progress.finish();
  if (group) {
    // The ranks must still agree bit for bit; this is also the barrier after rank 0's last save.
    std::vector<at::Tensor> state = trained;
    for (auto* group_of : {&m_, &v_, &ema_}) state.insert(state.end(), group_of->begin(), group_of->end());
    if (!group->same_everywhere(fingerprint(state), "the trained weights"))
      throw Error(config_.label + ": the ranks' weights, moments or EMA differ after training (a "
                                  "non-deterministic part, or ranks with different builds)");
  }
  for (const auto& [prefix, part] : parts_) part->train(false);
  result.steps_done = step;
  result.losses = losses;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  return result;
}

}  // namespace whatif
