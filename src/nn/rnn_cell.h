// The vanilla (Elman) RNN cell, tanh or relu, as a traits struct for the fused scan
// (sequence_scan.h explains the members).
//
//   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        one gate block (G = 1)
//   h_t = act(a_t),  act = tanh or relu
//
// Backward, carrying dh (gradient on h_t from step t+1):
//   da_t = (dh + dy_t) * act'(h_t)        act' read off h_t: tanh 1 - h^2, relu [h > 0]
//   dh   = da_t W_hh                      (the scan's recurrent GEMM)
// so the cache holds nothing beyond the hidden states in the layer output.
#pragma once

#include "kernels/gates.h"
#include "nn/sequence_scan.h"
#include "recur/nn/scratch_cells.h"

namespace recur::fused {

template <kernels::RnnActivation Act>
struct RnnCell {
  static constexpr const char* kName = Act == kernels::RnnActivation::kTanh ? "rnn_tanh" : "rnn_relu";
  static constexpr int kGates = 1;
  static constexpr int kFoldedBiasBlocks = 1;
  static constexpr bool kRecurrentApart = false;
  static constexpr bool kSavesPerStep = false;
  static constexpr bool kHasCellState = false;
  static constexpr bool kDirectDh = false;

  template <Scalar T>
  static void step_forward(const StepForward<T>& s) {
    kernels::rnn_step_forward(Act, s.rows, s.H, s.gates, s.bias, s.h, s.ld_h);
  }
  template <Scalar T>
  static void step_backward(const StepBackward<T>& s) {
    kernels::rnn_step_backward(Act, s.rows, s.H, s.h, s.ld_h, s.dy, s.ld_dy, s.dh, s.dgates_ih, s.db);
  }
  template <Scalar T>
  static LstmState scratch_step(Graph<T>& g, Var x, LstmState state, const CellWeights& w) {
    return {rnn_cell(g, x, state.h, w, Act == kernels::RnnActivation::kRelu), Var{}};
  }
};

}  // namespace recur::fused
