// The graph-free decoder step (decoder_session.h): weights packed once, the cells' fused step kernels
// (nn/cells.h, the code the training scan runs), Bahdanau attention with the kernels of the graph's
// attention ops (autograd/ops/attention.cpp), and helper threads that share each step.
// Glossary: R rows, L layers, Hd hidden size, G gate blocks, GH = G*Hd, E embedding width,
// Vt target vocabulary, S source positions.
#include "seq2seq/decoder_session.h"

#include <fmt/core.h>

#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "core/aligned_vector.h"
#include "core/step_workers.h"
#include "kernels/elementwise.h"
#include "kernels/packed_gemm.h"
#include "kernels/softmax_rows.h"
#include "nn/cells.h"
#include "recur/core/context.h"
#include "recur/core/error.h"

namespace recur {

namespace {

// Throws E with the formatted message when `ok` is false; formats nothing otherwise (the checks run
// every step).
template <typename E, typename... Args>
void require(bool ok, fmt::format_string<Args...> format, Args&&... args) {
  if (!ok) throw E(fmt::format(format, std::forward<Args>(args)...));
}

// y [n, N] = beta y + x [n, K] W^T for a weight W [N, K], packed once as op(B) = W^T in column parts
// that threads can share (bounds on multiples of 64 columns, whole kernel tiles). Each output element
// is one FMA chain over k in packed_gemm, whatever n or the part, so splitting changes no bit.
class Product {
 public:
  // W [N, K] with row stride ldw. With several threads and a product large enough for a hand-off
  // to pay (inference.cpp's 64K multiply-adds per row), cut into up to 4 parts per thread, so that
  // threads that run late leave smaller pieces to the others.
  void pack(int64_t N, int64_t K, const float* W, int64_t ldw, int threads) {
    const int64_t tiles = (N + 63) / 64;
    const auto parts =
        static_cast<int>(threads == 1 || N * K < 65536 ? 1 : std::min<int64_t>(4 * threads, tiles));
    parts_.resize(static_cast<size_t>(parts));
    begin_.assign(static_cast<size_t>(parts) + 1, N);
    for (int p = 0; p < parts; ++p) begin_[static_cast<size_t>(p)] = tiles * p / parts * 64;
    for (int p = 0; p < parts; ++p) {
      const int64_t n0 = begin_[static_cast<size_t>(p)], n1 = begin_[static_cast<size_t>(p) + 1];
      kernels::PackedMatrix<float>& part = parts_[static_cast<size_t>(p)];
      kernels::pack_matrix(kernels::Trans::kYes, K, n1 - n0, W + n0 * ldw, ldw, part);
      part.source = nullptr;  // W may be a temporary; packed_gemm<float> reads the panels only
    }
  }
  [[nodiscard]] int num_parts() const { return static_cast<int>(parts_.size()); }
  // Columns of part p: y[:, begin_p : end_p] of the whole product.
  void multiply_part(int p, int64_t n, const float* x, int64_t ldx, float beta, float* y, int64_t ldy) const {
    kernels::packed_gemm(n, x, ldx, parts_[static_cast<size_t>(p)], beta, y + begin_[static_cast<size_t>(p)],
                         ldy);
  }

 private:
  std::vector<kernels::PackedMatrix<float>> parts_;
  std::vector<int64_t> begin_;  // [parts + 1] first column of each part, then N
};

// Frees operator new[](bytes, 64-byte alignment).
struct AlignedFree {
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
};

}  // namespace

struct DecoderSession::Impl {
  struct Layer {
    Product w_ih;               // [GH, Hd] layers above the first (the first: w_embedding, w_context)
    Product w_hh;               // [GH, Hd]
    AlignedVector<float> bias;  // [GH] fused::fold_bias of b_ih and b_hh
    AlignedVector<float> b_hh;  // [GH] read by the blocks the cell does not fold (GRU's b_hn)
  };
  // Attention's per-thread buffers, one row at a time.
  struct AttentionScratch {
    AlignedVector<float> features;  // [S, Hd] q + k_s
    AlignedVector<float> tanh;      // [S, Hd]
    AlignedVector<float> scores;    // [S]
  };

  CellType cell = CellType::kGru;
  bool attention = false;
  int L = 0;
  int64_t Hd = 0, G = 0, GH = 0, E = 0, Vt = 0;
  int64_t ldh = 0;  // row stride of h_next: Hd + 1 (the head's column of ones) rounded up to 16
  std::vector<Layer> layers;
  Product w_embedding;               // [GH, E] the embedding columns of W_ih0
  Product w_context;                 // [GH, Hd] the context columns of W_ih0
  Product w_query;                   // [Hd, Hd] W_q, attention only
  const float* w_v = nullptr;        // [Hd] attention only, the model's
  Product head;                      // [Vt, Hd + 1] W_dense with b_dense as its last column
  const float* embedding = nullptr;  // [Vt, E] the model's decoder embedding

  // E_y W_e^T for every token fed so far (rows of the others unset); null without a table.
  std::unique_ptr<float[], AlignedFree> table;  // [Vt, GH]
  std::vector<uint8_t> table_filled;            // [Vt]

  StepWorkers workers;

  // Per-row buffers for `capacity` rows (and `capacity_source` source positions), grown on demand.
  int64_t capacity = 0, capacity_source = 0;
  int64_t last_rows = 0;          // R of the last step, whose logits best_tokens reads
  AlignedVector<float> gates;     // [capacity, GH] pre-activations, then the activated gates
  AlignedVector<float> hh;        // [capacity, GH] h W_hh^T, cells with kRecurrentApart only
  AlignedVector<float> saved;     // [capacity, Hd] what the step kernel keeps for backward; unused here
  AlignedVector<float> h_next;    // [L, capacity, ldh] the new hidden states; column Hd holds 1
  AlignedVector<float> c_next;    // [L, capacity, Hd] the new cell states, kHasCellState only
  AlignedVector<float> embedded;  // [capacity, E] gathered embedding rows
  AlignedVector<float> query;     // [capacity, Hd] attention: W_q h_top
  AlignedVector<float> context;   // [capacity, Hd] attention: c_t
  AlignedVector<float> weights;   // [capacity, S] attention weights when the caller wants none
  AlignedVector<float> logits;    // [capacity, Vt]
  std::vector<int32_t> missing;   // [capacity] tokens whose table row this step fills
  std::vector<AttentionScratch> scratch;  // [threads]

  Impl(const Seq2SeqModel& model, const DecoderSessionOptions& options);
  void reserve(int64_t R, int64_t S);
  void check_state(const DecoderState& state, std::span<const int32_t> tokens) const;
  // y = beta y + x W^T on n rows; `split` shares the product's column parts among the threads
  // (false inside a row block, which already runs on one of them).
  void multiply(const Product& w, int64_t n, const float* x, int64_t ldx, float beta, float* y, int64_t ldy,
                bool split) {
    auto part = [&](int p, int) { w.multiply_part(p, n, x, ldx, beta, y, ldy); };
    if (split) {
      workers.run(w.num_parts(), part);
    } else {
      for (int p = 0; p < w.num_parts(); ++p) part(p, 0);
    }
  }
  void project_context(DecoderState& state);
  void fill_table(std::span<const int32_t> tokens);
  void attend(const DecoderState& state, int64_t r, AttentionScratch& s, float* weights_row);
  template <class Cell>
  void step_rows(DecoderState& state, std::span<const int32_t> tokens, float* weights, int worker, int64_t r0,
                 int64_t r1, bool split);
  [[nodiscard]] int row_blocks(int64_t R) const;
};

namespace {
const float* parameter(const ParameterStore<float>& p, const std::string& name) {
  return p.values().data() + p.slot(p.index_of(name)).offset;
}
}  // namespace

DecoderSession::Impl::Impl(const Seq2SeqModel& model, const DecoderSessionOptions& options)
    : workers(options.threads - 1) {
  const Seq2SeqConfig& c = model.config();
  const ParameterStore<float>& p = model.parameters();
  cell = c.cell;
  attention = c.attention == AttentionKind::kBahdanau;
  L = c.num_layers;
  Hd = model.decoder_hidden_size();
  G = gate_count(c.cell);
  GH = G * Hd;
  E = c.embedding_size;
  Vt = c.target_vocab_size;
  ldh = (Hd + 1 + 15) / 16 * 16;
  const int threads = options.threads;
  const std::string prefix = attention ? "decoder.rnn." : "decoder.rnn.rnn.";
  layers.resize(static_cast<size_t>(L));
  fused::visit_cell(cell, [&]<class Cell>(Cell) {
    for (int k = 0; k < L; ++k) {
      Layer& layer = layers[static_cast<size_t>(k)];
      auto at = [&](RnnParam kind) { return parameter(p, prefix + rnn_parameter_name(kind, k, 0)); };
      if (k > 0) layer.w_ih.pack(GH, Hd, at(RnnParam::kWeightIh), Hd, threads);
      layer.w_hh.pack(GH, Hd, at(RnnParam::kWeightHh), Hd, threads);
      layer.b_hh.assign(at(RnnParam::kBiasHh), at(RnnParam::kBiasHh) + GH);
      layer.bias.resize(static_cast<size_t>(GH));
      fused::fold_bias<Cell>(Hd, at(RnnParam::kBiasIh), layer.b_hh.data(), layer.bias.data());
    }
  });
  // W_ih0 [GH, E + Hd]: x = [embed(y), c] without attention, [c_t, embed(y)] with it.
  const float* w_ih0 = parameter(p, prefix + rnn_parameter_name(RnnParam::kWeightIh, 0, 0));
  const int64_t in0 = E + Hd;
  w_embedding.pack(GH, E, w_ih0 + (attention ? Hd : 0), in0, threads);
  w_context.pack(GH, Hd, w_ih0 + (attention ? 0 : E), in0, threads);
  if (attention) {
    w_query.pack(Hd, Hd, parameter(p, "decoder.attention.W_q.weight"), Hd, threads);
    w_v = parameter(p, "decoder.attention.w_v.weight");
  }
  {
    std::vector<float> augmented(static_cast<size_t>(Vt * (Hd + 1)));  // [W_dense, b_dense]
    const float* w = parameter(p, "decoder.dense.weight");
    const float* b = parameter(p, "decoder.dense.bias");
    for (int64_t v = 0; v < Vt; ++v) {
      std::copy_n(w + v * Hd, Hd, augmented.data() + v * (Hd + 1));
      augmented[static_cast<size_t>(v * (Hd + 1) + Hd)] = b[v];
    }
    head.pack(Vt, Hd + 1, augmented.data(), Hd + 1, threads);
  }
  embedding = parameter(p, "decoder.embedding.weight");
  if (Vt * GH * static_cast<int64_t>(sizeof(float)) <= options.table_bytes) {
    // Not value-initialized: untouched pages of a large vocabulary's table are never faulted in.
    table.reset(static_cast<float*>(
        ::operator new[](static_cast<size_t>(Vt * GH) * sizeof(float), std::align_val_t{64})));
    table_filled.assign(static_cast<size_t>(Vt), 0);
  }
  scratch.resize(static_cast<size_t>(threads));
}

void DecoderSession::Impl::reserve(int64_t R, int64_t S) {
  if (S > capacity_source) {
    capacity_source = S;
    for (AttentionScratch& s : scratch) {
      s.features.resize(static_cast<size_t>(S * Hd));
      s.tanh.resize(static_cast<size_t>(S * Hd));
      s.scores.resize(static_cast<size_t>(S));
    }
    weights.resize(static_cast<size_t>(capacity * capacity_source));
  }
  if (R <= capacity) return;
  capacity = R;
  const auto rows = static_cast<size_t>(R);
  gates.resize(rows * static_cast<size_t>(GH));
  if (cell == CellType::kGru) hh.resize(rows * static_cast<size_t>(GH));
  saved.resize(rows * static_cast<size_t>(Hd));
  h_next.assign(static_cast<size_t>(L) * rows * static_cast<size_t>(ldh), 0.0f);
  for (size_t row = 0; row < static_cast<size_t>(L) * rows; ++row)
    h_next[row * static_cast<size_t>(ldh) + static_cast<size_t>(Hd)] = 1.0f;
  if (cell == CellType::kLstm) c_next.resize(static_cast<size_t>(L) * rows * static_cast<size_t>(Hd));
  embedded.resize(rows * static_cast<size_t>(E));
  if (attention) {
    query.resize(rows * static_cast<size_t>(Hd));
    context.resize(rows * static_cast<size_t>(Hd));
    weights.resize(rows * static_cast<size_t>(capacity_source));
  }
  logits.resize(rows * static_cast<size_t>(Vt));
  missing.reserve(rows);
}

void DecoderSession::Impl::check_state(const DecoderState& s, std::span<const int32_t> tokens) const {
  const int64_t R = s.rows;
  require<ShapeError>(R >= 0 && static_cast<int64_t>(tokens.size()) == R,
                      "DecoderSession::step: {} tokens for {} rows", tokens.size(), R);
  const Shape states{L, R, Hd};
  require<ShapeError>(s.h.shape() == states, "DecoderSession::step: state h is {}, expected {}",
                      s.h.shape().str(), states.str());
  if (cell == CellType::kLstm)
    require<ShapeError>(s.c.shape() == states, "DecoderSession::step: state c is {}, expected {}",
                        s.c.shape().str(), states.str());
  if (!attention) {
    require<ShapeError>(s.context.shape() == Shape{R, Hd}, "DecoderSession::step: context is {}, expected {}",
                        s.context.shape().str(), Shape{R, Hd}.str());
  } else {
    const Shape& m = s.memory.shape();
    require<ShapeError>(m.rank() == 3 && m[0] == R && m[1] >= 1 && m[2] == Hd,
                        "DecoderSession::step: memory is {}, expected [{}, S, {}]", m.str(), R, Hd);
    require<ShapeError>(s.memory_keys.shape() == m, "DecoderSession::step: memory_keys is {}, expected {}",
                        s.memory_keys.shape().str(), m.str());
    require<ShapeError>(static_cast<int64_t>(s.source_lengths.size()) == R,
                        "DecoderSession::step: {} source lengths for {} rows", s.source_lengths.size(), R);
    for (size_t r = 0; r < s.source_lengths.size(); ++r)
      require<ShapeError>(s.source_lengths[r] >= 1 && s.source_lengths[r] <= m[1],
                          "DecoderSession::step: source length {} of row {} is outside [1, {}]",
                          s.source_lengths[r], r, m[1]);
  }
  for (size_t r = 0; r < tokens.size(); ++r)
    require<ValueError>(tokens[r] >= 0 && tokens[r] < Vt,
                        "DecoderSession::step: token {} of row {} is outside [0, {})", tokens[r], r, Vt);
}

// DecoderState::context_projection = context W_c^T, unless it is already there for these rows.
void DecoderSession::Impl::project_context(DecoderState& state) {
  const int64_t R = state.rows;
  if (state.context_projection.shape() == Shape{R, GH}) return;
  state.context_projection = Tensor<float>(Shape{R, GH});
  multiply(w_context, R, state.context.data(), Hd, 0.0f, state.context_projection.data(), GH, true);
}

// Table rows of the tokens fed for the first time: one product over their embeddings.
void DecoderSession::Impl::fill_table(std::span<const int32_t> tokens) {
  missing.clear();
  for (int32_t token : tokens) {
    uint8_t& filled = table_filled[static_cast<size_t>(token)];
    if (filled == 0) {
      filled = 1;
      missing.push_back(token);
    }
  }
  if (missing.empty()) return;
  const auto n = static_cast<int64_t>(missing.size());
  for (int64_t i = 0; i < n; ++i)
    std::copy_n(embedding + static_cast<int64_t>(missing[static_cast<size_t>(i)]) * E, E,
                embedded.data() + i * E);
  multiply(w_embedding, n, embedded.data(), E, 0.0f, gates.data(), GH, true);  // gates as scratch
  for (int64_t i = 0; i < n; ++i)
    std::copy_n(gates.data() + i * GH, GH,
                table.get() + static_cast<int64_t>(missing[static_cast<size_t>(i)]) * GH);
}

// Row r's attention weights over its source (additive_attention_weights) and the context c_t
// (attention_context), with the graph ops' kernels and loops.
void DecoderSession::Impl::attend(const DecoderState& state, int64_t r, AttentionScratch& s, float* w) {
  const int64_t S = state.memory.shape()[1], n = state.source_lengths[static_cast<size_t>(r)];
  const float* keys = state.memory_keys.data() + r * S * Hd;
  kernels::add_rows<float>(n, Hd, keys, query.data() + r * Hd, s.features.data());
  kernels::tanh_forward<float>(n * Hd, s.features.data(), s.tanh.data());
  for (int64_t j = 0; j < n; ++j) {
    const float* t = s.tanh.data() + j * Hd;
    float score = 0;
    for (int64_t h = 0; h < Hd; ++h) score += w_v[h] * t[h];
    s.scores[static_cast<size_t>(j)] = score;
  }
  (void)kernels::softmax_row<float>(n, s.scores.data(), w);
  std::fill(w + n, w + S, 0.0f);
  float* c = context.data() + r * Hd;
  std::fill(c, c + Hd, 0.0f);
  const float* memory = state.memory.data() + r * S * Hd;
  for (int64_t j = 0; j < S; ++j) kernels::axpy<float>(Hd, w[j], memory + j * Hd, c);
}

// Every layer for rows [r0, r1), then their new states into `state`. Rows never interact, so row
// blocks run on separate threads; a block reads and writes only its own rows.
template <class Cell>
void DecoderSession::Impl::step_rows(DecoderState& state, std::span<const int32_t> tokens, float* weights_out,
                                     int worker, int64_t r0, int64_t r1, bool split) {
  const int64_t n = r1 - r0, R = state.rows;
  float* g = gates.data() + r0 * GH;
  auto token = [&](int64_t r) { return static_cast<int64_t>(tokens[static_cast<size_t>(r)]); };
  auto gather_embeddings = [&] {
    for (int64_t r = r0; r < r1; ++r) std::copy_n(embedding + token(r) * E, E, embedded.data() + r * E);
  };
  // Layer 0's input projection into g.
  if (attention) {
    const int64_t S = state.memory.shape()[1];
    multiply(w_query, n, state.h.data() + ((L - 1) * R + r0) * Hd, Hd, 0.0f, query.data() + r0 * Hd, Hd,
             split);
    for (int64_t r = r0; r < r1; ++r)
      attend(state, r, scratch[static_cast<size_t>(worker)], weights_out + r * S);
    if (table) {
      for (int64_t r = r0; r < r1; ++r) std::copy_n(table.get() + token(r) * GH, GH, gates.data() + r * GH);
    } else {
      gather_embeddings();
      multiply(w_embedding, n, embedded.data() + r0 * E, E, 0.0f, g, GH, split);
    }
    multiply(w_context, n, context.data() + r0 * Hd, Hd, 1.0f, g, GH, split);
  } else {
    const float* projected = state.context_projection.data();
    if (table) {
      for (int64_t r = r0; r < r1; ++r)
        kernels::add_rows<float>(1, GH, table.get() + token(r) * GH, projected + r * GH,
                                 gates.data() + r * GH);
    } else {
      std::copy_n(projected + r0 * GH, n * GH, g);
      gather_embeddings();
      multiply(w_embedding, n, embedded.data() + r0 * E, E, 1.0f, g, GH, split);
    }
  }
  for (int k = 0; k < L; ++k) {
    const Layer& layer = layers[static_cast<size_t>(k)];
    if (k > 0)
      multiply(layer.w_ih, n, h_next.data() + ((k - 1) * capacity + r0) * ldh, ldh, 0.0f, g, GH, split);
    const float* h_prev = state.h.data() + (k * R + r0) * Hd;
    if (Cell::kRecurrentApart) {
      multiply(layer.w_hh, n, h_prev, Hd, 0.0f, hh.data() + r0 * GH, GH, split);
    } else {
      multiply(layer.w_hh, n, h_prev, Hd, 1.0f, g, GH, split);
    }
    fused::StepForward<float> s{.rows = n,
                                .H = Hd,
                                .gates = g,
                                .hh = Cell::kRecurrentApart ? hh.data() + r0 * GH : nullptr,
                                .bias = layer.bias.data(),
                                .b_hh = layer.b_hh.data(),
                                .h_prev = h_prev,
                                .ld_prev = Hd,
                                .h = h_next.data() + (k * capacity + r0) * ldh,
                                .ld_h = ldh,
                                .saved = saved.data() + r0 * Hd};
    if (Cell::kHasCellState) {
      s.c_prev = state.c.data() + (k * R + r0) * Hd;
      s.c = c_next.data() + (k * capacity + r0) * Hd;
    }
    Cell::step_forward(s);
  }
  for (int k = 0; k < L; ++k) {
    for (int64_t r = r0; r < r1; ++r)
      std::copy_n(h_next.data() + (k * capacity + r) * ldh, Hd, state.h.data() + (k * R + r) * Hd);
    if (Cell::kHasCellState)
      std::copy_n(c_next.data() + (k * capacity + r0) * Hd, n * Hd, state.c.data() + (k * R + r0) * Hd);
  }
}

// How many row blocks the layers run as: up to two per thread, of at least 16 rows each, and one
// when the step is too small for hand-offs to pay (then each product is split by columns instead).
int DecoderSession::Impl::row_blocks(int64_t R) const {
  const int64_t blocks = std::min<int64_t>(2 * workers.size(), R / 16);
  if (workers.size() == 1 || blocks < 2 || R * L * GH * Hd < (int64_t{1} << 20)) return 1;
  return static_cast<int>(blocks);
}

DecoderSession::DecoderSession(const Seq2SeqModel& model, const DecoderSessionOptions& options) {
  require<ValueError>(options.threads >= 1 && options.threads <= kMaxThreads,
                      "DecoderSession: threads must be in [1, {}], got {}", kMaxThreads, options.threads);
  require<ValueError>(options.table_bytes >= 0, "DecoderSession: table_bytes must be >= 0, got {}",
                      options.table_bytes);
  impl_ = std::make_unique<Impl>(model, options);
}

DecoderSession::~DecoderSession() = default;

std::span<float> DecoderSession::step(DecoderState& state, std::span<const int32_t> tokens,
                                      Tensor<float>* attention_weights) {
  Impl& s = *impl_;
  s.check_state(state, tokens);
  const int64_t R = state.rows;
  if (R == 0) return {};
  const int64_t S = s.attention ? state.memory.shape()[1] : 0;
  s.reserve(R, S);
  if (!s.attention) s.project_context(state);
  if (s.table) s.fill_table(tokens);
  float* weights = nullptr;
  if (s.attention) {
    if (attention_weights != nullptr) {
      if (attention_weights->shape() != Shape{R, S}) *attention_weights = Tensor<float>(Shape{R, S});
      weights = attention_weights->data();
    } else {
      weights = s.weights.data();
    }
  }
  fused::visit_cell(s.cell, [&]<class Cell>(Cell) {
    const int blocks = s.row_blocks(R);
    if (blocks == 1) {
      s.step_rows<Cell>(state, tokens, weights, 0, 0, R, true);
      return;
    }
    auto block = [&](int p, int worker) {
      s.step_rows<Cell>(state, tokens, weights, worker, R * p / blocks, R * (p + 1) / blocks, false);
    };
    s.workers.run(blocks, block);
  });
  // logits = [h_top, 1] [W_dense, b]^T, by column parts.
  const float* top = s.h_next.data() + (s.L - 1) * s.capacity * s.ldh;
  auto head = [&](int p, int) { s.head.multiply_part(p, R, top, s.ldh, 0.0f, s.logits.data(), s.Vt); };
  s.workers.run(s.head.num_parts(), head);
  s.last_rows = R;
  return {s.logits.data(), static_cast<size_t>(R * s.Vt)};
}

void DecoderSession::best_tokens(std::span<BestToken> best) {
  Impl& s = *impl_;
  const int64_t R = s.last_rows, V = s.Vt;
  require<ShapeError>(static_cast<int64_t>(best.size()) == R,
                      "DecoderSession::best_tokens: {} entries for {} rows", best.size(), R);
  const auto parts = static_cast<int>(std::min<int64_t>(R, 4 * s.workers.size()));
  auto rows = [&](int p, int) {
    for (int64_t r = R * p / parts; r < R * (p + 1) / parts; ++r) {
      float* row = s.logits.data() + r * V;
      BestToken& b = best[static_cast<size_t>(r)];
      b.token = static_cast<int32_t>(kernels::argmax<float>(V, row));
      b.logit = row[b.token];
      // The fused head's row kernel returns lse - row[token] and leaves the row as scratch.
      b.log_sum_exp = kernels::softmax_cross_entropy_rows<float>(1, V, row, nullptr, &b.token, nullptr, 1.0f,
                                                                 false, nullptr) +
                      static_cast<double>(b.logit);
    }
  };
  s.workers.run(parts, rows);
}

}  // namespace recur
