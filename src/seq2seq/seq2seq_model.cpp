// Encoder-decoder forward passes on the autograd graph: training (teacher forcing, masked loss) and
// decoding one step at a time (no gradients). Equations and names: recur/seq2seq/seq2seq_model.h.
#include "recur/seq2seq/seq2seq_model.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "recur/autograd/ops.h"
#include "recur/core/error.h"
#include "recur/nn/init.h"

namespace recur {

std::string_view attention_name(AttentionKind kind) {
  return kind == AttentionKind::kNone ? "none" : "bahdanau";
}

AttentionKind parse_attention(std::string_view name) {
  if (name == "none") return AttentionKind::kNone;
  if (name == "bahdanau") return AttentionKind::kBahdanau;
  throw ValueError("unknown attention '" + std::string(name) + "' (expected none or bahdanau)");
}

namespace {

void check_config(const Seq2SeqConfig& c) {
  check(c.source_vocab_size >= 1,
        fmt::format("Seq2SeqModel: source_vocab_size must be >= 1, got {}", c.source_vocab_size));
  check(c.target_vocab_size >= 1,
        fmt::format("Seq2SeqModel: target_vocab_size must be >= 1, got {}", c.target_vocab_size));
  check(c.embedding_size >= 1,
        fmt::format("Seq2SeqModel: embedding_size must be >= 1, got {}", c.embedding_size));
}

RnnConfig encoder_stack(const Seq2SeqConfig& c) {
  check_config(c);
  // Batch-major, so that the top layer's outputs are the attention's memory [B, S, Hd] as they come.
  return RnnConfig{.cell = c.cell,
                   .input_size = c.embedding_size,
                   .hidden_size = c.hidden_size,
                   .num_layers = c.num_layers,
                   .bidirectional = c.bidirectional,
                   .dropout = c.dropout,
                   .layout = Layout::kBatchMajor};
}

RnnConfig decoder_stack(const Seq2SeqConfig& c) {
  const int64_t Hd = (c.bidirectional ? 2 : 1) * c.hidden_size;
  return RnnConfig{.cell = c.cell,
                   .input_size = c.embedding_size + Hd,
                   .hidden_size = Hd,
                   .num_layers = c.num_layers,
                   .bidirectional = false,
                   .dropout = c.dropout};
}

std::string decoder_prefix(const Seq2SeqConfig& c) {
  return c.attention == AttentionKind::kNone ? "decoder.rnn.rnn." : "decoder.rnn.";
}

// Adds a slot when `present`; -1 otherwise.
int add_if(ParameterStore<float>& store, bool present, const std::string& name, const Shape& shape) {
  return present ? store.add(name, shape) : -1;
}

void append_stack_shapes(std::vector<std::pair<std::string, Shape>>& shapes, const RnnConfig& rnn,
                         const std::string& prefix) {
  const int64_t G = gate_count(rnn.cell), H = rnn.hidden_size;
  const int D = rnn.bidirectional ? 2 : 1;
  for (int k = 0; k < rnn.num_layers; ++k)
    for (int d = 0; d < D; ++d) {
      auto name = [&](RnnParam kind) { return prefix + rnn_parameter_name(kind, k, d); };
      shapes.emplace_back(name(RnnParam::kWeightIh), Shape{G * H, k == 0 ? rnn.input_size : D * H});
      shapes.emplace_back(name(RnnParam::kWeightHh), Shape{G * H, H});
      shapes.emplace_back(name(RnnParam::kBiasIh), Shape{G * H});
      shapes.emplace_back(name(RnnParam::kBiasHh), Shape{G * H});
    }
}

}  // namespace

std::vector<std::pair<std::string, Shape>> seq2seq_parameter_shapes(const Seq2SeqConfig& c) {
  const RnnConfig encoder = encoder_stack(c), decoder = decoder_stack(c);
  const int64_t Hd = decoder.hidden_size;
  std::vector<std::pair<std::string, Shape>> shapes;
  shapes.emplace_back("encoder.embedding.weight", Shape{c.source_vocab_size, c.embedding_size});
  append_stack_shapes(shapes, encoder, "encoder.rnn.rnn.");
  if (c.attention == AttentionKind::kBahdanau) {
    shapes.emplace_back("decoder.attention.W_k.weight", Shape{Hd, Hd});
    shapes.emplace_back("decoder.attention.W_q.weight", Shape{Hd, Hd});
    shapes.emplace_back("decoder.attention.w_v.weight", Shape{1, Hd});
  }
  shapes.emplace_back("decoder.embedding.weight", Shape{c.target_vocab_size, c.embedding_size});
  append_stack_shapes(shapes, decoder, decoder_prefix(c));
  shapes.emplace_back("decoder.dense.weight", Shape{c.target_vocab_size, Hd});
  shapes.emplace_back("decoder.dense.bias", Shape{c.target_vocab_size});
  return shapes;
}

Seq2SeqModel::Seq2SeqModel(const Seq2SeqConfig& config)
    : config_(config),
      encoder_embedding_(
          (check_config(config),
           params_.add("encoder.embedding.weight", {config.source_vocab_size, config.embedding_size}))),
      encoder_rnn_(params_, encoder_stack(config), "encoder.rnn.rnn."),
      attention_wk_(add_if(params_, config.attention == AttentionKind::kBahdanau,
                           "decoder.attention.W_k.weight", {decoder_hidden_size(), decoder_hidden_size()})),
      attention_wq_(add_if(params_, config.attention == AttentionKind::kBahdanau,
                           "decoder.attention.W_q.weight", {decoder_hidden_size(), decoder_hidden_size()})),
      attention_wv_(add_if(params_, config.attention == AttentionKind::kBahdanau,
                           "decoder.attention.w_v.weight", {1, decoder_hidden_size()})),
      decoder_embedding_(
          params_.add("decoder.embedding.weight", {config.target_vocab_size, config.embedding_size})),
      decoder_rnn_(params_, decoder_stack(config), decoder_prefix(config)),
      dense_weight_(params_.add("decoder.dense.weight", {config.target_vocab_size, decoder_hidden_size()})),
      dense_bias_(params_.add("decoder.dense.bias", {config.target_vocab_size})) {}

void Seq2SeqModel::reset_parameters(Rng& rng) {
  init_normal(params_.value(encoder_embedding_).span(), 0.0, 1.0, rng);
  for (Rnn<float>* stack : {&encoder_rnn_, &decoder_rnn_}) {
    stack->reset_parameters(rng);  // PyTorch's default for every weight and bias ...
    const auto& indices = stack->parameter_indices();
    for (size_t i = 0; i < indices.size(); ++i) {
      const auto kind = static_cast<RnnParam>(i % kRnnParamKinds);
      if (kind == RnnParam::kWeightIh || kind == RnnParam::kWeightHh)  // ... then Xavier on the weights
        init_xavier_uniform(params_.value(indices[i]), rng);
    }
  }
  const int64_t Hd = decoder_hidden_size();
  for (int w : {attention_wk_, attention_wq_, attention_wv_})
    if (w >= 0) init_uniform_fan(params_.value(w).span(), Hd, rng);
  init_normal(params_.value(decoder_embedding_).span(), 0.0, 1.0, rng);
  init_uniform_fan(params_.value(dense_weight_).span(), Hd, rng);
  init_uniform_fan(params_.value(dense_bias_).span(), Hd, rng);
}

Var Seq2SeqModel::param(Graph<float>& g, int index) {
  return g.parameter(params_.value(index), params_.grad(index));
}

struct Seq2SeqModel::Encoded {
  Var h0;           // [L, B, Hd]: the decoder's starting state
  Var c0;           // [L, B, Hd], LSTM only
  Var context;      // [B, Hd], without attention
  Var memory;       // [B, S, Hd], with attention
  Var memory_keys;  // [B, S, Hd], with attention
  std::span<const int64_t> lengths;
};

struct Seq2SeqModel::DecoderRun {
  Var top;                             // [T * B, Hd] (time-major rows)
  Var h_n;                             // [L, B, Hd]
  Var c_n;                             // LSTM only
  std::vector<Var> attention_weights;  // per step [B, S], with attention
};

namespace {

// The decoder's layer-k state from the encoder's [L*D, B, H]: layer k itself, or its two
// directions joined along the features ([1, B, 2H]).
Var decoder_start_state(Graph<float>& g, Var encoder_state, int layers, int directions) {
  if (directions == 1) return encoder_state;
  std::vector<Var> per_layer;
  for (int k = 0; k < layers; ++k)
    per_layer.push_back(concat(
        g, {slice(g, encoder_state, 0, 2 * k, 2 * k + 1), slice(g, encoder_state, 0, 2 * k + 1, 2 * k + 2)},
        2));
  return layers == 1 ? per_layer[0] : concat(g, per_layer, 0);
}

}  // namespace

Seq2SeqModel::Encoded Seq2SeqModel::encode_graph(Graph<float>& g, std::span<const int32_t> source,
                                                 std::span<const int64_t> lengths, int64_t steps,
                                                 int64_t batch, Rng* dropout_rng, bool training) {
  const int64_t B = batch, S = steps, E = config_.embedding_size, Hd = decoder_hidden_size();
  const int L = config_.num_layers, D = num_directions();
  check<ShapeError>(B >= 1 && S >= 1 && static_cast<int64_t>(source.size()) == S * B,
                    fmt::format("Seq2SeqModel: {} source ids for steps {} x batch {}", source.size(), S, B));
  check<ShapeError>(static_cast<int64_t>(lengths.size()) == B,
                    fmt::format("Seq2SeqModel: {} source lengths for batch {}", lengths.size(), B));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = lengths[static_cast<size_t>(b)];
    if (n < 1 || n > S)
      throw ValueError(fmt::format("Seq2SeqModel: source length {} of row {} is outside [1, {}]", n, b, S));
    if (b > 0 && n > lengths[static_cast<size_t>(b - 1)])
      throw ValueError(
          fmt::format("Seq2SeqModel: source lengths must be non-increasing (row {} has {} after {})", b, n,
                      lengths[static_cast<size_t>(b - 1)]));
  }
  std::vector<int32_t> batch_major(source.size());  // [B, S]
  for (int64_t t = 0; t < S; ++t)
    for (int64_t b = 0; b < B; ++b)
      batch_major[static_cast<size_t>(b * S + t)] = source[static_cast<size_t>(t * B + b)];
  Var x = reshape(g, embedding(g, param(g, encoder_embedding_), batch_major), {B, S, E});

  // One run of the stack per distinct length, over those rows and their real tokens only.
  std::vector<Var> outputs, h_parts, c_parts;
  for (int64_t b0 = 0; b0 < B;) {
    const int64_t n = lengths[static_cast<size_t>(b0)];
    int64_t b1 = b0;
    while (b1 < B && lengths[static_cast<size_t>(b1)] == n) ++b1;
    Var rows = (b0 == 0 && b1 == B) ? x : slice(g, x, 0, b0, b1);
    if (n < S) rows = slice(g, rows, 1, 0, n);
    RnnOutputs out = encoder_rnn_.forward(g, rows, std::nullopt, std::nullopt, dropout_rng, training);
    if (config_.attention == AttentionKind::kBahdanau) {
      Var memory = out.output;  // [b1 - b0, n, Hd], zero-padded to S (masked anyway)
      if (n < S) memory = concat(g, {memory, g.input(Tensor<float>(Shape{b1 - b0, S - n, Hd}))}, 1);
      outputs.push_back(memory);
    }
    h_parts.push_back(out.h_n);
    if (config_.cell == CellType::kLstm) c_parts.push_back(out.c_n);
    b0 = b1;
  }
  auto join_rows = [&](const std::vector<Var>& parts, int axis) {
    return parts.size() == 1 ? parts[0] : concat(g, parts, axis);
  };
  Encoded e;
  e.lengths = lengths;
  e.h0 = decoder_start_state(g, join_rows(h_parts, 1), L, D);
  if (config_.cell == CellType::kLstm) e.c0 = decoder_start_state(g, join_rows(c_parts, 1), L, D);
  if (config_.attention == AttentionKind::kBahdanau) {
    e.memory = join_rows(outputs, 0);
    e.memory_keys = linear(g, e.memory, param(g, attention_wk_));
  } else {
    e.context = reshape(g, slice(g, e.h0, 0, L - 1, L), {B, Hd});  // the top layer's final state
  }
  return e;
}

Seq2SeqModel::DecoderRun Seq2SeqModel::decode_graph(Graph<float>& g, const Encoded& e,
                                                    std::span<const int32_t> inputs, int64_t steps,
                                                    int64_t batch, Rng* dropout_rng, bool training) {
  const int64_t T = steps, B = batch, E = config_.embedding_size, Hd = decoder_hidden_size();
  const int L = config_.num_layers;
  check<ShapeError>(
      T >= 1 && static_cast<int64_t>(inputs.size()) == T * B,
      fmt::format("Seq2SeqModel: {} decoder inputs for steps {} x batch {}", inputs.size(), T, B));
  Var embedded = embedding(g, param(g, decoder_embedding_), inputs);  // [T * B, E]
  std::optional<Var> c0;
  if (config_.cell == CellType::kLstm) c0 = e.c0;
  DecoderRun run;
  if (config_.attention == AttentionKind::kNone) {
    // The same context at every step: [embed(y), c] for the whole sequence, one fused stack run.
    Var context = reshape(g, e.context, {1, B, Hd});
    Var repeated = T == 1 ? context : concat(g, std::vector<Var>(static_cast<size_t>(T), context), 0);
    Var x = concat(g, {reshape(g, embedded, {T, B, E}), repeated}, 2);
    RnnOutputs out = decoder_rnn_.forward(g, x, e.h0, c0, dropout_rng, training);
    run.top = reshape(g, out.output, {T * B, Hd});
    run.h_n = out.h_n;
    run.c_n = out.c_n;
    return run;
  }
  // Attention: the context of step t depends on the state after step t-1, so one step at a time.
  const bool attention_dropout = training && config_.dropout > 0;
  Var w_q = param(g, attention_wq_), w_v = param(g, attention_wv_);
  Var h = e.h0;
  std::optional<Var> c = c0;
  std::vector<Var> outputs;
  for (int64_t t = 0; t < T; ++t) {
    Var query = linear(g, reshape(g, slice(g, h, 0, L - 1, L), {B, Hd}), w_q);
    Var weights = additive_attention_weights(g, query, e.memory_keys, w_v, e.lengths);
    run.attention_weights.push_back(weights);
    if (attention_dropout)
      weights = dropout(g, weights, static_cast<float>(config_.dropout), *dropout_rng, true);
    Var context = attention_context(g, weights, e.memory);  // [B, Hd]
    Var x = concat(g, {context, slice(g, embedded, 0, t * B, (t + 1) * B)}, 1);
    RnnOutputs out = decoder_rnn_.forward(g, reshape(g, x, {1, B, Hd + E}), h, c, dropout_rng, training);
    outputs.push_back(out.output);
    h = out.h_n;
    if (c) c = out.c_n;
  }
  run.top = reshape(g, T == 1 ? outputs[0] : concat(g, outputs, 0), {T * B, Hd});
  run.h_n = h;
  if (c) run.c_n = *c;
  return run;
}

Var Seq2SeqModel::top_hidden(Graph<float>& g, const Seq2SeqBatchView& batch, Rng* dropout_rng,
                             bool training) {
  check(!training || config_.dropout == 0 || dropout_rng != nullptr,
        "Seq2SeqModel: training with dropout needs a dropout_rng");
  const Encoded e = encode_graph(g, batch.source, batch.source_lengths, batch.source_steps, batch.batch,
                                 dropout_rng, training);
  return decode_graph(g, e, batch.decoder_input, batch.target_steps, batch.batch, dropout_rng, training).top;
}

Var Seq2SeqModel::logits(Graph<float>& g, const Seq2SeqBatchView& batch, Rng* dropout_rng, bool training) {
  return linear(g, top_hidden(g, batch, dropout_rng, training), param(g, dense_weight_),
                param(g, dense_bias_));
}

Var Seq2SeqModel::loss(Graph<float>& g, const Seq2SeqBatchView& batch, Rng* dropout_rng, bool training) {
  const auto n = static_cast<size_t>(batch.target_steps * batch.batch);
  check<ShapeError>(
      batch.target.size() == n && batch.target_mask.size() == n,
      fmt::format("Seq2SeqModel::loss: {} targets and {} mask values for steps {} x batch {}",
                  batch.target.size(), batch.target_mask.size(), batch.target_steps, batch.batch));
  Var top = top_hidden(g, batch, dropout_rng, training);
  // Padding positions add nothing to the loss: gather the real ones (a row gather whose backward
  // scatters back), so the head's three vocabulary-sized products skip them.
  std::vector<int32_t> rows, targets;
  rows.reserve(n);
  targets.reserve(n);
  for (size_t i = 0; i < n; ++i)
    if (batch.target_mask[i] != 0) {
      check(batch.target_mask[i] == 1,
            fmt::format("Seq2SeqModel::loss: mask value {} at {} is not 0 or 1", batch.target_mask[i], i));
      rows.push_back(static_cast<int32_t>(i));
      targets.push_back(batch.target[i]);
    }
  if (rows.empty() || rows.size() == n)
    return linear_cross_entropy(g, top, param(g, dense_weight_), param(g, dense_bias_), batch.target,
                                batch.target_mask);
  return linear_cross_entropy(g, embedding(g, top, rows), param(g, dense_weight_), param(g, dense_bias_),
                              targets);
}

DecoderState Seq2SeqModel::encode(Graph<float>& g, std::span<const int32_t> source,
                                  std::span<const int64_t> lengths, int64_t steps, int64_t batch) {
  g.clear();
  NoGradGuard<float> no_grad(g);
  const Encoded e = encode_graph(g, source, lengths, steps, batch, nullptr, false);
  DecoderState state;
  state.rows = batch;
  state.h = g.to_tensor(e.h0);
  if (e.c0.valid()) state.c = g.to_tensor(e.c0);
  if (e.context.valid()) state.context = g.to_tensor(e.context);
  if (e.memory.valid()) {
    state.memory = g.to_tensor(e.memory);
    state.memory_keys = g.to_tensor(e.memory_keys);
  }
  state.source_lengths.assign(lengths.begin(), lengths.end());
  return state;
}

Tensor<float> Seq2SeqModel::decode_step(Graph<float>& g, DecoderState& state, std::span<const int32_t> tokens,
                                        Tensor<float>* attention_weights) {
  check<ShapeError>(
      static_cast<int64_t>(tokens.size()) == state.rows,
      fmt::format("Seq2SeqModel::decode_step: {} tokens for {} rows", tokens.size(), state.rows));
  g.clear();
  NoGradGuard<float> no_grad(g);
  Encoded e;
  e.h0 = g.input(state.h);
  if (config_.cell == CellType::kLstm) e.c0 = g.input(state.c);
  if (config_.attention == AttentionKind::kNone) {
    e.context = g.input(state.context);
  } else {
    e.memory = g.input(state.memory);
    e.memory_keys = g.input(state.memory_keys);
    e.lengths = state.source_lengths;
  }
  const DecoderRun run = decode_graph(g, e, tokens, 1, state.rows, nullptr, false);
  Var logits = linear(g, run.top, param(g, dense_weight_), param(g, dense_bias_));
  state.h = g.to_tensor(run.h_n);
  if (run.c_n.valid()) state.c = g.to_tensor(run.c_n);
  if (attention_weights && !run.attention_weights.empty())
    *attention_weights = g.to_tensor(run.attention_weights[0]);
  return g.to_tensor(logits);
}

}  // namespace recur
