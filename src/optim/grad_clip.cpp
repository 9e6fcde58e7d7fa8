// Global-norm gradient clipping.
#include "recur/optim/grad_clip.h"

#include <fmt/format.h>

#include <cmath>

#include "recur/core/error.h"

namespace recur {

namespace {
template <Scalar T>
double norm_in_double(std::span<const T> grads) {
  // Four partial sums: independent chains the CPU overlaps; the order is fixed, so results are repeatable.
  double sum[4] = {0, 0, 0, 0};
  const size_t n = grads.size();
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (size_t k = 0; k < 4; ++k) {
      const auto g = static_cast<double>(grads[i + k]);
      sum[k] += g * g;
    }
  for (; i < n; ++i) {
    const auto g = static_cast<double>(grads[i]);
    sum[0] += g * g;
  }
  return std::sqrt((sum[0] + sum[1]) + (sum[2] + sum[3]));
}
}  // namespace

template <Scalar T>
T grad_norm(std::span<const T> grads) {
  return static_cast<T>(norm_in_double(grads));
}

template <Scalar T>
T clip_grad_norm(std::span<T> grads, double max_norm) {
  if (!(std::isfinite(max_norm) && max_norm > 0))
    throw ValueError(fmt::format("clip_grad_norm: max_norm must be finite and > 0, got {}", max_norm));
  const double total = norm_in_double(std::span<const T>(grads));
  if (!std::isfinite(total)) return static_cast<T>(total);
  const double coef = max_norm / (total + kGradClipEps);
  if (coef < 1.0) {
    const auto scale = static_cast<T>(coef);
    for (T& g : grads) g *= scale;
  }
  return static_cast<T>(total);
}

template float grad_norm<float>(std::span<const float>);
template double grad_norm<double>(std::span<const double>);
template float clip_grad_norm<float>(std::span<float>, double);
template double clip_grad_norm<double>(std::span<double>, double);

}  // namespace recur
