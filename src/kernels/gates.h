// Fused element-wise gate kernels of the recurrent cells, one time step at a time: forward turns
// the gate pre-activations into activated gates and the new state in one pass; backward turns the
// gradient on the new state into gate gradients in one pass. The GEMMs around them live in
// src/nn/sequence_scan.h; src/nn/{rnn_cell,gru,lstm}.h give the equations. Nothing here allocates.
//
// Glossary: B rows (batch) of this step, H hidden size; gate blocks of H columns in PyTorch's order
// (GRU r, z, n; LSTM i, f, g, o). Dense buffers have row stride H (or G*H for gates); hidden-state
// rows have an explicit stride (ld_*) because a bidirectional layer interleaves both directions
// in one [T, B, 2H] output. `dy` (the gradient arriving from the layer output at this step) may
// be null, meaning zero.
//
// float runs on SIMD vectors, compiled once per target with Google Highway and dispatched at run
// time (recur/core/simd.h), with vector sigmoid and tanh built on a polynomial exp (Cephes expf,
// about 1 ulp; vector_math-inl.h) instead of libm. Targets round differently (FMA or not), so
// float results differ between them in the last bits. double calls std:: in plain loops (it is
// for gradient checks and reference vectors, where accuracy is the point). Each kernel has a
// *_reference twin: plain per-element code straight from the equations, std:: functions and
// double arithmetic.
#pragma once

#include <cstdint>

#include "recur/core/tensor.h"

namespace recur::kernels {

enum class RnnActivation { kTanh, kRelu };

// --- Vanilla RNN ---------------------------------------------------------------------------------
// h = act(pre + bias). pre [B, H] = x W_ih^T + h_prev W_hh^T; bias [H] = b_ih + b_hh; h [B, ld_h].
template <Scalar T>
void rnn_step_forward(RnnActivation act, int64_t B, int64_t H, const T* pre, const T* bias, T* h,
                      int64_t ld_h);
// dpre = (dh + dy) * act'(h), with act' from h: tanh 1 - h^2, relu [h > 0]. dh [B, H] is the
// gradient carried from step t+1; dpre [B, H] is overwritten; db [H] += the column sums of dpre
// (the bias gradient, formed here while the values are in registers).
template <Scalar T>
void rnn_step_backward(RnnActivation act, int64_t B, int64_t H, const T* h, int64_t ld_h, const T* dy,
                       int64_t ld_dy, const T* dh, T* dpre, T* db);

// --- GRU -----------------------------------------------------------------------------------------
// gates [B, 3H]: in x W_ih^T (no bias), out the activated r, z, n. hh [B, 3H] = h_prev W_hh^T (no
// bias). bias [3H] = (b_ir + b_hr, b_iz + b_hz, b_in); b_hn [H]. Writes h [B, ld_h] and
// hn [B, H] = W_hn h_prev + b_hn (what r multiplied; backward needs it).
template <Scalar T>
void gru_step_forward(int64_t B, int64_t H, T* gates, const T* hh, const T* bias, const T* b_hn,
                      const T* h_prev, int64_t ld_prev, T* h, int64_t ld_h, T* hn);
// From the cached gates, hn and h_prev, and the gradient dh + dy on h: writes the gradients on the
// pre-activations, dgates_ih [B, 3H] (the x W_ih^T + b_ih side) and dgates_hh [B, 3H] (the
// h W_hh^T + b_hh side; equal but for the n block, which r scales), and overwrites dh [B, H] with
// the part of dL/dh_prev that does not pass through W_hh (z * (dh + dy)). Adds the column sums of
// dgates_ih into db [3H] and those of dgates_hh's n block into db_hn [H].
template <Scalar T>
void gru_step_backward(int64_t B, int64_t H, const T* gates, const T* hn, const T* h_prev, int64_t ld_prev,
                       const T* dy, int64_t ld_dy, T* dh, T* dgates_ih, T* dgates_hh, T* db, T* db_hn);

// --- LSTM ----------------------------------------------------------------------------------------
// gates [B, 4H]: in x W_ih^T + h_prev W_hh^T (no bias), out the activated i, f, g, o.
// bias [4H] = b_ih + b_hh. c_prev [B, H]; writes c [B, H], tanh_c [B, H] and h [B, ld_h].
template <Scalar T>
void lstm_step_forward(int64_t B, int64_t H, T* gates, const T* bias, const T* c_prev, T* c, T* tanh_c, T* h,
                       int64_t ld_h);
// From the cached gates, c_prev and tanh_c, the gradient dh + dy on h and dc [B, H] on c (carried
// from step t+1): writes dgates [B, 4H] (gradient on the pre-activations), adds its column sums
// into db [4H], and overwrites dc with dL/dc_prev. dh [B, H] is only read.
template <Scalar T>
void lstm_step_backward(int64_t B, int64_t H, const T* gates, const T* c_prev, const T* tanh_c, const T* dy,
                        int64_t ld_dy, const T* dh, T* dc, T* dgates, T* db);

// --- Reference twins (same arguments and contracts) ----------------------------------------------
template <Scalar T>
void rnn_step_forward_reference(RnnActivation act, int64_t B, int64_t H, const T* pre, const T* bias, T* h,
                                int64_t ld_h);
template <Scalar T>
void rnn_step_backward_reference(RnnActivation act, int64_t B, int64_t H, const T* h, int64_t ld_h,
                                 const T* dy, int64_t ld_dy, const T* dh, T* dpre, T* db);
template <Scalar T>
void gru_step_forward_reference(int64_t B, int64_t H, T* gates, const T* hh, const T* bias, const T* b_hn,
                                const T* h_prev, int64_t ld_prev, T* h, int64_t ld_h, T* hn);
template <Scalar T>
void gru_step_backward_reference(int64_t B, int64_t H, const T* gates, const T* hn, const T* h_prev,
                                 int64_t ld_prev, const T* dy, int64_t ld_dy, T* dh, T* dgates_ih,
                                 T* dgates_hh, T* db, T* db_hn);
template <Scalar T>
void lstm_step_forward_reference(int64_t B, int64_t H, T* gates, const T* bias, const T* c_prev, T* c,
                                 T* tanh_c, T* h, int64_t ld_h);
template <Scalar T>
void lstm_step_backward_reference(int64_t B, int64_t H, const T* gates, const T* c_prev, const T* tanh_c,
                                  const T* dy, int64_t ld_dy, const T* dh, T* dc, T* dgates, T* db);

}  // namespace recur::kernels
