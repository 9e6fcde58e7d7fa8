// Fused GRU over a sequence, forward and backward through time side by side.
//
// Gate order r, z, n (PyTorch/cuDNN convention: r multiplies the recurrent term with its bias):
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
//   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//   h' = (1 - z) * n + z * h
//
// Forward: X W_ih^T for all steps in one GEMM (into cache.gates); per step hh = h_{t-1} W_hh^T
// (GEMM) and one fused kernel that adds the folded biases, activates r, z, n in place, and writes
// hn = W_hn h + b_hn and h_t.
// Backward, t from last to first, carrying dh (gradient on h_t from step t+1), with d = dh + dy_t:
//   dn_pre = d (1 - z) (1 - n^2)        dz_pre = d (h_{t-1} - n) z (1 - z)
//   dr_pre = dn_pre hn r (1 - r)
//   dgates_ih[t] = (dr_pre, dz_pre, dn_pre)       dgates_hh[t] = (dr_pre, dz_pre, dn_pre r)
//   dh = d z + dgates_hh[t] W_hh                   (kernel, then GEMM with beta 1)
// then the weight, bias and input gradients as sequence-wide GEMMs (sequence.h); the bias
// gradients are the column sums of dgates_ih and dgates_hh.
#include "nn/gru.h"

namespace recur::fused {

template <Scalar T>
void gru_sequence_forward(const SequenceArgs<T>& a, GruCache<T>& cache, bool keep) {
  const int64_t B = a.B, H = a.H, GH = 3 * H;
  cache.resize(a.steps, B, H, keep);
  for (int64_t j = 0; j < 2 * H; ++j) cache.bias[static_cast<size_t>(j)] = a.b_ih[j] + a.b_hh[j];
  for (int64_t j = 2 * H; j < GH; ++j) cache.bias[static_cast<size_t>(j)] = a.b_ih[j];
  const T* b_hn = a.b_hh + 2 * H;
  T* gates = cache.gates.data();
  project_inputs(a, GH, gates);
  for (int64_t step = 0; step < a.steps; ++step) {
    const int64_t t = a.time_at(step);
    const T* h_prev = a.h_prev(t);
    const int64_t ld_prev = a.ld_prev(t);
    kernels::gemm(kernels::Trans::kNo, kernels::Trans::kYes, B, GH, H, T(1), h_prev, ld_prev, a.w_hh, H, T(0),
                  cache.hh.data(), GH);
    T* hn_t = cache.hn.data() + (keep ? t * B * H : 0);
    kernels::gru_step_forward(B, H, gates + t * B * GH, cache.hh.data(), cache.bias.data(), b_hn, h_prev,
                              ld_prev, a.out + t * B * a.ld_out, a.ld_out, hn_t);
  }
  const T* last = a.out + a.time_at(a.steps - 1) * B * a.ld_out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j) a.h_n[b * H + j] = last[b * a.ld_out + j];
}

template <Scalar T>
void gru_sequence_backward(const SequenceArgs<T>& a, const GruCache<T>& cache, const SequenceGrads<T>& d) {
  const int64_t B = a.B, H = a.H, GH = 3 * H;
  clear_bias_sums(d, GH, H);
  for (int64_t step = a.steps - 1; step >= 0; --step) {
    const int64_t t = a.time_at(step);
    const T* dy_t = d.dy != nullptr ? d.dy + t * B * d.ld_dy : nullptr;
    T* dgh_t = d.dgates_hh + t * B * GH;
    kernels::gru_step_backward(B, H, cache.gates.data() + t * B * GH, cache.hn.data() + t * B * H,
                               a.h_prev(t), a.ld_prev(t), dy_t, d.ld_dy, d.dh, d.dgates_ih + t * B * GH,
                               dgh_t, d.dbias, d.dbias + GH);
    kernels::gemm(kernels::Trans::kNo, kernels::Trans::kNo, B, H, GH, T(1), dgh_t, GH, a.w_hh, H, T(1), d.dh,
                  H);
  }
  accumulate_sequence_grads(a, d, GH, d.dgates_ih, d.dgates_hh);
}

template void gru_sequence_forward<float>(const SequenceArgs<float>&, GruCache<float>&, bool);
template void gru_sequence_forward<double>(const SequenceArgs<double>&, GruCache<double>&, bool);
template void gru_sequence_backward<float>(const SequenceArgs<float>&, const GruCache<float>&,
                                           const SequenceGrads<float>&);
template void gru_sequence_backward<double>(const SequenceArgs<double>&, const GruCache<double>&,
                                            const SequenceGrads<double>&);

}  // namespace recur::fused
