// Recurrent layers: vanilla RNN (tanh or relu), GRU and LSTM, stacked and bidirectional, with
// PyTorch's parameter names, shapes and gate order, and fused backpropagation through time.
//
//   ParameterStore<float> store;
//   Rnn<float> rnn(store, {.cell = CellType::kGru, .input_size = 28, .hidden_size = 256, .num_layers = 2});
//   Rng rng(42);
//   rnn.reset_parameters(rng);                      // PyTorch's default U(-1/sqrt(H), 1/sqrt(H))
//   Graph<float> g;
//   Var x = g.input(batch);                          // [T, B, I] time-major
//   auto [output, h_n, c_n] = rnn.forward(g, x);     // output [T, B, D*H], h_n [L*D, B, H]
//   ... loss from output ...; g.backward(loss);      // adds into store.grads()
//
// Equations per time step (x = the layer's input at time t, h = its previous hidden state; PyTorch's
// nn.RNN / nn.GRU / nn.LSTM, the cuDNN convention):
//   RNN   h' = act(W_ih x + b_ih + W_hh h + b_hh),  act = tanh or relu
//   GRU   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)       gate order r, z, n
//         z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
//         n = tanh(W_in x + b_in + r * (W_hn h + b_hn))   (r multiplies the recurrent term and its bias)
//         h' = (1 - z) * n + z * h
//   LSTM  i, f, o = sigmoid(...), g = tanh(...)           gate order i, f, g, o
//         c' = f * c + i * g,  h' = o * tanh(c')
// Gate blocks are stacked along the first dimension of every weight and bias, H rows each, in the
// order given. This is the one place the order is stated; src/nn/{rnn_cell,gru,lstm}.h follow it.
//
// Parameters, registered in a ParameterStore under `prefix` in PyTorch's named_parameters() order
// (G = gates: RNN 1, GRU 3, LSTM 4; D = directions; in_0 = input_size, in_k = D*H for k > 0):
//   {prefix}weight_ih_l{k}[_reverse]  [G*H, in_k]
//   {prefix}weight_hh_l{k}[_reverse]  [G*H, H]
//   {prefix}bias_ih_l{k}[_reverse]    [G*H]
//   {prefix}bias_hh_l{k}[_reverse]    [G*H]
// so that a PyTorch state_dict loads slot by slot and gives the same numbers.
//
// Layout: x is time-major [T, B, I] by default (PyTorch's batch_first=False); with
// Layout::kBatchMajor it is [B, T, I] and the output is [B, T, D*H]. States are always
// [L*D, B, H] with index layer * D + direction (direction 1 = reverse). A bidirectional layer
// concatenates its directions along the last axis (forward in [0, H), reverse in [H, 2H)); the
// reverse direction runs t = T-1 .. 0, so its final state is its output at t = 0. Dropout (inverted,
// probability config.dropout) applies to the input of every layer but the first, in training only.
//
// Gradients: backward ADDS into the parameter gradients (the ParameterStore's grads) and into the
// gradients of x, h0 and c0; the trainer zeroes the store once per step. Truncated BPTT: pass the
// previous minibatch's final state as a constant (g.input(tensor) or g.detach(h_n)), so no gradient
// flows into earlier minibatches.
//
// Memory: forward keeps for the backward pass only the gate activations and the states, O(T*B*H)
// per layer and direction: the activated gates [T*B, G*H], the hidden states (the layer output
// [T, B, D*H]), for LSTM c and tanh(c) [T*B, H], for GRU W_hn h + b_hn [T*B, H]; with dropout the
// masked layer input and its mask. Inference (grad mode off, see NoGradGuard) keeps no per-step
// cache: the gate buffer holds the input projection of the whole sequence and is activated in place,
// and the cell state is kept for the current step only; each layer's output sequence is still
// needed as the next layer's input. These buffers live in workspaces owned by the Rnn object, sized
// from (T, B) on first use and reused by later calls of the same or smaller size, so steady-state
// training allocates nothing per time step; per call, only the Graph's nodes and the backward
// closure are allocated. A
// workspace stays reserved for a forward until the Graph that recorded it is cleared (its backward
// closure holds it), so several forwards through one Rnn in one Graph are fine; each takes its own.
// The Rnn must outlive the Graph's use of it, as the ParameterStore must, and is used from one
// thread at a time (its workspaces and the shared backward scratch are not locked).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "recur/autograd/graph.h"
#include "recur/core/parameters.h"
#include "recur/core/rng.h"

namespace recur {

enum class CellType { kRnnTanh, kRnnRelu, kGru, kLstm };

// Whether the sequence axis comes first ([T, B, I], PyTorch's default) or second ([B, T, I]).
enum class Layout { kTimeMajor, kBatchMajor };

struct RnnConfig {
  CellType cell = CellType::kGru;
  int64_t input_size = 0;   // I, > 0
  int64_t hidden_size = 0;  // H, > 0
  int num_layers = 1;       // L, >= 1
  bool bidirectional = false;
  double dropout = 0;  // in [0, 1): between layers, training only
  Layout layout = Layout::kTimeMajor;
};

// Number of gate blocks G: RNN 1, GRU 3, LSTM 4.
[[nodiscard]] int gate_count(CellType cell);
// "rnn_tanh", "rnn_relu", "gru", "lstm".
[[nodiscard]] const char* cell_name(CellType cell);

// The four parameters of a layer and direction, in PyTorch's order.
enum class RnnParam { kWeightIh, kWeightHh, kBiasIh, kBiasHh };
inline constexpr int kRnnParamKinds = 4;

// PyTorch name (without prefix) of parameter `kind` of a layer and direction, e.g.
// "weight_hh_l1_reverse" for (kWeightHh, 1, 1).
[[nodiscard]] std::string rnn_parameter_name(RnnParam kind, int layer, int direction);

// Adds the parameters of `config` to `store` under `prefix` in PyTorch's order and returns their
// slot indices: index [(layer * D + direction) * 4 + int(kind)]. Throws ValueError for an invalid
// config.
template <Scalar T>
std::vector<int> add_rnn_parameters(ParameterStore<T>& store, const RnnConfig& config,
                                    const std::string& prefix);

namespace detail {
template <Scalar T>
struct RnnPool;  // src/nn/rnn_workspace.h
}  // namespace detail

// What Rnn::forward returns. c_n is invalid (id -1) unless the cell is an LSTM.
struct RnnOutputs {
  Var output;  // [T, B, D*H] ([B, T, D*H] batch-major): the top layer's hidden states
  Var h_n;     // [L*D, B, H]: final hidden state of every layer and direction
  Var c_n;     // [L*D, B, H]: final cell state (LSTM)
};

template <Scalar T>
class Rnn {
 public:
  // Registers the parameters in `store` (zero-filled; call reset_parameters or load weights).
  // Throws ValueError for a non-positive size, num_layers < 1 or dropout outside [0, 1).
  Rnn(ParameterStore<T>& store, const RnnConfig& config, std::string prefix = "rnn.");
  ~Rnn();
  Rnn(Rnn&&) noexcept;
  Rnn& operator=(Rnn&&) noexcept;
  Rnn(const Rnn&) = delete;
  Rnn& operator=(const Rnn&) = delete;

  [[nodiscard]] const RnnConfig& config() const { return config_; }
  [[nodiscard]] const std::string& prefix() const { return prefix_; }
  [[nodiscard]] int num_directions() const { return config_.bidirectional ? 2 : 1; }
  [[nodiscard]] ParameterStore<T>& store() const { return *store_; }
  // Slot indices in the store, as add_rnn_parameters returns them.
  [[nodiscard]] const std::vector<int>& parameter_indices() const { return parameter_indices_; }

  // PyTorch's default init: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), in slot order.
  void reset_parameters(Rng& rng);

  // Runs the whole stack over x ([T, B, I], or [B, T, I] batch-major; T, B >= 1) from h0 (and c0
  // for an LSTM), each [L*D, B, H], or zeros when absent. x, h0 and c0 may require gradients.
  // `dropout_rng` is needed when training with dropout > 0. Recorded as one autograd op whose
  // backward is the fused BPTT. Throws ShapeError for wrong shapes, ValueError for c0 on a cell
  // without one or a missing dropout_rng.
  RnnOutputs forward(Graph<T>& g, Var x, std::optional<Var> h0 = std::nullopt,
                     std::optional<Var> c0 = std::nullopt, Rng* dropout_rng = nullptr, bool training = false);

  // The same as forward(g, x) with x the one-hot encoding of `ids` over input_size (x[..., i] = 1
  // where i = id), the d2l way of feeding characters, without building x: the input projection is
  // a row lookup in W_ih^T and its weight gradient a scatter-add. ids has steps * batch entries in
  // the config's layout (time-major: ids[t * batch + b]), each in [0, input_size). Throws
  // ValueError naming the position of an id out of range; otherwise as forward.
  RnnOutputs forward_one_hot(Graph<T>& g, std::span<const int32_t> ids, int64_t steps, int64_t batch,
                             std::optional<Var> h0 = std::nullopt, std::optional<Var> c0 = std::nullopt,
                             Rng* dropout_rng = nullptr, bool training = false);

  // Workspaces allocated so far (reserved by live graphs or free for reuse), for tests of reuse.
  [[nodiscard]] int num_workspaces() const;

 private:
  ParameterStore<T>* store_;
  RnnConfig config_;
  std::string prefix_;
  std::vector<int> parameter_indices_;        // [L*D*4]
  std::shared_ptr<detail::RnnPool<T>> pool_;  // workspaces; shared with the leases backward closures hold

  // forward and forward_one_hot: x is invalid exactly when ids is the input.
  RnnOutputs forward_impl(Graph<T>& g, Var x, std::span<const int32_t> ids, const Shape& x_shape,
                          std::optional<Var> h0, std::optional<Var> c0, Rng* dropout_rng, bool training);
};

}  // namespace recur
