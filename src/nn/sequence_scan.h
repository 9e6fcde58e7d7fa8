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
#include <utility>
#include <vector>

#include "core/aligned_vector.h"
#include "nn/sequence.h"
#include "nn/step_team.h"

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
  kernels::PackedMatrix<T> w_ih_t;  // W_ih^T [I, G*H] for the input projection (use_own_input_products)
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

// Whether a layer's time loop runs as a column split (step_team.h) rather than as row blocks. Row
// blocks never wait for each other, but each streams all of W_hh through its core every step, from
// L3 once W_hh outgrows a core's L2 (hidden 512: 3 MiB for GRU, 4 MiB for LSTM). Split by columns
// of the recurrent product, each thread streams its share, which may stay in its L2, at the cost of
// two barriers per step (microseconds against a step's hundreds). One thread's half of the C LSTM
// step product (bench_gemm packed_gemm_half; Intel Xeon, AVX-512): 402 us as a row block, 336 us
// as a column half; AVX2 792 and 707 us. At 1 MiB (B LSTM) the two were even.
template <Scalar T>
bool use_column_split(int parts, int64_t GH, int64_t H) {
  return parts > 1 && GH * H * static_cast<int64_t>(sizeof(T)) >= (int64_t{2} << 20);
}

// Columns [n0, n1) of an N-column product for member `member` of a team: on panel boundaries
// (packed_gemm_columns), and on 64-column tile boundaries when each share spans several tiles.
inline std::pair<int64_t, int64_t> column_share(int64_t N, int member, int team) {
  const int64_t unit = N >= 4 * 64 * team ? 64 : kernels::kPackedPanel;
  const int64_t n0 = N * member / team / unit * unit;
  const int64_t n1 = member + 1 == team ? N : N * (member + 1) / team / unit * unit;
  return {n0, n1};
}

// Forward over the sequence: the input projection of all steps in one GEMM (sequence.h), then per
// step the recurrent product (packed GEMM) and the cell's fused step kernel, either per row block
// on its own thread, or (use_column_split) the product split by columns over all rows and the step
// kernel by rows, with a barrier after each. Writes a.out, a.h_n and (kHasCellState) a.c_n; `keep`
// keeps every step's cache for backward.
template <class Cell, Scalar T>
void scan_forward(const SequenceArgs<T>& a, ScanCache<T>& cache, bool keep) {
  const int64_t B = a.B, H = a.H, GH = Cell::kGates * H;
  cache.template resize<Cell>(a.steps, B, H, keep);
  fold_bias<Cell>(H, a.b_ih, a.b_hh, cache.bias.data());
  T* gates = cache.gates.data();
  project_inputs(a, GH, gates, cache.w_ih_t);
  kernels::pack_matrix(kernels::Trans::kYes, H, GH, a.w_hh, H, cache.w_hh_t);
  const T recurrent_beta = Cell::kRecurrentApart ? T(0) : T(1);
  // Points s (rows [b0, b0 + s.rows)) at the step-th step, time t.
  auto point_step = [&](StepForward<T>& s, int64_t step, int64_t t, int64_t b0) {
    s.gates = gates + (t * B + b0) * GH;
    s.ld_prev = a.ld_prev(t);
    s.h_prev = a.h_prev(t) + b0 * s.ld_prev;
    s.h = a.out + (t * B + b0) * a.ld_out;
    if (Cell::kSavesPerStep) s.saved = cache.saved.data() + cache.saved_offset(t, b0);
    if (Cell::kHasCellState) {
      s.c_prev = cache.c_prev(a, step, t, b0);
      s.c = cache.c.data() + cache.c_offset(step, t, b0);
    }
  };
  // h_{t-1} W_hh^T goes into the gates of rows [b0, b0 + rows), or kRecurrentApart into cache.hh.
  auto recurrent_out = [&](int64_t t, int64_t b0) {
    return Cell::kRecurrentApart ? cache.hh.data() + b0 * GH : gates + (t * B + b0) * GH;
  };
  // Rows [r0, r1), columns [n0, n1) of step t's recurrent product h_{t-1} W_hh^T, into
  // recurrent_out. From a zero h0 it is zero: nothing to add, or (kRecurrentApart) zeros to write.
  auto recurrent_product = [&](int64_t step, int64_t t, int64_t r0, int64_t r1, int64_t n0, int64_t n1) {
    T* out = recurrent_out(t, r0);
    if (step == 0 && a.h0_is_zero) {
      if (Cell::kRecurrentApart)
        for (int64_t r = 0; r < r1 - r0; ++r) std::fill(out + r * GH + n0, out + r * GH + n1, T(0));
      return;
    }
    const int64_t ld_prev = a.ld_prev(t);
    kernels::packed_gemm_columns(r1 - r0, a.h_prev(t) + r0 * ld_prev, ld_prev, cache.w_hh_t, n0, n1,
                                 recurrent_beta, out, GH);
  };
  auto first_step = [&](int64_t b0, int64_t b1) {
    StepForward<T> s{.rows = b1 - b0, .H = H, .bias = cache.bias.data(), .b_hh = a.b_hh, .ld_h = a.ld_out};
    if (Cell::kRecurrentApart) s.hh = cache.hh.data() + b0 * GH;
    return s;
  };
  const int parts = row_block_count(a.threads, a.steps, B, GH, H);
  if (use_column_split<T>(parts, GH, H)) {
    run_step_team(parts, [&](int member, int team, StepBarrier& barrier) {
      const int64_t b0 = B * member / team, b1 = B * (member + 1) / team;
      const auto [n0, n1] = column_share(GH, member, team);
      StepForward<T> s = first_step(b0, b1);
      gather_inputs(a, GH, gates, a.time_at(0), b0, b1);
      barrier.arrive_and_wait();
      for (int64_t step = 0; step < a.steps; ++step) {
        const int64_t t = a.time_at(step);
        recurrent_product(step, t, 0, B, n0, n1);
        barrier.arrive_and_wait();  // every column of the product is in
        point_step(s, step, t, b0);
        Cell::step_forward(s);
        if (step + 1 < a.steps) gather_inputs(a, GH, gates, a.time_at(step + 1), b0, b1);
        barrier.arrive_and_wait();  // every row of h_t is in
      }
    });
  } else {
    for_row_blocks(B, parts, [&](int, int64_t b0, int64_t b1) {
      StepForward<T> s = first_step(b0, b1);
      for (int64_t step = 0; step < a.steps; ++step) {
        const int64_t t = a.time_at(step);
        gather_inputs(a, GH, gates, t, b0, b1);
        point_step(s, step, t, b0);
        recurrent_product(step, t, b0, b1, 0, GH);
        Cell::step_forward(s);
      }
    });
  }
  const int64_t last = a.time_at(a.steps - 1);
  const T* h_last = a.out + last * B * a.ld_out;
  for (int64_t b = 0; b < B; ++b) std::copy(h_last + b * a.ld_out, h_last + b * a.ld_out + H, a.h_n + b * H);
  if (Cell::kHasCellState) {
    const T* c_last = cache.c.data() + cache.c_offset(a.steps - 1, last, 0);
    std::copy(c_last, c_last + B * H, a.c_n);
  }
}

// Backward through time, t from the last step processed to the first, carrying dh (and dc) while
// the cell's step kernel forms the gate gradients and the packed GEMM dh_{t-1} (+)= dgates_hh W_hh,
// split as in scan_forward (row blocks, or the product by columns with a barrier on each side);
// then the weight, bias and input gradients (sequence.h). Adds into every gradient buffer of d;
// leaves the gradients on h0 (and c0) in d.dh (d.dc).
template <class Cell, Scalar T>
void scan_backward(const SequenceArgs<T>& a, const ScanCache<T>& cache, const SequenceGrads<T>& d) {
  const int64_t B = a.B, H = a.H, GH = Cell::kGates * H;
  T* dgates_hh = Cell::kRecurrentApart ? d.dgates_hh : d.dgates_ih;  // [T*B, G*H]
  clear_bias_sums(d, GH, H);
  kernels::pack_matrix(kernels::Trans::kNo, GH, H, a.w_hh, H, *d.w_hh_packed);
  const int parts = d.dbias_parts != nullptr ? row_block_count(a.threads, a.steps, B, GH, H) : 1;
  clear_part_sums(d, parts, GH + H);
  const T dh_beta = Cell::kDirectDh ? T(1) : T(0);
  auto first_step = [&](int part, int64_t b0, int64_t b1) {
    StepBackward<T> s{.rows = b1 - b0, .H = H, .ld_h = a.ld_out, .ld_dy = d.ld_dy, .dh = d.dh + b0 * H};
    if (Cell::kHasCellState) s.dc = d.dc + b0 * H;
    s.db = part == 0 ? d.dbias : d.dbias_parts + (part - 1) * (GH + H);
    return s;
  };
  // Runs the cell's step kernel on rows [b0, b0 + s.rows) of the step-th step, time t.
  auto run_step = [&](StepBackward<T>& s, int64_t step, int64_t t, int64_t b0) {
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
  };
  int team = parts;
  if (use_column_split<T>(parts, GH, H)) {
    team = run_step_team(parts, [&](int member, int size, StepBarrier& barrier) {
      const int64_t b0 = B * member / size, b1 = B * (member + 1) / size;
      const auto [n0, n1] = column_share(H, member, size);
      const BlockWeightGrads<T> weight_grads(a, d, GH, member, b0, b1);
      StepBackward<T> s = first_step(member, b0, b1);
      for (int64_t step = a.steps - 1; step >= 0; --step) {
        const int64_t t = a.time_at(step);
        run_step(s, step, t, b0);
        weight_grads.add_step(t, d.dgates_ih, dgates_hh);
        barrier.arrive_and_wait();  // every row of dgates_hh[t] is in
        if (step > 0 || d.want_dh0)
          kernels::packed_gemm_columns(B, dgates_hh + t * B * GH, GH, *d.w_hh_packed, n0, n1, dh_beta, d.dh,
                                       H);
        barrier.arrive_and_wait();  // every column of dh is in
      }
    });
  } else {
    for_row_blocks(B, parts, [&](int part, int64_t b0, int64_t b1) {
      const BlockWeightGrads<T> weight_grads(a, d, GH, part, b0, b1);
      StepBackward<T> s = first_step(part, b0, b1);
      for (int64_t step = a.steps - 1; step >= 0; --step) {
        const int64_t t = a.time_at(step);
        run_step(s, step, t, b0);
        weight_grads.add_step(t, d.dgates_ih, dgates_hh);
        if (step > 0 || d.want_dh0)
          kernels::packed_gemm(s.rows, s.dgates_hh, GH, *d.w_hh_packed, dh_beta, s.dh, H);
      }
    });
  }
  reduce_part_sums(a, d, team, GH + H);
  accumulate_sequence_grads(a, d, GH, d.dgates_ih, dgates_hh);
}

}  // namespace recur::fused
