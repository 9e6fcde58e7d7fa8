// Fused vanilla RNN over a sequence, forward and backward through time side by side.
//
//   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        one gate block (G = 1)
//   h_t = act(a_t),  act = tanh or relu
//
// Forward: A = X W_ih^T for all T steps in one GEMM; per step A[t] += h_{t-1} W_hh^T (GEMM) and one
// fused kernel adds the bias and activates into the layer output.
// Backward, t from last to first, carrying dh (gradient on h_t from step t+1):
//   da_t = (dh + dy_t) * act'(h_t)           (kernel; act' from h_t)
//   dh  = da_t W_hh                           (GEMM: dh_prev)
// then dW_ih, dW_hh, the biases and dx as sequence-wide GEMMs (sequence.h).
#include "nn/rnn_cell.h"

namespace recur::fused {

template <Scalar T>
void rnn_sequence_forward(kernels::RnnActivation act, const SequenceArgs<T>& a, RnnCache<T>& cache) {
  const int64_t B = a.B, H = a.H;
  cache.resize(a.steps, B, H);
  for (int64_t j = 0; j < H; ++j) cache.bias[static_cast<size_t>(j)] = a.b_ih[j] + a.b_hh[j];
  T* pre = cache.pre.data();
  project_inputs(a, H, pre);
  kernels::pack_matrix(kernels::Trans::kYes, H, H, a.w_hh, H, cache.w_hh_t);
  for_row_blocks(B, row_block_count(a.steps, B, H, H), [&](int, int64_t b0, int64_t b1) {
    const int64_t rows = b1 - b0;
    for (int64_t step = 0; step < a.steps; ++step) {
      const int64_t t = a.time_at(step);
      gather_inputs(a, H, pre, t, b0, b1);
      T* pre_t = pre + (t * B + b0) * H;
      kernels::packed_gemm(rows, a.h_prev(t) + b0 * a.ld_prev(t), a.ld_prev(t), cache.w_hh_t, T(1), pre_t, H);
      kernels::rnn_step_forward(act, rows, H, pre_t, cache.bias.data(), a.out + (t * B + b0) * a.ld_out, a.ld_out);
    }
  });
  const T* last = a.out + a.time_at(a.steps - 1) * B * a.ld_out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j) a.h_n[b * H + j] = last[b * a.ld_out + j];
}

template <Scalar T>
void rnn_sequence_backward(kernels::RnnActivation act, const SequenceArgs<T>& a, const RnnCache<T>& /*cache*/,
                           const SequenceGrads<T>& d) {
  const int64_t B = a.B, H = a.H;
  T* da = d.dgates_ih;  // [T*B, H]
  clear_bias_sums(d, H, 0);
  kernels::pack_matrix(kernels::Trans::kNo, H, H, a.w_hh, H, *d.w_hh_packed);
  const int parts = d.dbias_parts != nullptr ? row_block_count(a.steps, B, H, H) : 1;
  clear_part_sums(d, parts, 2 * H);
  for_row_blocks(B, parts, [&](int part, int64_t b0, int64_t b1) {
    const int64_t rows = b1 - b0;
    T* db = part == 0 ? d.dbias : d.dbias_parts + (part - 1) * 2 * H;
    T* dh = d.dh + b0 * H;
    const BlockWeightGrads<T> weight_grads(a, d, H, part, b0, b1);
    for (int64_t step = a.steps - 1; step >= 0; --step) {
      const int64_t t = a.time_at(step);
      const int64_t row = t * B + b0;
      const T* dy_t = d.dy != nullptr ? d.dy + row * d.ld_dy : nullptr;
      T* da_t = da + row * H;
      kernels::rnn_step_backward(act, rows, H, a.out + row * a.ld_out, a.ld_out, dy_t, d.ld_dy, dh, da_t, db);
      weight_grads.add_step(t, da, da);
      kernels::packed_gemm(rows, da_t, H, *d.w_hh_packed, T(0), dh, H);
    }
  });
  reduce_part_sums(a, d, parts, 2 * H);
  accumulate_sequence_grads(a, d, H, da, da);
}

template void rnn_sequence_forward<float>(kernels::RnnActivation, const SequenceArgs<float>&,
                                          RnnCache<float>&);
template void rnn_sequence_forward<double>(kernels::RnnActivation, const SequenceArgs<double>&,
                                           RnnCache<double>&);
template void rnn_sequence_backward<float>(kernels::RnnActivation, const SequenceArgs<float>&,
                                           const RnnCache<float>&, const SequenceGrads<float>&);
template void rnn_sequence_backward<double>(kernels::RnnActivation, const SequenceArgs<double>&,
                                            const RnnCache<double>&, const SequenceGrads<double>&);

}  // namespace recur::fused
