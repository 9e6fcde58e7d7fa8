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
  kernels::pack_matrix(kernels::Trans::kYes, H, GH, a.w_hh, H, cache.w_hh_t);
  for_row_blocks(B, row_block_count(a.steps, B, GH, H), [&](int, int64_t b0, int64_t b1) {
    const int64_t rows = b1 - b0;
    for (int64_t step = 0; step < a.steps; ++step) {
      const int64_t t = a.time_at(step);
      gather_inputs(a, GH, gates, t, b0, b1);
      const int64_t ld_prev = a.ld_prev(t);
      const T* h_prev = a.h_prev(t) + b0 * ld_prev;
      T* hh = cache.hh.data() + b0 * GH;
      kernels::packed_gemm(rows, h_prev, ld_prev, cache.w_hh_t, T(0), hh, GH);
      T* hn_t = cache.hn.data() + (keep ? t * B * H : 0) + b0 * H;
      kernels::gru_step_forward(rows, H, gates + (t * B + b0) * GH, hh, cache.bias.data(), b_hn, h_prev, ld_prev,
                                a.out + (t * B + b0) * a.ld_out, a.ld_out, hn_t);
    }
  });
  const T* last = a.out + a.time_at(a.steps - 1) * B * a.ld_out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j) a.h_n[b * H + j] = last[b * a.ld_out + j];
}

template <Scalar T>
void gru_sequence_backward(const SequenceArgs<T>& a, const GruCache<T>& cache, const SequenceGrads<T>& d) {
  const int64_t B = a.B, H = a.H, GH = 3 * H;
  clear_bias_sums(d, GH, H);
  kernels::pack_matrix(kernels::Trans::kNo, GH, H, a.w_hh, H, *d.w_hh_packed);
  const int parts = d.dbias_parts != nullptr ? row_block_count(a.steps, B, GH, H) : 1;
  clear_part_sums(d, parts, GH + H);
  for_row_blocks(B, parts, [&](int part, int64_t b0, int64_t b1) {
    const int64_t rows = b1 - b0;
    T* db = part == 0 ? d.dbias : d.dbias_parts + (part - 1) * (GH + H);
    T* dh = d.dh + b0 * H;
    const BlockWeightGrads<T> weight_grads(a, d, GH, part, b0, b1);
    for (int64_t step = a.steps - 1; step >= 0; --step) {
      const int64_t t = a.time_at(step);
      const int64_t row = t * B + b0;
      const T* dy_t = d.dy != nullptr ? d.dy + row * d.ld_dy : nullptr;
      T* dgh_t = d.dgates_hh + row * GH;
      kernels::gru_step_backward(rows, H, cache.gates.data() + row * GH, cache.hn.data() + row * H,
                                 a.h_prev(t) + b0 * a.ld_prev(t), a.ld_prev(t), dy_t, d.ld_dy, dh,
                                 d.dgates_ih + row * GH, dgh_t, db, db + GH);
      weight_grads.add_step(t, d.dgates_ih, d.dgates_hh);
      kernels::packed_gemm(rows, dgh_t, GH, *d.w_hh_packed, T(1), dh, H);
    }
  });
  reduce_part_sums(a, d, parts, GH + H);
  accumulate_sequence_grads(a, d, GH, d.dgates_ih, d.dgates_hh);
}

template void gru_sequence_forward<float>(const SequenceArgs<float>&, GruCache<float>&, bool);
template void gru_sequence_forward<double>(const SequenceArgs<double>&, GruCache<double>&, bool);
template void gru_sequence_backward<float>(const SequenceArgs<float>&, const GruCache<float>&,
                                           const SequenceGrads<float>&);
template void gru_sequence_backward<double>(const SequenceArgs<double>&, const GruCache<double>&,
                                            const SequenceGrads<double>&);

}  // namespace recur::fused
