// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
// following torch.optim.SGD (Sutskever et al., 2013, in PyTorch's formulation, where the learning rate
// multiplies the whole update rather than sitting inside the momentum buffer).
#include <array>
#include <cmath>

#include "recur/core/error.h"
#include "recur/optim/optimizer.h"

namespace recur {

namespace {
constexpr std::array<std::string_view, 1> kSgdBuffers = {"momentum_buffer"};
}  // namespace

template <Scalar T>
Sgd<T>::Sgd(const SgdOptions& options) : options_(options) {
  const auto& o = options;
  this->require(std::isfinite(o.lr) && o.lr >= 0, "SGD", "lr", "finite and >= 0", o.lr);
  this->require(std::isfinite(o.momentum) && o.momentum >= 0, "SGD", "momentum", "finite and >= 0",
                o.momentum);
  this->require(o.dampening >= 0 && o.dampening <= 1, "SGD", "dampening", "in [0, 1]", o.dampening);
  this->require(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "SGD", "weight_decay",
                "finite and >= 0", o.weight_decay);
  if (o.nesterov) {
    this->require(o.momentum > 0, "SGD", "momentum", "> 0 with nesterov", o.momentum);
    this->require(o.dampening == 0, "SGD", "dampening", "0 with nesterov", o.dampening);
  }
}

template <Scalar T>
void Sgd<T>::set_lr(double lr) {
  this->require(std::isfinite(lr) && lr >= 0, "SGD", "lr", "finite and >= 0", lr);
  options_.lr = lr;
}

template <Scalar T>
void Sgd<T>::update(std::span<T> values, std::span<const T> grads) {
  const size_t n = values.size();
  const T lr = static_cast<T>(options_.lr);
  const T weight_decay = static_cast<T>(options_.weight_decay);
  const bool has_weight_decay = options_.weight_decay != 0;
  T* p = values.data();
  const T* g = grads.data();

  if (options_.momentum == 0) {
    for (size_t i = 0; i < n; ++i) {
      const T d = has_weight_decay ? g[i] + weight_decay * p[i] : g[i];
      p[i] -= lr * d;
    }
    return;
  }

  const T momentum = static_cast<T>(options_.momentum);
  const T keep = static_cast<T>(1.0 - options_.dampening);  // weight of the new gradient in the buffer
  const bool is_first = momentum_buffer_.empty();  // PyTorch: buf = clone(d_p) when there is no buffer yet
  if (is_first) momentum_buffer_.resize(n);
  T* buf = momentum_buffer_.data();
  for (size_t i = 0; i < n; ++i) {
    const T d = has_weight_decay ? g[i] + weight_decay * p[i] : g[i];
    buf[i] = is_first ? d : momentum * buf[i] + keep * d;
    const T direction = options_.nesterov ? d + momentum * buf[i] : buf[i];
    p[i] -= lr * direction;
  }
}

template <Scalar T>
OptimizerState<T> Sgd<T>::state() const {
  OptimizerState<T> s{.optimizer = "sgd", .step = this->step_, .buffers = {}};
  if (options_.momentum != 0) s.buffers.push_back({std::string(kSgdBuffers[0]), momentum_buffer_});
  return s;
}

template <Scalar T>
void Sgd<T>::load_state(const OptimizerState<T>& state, int64_t num_values) {
  const auto names = options_.momentum != 0 ? std::span<const std::string_view>(kSgdBuffers)
                                            : std::span<const std::string_view>();
  this->adopt_state(state, names, num_values);
  momentum_buffer_.clear();  // step 0: the first step starts the buffer from the gradient
  if (options_.momentum != 0 && state.step > 0) momentum_buffer_ = state.buffers[0].values;
}

template class Sgd<float>;
template class Sgd<double>;

}  // namespace recur
