// Fused GRU sequence: forward and BPTT for one direction of one layer. Equations in gru.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/gates.h"
#include "nn/sequence.h"

namespace recur::fused {

// What the GRU keeps between forward and backward (besides the hidden states in the layer output).
// Without keep (inference) the per-step buffers hold one step only.
template <Scalar T>
struct GruCache {
  std::vector<T> gates;  // [T*B, 3H] activated r, z, n (the input projection until its step runs)
  std::vector<T> hn;     // [T*B, H] W_hn h_{t-1} + b_hn, which r multiplies; [B, H] without keep
  std::vector<T> hh;     // [B, 3H] workspace: h_{t-1} W_hh^T of the current step
  std::vector<T> bias;   // [3H] (b_ir + b_hr, b_iz + b_hz, b_in); b_hn stays inside r * (...)
  kernels::PackedMatrix<T> w_hh_t;  // W_hh^T [H, 3H] packed once per sequence (kernels/packed_gemm.h)
  bool keep = false;     // whether hn holds every step

  void resize(int64_t steps, int64_t batch, int64_t hidden, bool keep_steps) {
    keep = keep_steps;
    gates.resize(static_cast<size_t>(steps * batch * 3 * hidden));
    hn.resize(static_cast<size_t>((keep ? steps : 1) * batch * hidden));
    hh.resize(static_cast<size_t>(batch * 3 * hidden));
    bias.resize(static_cast<size_t>(3 * hidden));
  }
};

template <Scalar T>
void gru_sequence_forward(const SequenceArgs<T>& a, GruCache<T>& cache, bool keep);
template <Scalar T>
void gru_sequence_backward(const SequenceArgs<T>& a, const GruCache<T>& cache, const SequenceGrads<T>& d);

}  // namespace recur::fused
