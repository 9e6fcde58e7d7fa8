// Fused LSTM over a sequence, forward and backward through time side by side.
//
// Gate order i, f, g, o (PyTorch's; ncnn stores I, F, O, G):
//   i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)     f = sigmoid(W_if x + b_if + W_hf h + b_hf)
//   g = tanh   (W_ig x + b_ig + W_hg h + b_hg)     o = sigmoid(W_io x + b_io + W_ho h + b_ho)
//   c' = f * c + i * g          h' = o * tanh(c')
//
// Forward: X W_ih^T for all steps in one GEMM (into cache.gates); per step gates[t] += h_{t-1} W_hh^T
// (GEMM, beta 1) and one fused kernel that adds the folded bias, activates in place and writes c_t,
// tanh(c_t) and h_t.
// Backward, t from last to first, carrying dh and dc (gradients on h_t and c_t from step t+1):
//   dh_t = dh + dy_t                 dc_t = dc + dh_t o (1 - tanh^2 c_t)
//   di = dc_t g i (1 - i)   df = dc_t c_{t-1} f (1 - f)   dg = dc_t i (1 - g^2)   do = dh_t tanh(c_t) o (1 -
//   o) dc = dc_t f                       dh = dgates[t] W_hh     (kernel, then GEMM)
// then the weight, bias and input gradients as sequence-wide GEMMs (sequence.h).
#include "nn/lstm.h"

#include <algorithm>

namespace recur::fused {

template <Scalar T>
void lstm_sequence_forward(const SequenceArgs<T>& a, LstmCache<T>& cache, bool keep) {
  const int64_t B = a.B, H = a.H, GH = 4 * H, BH = B * H;
  cache.resize(a.steps, B, H, keep);
  for (int64_t j = 0; j < GH; ++j) cache.bias[static_cast<size_t>(j)] = a.b_ih[j] + a.b_hh[j];
  T* gates = cache.gates.data();
  project_inputs(a, GH, gates);
  kernels::pack_matrix(kernels::Trans::kYes, H, GH, a.w_hh, H, cache.w_hh_t);
  for_row_blocks(B, row_block_count(a.steps, B, GH, H), [&](int, int64_t b0, int64_t b1) {
    const int64_t rows = b1 - b0;
    const T* c_prev = a.c0 + b0 * H;
    for (int64_t step = 0; step < a.steps; ++step) {
      const int64_t t = a.time_at(step);
      gather_inputs(a, GH, gates, t, b0, b1);
      T* gates_t = gates + (t * B + b0) * GH;
      kernels::packed_gemm(rows, a.h_prev(t) + b0 * a.ld_prev(t), a.ld_prev(t), cache.w_hh_t, T(1), gates_t, GH);
      // With keep, c_t goes to its time slot; else the two slots alternate by processing step.
      T* c_t = cache.c.data() + (keep ? t : (step & 1)) * BH + b0 * H;
      T* tanh_c_t = cache.tanh_c.data() + (keep ? t * BH : 0) + b0 * H;
      kernels::lstm_step_forward(rows, H, gates_t, cache.bias.data(), c_prev, c_t, tanh_c_t,
                                 a.out + (t * B + b0) * a.ld_out, a.ld_out);
      c_prev = c_t;
    }
  });
  const T* c_prev = cache.c.data() + (keep ? a.time_at(a.steps - 1) : ((a.steps - 1) & 1)) * BH;
  const T* last = a.out + a.time_at(a.steps - 1) * B * a.ld_out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < H; ++j) a.h_n[b * H + j] = last[b * a.ld_out + j];
  std::copy(c_prev, c_prev + BH, a.c_n);
}

template <Scalar T>
void lstm_sequence_backward(const SequenceArgs<T>& a, const LstmCache<T>& cache, const SequenceGrads<T>& d) {
  const int64_t B = a.B, H = a.H, GH = 4 * H, BH = B * H;
  T* dgates = d.dgates_ih;  // [T*B, 4H]: the same gradient reaches both projections
  clear_bias_sums(d, GH, 0);
  kernels::pack_matrix(kernels::Trans::kNo, GH, H, a.w_hh, H, *d.w_hh_packed);
  const int parts = d.dbias_parts != nullptr ? row_block_count(a.steps, B, GH, H) : 1;
  clear_part_sums(d, parts, GH + H);
  for_row_blocks(B, parts, [&](int part, int64_t b0, int64_t b1) {
    const int64_t rows = b1 - b0;
    T* db = part == 0 ? d.dbias : d.dbias_parts + (part - 1) * (GH + H);
    T* dh = d.dh + b0 * H;
    T* dc = d.dc + b0 * H;
    const BlockWeightGrads<T> weight_grads(a, d, GH, part, b0, b1);
    for (int64_t step = a.steps - 1; step >= 0; --step) {
      const int64_t t = a.time_at(step);
      const int64_t row = t * B + b0;
      const T* c_prev = (step == 0 ? a.c0 : cache.c.data() + a.time_before(t) * BH) + b0 * H;
      const T* dy_t = d.dy != nullptr ? d.dy + row * d.ld_dy : nullptr;
      T* dgates_t = dgates + row * GH;
      kernels::lstm_step_backward(rows, H, cache.gates.data() + row * GH, c_prev, cache.tanh_c.data() + row * H,
                                  dy_t, d.ld_dy, dh, dc, dgates_t, db);
      weight_grads.add_step(t, dgates, dgates);
      kernels::packed_gemm(rows, dgates_t, GH, *d.w_hh_packed, T(0), dh, H);
    }
  });
  reduce_part_sums(a, d, parts, GH + H);
  accumulate_sequence_grads(a, d, GH, dgates, dgates);
}

template void lstm_sequence_forward<float>(const SequenceArgs<float>&, LstmCache<float>&, bool);
template void lstm_sequence_forward<double>(const SequenceArgs<double>&, LstmCache<double>&, bool);
template void lstm_sequence_backward<float>(const SequenceArgs<float>&, const LstmCache<float>&,
                                            const SequenceGrads<float>&);
template void lstm_sequence_backward<double>(const SequenceArgs<double>&, const LstmCache<double>&,
                                             const SequenceGrads<double>&);

}  // namespace recur::fused
