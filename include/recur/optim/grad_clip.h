// Gradient clipping by global L2 norm, with torch.nn.utils.clip_grad_norm_'s rule (Pascanu et al., 2013):
//
//   total = sqrt(sum g^2)  (summed in double);  coef = max_norm / (total + 1e-6);  if coef < 1: g *= coef
//
// The gradients of a ParameterStore are one flat array, so one call clips the whole model.
#pragma once

#include <span>

#include "recur/core/tensor.h"

namespace recur {

// The epsilon PyTorch adds to the norm before dividing: clipped gradients end slightly below max_norm.
inline constexpr double kGradClipEps = 1e-6;

// L2 norm of grads ([n]), accumulated in double. Returns NaN or infinity when an element is.
template <Scalar T>
[[nodiscard]] T grad_norm(std::span<const T> grads);
template <Scalar T>
[[nodiscard]] T grad_norm(std::span<T> grads) {
  return grad_norm(std::span<const T>(grads));
}

// Scales grads ([n]) in place so that their L2 norm is at most max_norm, and returns the norm *before*
// clipping (what training logs report). A non-finite norm is returned with grads left untouched: the
// caller decides (skip the step, stop with NumericError). Throws ValueError unless max_norm is finite
// and > 0.
template <Scalar T>
T clip_grad_norm(std::span<T> grads, double max_norm);

}  // namespace recur
