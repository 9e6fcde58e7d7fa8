// Random test tensors: values uniform in [low, high) from the test's own Rng, so every case is
// reproducible from its seed.
#pragma once

#include "recur/core/rng.h"
#include "recur/core/tensor.h"

namespace recur::test {

template <Scalar T = double>
Tensor<T> random_uniform(Rng& rng, const Shape& shape, double low, double high) {
  Tensor<T> t(shape);
  for (T& v : t.span()) v = static_cast<T>(rng.uniform(low, high));
  return t;
}

// Uniform in [-scale, scale).
template <Scalar T = double>
Tensor<T> random_tensor(Rng& rng, const Shape& shape, double scale = 1.0) {
  return random_uniform<T>(rng, shape, -scale, scale);
}

}  // namespace recur::test
