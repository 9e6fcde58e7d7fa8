// The LSTM cell as a traits struct for the fused scan (sequence_scan.h explains the members).
//
// Gate order i, f, g, o (PyTorch's; ncnn stores I, F, O, G):
//   i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)     f = sigmoid(W_if x + b_if + W_hf h + b_hf)
//   g = tanh   (W_ig x + b_ig + W_hg h + b_hg)     o = sigmoid(W_io x + b_io + W_ho h + b_ho)
//   c' = f * c + i * g          h' = o * tanh(c')
// Forward adds h W_hh^T to the gates, folds both biases, and saves tanh(c_t) beside c_t.
// Backward, carrying dh and dc (gradients on h_t and c_t from step t+1):
//   dh_t = dh + dy_t                 dc_t = dc + dh_t o (1 - tanh^2 c_t)
//   di = dc_t g i (1 - i)   df = dc_t c_{t-1} f (1 - f)   dg = dc_t i (1 - g^2)
//   do = dh_t tanh(c_t) o (1 - o)
//   dc = dc_t f                       dh = dgates[t] W_hh     (kernel, then the scan's GEMM)
#pragma once

#include "kernels/gates.h"
#include "nn/sequence_scan.h"
#include "recur/nn/scratch_cells.h"

namespace recur::fused {

struct LstmCell {
  static constexpr const char* kName = "lstm";
  static constexpr int kGates = 4;
  static constexpr int kFoldedBiasBlocks = 4;
  static constexpr bool kRecurrentApart = false;
  static constexpr bool kSavesPerStep = true;  // tanh(c_t)
  static constexpr bool kHasCellState = true;
  static constexpr bool kDirectDh = false;

  template <Scalar T>
  static void step_forward(const StepForward<T>& s) {
    kernels::lstm_step_forward(s.rows, s.H, s.gates, s.bias, s.c_prev, s.c, s.saved, s.h, s.ld_h);
  }
  template <Scalar T>
  static void step_backward(const StepBackward<T>& s) {
    kernels::lstm_step_backward(s.rows, s.H, s.gates, s.c_prev, s.saved, s.dy, s.ld_dy, s.dh, s.dc,
                                s.dgates_ih, s.db);
  }
  template <Scalar T>
  static LstmState scratch_step(Graph<T>& g, Var x, LstmState state, const CellWeights& w) {
    return lstm_cell(g, x, state, w);
  }
};

}  // namespace recur::fused
