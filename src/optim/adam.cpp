// Adam (Kingma and Ba, 2015) with PyTorch's L2 weight decay, and AdamW's decoupled weight decay
// (Loshchilov and Hutter, 2019), following torch.optim.Adam / AdamW (single-tensor path, 1.13).
#include <array>
#include <cmath>

#include "core/parallel.h"
#include "recur/core/error.h"
#include "recur/optim/optimizer.h"

namespace recur {

namespace {
constexpr std::array<std::string_view, 2> kAdamBuffers = {"exp_avg", "exp_avg_sq"};
}  // namespace

template <Scalar T>
Adam<T>::Adam(const AdamOptions& options) : options_(options) {
  const auto& o = options;
  const std::string_view who = o.decoupled_weight_decay ? "AdamW" : "Adam";
  this->require(std::isfinite(o.lr) && o.lr >= 0, who, "lr", "finite and >= 0", o.lr);
  this->require(o.beta1 >= 0 && o.beta1 < 1, who, "beta1", "in [0, 1)", o.beta1);
  this->require(o.beta2 >= 0 && o.beta2 < 1, who, "beta2", "in [0, 1)", o.beta2);
  this->require(std::isfinite(o.eps) && o.eps >= 0, who, "eps", "finite and >= 0", o.eps);
  this->require(std::isfinite(o.weight_decay) && o.weight_decay >= 0, who, "weight_decay", "finite and >= 0",
                o.weight_decay);
}

template <Scalar T>
void Adam<T>::set_lr(double lr) {
  this->require(std::isfinite(lr) && lr >= 0, options_.decoupled_weight_decay ? "AdamW" : "Adam", "lr",
                "finite and >= 0", lr);
  options_.lr = lr;
}

template <Scalar T>
void Adam<T>::update(std::span<T> values, std::span<const T> grads) {
  const size_t n = values.size();
  if (exp_avg_.empty()) {
    exp_avg_.assign(n, T(0));
    exp_avg_sq_.assign(n, T(0));
  }
  const auto& o = options_;
  const double t = static_cast<double>(this->step_);  // 1 on the first step
  const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
  // p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps): the scalars in double, as PyTorch forms them in Python.
  const T step_size = static_cast<T>(o.lr / bias_correction1);
  const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  const T beta1 = static_cast<T>(o.beta1);
  const T beta2 = static_cast<T>(o.beta2);
  const T one_minus_beta1 = static_cast<T>(1.0 - o.beta1);
  const T one_minus_beta2 = static_cast<T>(1.0 - o.beta2);
  const T eps = static_cast<T>(o.eps);
  const bool has_l2 = !o.decoupled_weight_decay && o.weight_decay != 0;
  const bool has_decoupled = o.decoupled_weight_decay && o.weight_decay != 0;
  const T weight_decay = static_cast<T>(o.weight_decay);
  const T decay = static_cast<T>(1.0 - o.lr * o.weight_decay);  // AdamW: p *= 1 - lr*wd

  T* p = values.data();
  const T* g = grads.data();
  T* m = exp_avg_.data();
  T* v = exp_avg_sq_.data();
  // Memory-bound (four streams per element): a second core brings its own bandwidth once the
  // buffers are megabytes (a translation model's embeddings and head are tens of megabytes).
  const int parts = n >= (size_t{1} << 20) ? this->threads_ : 1;
  for_row_blocks(static_cast<int64_t>(n), parts, [&](int, int64_t begin, int64_t end) {
    for (auto i = static_cast<size_t>(begin); i < static_cast<size_t>(end); ++i) {
      if (has_decoupled) p[i] *= decay;
      const T grad = has_l2 ? g[i] + weight_decay * p[i] : g[i];
      m[i] = m[i] * beta1 + one_minus_beta1 * grad;
      v[i] = v[i] * beta2 + one_minus_beta2 * (grad * grad);
      const T denom = std::sqrt(v[i]) / bias_correction2_sqrt + eps;
      p[i] -= step_size * (m[i] / denom);
    }
  });
}

template <Scalar T>
OptimizerState<T> Adam<T>::state() const {
  return OptimizerState<T>{
      .optimizer = std::string(name()),
      .step = this->step_,
      .buffers = {{std::string(kAdamBuffers[0]), exp_avg_}, {std::string(kAdamBuffers[1]), exp_avg_sq_}}};
}

template <Scalar T>
void Adam<T>::load_state(const OptimizerState<T>& state, int64_t num_values) {
  this->adopt_state(state, kAdamBuffers, num_values);
  exp_avg_ = state.buffers[0].values;
  exp_avg_sq_ = state.buffers[1].values;
  if (state.step == 0) {  // no step taken: the moments start from zero on the first step
    exp_avg_.clear();
    exp_avg_sq_.clear();
  }
}

template class Adam<float>;
template class Adam<double>;

}  // namespace recur
