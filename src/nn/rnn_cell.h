// Fused vanilla RNN sequence (tanh or relu): forward and BPTT for one direction of one layer.
// Equations and cache are described in rnn_cell.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/gates.h"
#include "nn/sequence.h"

namespace recur::fused {

// What the vanilla RNN keeps between forward and backward: nothing beyond the hidden states in the
// layer output, since act'(a) is a function of h = act(a) (tanh: 1 - h^2, relu: [h > 0]).
template <Scalar T>
struct RnnCache {
  std::vector<T> pre;   // [T*B, H] workspace: input projection, then pre-activations (not read by backward)
  std::vector<T> bias;  // [H] b_ih + b_hh
  kernels::PackedMatrix<T> w_hh_t;  // W_hh^T [H, H] packed once per sequence (kernels/packed_gemm.h)

  void resize(int64_t steps, int64_t batch, int64_t hidden) {
    pre.resize(static_cast<size_t>(steps * batch * hidden));
    bias.resize(static_cast<size_t>(hidden));
  }
};

template <Scalar T>
void rnn_sequence_forward(kernels::RnnActivation act, const SequenceArgs<T>& a, RnnCache<T>& cache);
template <Scalar T>
void rnn_sequence_backward(kernels::RnnActivation act, const SequenceArgs<T>& a, const RnnCache<T>& cache,
                           const SequenceGrads<T>& d);

}  // namespace recur::fused
