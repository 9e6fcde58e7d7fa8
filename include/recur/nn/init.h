// Parameter initializers, drawing from an explicit Rng so that one seed gives the same bits.
// PyTorch's defaults, for reference:
//   nn.RNN / GRU / LSTM: every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))
//                        -> init_uniform_fan(values, hidden_size, rng)
//   nn.Linear(in, out):  weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with a = sqrt(5)
//                        works out to this bound) -> init_uniform_fan(values, in, rng)
//   d2l's from-scratch models: weights ~ N(0, 0.01^2), biases 0 -> init_normal(.., 0, 0.01, ..), init_zeros
// Values are drawn in double and rounded to T, in index order.
#pragma once

#include <cstdint>
#include <span>

#include "recur/core/rng.h"
#include "recur/core/tensor.h"

namespace recur {

// U(low, high) per element. Throws ValueError unless low and high are finite and low <= high.
template <Scalar T>
void init_uniform(std::span<T> values, double low, double high, Rng& rng);

// U(-1/sqrt(fan), 1/sqrt(fan)), PyTorch's default for recurrent layers (fan = hidden_size) and
// Linear (fan = in_features). Throws ValueError unless fan > 0.
template <Scalar T>
void init_uniform_fan(std::span<T> values, int64_t fan, Rng& rng);

// N(mean, stddev^2) per element. Throws ValueError unless both are finite and stddev >= 0.
template <Scalar T>
void init_normal(std::span<T> values, double mean, double stddev, Rng& rng);

// Glorot and Bengio (2010): U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)), for a weight
// [fan_out, fan_in] (PyTorch's layout; extra trailing dims multiply both fans, as torch's receptive field).
// Throws ValueError for rank < 2, an empty matrix, or a gain that is not finite and > 0.
template <Scalar T>
void init_xavier_uniform(TensorView<T> weight, Rng& rng, double gain = 1.0);

template <Scalar T>
void init_zeros(std::span<T> values);

}  // namespace recur
