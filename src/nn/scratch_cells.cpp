// From-scratch recurrent cells composed from autograd ops, and the stack that unrolls them over time
// (d2l 9.5, 10.1, 10.2). Every step records its own ops; the tape does the BPTT.
#include "recur/nn/scratch_cells.h"

#include "nn/cells.h"
#include "nn/dropout_mask.h"
#include "nn/rnn_checks.h"
#include "recur/autograd/ops.h"

namespace recur {

template <Scalar T>
Var rnn_cell(Graph<T>& g, Var x, Var h, const CellWeights& w, bool relu) {
  Var a = add(g, linear(g, x, w.weight_ih, w.bias_ih), linear(g, h, w.weight_hh, w.bias_hh));
  return relu ? recur::relu(g, a) : recur::tanh(g, a);
}

template <Scalar T>
Var gru_cell(Graph<T>& g, Var x, Var h, const CellWeights& w) {
  const int64_t H = g.shape(h).cols();
  const std::vector<int64_t> blocks{H, H, H};
  const std::vector<Var> gx = split(g, linear(g, x, w.weight_ih, w.bias_ih), blocks, 1);  // x_r, x_z, x_n
  const std::vector<Var> gh = split(g, linear(g, h, w.weight_hh, w.bias_hh), blocks, 1);  // h_r, h_z, h_n
  Var r = sigmoid(g, add(g, gx[0], gh[0]));
  Var z = sigmoid(g, add(g, gx[1], gh[1]));
  Var n = recur::tanh(g, add(g, gx[2], mul(g, r, gh[2])));
  return add(g, n, mul(g, z, sub(g, h, n)));  // (1 - z) n + z h
}

template <Scalar T>
LstmState lstm_cell(Graph<T>& g, Var x, LstmState state, const CellWeights& w) {
  const int64_t H = g.shape(state.h).cols();
  Var gates = add(g, linear(g, x, w.weight_ih, w.bias_ih), linear(g, state.h, w.weight_hh, w.bias_hh));
  const std::vector<Var> parts = split(g, gates, {H, H, H, H}, 1);  // i, f, g, o
  Var i = sigmoid(g, parts[0]);
  Var f = sigmoid(g, parts[1]);
  Var cand = recur::tanh(g, parts[2]);
  Var o = sigmoid(g, parts[3]);
  Var c = add(g, mul(g, f, state.c), mul(g, i, cand));
  return {mul(g, o, recur::tanh(g, c)), c};
}

template <Scalar T>
ScratchRnn<T>::ScratchRnn(ParameterStore<T>& store, const RnnConfig& config, std::string prefix)
    : store_(&store), config_(config), parameter_indices_(add_rnn_parameters(store, config, prefix)) {}

template <Scalar T>
ScratchRnn<T>::ScratchRnn(const Rnn<T>& fused)
    : store_(&fused.store()), config_(fused.config()), parameter_indices_(fused.parameter_indices()) {}

namespace {

// The input x ([T, B, I] or [B, T, I]) as one [B, I] value per step.
template <Scalar T>
std::vector<Var> split_steps(Graph<T>& g, Var x, const RnnConfig& c, int64_t steps, int64_t batch) {
  const int64_t I = c.input_size;
  const bool batch_major = c.layout == Layout::kBatchMajor;
  std::vector<Var> inputs;
  Var x2 = batch_major ? reshape(g, x, Shape{batch, steps * I}) : reshape(g, x, Shape{steps, batch * I});
  for (int64_t t = 0; t < steps; ++t) {
    Var step = batch_major ? slice(g, x2, 1, t * I, (t + 1) * I) : slice(g, x2, 0, t, t + 1);
    inputs.push_back(reshape(g, step, Shape{batch, I}));
  }
  return inputs;
}

// Multiplies every step's input by the dropout mask: the same mask, drawn in the same order, as the
// fused stack ([T*B, width] row-major).
template <Scalar T>
void apply_dropout(Graph<T>& g, std::vector<Var>& inputs, double p, Rng& rng, int64_t batch) {
  const auto steps = static_cast<int64_t>(inputs.size());
  const int64_t width = g.shape(inputs[0]).cols();
  Tensor<T> mask(Shape{steps * batch, width});
  fused::draw_dropout_mask(rng, p, mask.span());
  for (int64_t t = 0; t < steps; ++t) {
    Tensor<T> rows(Shape{batch, width});
    std::copy(mask.data() + t * batch * width, mask.data() + (t + 1) * batch * width, rows.data());
    inputs[static_cast<size_t>(t)] = mul(g, inputs[static_cast<size_t>(t)], g.input(std::move(rows)));
  }
}

// Unrolls one layer and direction over the steps (reverse: from the last), from `state`; writes
// each step's h to hidden[t] and returns the final state.
template <class Cell, Scalar T>
LstmState unroll(Graph<T>& g, const std::vector<Var>& inputs, LstmState state, const CellWeights& w,
                 bool reverse, std::vector<Var>& hidden) {
  const auto steps = static_cast<int64_t>(inputs.size());
  for (int64_t step = 0; step < steps; ++step) {
    const auto t = static_cast<size_t>(reverse ? steps - 1 - step : step);
    state = Cell::scratch_step(g, inputs[t], state, w);
    hidden[t] = state.h;
  }
  return state;
}

}  // namespace

template <Scalar T>
RnnOutputs ScratchRnn<T>::forward(Graph<T>& g, Var x, std::optional<Var> h0, std::optional<Var> c0,
                                  Rng* dropout_rng, bool training) const {
  const RnnConfig& c = config_;
  const bool use_dropout = training && c.dropout > 0 && c.num_layers > 1;
  const auto [steps, batch] =
      fused::check_rnn_inputs("ScratchRnn::forward", c, g.shape(x), h0 ? &g.shape(*h0) : nullptr,
                              c0 ? &g.shape(*c0) : nullptr, use_dropout, dropout_rng != nullptr);
  const int D = c.bidirectional ? 2 : 1;
  const int64_t H = c.hidden_size;
  const bool has_cell_state = fused::has_cell_state(c.cell);
  std::vector<Var> inputs = split_steps(g, x, c, steps, batch);
  // Initial state k = layer * D + direction as [B, H], or zeros.
  auto initial = [&](const std::optional<Var>& state, int k) {
    if (!state) return g.input(Tensor<T>(Shape{batch, H}));
    return slice(g, reshape(g, *state, Shape{c.num_layers * D * batch, H}), 0, k * batch, (k + 1) * batch);
  };
  auto param = [&](int k, RnnParam kind) {
    const int index = parameter_indices_[static_cast<size_t>(4 * k + static_cast<int>(kind))];
    return g.parameter(store_->value(index), store_->grad(index));
  };

  std::vector<Var> final_h, final_c;
  for (int l = 0; l < c.num_layers; ++l) {
    if (use_dropout && l > 0) apply_dropout(g, inputs, c.dropout, *dropout_rng, batch);
    std::vector<std::vector<Var>> hidden(static_cast<size_t>(D),
                                         std::vector<Var>(static_cast<size_t>(steps)));
    for (int d = 0; d < D; ++d) {
      const int k = l * D + d;
      const CellWeights w{param(k, RnnParam::kWeightIh), param(k, RnnParam::kWeightHh),
                          param(k, RnnParam::kBiasIh), param(k, RnnParam::kBiasHh)};
      const LstmState start{initial(h0, k), has_cell_state ? initial(c0, k) : Var{}};
      const LstmState last = fused::visit_cell(c.cell, [&]<class Cell>(Cell) {
        return unroll<Cell>(g, inputs, start, w, d == 1, hidden[static_cast<size_t>(d)]);
      });
      final_h.push_back(last.h);
      if (has_cell_state) final_c.push_back(last.c);
    }
    for (int64_t t = 0; t < steps; ++t) {
      const auto ti = static_cast<size_t>(t);
      inputs[ti] = D == 2 ? concat(g, {hidden[0][ti], hidden[1][ti]}, 1) : hidden[0][ti];
    }
  }

  const bool batch_major = c.layout == Layout::kBatchMajor;
  RnnOutputs out;
  out.output = batch_major ? reshape(g, concat(g, inputs, 1), Shape{batch, steps, D * H})
                           : reshape(g, concat(g, inputs, 0), Shape{steps, batch, D * H});
  const Shape state_shape{c.num_layers * D, batch, H};
  out.h_n = reshape(g, concat(g, final_h, 0), state_shape);
  if (has_cell_state) out.c_n = reshape(g, concat(g, final_c, 0), state_shape);
  return out;
}

template Var rnn_cell<float>(Graph<float>&, Var, Var, const CellWeights&, bool);
template Var rnn_cell<double>(Graph<double>&, Var, Var, const CellWeights&, bool);
template Var gru_cell<float>(Graph<float>&, Var, Var, const CellWeights&);
template Var gru_cell<double>(Graph<double>&, Var, Var, const CellWeights&);
template LstmState lstm_cell<float>(Graph<float>&, Var, LstmState, const CellWeights&);
template LstmState lstm_cell<double>(Graph<double>&, Var, LstmState, const CellWeights&);
template class ScratchRnn<float>;
template class ScratchRnn<double>;

}  // namespace recur
