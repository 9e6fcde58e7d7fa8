// Sequence to sequence: a recurrent encoder and decoder (d2l 10.6-10.7, Sutskever et al. 2014),
// optionally with Bahdanau attention in the decoder (d2l 11.4, Bahdanau et al. 2015).
//
// Encoder: embedding [Vs, E] -> recurrent stack (L layers, H per direction, D = 1 or 2 directions).
// Decoder (hidden size Hd = D*H): its stack starts from the encoder's final state (layer k of the
// decoder from layer k of the encoder, the two directions concatenated when D = 2), and every step's
// input is the target embedding joined with a context vector:
//   without attention  x_t = [embed(y_{t-1}), c]   c = the encoder's top-layer state (fixed)
//   with attention     x_t = [c_t, embed(y_{t-1})] c_t = sum_s a_ts m_s, a_t = softmax over the
//                      source of w_v . tanh(W_q h_{t-1} + W_k m_s), h_{t-1} the decoder's top state
//                      before step t, m_s the encoder's top-layer outputs (d2l's order of the parts)
// then a linear layer to the target vocabulary. Dropout (training only) acts between recurrent
// layers and, with attention, on the attention weights, as in d2l.
//
// One difference from d2l, on purpose: d2l's encoder runs over the padding of shorter sources and
// hands the decoder the state after the last padded position; here each source's state and context
// are taken at its last real token (what PyTorch's pack_padded_sequence gives), so a translation
// never depends on what else is in its batch or how much padding it got. With no padding the two
// are the same. The encoder therefore runs once per distinct source length in a batch, on the rows
// of that length; batches come sorted by source length, longest first (TranslationBatcher).
//
// Parameters, named as d2l 1.0's PyTorch Seq2Seq state dict (d2l wraps nn.GRU in its own GRU
// module, hence rnn.rnn; its attention decoder holds nn.GRU directly), in that order:
//   encoder.embedding.weight [Vs, E]
//   encoder.rnn.rnn.{weight_ih,weight_hh,bias_ih,bias_hh}_l{k}[_reverse]   (recur/nn/rnn.h)
//   decoder.attention.W_k.weight [Hd, Hd], decoder.attention.W_q.weight [Hd, Hd],
//   decoder.attention.w_v.weight [1, Hd]                                     (attention only)
//   decoder.embedding.weight [Vt, E]
//   decoder.rnn.rnn.* (decoder.rnn.* with attention), input size E + Hd
//   decoder.dense.weight [Vt, Hd], decoder.dense.bias [Vt]
// Token batches are time-major (ids[t * B + b]), as elsewhere in recur.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recur/autograd/graph.h"
#include "recur/core/parameters.h"
#include "recur/core/rng.h"
#include "recur/nn/rnn.h"

namespace recur {

enum class AttentionKind { kNone, kBahdanau };
// "none", "bahdanau"; parse throws ValueError listing them.
[[nodiscard]] std::string_view attention_name(AttentionKind kind);
[[nodiscard]] AttentionKind parse_attention(std::string_view name);

struct Seq2SeqConfig {
  CellType cell = CellType::kGru;
  int num_layers = 2;
  int64_t hidden_size = 256;     // H, the encoder's size per direction; the decoder's is D*H
  int64_t embedding_size = 256;  // E, both embeddings
  double dropout = 0;            // in [0, 1)
  bool bidirectional = false;    // the encoder's
  AttentionKind attention = AttentionKind::kNone;
  int64_t source_vocab_size = 0;
  int64_t target_vocab_size = 0;
};

// Name and shape of every parameter of a model with `config`, in registration order, without
// allocating: what a model file is checked against. Throws ValueError for an invalid config.
[[nodiscard]] std::vector<std::pair<std::string, Shape>> seq2seq_parameter_shapes(
    const Seq2SeqConfig& config);

// A batch of sources and teacher-forced targets (recur/seq2seq/translation_batches.h fills one).
struct Seq2SeqBatchView {
  int64_t batch = 0;                        // B
  int64_t source_steps = 0;                 // Ts
  int64_t target_steps = 0;                 // Tt
  std::span<const int32_t> source;          // [Ts * B] time-major, padded
  std::span<const int64_t> source_lengths;  // [B], non-increasing, each in [1, Ts]
  std::span<const int32_t> decoder_input;   // [Tt * B] time-major: <bos>, y0, y1, ...
  std::span<const int32_t> target;          // [Tt * B] time-major: y0, y1, ... (loss only)
  std::span<const float> target_mask;       // [Tt * B]: 1 for real target tokens (loss only)
};

// What decoding carries from one step to the next, for R rows (sentences, or beams).
// context_projection is the context's part of the decoder's first-layer input projection (W_c the
// context columns of W_ih0), which the graph-free step (src/seq2seq/decoder_session.h) computes on
// a state's first step and reuses; select_decoder_rows keeps it with its rows. Clear it if context
// changes.
struct DecoderState {
  int64_t rows = 0;                     // R
  Tensor<float> h;                      // [L, R, Hd]
  Tensor<float> c;                      // [L, R, Hd], LSTM only
  Tensor<float> context;                // [R, Hd], without attention
  Tensor<float> memory;                 // [R, S, Hd] encoder outputs, with attention
  Tensor<float> memory_keys;            // [R, S, Hd] = memory W_k^T, with attention
  Tensor<float> context_projection;     // [R, G*Hd] = context W_c^T, without attention (see above)
  std::vector<int64_t> source_lengths;  // [R]
};

class Seq2SeqModel {
 public:
  // Throws ValueError for a vocabulary size < 1 or an invalid recurrent config.
  explicit Seq2SeqModel(const Seq2SeqConfig& config);
  Seq2SeqModel(const Seq2SeqModel&) = delete;  // the stacks refer to params_
  Seq2SeqModel& operator=(const Seq2SeqModel&) = delete;

  [[nodiscard]] const Seq2SeqConfig& config() const { return config_; }
  [[nodiscard]] int num_directions() const { return config_.bidirectional ? 2 : 1; }
  [[nodiscard]] int64_t decoder_hidden_size() const { return num_directions() * config_.hidden_size; }
  [[nodiscard]] ParameterStore<float>& parameters() { return params_; }
  [[nodiscard]] const ParameterStore<float>& parameters() const { return params_; }

  // d2l's init_seq2seq: Xavier-uniform on the recurrent weight matrices, PyTorch's defaults for the
  // rest (recurrent biases U(+-1/sqrt(H)), embeddings N(0, 1), linear layers U(+-1/sqrt(fan_in)):
  // d2l's lazily sized linear layers are past init_seq2seq's reach and keep them).
  void reset_parameters(Rng& rng);

  // Teacher-forced logits [Tt * B, Vt] (row t * B + b).
  Var logits(Graph<float>& g, const Seq2SeqBatchView& batch, Rng* dropout_rng, bool training);
  // The cross-entropy of those logits averaged over the masked-in target tokens (d2l's masked
  // loss), through the fused head that never stores the logits: what training calls.
  Var loss(Graph<float>& g, const Seq2SeqBatchView& batch, Rng* dropout_rng, bool training);

  // --- Decoding (no gradients; g is cleared and reused) ------------------------------------------
  // Runs the encoder over `source` ([steps * batch] time-major, lengths non-increasing) and returns
  // the decoder's starting state for those rows.
  DecoderState encode(Graph<float>& g, std::span<const int32_t> source, std::span<const int64_t> lengths,
                      int64_t steps, int64_t batch);
  // Feeds one token per row (y_{t-1}) and returns the logits [R, Vt] of y_t, advancing `state`.
  // With attention and `attention_weights`, writes the step's weights [R, S] there.
  Tensor<float> decode_step(Graph<float>& g, DecoderState& state, std::span<const int32_t> tokens,
                            Tensor<float>* attention_weights = nullptr);

 private:
  struct Encoded;     // the encoder's outputs as graph values (seq2seq_model.cpp)
  struct DecoderRun;  // the decoder's outputs as graph values
  Encoded encode_graph(Graph<float>& g, std::span<const int32_t> source, std::span<const int64_t> lengths,
                       int64_t steps, int64_t batch, Rng* dropout_rng, bool training);
  DecoderRun decode_graph(Graph<float>& g, const Encoded& encoded, std::span<const int32_t> inputs,
                          int64_t steps, int64_t batch, Rng* dropout_rng, bool training);
  Var top_hidden(Graph<float>& g, const Seq2SeqBatchView& batch, Rng* dropout_rng, bool training);
  Var param(Graph<float>& g, int index);

  Seq2SeqConfig config_;
  ParameterStore<float> params_;
  // Slots and stacks in d2l's state-dict order (members are initialized in declaration order).
  int encoder_embedding_ = -1;
  Rnn<float> encoder_rnn_;
  int attention_wk_ = -1, attention_wq_ = -1, attention_wv_ = -1;
  int decoder_embedding_ = -1;
  Rnn<float> decoder_rnn_;
  int dense_weight_ = -1, dense_bias_ = -1;
};

}  // namespace recur
