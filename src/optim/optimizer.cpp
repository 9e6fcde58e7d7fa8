// The optimizer interface's shared parts: the size-checked step, state checks for checkpoints, and
// make_optimizer. The update rules live in sgd.cpp and adam.cpp.
#include "recur/optim/optimizer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <cmath>

#include "recur/core/error.h"

namespace recur {

template <Scalar T>
void Optimizer<T>::step(std::span<T> values, std::span<const T> grads) {
  const auto n = static_cast<int64_t>(values.size());
  if (values.size() != grads.size())
    throw ShapeError(
        fmt::format("{}::step: values has {} elements but grads has {}", name(), n, grads.size()));
  if (num_values_ < 0) num_values_ = n;
  if (n != num_values_)
    throw ShapeError(
        fmt::format("{}::step: expected {} values (fixed by the first step or load_state), got {}", name(),
                    num_values_, n));
  ++step_;
  update(values, grads);
}

template <Scalar T>
void Optimizer<T>::require(bool ok, std::string_view optimizer, std::string_view option,
                           std::string_view domain, double value) {
  if (!ok) throw ValueError(fmt::format("{}: {} must be {}, got {}", optimizer, option, domain, value));
}

template <Scalar T>
void Optimizer<T>::adopt_state(const OptimizerState<T>& state, std::span<const std::string_view> names,
                               int64_t num_values) {
  const std::string_view kind = name();
  if (state.optimizer != kind)
    throw ValueError(fmt::format("{}::load_state: the state is from optimizer '{}', expected '{}'", kind,
                                 state.optimizer, kind));
  if (state.step < 0)
    throw ValueError(fmt::format("{}::load_state: step must be >= 0, got {}", kind, state.step));
  if (num_values < 0)
    throw ValueError(fmt::format("{}::load_state: num_values must be >= 0, got {}", kind, num_values));
  std::string expected;
  for (auto n : names) expected += fmt::format("{}'{}'", expected.empty() ? "" : ", ", n);
  if (state.buffers.size() != names.size())
    throw ValueError(fmt::format("{}::load_state: expected {} buffers ({}), got {}", kind, names.size(),
                                 expected.empty() ? "none" : expected, state.buffers.size()));
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& buffer = state.buffers[i];
    if (buffer.name != names[i])
      throw ValueError(
          fmt::format("{}::load_state: buffer {} should be '{}', got '{}'", kind, i, names[i], buffer.name));
    const auto size = static_cast<int64_t>(buffer.values.size());
    const bool ok = size == num_values || (size == 0 && state.step == 0);
    if (!ok)
      throw ValueError(
          fmt::format("{}::load_state: buffer '{}' has {} values, expected {} (the parameter count)", kind,
                      buffer.name, size, num_values));
  }
  step_ = state.step;
  num_values_ = num_values;
}

template class Optimizer<float>;
template class Optimizer<double>;

namespace {
constexpr std::array<std::string_view, 3> kOptimizerNames = {"sgd", "adam", "adamw"};

// make_optimizer rejects an option that the chosen optimizer would silently ignore.
void reject_set(bool is_set, std::string_view name, std::string_view option, std::string_view applies_to,
                double value) {
  if (is_set)
    throw ValueError(fmt::format("make_optimizer: option {} applies to {} only, not '{}' (got {})", option,
                                 applies_to, name, value));
}
}  // namespace

std::span<const std::string_view> optimizer_names() { return kOptimizerNames; }

template <Scalar T>
std::unique_ptr<Optimizer<T>> make_optimizer(std::string_view name, const OptimizerOptions& options) {
  const OptimizerOptions defaults;
  if (name == "sgd") {
    reject_set(options.beta1 != defaults.beta1, name, "beta1", "adam and adamw", options.beta1);
    reject_set(options.beta2 != defaults.beta2, name, "beta2", "adam and adamw", options.beta2);
    reject_set(options.eps != defaults.eps, name, "eps", "adam and adamw", options.eps);
    return std::make_unique<Sgd<T>>(SgdOptions{.lr = options.lr,
                                               .momentum = options.momentum,
                                               .dampening = options.dampening,
                                               .weight_decay = options.weight_decay.value_or(0.0),
                                               .nesterov = options.nesterov});
  }
  if (name == "adam" || name == "adamw") {
    const bool is_adamw = name == "adamw";
    reject_set(options.momentum != defaults.momentum, name, "momentum", "sgd", options.momentum);
    reject_set(options.dampening != defaults.dampening, name, "dampening", "sgd", options.dampening);
    reject_set(options.nesterov, name, "nesterov", "sgd", 1.0);
    return std::make_unique<Adam<T>>(
        AdamOptions{.lr = options.lr,
                    .beta1 = options.beta1,
                    .beta2 = options.beta2,
                    .eps = options.eps,
                    .weight_decay = options.weight_decay.value_or(is_adamw ? 1e-2 : 0.0),
                    .decoupled_weight_decay = is_adamw});
  }
  throw ValueError(fmt::format("make_optimizer: unknown optimizer '{}' (known: {})", name,
                               fmt::join(kOptimizerNames, ", ")));
}

template std::unique_ptr<Optimizer<float>> make_optimizer<float>(std::string_view, const OptimizerOptions&);
template std::unique_ptr<Optimizer<double>> make_optimizer<double>(std::string_view, const OptimizerOptions&);

}  // namespace recur
