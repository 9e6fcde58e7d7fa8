// The GRU cell as a traits struct for the fused scan (sequence_scan.h explains the members).
//
// Gate order r, z, n (PyTorch/cuDNN convention: r multiplies the recurrent term with its bias):
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
//   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
//   h' = (1 - z) * n + z * h
// Forward keeps h W_hh^T apart (hh) because r scales its n block, folds b_hr and b_hz into the
// input side, and saves hn = W_hn h + b_hn for backward.
// Backward, carrying dh (gradient on h_t from step t+1), with d = dh + dy_t:
//   dn_pre = d (1 - z) (1 - n^2)        dz_pre = d (h_{t-1} - n) z (1 - z)
//   dr_pre = dn_pre hn r (1 - r)
//   dgates_ih[t] = (dr_pre, dz_pre, dn_pre)       dgates_hh[t] = (dr_pre, dz_pre, dn_pre r)
//   dh = d z + dgates_hh[t] W_hh                   (kernel, then the scan's GEMM with beta 1)
// The bias gradients are the column sums of dgates_ih and dgates_hh.
#pragma once

#include "kernels/gates.h"
#include "nn/sequence_scan.h"
#include "recur/nn/scratch_cells.h"

namespace recur::fused {

struct GruCell {
  static constexpr const char* kName = "gru";
  static constexpr int kGates = 3;
  static constexpr int kFoldedBiasBlocks = 2;  // b_hn stays inside r * (W_hn h + b_hn)
  static constexpr bool kRecurrentApart = true;
  static constexpr bool kSavesPerStep = true;  // hn
  static constexpr bool kHasCellState = false;
  static constexpr bool kDirectDh = true;  // d z

  template <Scalar T>
  static void step_forward(const StepForward<T>& s) {
    kernels::gru_step_forward(s.rows, s.H, s.gates, s.hh, s.bias, s.b_hh + 2 * s.H, s.h_prev, s.ld_prev, s.h,
                              s.ld_h, s.saved);
  }
  template <Scalar T>
  static void step_backward(const StepBackward<T>& s) {
    kernels::gru_step_backward(s.rows, s.H, s.gates, s.saved, s.h_prev, s.ld_prev, s.dy, s.ld_dy, s.dh,
                               s.dgates_ih, s.dgates_hh, s.db, s.db + 3 * s.H);
  }
  template <Scalar T>
  static LstmState scratch_step(Graph<T>& g, Var x, LstmState state, const CellWeights& w) {
    return {gru_cell(g, x, state.h, w), Var{}};
  }
};

}  // namespace recur::fused
