// Optimizers that update a ParameterStore's flat values from its flat gradients, with PyTorch's
// update rules (torch.optim.SGD, Adam, AdamW as of 1.13 / 2.x, single-tensor path).
//
//   SGD:   d = g + wd*p;  buf = d (first step) else momentum*buf + (1-dampening)*d;
//          d = nesterov ? d + momentum*buf : buf  (when momentum != 0);  p -= lr*d
//   Adam:  g += wd*p (L2);  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;  t += 1
//          p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)          (Kingma and Ba, 2015)
//   AdamW: p *= 1 - lr*wd (decoupled decay), then Adam with no L2 term  (Loshchilov and Hutter, 2019)
//
// Moment buffers mirror the parameter buffer element for element ([num_values]) and are sized on the
// first step. Arithmetic on the buffers is in T, as PyTorch does for a tensor of that dtype; the
// scalar coefficients (bias corrections, step size) are formed in double.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "recur/core/parameters.h"
#include "recur/core/tensor.h"

namespace recur {

struct SgdOptions {
  double lr = 1e-3;
  double momentum = 0.0;      // >= 0; 0 turns the momentum buffer off
  double dampening = 0.0;     // in [0, 1]; scales the new gradient in the momentum buffer by 1 - dampening
  double weight_decay = 0.0;  // >= 0; L2 term wd*p added to the gradient
  bool nesterov = false;      // needs momentum > 0 and dampening == 0, as in PyTorch
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;                   // in [0, 1): decay of the first moment m
  double beta2 = 0.999;                 // in [0, 1): decay of the second moment v
  double eps = 1e-8;                    // >= 0, added to sqrt(v_hat)
  double weight_decay = 0.0;            // >= 0; L2 for Adam, decoupled decay when decoupled_weight_decay
  bool decoupled_weight_decay = false;  // true = AdamW
};

// AdamW's options: Adam's, with PyTorch AdamW's default weight decay of 1e-2.
[[nodiscard]] inline AdamOptions adamw_options(double lr = 1e-3, double weight_decay = 1e-2) {
  return AdamOptions{.lr = lr, .weight_decay = weight_decay, .decoupled_weight_decay = true};
}

// Everything an optimizer carries between steps, for checkpoints. The learning rate and the other
// hyperparameters are not part of it: they come from the options (and the schedule) on resume.
template <Scalar T>
struct OptimizerState {
  struct Buffer {
    std::string name = {};       // PyTorch's state key: "momentum_buffer", "exp_avg", "exp_avg_sq"
    std::vector<T> values = {};  // [num_values], or empty before the first step
  };
  std::string optimizer = {};  // "sgd", "adam" or "adamw": the kind that produced it
  int64_t step = 0;            // steps taken; Adam's bias corrections use it
  // SGD: {momentum_buffer} when momentum != 0, else none; Adam and AdamW: {exp_avg, exp_avg_sq}.
  std::vector<Buffer> buffers = {};
};

// Common interface (one virtual call per step, never per element).
template <Scalar T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // One update of values ([n]) from grads ([n]). n must stay the same from step to step; it fixes the
  // size of the moment buffers on the first step. Throws ShapeError when the sizes disagree.
  void step(std::span<T> values, std::span<const T> grads);
  void step(ParameterStore<T>& params) { step(params.values(), params.grads()); }

  [[nodiscard]] virtual std::string_view name() const = 0;  // "sgd", "adam", "adamw"
  [[nodiscard]] virtual double lr() const = 0;
  // Throws ValueError for a negative or non-finite lr.
  virtual void set_lr(double lr) = 0;
  [[nodiscard]] int64_t steps_taken() const { return step_; }
  // Threads an update may use (a ComputeContext's count; 1 by default). Every element's update is
  // independent of the others, so the result is the same bits for any count.
  void set_threads(int threads) { threads_ = threads < 1 ? 1 : threads; }
  [[nodiscard]] int threads() const { return threads_; }

  [[nodiscard]] virtual OptimizerState<T> state() const = 0;
  // Restores a state() taken from an optimizer of the same kind for a store of num_values values.
  // Throws ValueError naming the mismatch (kind, buffer names, buffer sizes, negative step).
  virtual void load_state(const OptimizerState<T>& state, int64_t num_values) = 0;

 protected:
  // `step_` has already been incremented when update() runs (Adam's t is 1 on the first step).
  virtual void update(std::span<T> values, std::span<const T> grads) = 0;

  // Throws ValueError "<optimizer>: <option> must be <domain>, got <value>" unless `ok`.
  static void require(bool ok, std::string_view optimizer, std::string_view option, std::string_view domain,
                      double value);
  // Checks a state for load_state: same kind, step >= 0, exactly the buffers `names`, each with
  // num_values values (or none while step == 0). Then adopts its step and size.
  void adopt_state(const OptimizerState<T>& state, std::span<const std::string_view> names,
                   int64_t num_values);
  int64_t step_ = 0;
  int64_t num_values_ = -1;  // fixed by the first step or by load_state; -1 = not yet known
  int threads_ = 1;
};

template <Scalar T>
class Sgd final : public Optimizer<T> {
 public:
  explicit Sgd(const SgdOptions& options = {});  // throws ValueError for bad hyperparameters
  [[nodiscard]] std::string_view name() const override { return "sgd"; }
  [[nodiscard]] double lr() const override { return options_.lr; }
  void set_lr(double lr) override;
  [[nodiscard]] const SgdOptions& options() const { return options_; }
  [[nodiscard]] OptimizerState<T> state() const override;
  void load_state(const OptimizerState<T>& state, int64_t num_values) override;

 protected:
  void update(std::span<T> values, std::span<const T> grads) override;

 private:
  SgdOptions options_;
  std::vector<T> momentum_buffer_;  // [num_values]; empty until the first step with momentum != 0
};

// Adam, or AdamW when options.decoupled_weight_decay is set.
template <Scalar T>
class Adam final : public Optimizer<T> {
 public:
  explicit Adam(const AdamOptions& options = {});  // throws ValueError for bad hyperparameters
  [[nodiscard]] std::string_view name() const override {
    return options_.decoupled_weight_decay ? "adamw" : "adam";
  }
  [[nodiscard]] double lr() const override { return options_.lr; }
  void set_lr(double lr) override;
  [[nodiscard]] const AdamOptions& options() const { return options_; }
  [[nodiscard]] OptimizerState<T> state() const override;
  void load_state(const OptimizerState<T>& state, int64_t num_values) override;

 protected:
  void update(std::span<T> values, std::span<const T> grads) override;

 private:
  AdamOptions options_;
  std::vector<T> exp_avg_;     // [num_values] first moment m
  std::vector<T> exp_avg_sq_;  // [num_values] second moment v
};

// Options for make_optimizer: the union of the optimizers' options. Options that do not apply to the
// chosen optimizer must keep their defaults (make_optimizer says which one was set).
struct OptimizerOptions {
  double lr = 1e-3;
  double momentum = 0.0;   // sgd
  double dampening = 0.0;  // sgd
  bool nesterov = false;   // sgd
  double beta1 = 0.9;      // adam, adamw
  double beta2 = 0.999;    // adam, adamw
  double eps = 1e-8;       // adam, adamw
  // Unset: PyTorch's default, 0 for sgd and adam, 1e-2 for adamw.
  std::optional<double> weight_decay = std::nullopt;
};

// The optimizers make_optimizer knows, in the order help text lists them.
[[nodiscard]] std::span<const std::string_view> optimizer_names();

// "sgd", "adam" or "adamw"; throws ValueError for any other name (listing the known ones) and for bad
// or inapplicable options.
template <Scalar T>
[[nodiscard]] std::unique_ptr<Optimizer<T>> make_optimizer(std::string_view name,
                                                           const OptimizerOptions& options);

}  // namespace recur
