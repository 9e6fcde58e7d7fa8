// A recurrent language model: tokens -> one-hot or embedding -> recurrent stack -> linear head
// to the vocabulary (d2l 9.5/9.6, char-rnn, PyTorch's word_language_model).
//
// Parameters, with the names the checkpoint format uses (PyTorch's own for the stack):
//   embedding.weight [V, E]            only when embedding_size > 0 (else one-hot input, I = V)
//   rnn.weight_ih_l{k}[_reverse] ...   see recur/nn/rnn.h
//   head.weight [V, H], head.bias [V]
// Token batches are time-major: ids[t * B + b]; logits rows follow the same order (row = t*B + b).
// With dropout > 0 it is applied, in training only, to the embedding output, between recurrent
// layers and to the top layer's output (as PyTorch's word-language-model example does).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "recur/autograd/graph.h"
#include "recur/core/parameters.h"
#include "recur/core/rng.h"
#include "recur/nn/rnn.h"

namespace recur {

struct LanguageModelConfig {
  CellType cell = CellType::kGru;
  int num_layers = 1;
  int64_t hidden_size = 256;
  int64_t embedding_size = 0;  // 0 = one-hot input
  double dropout = 0.0;
  int64_t vocab_size = 0;
};

// The most recurrent layers a model may have (run settings and config.json are checked against it).
inline constexpr int kMaxLayers = 256;
// The largest hidden or embedding size a model may have (2^24).
inline constexpr int64_t kMaxModelWidth = int64_t{1} << 24;

// Name and shape of every parameter of a model with `config`, in the order LanguageModel registers
// them, computed without allocating any: what a model file is checked against before loading.
[[nodiscard]] std::vector<std::pair<std::string, Shape>> language_model_parameter_shapes(
    const LanguageModelConfig& config);

// "rnn_tanh", "rnn_relu", "gru", "lstm" (config.json's spelling, cell_name's inverse) -> CellType.
// Throws ValueError naming the unknown cell.
[[nodiscard]] CellType parse_cell_type(std::string_view name);

// Recurrent state carried across minibatches (truncated BPTT) and across generation steps.
struct RecurrentState {
  Tensor<float> h;  // [layers * directions, B, H]
  Tensor<float> c;  // [layers * directions, B, H], LSTM only (else empty)
};

class LanguageModel {
 public:
  // Throws ValueError for a vocabulary size < 1 and for an invalid recurrent config.
  explicit LanguageModel(const LanguageModelConfig& config);
  // The recurrent stack refers to params_: the model stays where it was built.
  LanguageModel(const LanguageModel&) = delete;
  LanguageModel& operator=(const LanguageModel&) = delete;

  [[nodiscard]] const LanguageModelConfig& config() const { return config_; }
  [[nodiscard]] ParameterStore<float>& parameters() { return params_; }
  [[nodiscard]] const ParameterStore<float>& parameters() const { return params_; }

  // PyTorch's defaults: U(+-1/sqrt(H)) for the stack, U(+-1/sqrt(H)) for the head (nn.Linear
  // fan_in = H), N(0, 1) for the embedding (nn.Embedding).
  void reset_parameters(Rng& rng);

  // A zero state for batch size B.
  [[nodiscard]] RecurrentState zero_state(int64_t batch) const;

  // Logits [T*B, V] for ids [T*B] (time-major). Reads `state` as the initial state (as a constant:
  // gradients stop there, which is truncated BPTT) and writes the final state back into it after
  // the forward pass. `dropout_rng` is needed when training with dropout > 0.
  // `carry_scales` ([steps] or empty) turns on randomized truncation (Tallec and Ollivier, 2017;
  // d2l 9.7): the gradient that flows from step t back into the state of step t-1 is multiplied by
  // carry_scales[t] (0 cuts it; 1/pi keeps the estimate unbiased). The stack then runs one step at a
  // time, which is slower than the fused sequence.
  Var forward(Graph<float>& g, std::span<const int32_t> ids, int64_t steps, int64_t batch,
              RecurrentState& state, Rng* dropout_rng, bool training,
              std::span<const float> carry_scales = {});

  // The mean cross-entropy of forward's logits against `targets` ([T*B], time-major like ids), as
  // softmax_cross_entropy(forward(...), targets) but through the fused head (linear_cross_entropy),
  // which never stores the logits: what training calls. Arguments and state as forward.
  Var loss(Graph<float>& g, std::span<const int32_t> ids, std::span<const int32_t> targets, int64_t steps,
           int64_t batch, RecurrentState& state, Rng* dropout_rng, bool training,
           std::span<const float> carry_scales = {});

 private:
  // The top layer's hidden states [T*B, H] (after dropout in training): the head's input.
  Var top_hidden(Graph<float>& g, std::span<const int32_t> ids, int64_t steps, int64_t batch,
                 RecurrentState& state, Rng* dropout_rng, bool training, std::span<const float> carry_scales);

  LanguageModelConfig config_;
  ParameterStore<float> params_;
  Rnn<float> rnn_;
  int embedding_ = -1;  // slot index, -1 when one-hot
  int head_weight_ = -1;
  int head_bias_ = -1;
};

}  // namespace recur
