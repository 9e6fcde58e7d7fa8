// Embedding or one-hot input, recurrent stack, linear head: forward pass and state handling.
#include "recur/lm/language_model.h"

#include <cmath>
#include <vector>

#include "recur/autograd/ops.h"
#include "recur/core/error.h"
#include "recur/nn/init.h"

namespace recur {

CellType parse_cell_type(std::string_view name) {
  for (CellType c : {CellType::kRnnTanh, CellType::kRnnRelu, CellType::kGru, CellType::kLstm})
    if (name == cell_name(c)) return c;
  throw ValueError("unknown cell '" + std::string(name) + "' (expected rnn_tanh, rnn_relu, gru or lstm)");
}

namespace {
RnnConfig stack_config(const LanguageModelConfig& c) {
  check(c.vocab_size >= 1, "LanguageModel: vocab_size must be >= 1, got " + std::to_string(c.vocab_size));
  check(c.embedding_size >= 0,
        "LanguageModel: embedding_size must be >= 0, got " + std::to_string(c.embedding_size));
  check(c.num_layers <= kMaxLayers, "LanguageModel: num_layers must be <= " + std::to_string(kMaxLayers) +
                                        ", got " + std::to_string(c.num_layers));
  return RnnConfig{.cell = c.cell,
                   .input_size = c.embedding_size > 0 ? c.embedding_size : c.vocab_size,
                   .hidden_size = c.hidden_size,
                   .num_layers = c.num_layers,
                   .bidirectional = false,
                   .dropout = c.dropout};
}
}  // namespace

std::vector<std::pair<std::string, Shape>> language_model_parameter_shapes(const LanguageModelConfig& c) {
  const int64_t G = gate_count(c.cell), H = c.hidden_size;
  const int64_t input = c.embedding_size > 0 ? c.embedding_size : c.vocab_size;
  std::vector<std::pair<std::string, Shape>> shapes;
  for (int k = 0; k < c.num_layers; ++k) {
    auto name = [&](RnnParam kind) { return "rnn." + rnn_parameter_name(kind, k, 0); };
    shapes.emplace_back(name(RnnParam::kWeightIh), Shape{G * H, k == 0 ? input : H});
    shapes.emplace_back(name(RnnParam::kWeightHh), Shape{G * H, H});
    shapes.emplace_back(name(RnnParam::kBiasIh), Shape{G * H});
    shapes.emplace_back(name(RnnParam::kBiasHh), Shape{G * H});
  }
  if (c.embedding_size > 0) shapes.emplace_back("embedding.weight", Shape{c.vocab_size, c.embedding_size});
  shapes.emplace_back("head.weight", Shape{c.vocab_size, H});
  shapes.emplace_back("head.bias", Shape{c.vocab_size});
  return shapes;
}

LanguageModel::LanguageModel(const LanguageModelConfig& config)
    : config_(config), rnn_(params_, stack_config(config), "rnn.") {
  if (config_.embedding_size > 0)
    embedding_ = params_.add("embedding.weight", {config_.vocab_size, config_.embedding_size});
  head_weight_ = params_.add("head.weight", {config_.vocab_size, config_.hidden_size});
  head_bias_ = params_.add("head.bias", {config_.vocab_size});
}

void LanguageModel::reset_parameters(Rng& rng) {
  rnn_.reset_parameters(rng);
  if (embedding_ >= 0) init_normal(params_.value(embedding_).span(), 0.0, 1.0, rng);
  const double bound = 1.0 / std::sqrt(static_cast<double>(config_.hidden_size));
  init_uniform(params_.value(head_weight_).span(), -bound, bound, rng);
  init_uniform(params_.value(head_bias_).span(), -bound, bound, rng);
}

RecurrentState LanguageModel::zero_state(int64_t batch) const {
  const Shape shape{config_.num_layers, batch, config_.hidden_size};
  RecurrentState s{Tensor<float>(shape), Tensor<float>()};
  if (config_.cell == CellType::kLstm) s.c = Tensor<float>(shape);
  return s;
}

Var LanguageModel::forward(Graph<float>& g, std::span<const int32_t> ids, int64_t steps, int64_t batch,
                           RecurrentState& state, Rng* dropout_rng, bool training,
                           std::span<const float> carry_scales) {
  Var top = top_hidden(g, ids, steps, batch, state, dropout_rng, training, carry_scales);
  return linear(g, top, g.parameter(params_.value(head_weight_), params_.grad(head_weight_)),
                g.parameter(params_.value(head_bias_), params_.grad(head_bias_)));
}

Var LanguageModel::loss(Graph<float>& g, std::span<const int32_t> ids, std::span<const int32_t> targets,
                        int64_t steps, int64_t batch, RecurrentState& state, Rng* dropout_rng, bool training,
                        std::span<const float> carry_scales) {
  check<ShapeError>(targets.size() == ids.size(), "LanguageModel::loss: " + std::to_string(targets.size()) +
                                                      " targets for " + std::to_string(ids.size()) + " ids");
  Var top = top_hidden(g, ids, steps, batch, state, dropout_rng, training, carry_scales);
  return linear_cross_entropy(g, top, g.parameter(params_.value(head_weight_), params_.grad(head_weight_)),
                              g.parameter(params_.value(head_bias_), params_.grad(head_bias_)), targets);
}

Var LanguageModel::top_hidden(Graph<float>& g, std::span<const int32_t> ids, int64_t steps, int64_t batch,
                              RecurrentState& state, Rng* dropout_rng, bool training,
                              std::span<const float> carry_scales) {
  check<ShapeError>(static_cast<int64_t>(ids.size()) == steps * batch,
                    "LanguageModel::forward: " + std::to_string(ids.size()) + " ids for steps " +
                        std::to_string(steps) + " x batch " + std::to_string(batch));
  const Shape state_shape{config_.num_layers, batch, config_.hidden_size};
  check<ShapeError>(state.h.shape() == state_shape, "LanguageModel::forward: state h has shape " +
                                                        state.h.shape().str() + ", expected " +
                                                        state_shape.str());
  const bool use_dropout = training && config_.dropout > 0;
  // One-hot input goes to the stack as ids (forward_one_hot), never as a [T*B, V] matrix.
  const bool one_hot_input = embedding_ < 0;
  Var x;
  if (!one_hot_input) {
    x = embedding(g, g.parameter(params_.value(embedding_), params_.grad(embedding_)), ids);
    if (use_dropout) x = dropout(g, x, static_cast<float>(config_.dropout), *dropout_rng, true);
    x = reshape(g, x, {steps, batch, config_.embedding_size});
  }
  // The stack over time steps [t0, t1) from state (h, c).
  auto run_stack = [&](int64_t t0, int64_t t1, Var h, std::optional<Var> c) {
    if (one_hot_input)
      return rnn_.forward_one_hot(
          g, ids.subspan(static_cast<size_t>(t0 * batch), static_cast<size_t>((t1 - t0) * batch)), t1 - t0,
          batch, h, c, dropout_rng, training);
    return rnn_.forward(g, t0 == 0 && t1 == steps ? x : slice(g, x, 0, t0, t1), h, c, dropout_rng, training);
  };
  Var h0 = g.input(state.h);
  std::optional<Var> c0;
  if (config_.cell == CellType::kLstm) c0 = g.input(state.c);
  RnnOutputs out;
  if (carry_scales.empty()) {
    out = run_stack(0, steps, h0, c0);
  } else {
    check<ShapeError>(static_cast<int64_t>(carry_scales.size()) == steps,
                      "LanguageModel::forward: " + std::to_string(carry_scales.size()) +
                          " carry scales for " + std::to_string(steps) + " steps");
    // One step at a time, reweighting the gradient carried into the previous step's state.
    std::vector<Var> outputs;
    Var h = h0;
    std::optional<Var> c = c0;
    for (int64_t t = 0; t < steps; ++t) {
      if (t > 0) {
        const float xi = carry_scales[static_cast<size_t>(t)];
        h = xi == 0 ? g.detach(h) : scale_gradient(g, h, xi);
        if (c) c = xi == 0 ? g.detach(*c) : scale_gradient(g, *c, xi);
      }
      out = run_stack(t, t + 1, h, c);
      outputs.push_back(out.output);
      h = out.h_n;
      if (c) c = out.c_n;
    }
    out.output = concat(g, outputs, 0);
  }

  // Carry the final state to the next call as a plain tensor (the graph's copy is not kept).
  const float* h_n = g.value(out.h_n);
  std::copy(h_n, h_n + state.h.numel(), state.h.data());
  if (c0) {
    const float* c_n = g.value(out.c_n);
    std::copy(c_n, c_n + state.c.numel(), state.c.data());
  }

  Var top = reshape(g, out.output, {steps * batch, config_.hidden_size});
  if (use_dropout) top = dropout(g, top, static_cast<float>(config_.dropout), *dropout_rng, true);
  return top;
}

}  // namespace recur
