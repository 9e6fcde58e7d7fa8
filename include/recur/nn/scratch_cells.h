// Recurrent cells written from autograd ops, the way d2l writes them (9.5 RNN from scratch, 10.1 LSTM,
// 10.2 GRU), and a stack that unrolls them over time with a plain loop. This is how a new kind of
// cell is written: compose ops, and the tape gives backpropagation through time for free.
//
//   // d2l 9.5: H = tanh(X W_xh + H W_hh + b_h), here in PyTorch's layout (W stored [H, I], x W^T):
//   for (int64_t t = 0; t < steps; ++t) h = rnn_cell(g, x[t], h, weights);
//
// The cells take PyTorch's parameters (recur/nn/rnn.h gives names, shapes and gate order), so
// ScratchRnn computes exactly what the fused Rnn computes, from the same ParameterStore slots, and
// tests hold the two against each other. It records a few ops per gate and step, so it is the slow,
// readable reference; use Rnn to train.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "recur/autograd/graph.h"
#include "recur/core/parameters.h"
#include "recur/core/rng.h"
#include "recur/nn/rnn.h"

namespace recur {

// One layer and direction's parameters as graph values (PyTorch layout, G gate blocks).
struct CellWeights {
  Var weight_ih;  // [G*H, I]
  Var weight_hh;  // [G*H, H]
  Var bias_ih;    // [G*H]
  Var bias_hh;    // [G*H]
};

// h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh (relu with `relu`). x [B, I], h [B, H].
template <Scalar T>
Var rnn_cell(Graph<T>& g, Var x, Var h, const CellWeights& w, bool relu = false);

// r, z, n from W_ih and W_hh split into three blocks (order r, z, n); r multiplies W_hn h + b_hn:
// n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)),  h' = (1 - z) * n + z * h.
template <Scalar T>
Var gru_cell(Graph<T>& g, Var x, Var h, const CellWeights& w);

struct LstmState {
  Var h;  // [B, H]
  Var c;  // [B, H]
};
// i, f, g, o from the four blocks; c' = f * c + i * g, h' = o * tanh(c').
template <Scalar T>
LstmState lstm_cell(Graph<T>& g, Var x, LstmState state, const CellWeights& w);

// The stack of recur/nn/rnn.h (layers, directions, dropout, layouts, given or zero initial states)
// unrolled step by step with the cells above. Same config, same results, and with the same
// dropout_rng state the same dropout masks as Rnn.
template <Scalar T>
class ScratchRnn {
 public:
  // Registers its own parameters in `store`, named and ordered like Rnn's.
  ScratchRnn(ParameterStore<T>& store, const RnnConfig& config, std::string prefix = "rnn.");
  // Uses the parameters of an existing fused Rnn (same store, same slots).
  explicit ScratchRnn(const Rnn<T>& fused);

  [[nodiscard]] const RnnConfig& config() const { return config_; }

  // As Rnn::forward, with the same shapes, checks and results.
  RnnOutputs forward(Graph<T>& g, Var x, std::optional<Var> h0 = std::nullopt,
                     std::optional<Var> c0 = std::nullopt, Rng* dropout_rng = nullptr,
                     bool training = false) const;

 private:
  ParameterStore<T>* store_;
  RnnConfig config_;
  std::vector<int> parameter_indices_;  // [L*D*4], as add_rnn_parameters returns them
};

}  // namespace recur
