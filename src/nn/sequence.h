// One direction of one recurrent layer over a whole sequence: the arguments every fused cell
// (rnn_cell, gru, lstm) takes, and the sequence-wide GEMMs they share: the input projection of all
// T steps before the time loop, and the weight gradients after the backward sweep (ATen's scheme).
//
// Glossary: T steps, B batch, I input width, H hidden size, G gate blocks, GH = G*H. Sequences are
// time-major: row t*B + b of a [T*B, n] buffer is step t, batch row b.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/add_at_b.h"
#include "kernels/gemm.h"
#include "kernels/packed_gemm.h"
#include "recur/core/simd.h"
#include "recur/core/tensor.h"

namespace recur::fused {

template <Scalar T>
struct SequenceArgs {
  int64_t steps = 0, B = 0, I = 0, H = 0;  // T (named steps: T is the scalar type), B, I, H
  int threads = 1;       // threads the scan and its GEMMs may use (the Graph's ComputeContext)
  bool reverse = false;  // run t = T-1 .. 0 (the reverse direction of a bidirectional layer)
  const T* x = nullptr;  // [T*B, I] layer input (after dropout); null for one-hot input (ids)
  // One-hot input (char-level models): row r of x would be one_hot(ids[r], I). The input
  // projection is then a row of W_ih^T per row and dW_ih a scatter-add, instead of two GEMMs
  // over a [T*B, I] matrix of zeros.
  const int32_t* ids = nullptr;  // [T*B] time-major, each in [0, I)
  const T* w_ih_t = nullptr;     // [I, G*H] W_ih transposed (one-hot input only)
  const T* w_ih = nullptr;       // [G*H, I]
  const T* w_hh = nullptr;       // [G*H, H]
  const T* b_ih = nullptr;       // [G*H]
  const T* b_hh = nullptr;       // [G*H]
  const T* h0 = nullptr;         // [B, H] initial hidden state (a zero buffer when none was given)
  const T* c0 = nullptr;         // [B, H] initial cell state, LSTM only
  T* out = nullptr;              // [T, B, ld_out] hidden states; points at this direction's column block
  int64_t ld_out = 0;            // row stride of out: D*H
  T* h_n = nullptr;              // [B, H] final hidden state, written by forward
  T* c_n = nullptr;              // [B, H] final cell state, LSTM only
  // h0 is the zero buffer: the first step's recurrent product h0 W_hh^T and its dW_hh term are zero
  // and skipped (PyTorch and oneDNN multiply the zeros; one step in T of the recurrent work).
  bool h0_is_zero = false;

  // Time index of the step-th step in processing order.
  [[nodiscard]] int64_t time_at(int64_t step) const { return reverse ? steps - 1 - step : step; }
  // Whether t is the first step processed (its previous state is the initial one).
  [[nodiscard]] bool is_first(int64_t t) const { return reverse ? t == steps - 1 : t == 0; }
  // Time index of the step processed before t (valid when !is_first(t)).
  [[nodiscard]] int64_t time_before(int64_t t) const { return reverse ? t + 1 : t - 1; }
  // The hidden state the step at t starts from, [B, ld_prev(t)].
  [[nodiscard]] const T* h_prev(int64_t t) const {
    return is_first(t) ? h0 : out + time_before(t) * B * ld_out;
  }
  [[nodiscard]] int64_t ld_prev(int64_t t) const { return is_first(t) ? H : ld_out; }
};

template <Scalar T>
struct SequenceGrads {
  const T* dy = nullptr;  // [T, B, ld_dy] gradient on out (this direction's column block), or null = zero
  int64_t ld_dy = 0;
  T* dh = nullptr;  // [B, H] in: gradient on the final hidden state; out: gradient on h0 (want_dh0)
  // Whether the gradient on h0 is wanted: without it the last backward step skips its recurrent
  // product dh = dgates W_hh (carried or absent initial states need none), and dh is left unspecified.
  bool want_dh0 = true;
  T* dc = nullptr;  // [B, H] LSTM: in: gradient on the final cell state; out: gradient on c0
  T* dx = nullptr;  // [T*B, I] dx = dx_beta * dx + dgates_ih W_ih; null when not wanted
  T dx_beta = T(1);
  T* dw_ih = nullptr;      // [G*H, I] added into; null when not wanted (likewise below)
  T* dw_hh = nullptr;      // [G*H, H]
  T* db_ih = nullptr;      // [G*H]
  T* db_hh = nullptr;      // [G*H]
  T* dgates_ih = nullptr;  // [T*B, G*H] workspace: gradient on the x W_ih^T + b_ih pre-activations
  T* dgates_hh = nullptr;  // [T*B, G*H] workspace (GRU; the other cells reuse dgates_ih)
  // [G*H + H] workspace: the step kernels add the column sums of dgates_ih here, and for GRU those
  // of dgates_hh's n block after them (the only block where the two differ).
  T* dbias = nullptr;
  // Workspace: W_hh [G*H, H] packed once per backward sweep for the per-step dh += dgates W_hh.
  kernels::PackedMatrix<T>* w_hh_packed = nullptr;
  // Workspace: W_ih [G*H, I] packed for dx = dgates_ih W_ih (use_own_input_products).
  kernels::PackedMatrix<T>* w_ih_packed = nullptr;
  // Workspace [(parts - 1) * (G*H + H)]: bias sums of the row blocks after the first (see
  // for_row_blocks), added into dbias after the sweep. Null when there is one block.
  T* dbias_parts = nullptr;
  // Workspace [parts, I, G*H] for one-hot input: each row block scatter-adds its dgates_ih rows
  // into its own dW_ih^T, summed into dw_ih after the sweep.
  T* dw_ih_t_parts = nullptr;
  // Workspace [parts, G*H, H] for small layers (use_step_weight_grads): each row block's dW_hh,
  // accumulated step by step, summed into dw_hh after the sweep. Null = one GEMM after the sweep.
  T* dw_hh_parts = nullptr;
};

// Whether dW_hh is accumulated inside the time loop, one small product per step while dgates and
// h_{t-1} are in cache (kernels::add_at_b, on the row-block threads), rather than by one OpenBLAS
// GEMM over all T*B rows after the sweep. Pays when the block's dW_hh stays in L2 across steps:
// for hidden 32 the GEMM's packing of the [T*B, G*H] operands took more time than its arithmetic.
// At 256 KiB the GEMM wins (bench layer config B, RNN hidden 256, Intel Xeon: +2-4% at AVX-512 and
// +5% at AVX2 on one thread, +12-28% at AVX2 on two; LSTM hidden 128 even), below it the steps do
// (GRU hidden 128, 192 KiB: GEMM 0-9% slower).
template <Scalar T>
bool use_step_weight_grads(int64_t GH, int64_t H) {
  return GH * H * static_cast<int64_t>(sizeof(T)) < (int64_t{256} << 10);
}

// Batch rows never interact inside a recurrence (row b of h_t depends only on row b of h_{t-1}),
// so a layer's whole time loop, forward or backward, can run as independent row blocks, one per
// thread, with no barrier per step. How many: `threads` (the graph's ComputeContext), at most one
// block per 8 rows, and one block when the recurrent work is too small to pay for a thread start
// (about 20 us).
inline int row_block_count(int threads, int64_t steps, int64_t B, int64_t GH, int64_t H) {
  if (threads <= 1 || steps * B * GH * H < (int64_t{1} << 22)) return 1;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, B / 8)));
}

// Zeroes the extra bias sums of blocks 1 .. parts-1 (width = G*H + H each).
template <Scalar T>
void clear_part_sums(const SequenceGrads<T>& d, int parts, int64_t width) {
  if (parts > 1) std::fill(d.dbias_parts, d.dbias_parts + (parts - 1) * width, T(0));
}

// Adds the extra blocks' bias sums into dbias, and for one-hot input every block's dW_ih^T into
// dW_ih.
template <Scalar T>
void reduce_part_sums(const SequenceArgs<T>& a, const SequenceGrads<T>& d, int parts, int64_t width) {
  for (int p = 1; p < parts; ++p) {
    const T* s = d.dbias_parts + (p - 1) * width;
    for (int64_t j = 0; j < width; ++j) d.dbias[j] += s[j];
  }
  const int64_t GH = width - a.H;  // width is G*H + H
  if (d.dw_hh_parts != nullptr && d.dw_hh != nullptr) {
    for (int p = 0; p < parts; ++p) {
      const T* dw = d.dw_hh_parts + p * GH * a.H;
      for (int64_t j = 0; j < GH * a.H; ++j) d.dw_hh[j] += dw[j];
    }
  }
  if (a.ids == nullptr || d.dw_ih == nullptr) return;
  for (int p = 0; p < parts; ++p) {
    const T* dw_t = d.dw_ih_t_parts + p * a.I * GH;  // [I, GH]
    for (int64_t j = 0; j < GH; ++j)
      for (int64_t i = 0; i < a.I; ++i) d.dw_ih[j * a.I + i] += dw_t[i * GH + j];
  }
}

// Zeroes the bias-gradient accumulator before a backward sweep: GH sums, and H more for GRU.
template <Scalar T>
void clear_bias_sums(const SequenceGrads<T>& d, int64_t GH, int64_t H) {
  std::fill(d.dbias, d.dbias + GH + H, T(0));
}

// Whether the three sequence-wide products with the input side (the projection x W_ih^T, dx =
// dgates_ih W_ih and dW_ih += dgates_ih^T x) run on recur's own kernels (packed_gemm, add_at_b)
// instead of OpenBLAS. For a narrow input OpenBLAS's edge handling and per-call packing cost more
// than its arithmetic. One thread, T*B = 1120, G*H = 1024 (bench layer config B, LSTM), Intel Xeon:
// AVX-512 projection 683 -> 497 us, dW_ih 716 -> 529, dx 670 -> 416 (of a 13 ms step), still 3-13%
// ahead at I = 256 and even at 512; AVX2 (OpenBLAS Haswell) 120 us ahead in all at I = 28, but
// behind from I = 65 on (add_at_b's AVX2 tile 15% slower there). double (gradient checks) keeps
// OpenBLAS.
template <Scalar T>
bool use_own_input_products(int64_t I) {
  if (!std::is_same_v<T, float>) return false;
  return I <= (simd_target() == "avx512" ? 256 : 32);
}

// C [M, N] = beta C + A op(b) by blocks of rows on up to `threads` threads (the rule of gemm_parts).
template <Scalar T>
void packed_gemm_by_rows(int threads, int64_t M, const T* A, int64_t lda, const kernels::PackedMatrix<T>& b,
                         T beta, T* C, int64_t ldc) {
  const int parts = kernels::gemm_parts(threads, M, static_cast<double>(M) * static_cast<double>(b.N * b.K));
  for_row_blocks(M, parts, [&](int, int64_t r0, int64_t r1) {
    kernels::packed_gemm(r1 - r0, A + r0 * lda, lda, b, beta, C + r0 * ldc, ldc);
  });
}

// gates [T*B, GH] = x W_ih^T: the input projection of every step in one GEMM (W_ih^T packed into
// w_ih_t when use_own_input_products). Nothing for one-hot input, which gather_inputs projects per
// row block.
template <Scalar T>
void project_inputs(const SequenceArgs<T>& a, int64_t GH, T* gates, kernels::PackedMatrix<T>& w_ih_t) {
  if (a.ids != nullptr) return;
  if (use_own_input_products<T>(a.I)) {
    kernels::pack_matrix(kernels::Trans::kYes, a.I, GH, a.w_ih, a.I, w_ih_t);
    packed_gemm_by_rows(a.threads, a.steps * a.B, a.x, a.I, w_ih_t, T(0), gates, GH);
    return;
  }
  kernels::gemm(a.threads, kernels::Trans::kNo, kernels::Trans::kYes, a.steps * a.B, GH, a.I, T(1), a.x, a.I,
                a.w_ih, a.I, T(0), gates, GH);
}

// One-hot input: the gates rows of step t, batch rows [b0, b1), = the W_ih^T rows of their ids.
// Called inside the time loop, just before the step reads them, so they are still in cache (a
// gather of all steps up front went through L3 and back).
template <Scalar T>
void gather_inputs(const SequenceArgs<T>& a, int64_t GH, T* gates, int64_t t, int64_t b0, int64_t b1) {
  if (a.ids == nullptr) return;
  for (int64_t row = t * a.B + b0; row < t * a.B + b1; ++row) {
    const T* __restrict__ src = a.w_ih_t + static_cast<int64_t>(a.ids[row]) * GH;
    T* __restrict__ dst = gates + row * GH;
    for (int64_t j = 0; j < GH; ++j) dst[j] = src[j];  // inline: a memmove call per short row cost more
  }
}

// The weight gradients a row block accumulates step by step during its backward sweep, right after
// each step's kernel while that step's dgates rows are in cache: for one-hot input dW_ih^T (a
// scatter-add of dgates_ih rows), for small layers dW_hh (use_step_weight_grads). Each block has
// its own buffers (zeroed here); reduce_part_sums adds them up after the sweep. A null buffer
// means the sequence-wide GEMMs after the sweep do that part instead.
template <Scalar T>
struct BlockWeightGrads {
  const SequenceArgs<T>& a;
  int64_t GH, b0, b1;
  T* dw_ih_t = nullptr;  // [I, GH] one-hot input
  T* dw_hh = nullptr;    // [GH, H] small layers

  BlockWeightGrads(const SequenceArgs<T>& args, const SequenceGrads<T>& d, int64_t gh, int part, int64_t row0,
                   int64_t row1)
      : a(args), GH(gh), b0(row0), b1(row1) {
    if (a.ids != nullptr && d.dw_ih != nullptr) {
      dw_ih_t = d.dw_ih_t_parts + part * a.I * GH;
      std::fill(dw_ih_t, dw_ih_t + a.I * GH, T(0));
    }
    if (d.dw_hh_parts != nullptr && d.dw_hh != nullptr) {
      dw_hh = d.dw_hh_parts + part * GH * a.H;
      std::fill(dw_hh, dw_hh + GH * a.H, T(0));
    }
  }

  // Step t's contribution: dW_ih^T[id] += dgates_ih row, dW_hh += dgates_hh[t]^T h_{t-1}.
  void add_step(int64_t t, const T* dgates_ih, const T* dgates_hh) const {
    if (dw_ih_t != nullptr) {
      for (int64_t row = t * a.B + b0; row < t * a.B + b1; ++row) {
        T* __restrict__ dst = dw_ih_t + static_cast<int64_t>(a.ids[row]) * GH;
        const T* __restrict__ src = dgates_ih + row * GH;
        for (int64_t j = 0; j < GH; ++j) dst[j] += src[j];
      }
    }
    if (dw_hh != nullptr && !(a.h0_is_zero && a.is_first(t))) {
      const int64_t ld_prev = a.ld_prev(t);
      kernels::add_at_b(GH, a.H, b1 - b0, dgates_hh + (t * a.B + b0) * GH, GH, a.h_prev(t) + b0 * ld_prev,
                        ld_prev, dw_hh, a.H);
    }
  }
};

// After the backward sweep, with the pre-activation gradients of all steps:
//   dW_ih += dgates_ih^T x          db_ih += column sums of dgates_ih  (summed by the step kernels)
//   dW_hh += dgates_hh^T H_prev     db_hh += column sums of dgates_hh
//   dx = dx_beta dx + dgates_ih W_ih
// H_prev stacks the state each step started from: the output one step earlier (one strided GEMM
// over T-1 steps) and h0 for the first step.
template <Scalar T>
void accumulate_sequence_grads(const SequenceArgs<T>& a, const SequenceGrads<T>& d, int64_t GH,
                               const T* dgates_ih, const T* dgates_hh) {
  using kernels::Trans;
  const int64_t rows = a.steps * a.B;
  const bool own_input_products = use_own_input_products<T>(a.I);
  if (d.dw_ih != nullptr && a.ids == nullptr) {
    if (own_input_products) {
      const int parts =
          kernels::gemm_parts(a.threads, GH, static_cast<double>(GH * a.I) * static_cast<double>(rows));
      for_row_blocks(GH, parts, [&](int, int64_t m0, int64_t m1) {
        kernels::add_at_b(m1 - m0, a.I, rows, dgates_ih + m0, GH, a.x, a.I, d.dw_ih + m0 * a.I, a.I);
      });
    } else {
      kernels::gemm(a.threads, Trans::kYes, Trans::kNo, GH, a.I, rows, T(1), dgates_ih, GH, a.x, a.I, T(1),
                    d.dw_ih, a.I);
    }
  }
  if (d.dw_hh != nullptr && d.dw_hh_parts == nullptr) {
    if (a.steps > 1) {
      // Forward: steps 1..T-1 started from out[0..T-2]; reverse: steps 0..T-2 from out[1..T-1].
      const T* dg = a.reverse ? dgates_hh : dgates_hh + a.B * GH;
      const T* hp = a.reverse ? a.out + a.B * a.ld_out : a.out;
      kernels::gemm(a.threads, Trans::kYes, Trans::kNo, GH, a.H, (a.steps - 1) * a.B, T(1), dg, GH, hp,
                    a.ld_out, T(1), d.dw_hh, a.H);
    }
    const int64_t first = a.time_at(0);
    if (!a.h0_is_zero)
      kernels::gemm(a.threads, Trans::kYes, Trans::kNo, GH, a.H, a.B, T(1), dgates_hh + first * a.B * GH, GH,
                    a.h0, a.H, T(1), d.dw_hh, a.H);
  }
  // Bias gradients from the column sums the step kernels accumulated in d.dbias. dgates_hh equals
  // dgates_ih except in GRU's n block, whose sums follow the first G*H.
  const T* sums = d.dbias;
  if (d.db_ih != nullptr)
    for (int64_t j = 0; j < GH; ++j) d.db_ih[j] += sums[j];
  if (d.db_hh != nullptr) {
    const bool same = dgates_hh == dgates_ih;
    for (int64_t j = 0; j < GH; ++j) d.db_hh[j] += !same && j >= GH - a.H ? sums[j + a.H] : sums[j];
  }
  if (d.dx != nullptr && a.ids == nullptr) {
    if (own_input_products && d.w_ih_packed != nullptr && (d.dx_beta == T(0) || d.dx_beta == T(1))) {
      kernels::pack_matrix(Trans::kNo, GH, a.I, a.w_ih, a.I, *d.w_ih_packed);
      packed_gemm_by_rows(a.threads, rows, dgates_ih, GH, *d.w_ih_packed, d.dx_beta, d.dx, a.I);
    } else {
      kernels::gemm(a.threads, Trans::kNo, Trans::kNo, rows, a.I, GH, T(1), dgates_ih, GH, a.w_ih, a.I,
                    d.dx_beta, d.dx, a.I);
    }
  }
}

}  // namespace recur::fused
