#pragma once
// Where a step's time and arithmetic go, from LibTorch's RecordFunction observers: the forward
// pass's floating-point operations counted from the shapes each convolution and matrix product
// sees, and the wall time of every top-level op (forward ops and autograd nodes) by name.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <ATen/record_function.h>
#include <torch/torch.h>

namespace bench {

class OpProfile {
 public:
  // Observes ops dispatched from the calling thread while this object lives.
  OpProfile() {
    state() = State();
    state().owner = std::this_thread::get_id();
    handle_ = at::addGlobalCallback(at::RecordFunctionCallback(&OpProfile::enter, &OpProfile::leave)
                                        .needsInputs(true)
                                        .needsOutputs(true)
                                        .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
    // One profile at a time: the observers' state is process-wide.
  }
  ~OpProfile() { at::removeCallback(handle_); }
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  // Count FLOPs only while `on` (around a forward pass: backward ops reuse the same kernels).
  void count_flops(bool on) { state().counting = on; }
  double flops() const { return state().flops; }
  // Top-level ops by total time, descending: (name, milliseconds, calls).
  struct Row {
    std::string name;
    double ms;
    long calls;
  };
  std::vector<Row> table() const {
    std::vector<Row> rows;
    for (const auto& [name, t] : state().times) rows.push_back({name, t.first, t.second});
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.ms > b.ms; });
    return rows;
  }

  // 2 · multiply-adds of one op from its input and output shapes; 0 for other ops.
  static double op_flops(const std::string& name, c10::ArrayRef<const c10::IValue> in,
                         const std::vector<c10::IValue>& out) {
    const auto tensor = [&](std::size_t i) { return i < in.size() && in[i].isTensor() ? in[i].toTensor() : at::Tensor(); };
    if (name == "aten::convolution" && !out.empty() && out[0].isTensor()) {
      const at::Tensor input = tensor(0), weight = tensor(1), output = out[0].toTensor();
      if (!input.defined() || !weight.defined()) return 0;
      const bool transposed = in.size() > 6 && in[6].isBool() && in[6].toBool();
      double kernel = static_cast<double>(weight.size(1));  // input channels per group (output, transposed)
      for (std::int64_t d = 2; d < weight.dim(); ++d) kernel *= static_cast<double>(weight.size(d));
      return 2.0 * kernel * static_cast<double>(transposed ? input.numel() : output.numel());
    }
    const at::Tensor a = tensor(name == "aten::mm" || name == "aten::bmm" ? 0 : 1);
    const at::Tensor b = tensor(name == "aten::mm" || name == "aten::bmm" ? 1 : 2);
    if ((name == "aten::mm" || name == "aten::addmm") && a.defined() && b.defined() && a.dim() == 2)
      return 2.0 * static_cast<double>(a.size(0) * a.size(1) * b.size(1));
    if ((name == "aten::bmm" || name == "aten::baddbmm") && a.defined() && b.defined() && a.dim() == 3)
      return 2.0 * static_cast<double>(a.size(0) * a.size(1) * a.size(2) * b.size(2));
    return 0;
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Started : at::ObserverContext {
    Clock::time_point start;
  };
  struct State {
    std::thread::id owner;
    int depth = 0;
    bool counting = false;
    double flops = 0;
    std::map<std::string, std::pair<double, long>> times;
  };
  static State& state() {
    static State s;
    return s;
  }

  static std::unique_ptr<at::ObserverContext> enter(const at::RecordFunction&) {
    if (std::this_thread::get_id() != state().owner) return nullptr;
    auto context = std::make_unique<Started>();
    context->start = Clock::now();
    ++state().depth;
    return context;
  }
  static void leave(const at::RecordFunction& fn, at::ObserverContext* context) {
    if (!context) return;
    State& s = state();
    --s.depth;
    const std::string name = fn.name();
    if (s.counting) s.flops += op_flops(name, fn.inputs(), fn.outputs());
    if (s.depth == 0) {
      auto& t = s.times[name];
      t.first += std::chrono::duration<double, std::milli>(Clock::now() - static_cast<Started*>(context)->start).count();
      t.second += 1;
    }
  }

  at::CallbackHandle handle_;
};

}  // namespace bench
