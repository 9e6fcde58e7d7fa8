// Fused LSTM sequence: forward and BPTT for one direction of one layer. Equations in lstm.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/gates.h"
#include "nn/sequence.h"

namespace recur::fused {

// What the LSTM keeps between forward and backward (besides the hidden states in the layer output).
// Without keep (inference) c holds two steps (previous and current) and tanh_c one.
template <Scalar T>
struct LstmCache {
  std::vector<T> gates;   // [T*B, 4H] activated i, f, g, o (pre-activations until their step runs)
  std::vector<T> c;       // [T*B, H] cell states c_t; [2, B, H] without keep
  std::vector<T> tanh_c;  // [T*B, H] tanh(c_t); [B, H] without keep
  std::vector<T> bias;    // [4H] b_ih + b_hh
  kernels::PackedMatrix<T> w_hh_t;  // W_hh^T [H, 4H] packed once per sequence (kernels/packed_gemm.h)
  bool keep = false;      // whether c and tanh_c hold every step

  void resize(int64_t steps, int64_t batch, int64_t hidden, bool keep_steps) {
    keep = keep_steps;
    gates.resize(static_cast<size_t>(steps * batch * 4 * hidden));
    c.resize(static_cast<size_t>((keep ? steps : 2) * batch * hidden));
    tanh_c.resize(static_cast<size_t>((keep ? steps : 1) * batch * hidden));
    bias.resize(static_cast<size_t>(4 * hidden));
  }
};

template <Scalar T>
void lstm_sequence_forward(const SequenceArgs<T>& a, LstmCache<T>& cache, bool keep);
template <Scalar T>
void lstm_sequence_backward(const SequenceArgs<T>& a, const LstmCache<T>& cache, const SequenceGrads<T>& d);

}  // namespace recur::fused
