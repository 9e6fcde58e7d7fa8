// Parameter initializers.
#include "recur/nn/init.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "recur/core/error.h"

namespace recur {

template <Scalar T>
void init_uniform(std::span<T> values, double low, double high, Rng& rng) {
  if (!(std::isfinite(low) && std::isfinite(high) && low <= high))
    throw ValueError(
        fmt::format("init_uniform: need finite low <= high, got low = {}, high = {}", low, high));
  for (T& v : values) v = static_cast<T>(rng.uniform(low, high));
}

template <Scalar T>
void init_uniform_fan(std::span<T> values, int64_t fan, Rng& rng) {
  if (fan <= 0) throw ValueError(fmt::format("init_uniform_fan: fan must be > 0, got {}", fan));
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan));
  init_uniform(values, -bound, bound, rng);
}

template <Scalar T>
void init_normal(std::span<T> values, double mean, double stddev, Rng& rng) {
  if (!std::isfinite(mean)) throw ValueError(fmt::format("init_normal: mean must be finite, got {}", mean));
  if (!(std::isfinite(stddev) && stddev >= 0))
    throw ValueError(fmt::format("init_normal: stddev must be finite and >= 0, got {}", stddev));
  for (T& v : values) v = static_cast<T>(rng.normal(mean, stddev));
}

template <Scalar T>
void init_xavier_uniform(TensorView<T> weight, Rng& rng, double gain) {
  const Shape& shape = weight.shape;
  if (shape.rank() < 2)
    throw ValueError(fmt::format(
        "init_xavier_uniform: weight must have rank >= 2 ([fan_out, fan_in, ...]), got {}", shape.str()));
  if (weight.numel() == 0)
    throw ValueError(fmt::format("init_xavier_uniform: weight is empty, shape {}", shape.str()));
  if (!(std::isfinite(gain) && gain > 0))
    throw ValueError(fmt::format("init_xavier_uniform: gain must be finite and > 0, got {}", gain));
  int64_t receptive = 1;
  for (int axis = 2; axis < shape.rank(); ++axis) receptive *= shape[axis];
  const auto fan_out = static_cast<double>(shape[0] * receptive);
  const auto fan_in = static_cast<double>(shape[1] * receptive);
  const double bound = gain * std::sqrt(6.0 / (fan_in + fan_out));
  init_uniform(weight.span(), -bound, bound, rng);
}

template <Scalar T>
void init_zeros(std::span<T> values) {
  std::fill(values.begin(), values.end(), T(0));
}

template void init_uniform<float>(std::span<float>, double, double, Rng&);
template void init_uniform<double>(std::span<double>, double, double, Rng&);
template void init_uniform_fan<float>(std::span<float>, int64_t, Rng&);
template void init_uniform_fan<double>(std::span<double>, int64_t, Rng&);
template void init_normal<float>(std::span<float>, double, double, Rng&);
template void init_normal<double>(std::span<double>, double, double, Rng&);
template void init_xavier_uniform<float>(TensorView<float>, Rng&, double);
template void init_xavier_uniform<double>(TensorView<double>, Rng&, double);
template void init_zeros<float>(std::span<float>);
template void init_zeros<double>(std::span<double>);

}  // namespace recur
