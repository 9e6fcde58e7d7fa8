// The time loop of every fused cell, written once: scan_forward and scan_backward run one direction
// of one layer over a whole sequence for any cell that plugs in as a traits struct (ATen's FullLayer
// over its cells). The sequence-wide GEMMs around the loop are in sequence.h.
//
// A cell is a struct (see rnn_cell.h, gru.h, lstm.h) with
//   kName                 its name in checkpoints and on the command line
//   kGates                G, gate blocks of H columns stacked in W_ih, W_hh, b_ih, b_hh
//   kFoldedBiasBlocks     leading blocks whose b_hh is folded into b_ih once per sequence; the others
//                         read b_hh inside the step kernel (GRU's r * (W_hn h + b_hn))
//   kRecurrentApart       h_{t-1} W_hh^T goes to its own buffer (StepForward::hh) instead of being
//                         added to the gates, and backward gives W_hh its own gate gradients
//   kSavesPerStep         the step keeps one [B, H] value besides the gates for backward (saved)
//   kHasCellState         a second state c beside h (c0, c_n)
//   kDirectDh             the backward step leaves a direct dL/dh_{t-1} term in dh (GRU's z * dh),
//                         which the recurrent product then adds to instead of overwriting
//   step_forward(const StepForward<T>&), step_backward(const StepBackward<T>&): its kernel calls
//   scratch_step(g, x, state, weights): the same step composed of autograd ops (ScratchRnn)
// To add a cell (a minimal GRU, a peephole LSTM): write its step kernels and their reference twins
// in kernels/gates.h, then one header here with the equations atop and that struct (copy gru.h),
// a CellType value (recur/nn/rnn.h) and one case in visit_cell (cells.h). Its tests: kernels
// against their twins (tests/kernels/test_gates.cpp), and the gradient check and fused-vs-scratch
// tests in tests/nn, which loop over every CellType.
//
// Glossary: T steps, B batch, H hidden size, G gate blocks, GH = G*H (as in sequence.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/aligned_vector.h"
#include "nn/sequence.h"

namespace recur::fused {

// The buffers of one step of `rows` batch rows, as a cell's forward kernel sees them. Inference
// (src/lm/inference.cpp) fills the same struct for one row. Null where the cell has no use for one.
template <Scalar T>
struct StepForward {
  int64_t rows = 0, H = 0;
  T* gates = nullptr;  // [rows, G*H] in: x W_ih^T (+ h_{t-1} W_hh^T unless kRecurrentApart); out: activated
  const T* hh = nullptr;      // [rows, G*H] h_{t-1} W_hh^T, kRecurrentApart only
  const T* bias = nullptr;    // [G*H] fold_bias's folded biases
  const T* b_hh = nullptr;    // [G*H] the recurrent bias, read in the blocks past kFoldedBiasBlocks
  const T* h_prev = nullptr;  // [rows, ld_prev]
  int64_t ld_prev = 0;
  T* h = nullptr;  // [rows, ld_h] written: the new hidden state
  int64_t ld_h = 0;
  const T* c_prev = nullptr;  // [rows, H] kHasCellState
  T* c = nullptr;             // [rows, H] written: the new cell state
  T* saved = nullptr;         // [rows, H] written, kSavesPerStep: what backward reads besides the gates
};

// The buffers of one backward step of `rows` batch rows.
template <Scalar T>
struct StepBackward {
  int64_t rows = 0, H = 0;
  const T* gates = nullptr;   // [rows, G*H] activated gates (vanilla RNN: unused)
  const T* saved = nullptr;   // [rows, H] kSavesPerStep
  const T* h_prev = nullptr;  // [rows, ld_prev]
  int64_t ld_prev = 0;
  const T* h = nullptr;  // [rows, ld_h] the step's output
  int64_t ld_h = 0;
  const T* c_prev = nullptr;  // [rows, H] kHasCellState
  const T* dy = nullptr;      // [rows, ld_dy] gradient from the layer output, or null = zero
  int64_t ld_dy = 0;
  T* dh = nullptr;         // [rows, H] in: gradient on h_t from step t+1; out: kDirectDh's term, else unused
  T* dc = nullptr;         // [rows, H] in: gradient on c_t; out: on c_{t-1} (kHasCellState)
  T* dgates_ih = nullptr;  // [rows, G*H] written: gradient on the input-side pre-activations
  T* dgates_hh = nullptr;  // [rows, G*H] written, kRecurrentApart: on the recurrent side
  T* db = nullptr;  // [G*H + H] += column sums of dgates_ih, then (kRecurrentApart) of dgates_hh's last block
};

// What one direction of one layer keeps between forward and backward, besides the hidden states in
// the layer output; which buffers a cell uses follows from its traits. Without keep (inference)
// saved holds one step and c two (previous and current), alternating by processing step.
template <Scalar T>
struct ScanCache {
  AlignedVector<T> gates;  // [T*B, G*H] the input projection, activated in place step by step
  AlignedVector<T> hh;     // [B, G*H] kRecurrentApart: h_{t-1} W_hh^T of the current step
  AlignedVector<T> saved;  // [T*B, H] kSavesPerStep (GRU W_hn h + b_hn, LSTM tanh c_t); [B, H] without keep
  AlignedVector<T> c;      // [T*B, H] kHasCellState: c_t; [2, B, H] without keep
  AlignedVector<T> bias;   // [G*H] fold_bias
  kernels::PackedMatrix<T> w_hh_t;  // W_hh^T [H, G*H] packed once per sequence (kernels/packed_gemm.h)
  int64_t batch = 0, hidden = 0;
  bool keep = false;  // whether saved and c hold every step

  template <class Cell>
  void resize(int64_t steps, int64_t B, int64_t H, bool keep_steps) {
    batch = B;
    hidden = H;
    keep = keep_steps;
    const auto per_step = static_cast<size_t>(B * H);
    gates.resize(static_cast<size_t>(steps * Cell::kGates) * per_step);
    if (Cell::kRecurrentApart) hh.resize(static_cast<size_t>(Cell::kGates) * per_step);
    if (Cell::kSavesPerStep) saved.resize(static_cast<size_t>(keep ? steps : 1) * per_step);
    if (Cell::kHasCellState) c.resize(static_cast<size_t>(keep ? steps : 2) * per_step);
    bias.resize(static_cast<size_t>(Cell::kGates * H));
  }
  // Offset of batch row b0 of the saved value of the step at time t.
  [[nodiscard]] int64_t saved_offset(int64_t t, int64_t b0) const {
    return ((keep ? t * batch : 0) + b0) * hidden;
  }
  // Offset of batch row b0 of c_t, t the time of the step-th step processed.
  [[nodiscard]] int64_t c_offset(int64_t step, int64_t t, int64_t b0) const {
    return ((keep ? t : (step & 1)) * batch + b0) * hidden;
  }
  // Batch row b0 of the cell state the step-th step (time t) starts from.
  [[nodiscard]] const T* c_prev(const SequenceArgs<T>& a, int64_t step, int64_t t, int64_t b0) const {
    return step == 0 ? a.c0 + b0 * hidden : c.data() + c_offset(step - 1, a.time_before(t), b0);
  }
};

// bias [G*H] = b_ih + b_hh in the first kFoldedBiasBlocks blocks, b_ih in the others.
template <class Cell, Scalar T>
void fold_bias(int64_t H, const T* b_ih, const T* b_hh, T* bias) {
  const int64_t folded = Cell::kFoldedBiasBlocks * H;
  for (int64_t j = 0; j < folded; ++j) bias[j] = b_ih[j] + b_hh[j];
  std::copy(b_ih + folded, b_ih + Cell::kGates * H, bias + folded);
}

// Forward over the sequence: the input projection of all steps in one GEMM (sequence.h), then per
// step and row block the recurrent product (packed GEMM) and the cell's fused step kernel. Writes
// a.out, a.h_n and (kHasCellState) a.c_n; `keep` keeps every step's cache for backward.
template <class Cell, Scalar T>
void scan_forward(const SequenceArgs<T>& a, ScanCache<T>& cache, bool keep) {
  const int64_t B = a.B, H = a.H, GH = Cell::kGates * H;
  cache.template resize<Cell>(a.steps, B, H, keep);
  fold_bias<Cell>(H, a.b_ih, a.b_hh, cache.bias.data());
  T* gates = cache.gates.data();
  project_inputs(a, GH, gates);
  kernels::pack_matrix(kernels::Trans::kYes, H, GH, a.w_hh, H, cache.w_hh_t);
  for_row_blocks(B, row_block_count(a.threads, a.steps, B, GH, H), [&](int, int64_t b0, int64_t b1) {
    StepForward<T> s{.rows = b1 - b0, .H = H, .bias = cache.bias.data(), .b_hh = a.b_hh, .ld_h = a.ld_out};
    if (Cell::kRecurrentApart) s.hh = cache.hh.data() + b0 * GH;
    for (int64_t step = 0; step < a.steps; ++step) {
      const int64_t t = a.time_at(step);
      gather_inputs(a, GH, gates, t, b0, b1);
      s.gates = gates + (t * B + b0) * GH;
      s.ld_prev = a.ld_prev(t);
      s.h_prev = a.h_prev(t) + b0 * s.ld_prev;
      s.h = a.out + (t * B + b0) * a.ld_out;
      if (Cell::kSavesPerStep) s.saved = cache.saved.data() + cache.saved_offset(t, b0);
      if (Cell::kHasCellState) {
        s.c_prev = cache.c_prev(a, step, t, b0);
        s.c = cache.c.data() + cache.c_offset(step, t, b0);
      }
      // h_{t-1} W_hh^T, added to the gates or into its own buffer.
      T* recurrent = Cell::kRecurrentApart ? cache.hh.data() + b0 * GH : s.gates;
      kernels::packed_gemm(s.rows, s.h_prev, s.ld_prev, cache.w_hh_t, Cell::kRecurrentApart ? T(0) : T(1),
                           recurrent, GH);
      Cell::step_forward(s);
    }
  });
  const int64_t last = a.time_at(a.steps - 1);
  const T* h_last = a.out + last * B * a.ld_out;
  for (int64_t b = 0; b < B; ++b) std::copy(h_last + b * a.ld_out, h_last + b * a.ld_out + H, a.h_n + b * H);
  if (Cell::kHasCellState) {
    const T* c_last = cache.c.data() + cache.c_offset(a.steps - 1, last, 0);
    std::copy(c_last, c_last + B * H, a.c_n);
  }
}

// Backward through time, t from the last step processed to the first, each row block carrying dh
// (and dc) while the cell's step kernel forms the gate gradients and the packed GEMM
// dh_{t-1} (+)= dgates_hh W_hh; then the weight, bias and input gradients (sequence.h). Adds into
// every gradient buffer of d; leaves the gradients on h0 (and c0) in d.dh (d.dc).
template <class Cell, Scalar T>
void scan_backward(const SequenceArgs<T>& a, const ScanCache<T>& cache, const SequenceGrads<T>& d) {
  const int64_t B = a.B, H = a.H, GH = Cell::kGates * H;
  T* dgates_hh = Cell::kRecurrentApart ? d.dgates_hh : d.dgates_ih;  // [T*B, G*H]
  clear_bias_sums(d, GH, H);
  kernels::pack_matrix(kernels::Trans::kNo, GH, H, a.w_hh, H, *d.w_hh_packed);
  const int parts = d.dbias_parts != nullptr ? row_block_count(a.threads, a.steps, B, GH, H) : 1;
  clear_part_sums(d, parts, GH + H);
  for_row_blocks(B, parts, [&](int part, int64_t b0, int64_t b1) {
    const BlockWeightGrads<T> weight_grads(a, d, GH, part, b0, b1);
    StepBackward<T> s{.rows = b1 - b0, .H = H, .ld_h = a.ld_out, .ld_dy = d.ld_dy, .dh = d.dh + b0 * H};
    if (Cell::kHasCellState) s.dc = d.dc + b0 * H;
    s.db = part == 0 ? d.dbias : d.dbias_parts + (part - 1) * (GH + H);
    for (int64_t step = a.steps - 1; step >= 0; --step) {
      const int64_t t = a.time_at(step);
      const int64_t row = t * B + b0;
      s.gates = cache.gates.data() + row * GH;
      if (Cell::kSavesPerStep) s.saved = cache.saved.data() + cache.saved_offset(t, b0);
      s.ld_prev = a.ld_prev(t);
      s.h_prev = a.h_prev(t) + b0 * s.ld_prev;
      s.h = a.out + row * a.ld_out;
      if (Cell::kHasCellState) s.c_prev = cache.c_prev(a, step, t, b0);
      s.dy = d.dy != nullptr ? d.dy + row * d.ld_dy : nullptr;
      s.dgates_ih = d.dgates_ih + row * GH;
      s.dgates_hh = dgates_hh + row * GH;
      Cell::step_backward(s);
      weight_grads.add_step(t, d.dgates_ih, dgates_hh);
      kernels::packed_gemm(s.rows, s.dgates_hh, GH, *d.w_hh_packed, Cell::kDirectDh ? T(1) : T(0), s.dh, H);
    }
  });
  reduce_part_sums(a, d, parts, GH + H);
  accumulate_sequence_grads(a, d, GH, d.dgates_ih, dgates_hh);
}

}  // namespace recur::fused
