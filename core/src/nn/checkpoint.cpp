#include "whatif/nn/checkpoint.hpp"

#include <ATen/autocast_mode.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/custom_class.h>

namespace whatif::nn {
namespace {

struct Held : torch::CustomClassHolder {
  explicit Held(Block b) : block(std::move(b)) {}
  Block block;
};

// Sets CPU autocast as the first run had it, for the recomputation only.
class SameAutocast {
 public:
  SameAutocast(bool enabled, c10::ScalarType dtype)
      : enabled_(at::autocast::is_cpu_enabled()), dtype_(at::autocast::get_autocast_cpu_dtype()) {
    at::autocast::set_cpu_enabled(enabled);
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::increment_nesting();
  }
  ~SameAutocast() {
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(enabled_);
    at::autocast::set_autocast_cpu_dtype(dtype_);
  }

 private:
  bool enabled_;
  c10::ScalarType dtype_;
};

// Keeps the default CPU generator's state and puts it back when done.
class RandomState {
 public:
  RandomState() : generator_(at::detail::getDefaultCPUGenerator()), state_(generator_.get_state()) {}
  ~RandomState() { generator_.set_state(state_); }
  const at::Tensor& state() const { return state_; }

 private:
  at::Generator generator_;
  at::Tensor state_;
};

struct Checkpointed : torch::autograd::Function<Checkpointed> {
  // `anchor` requires grad, so the output does too and backward reaches the block's parameters.
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, at::TensorList inputs, const at::Tensor& anchor,
                            Block block) {
    (void)anchor;
    ctx->saved_data["random"] = at::detail::getDefaultCPUGenerator().get_state();
    ctx->saved_data["autocast"] = at::autocast::is_cpu_enabled();
    ctx->saved_data["autocast_dtype"] = static_cast<std::int64_t>(at::autocast::get_autocast_cpu_dtype());
    ctx->save_for_backward(inputs.vec());
    at::Tensor out = block(inputs.vec());
    ctx->saved_data["block"] = c10::IValue::make_capsule(c10::make_intrusive<Held>(std::move(block)));
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    std::vector<at::Tensor> inputs;
    for (std::size_t i = 0; i < saved.size(); ++i)
      inputs.push_back(saved[i].detach().requires_grad_(ctx->needs_input_grad(i)));
    const auto held = c10::static_intrusive_pointer_cast<Held>(ctx->saved_data["block"].toCapsule());
    at::Tensor out;
    {
      RandomState keep;  // the recomputation draws the first run's numbers, then the stream goes on
      at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle on the default one
      generator.set_state(ctx->saved_data["random"].toTensor());
      SameAutocast autocast(ctx->saved_data["autocast"].toBool(),
                            static_cast<c10::ScalarType>(ctx->saved_data["autocast_dtype"].toInt()));
      torch::AutoGradMode grad(true);
      out = held->block(inputs);
    }
    torch::autograd::backward({out}, {grads[0]});
    torch::autograd::variable_list result;
    for (const auto& input : inputs) result.push_back(input.requires_grad() ? input.grad() : at::Tensor());
    result.emplace_back();  // anchor
    result.emplace_back();  // block
    return result;
  }
};

}  // namespace

at::Tensor checkpoint(Block block, const std::vector<at::Tensor>& inputs) {
  if (!at::GradMode::is_enabled()) return block(inputs);
  const at::Tensor anchor = at::empty({0}).requires_grad_(true);
  return Checkpointed::apply(at::TensorList(inputs), anchor, std::move(block));
}

}  // namespace whatif::nn
