// The inverted-dropout mask between recurrent layers, drawn the same way by the fused stack
// (rnn.cpp) and the from-scratch one (scratch_cells.cpp), so that both give the same numbers.
#pragma once

#include <span>

#include "recur/core/rng.h"
#include "recur/core/tensor.h"

namespace recur::fused {

// One rng.uniform() per element in row-major order: u < p drops the element (0), otherwise it is
// kept and scaled by 1 / (1 - p), so the expected value is unchanged. p in [0, 1).
template <Scalar T>
void draw_dropout_mask(Rng& rng, double p, std::span<T> mask) {
  const T keep_scale = static_cast<T>(1.0 / (1.0 - p));
  for (T& m : mask) m = rng.uniform() < p ? T(0) : keep_scale;
}

}  // namespace recur::fused
