// Batch-1 inference step without the graph: per layer the GEMVs, then the cell's own fused step
// kernel on one row (nn/cells.h, the same code the training scan runs), then the head.
// Glossary: H hidden, G gate blocks, GH = G*H, V vocabulary, E embedding width.
#include "recur/lm/inference.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/aligned_vector.h"
#include "core/step_workers.h"
#include "kernels/gemv.h"
#include "nn/cells.h"
#include "recur/core/error.h"

namespace recur {

namespace {

kernels::PackedGemv pack(int64_t M, int64_t N, const float* A) {
  kernels::PackedGemv packed;
  kernels::pack_gemv(M, N, A, N, packed);
  return packed;
}

}  // namespace

struct InferenceSession::Impl {
  struct Layer {
    kernels::PackedGemv w_ih;        // [G*H, in] packed (empty for a one-hot first layer)
    kernels::PackedGemv w_hh;        // [G*H, H] packed
    AlignedVector<float> bias;       // [G*H] fused::fold_bias of b_ih and b_hh
    AlignedVector<float> b_hh;       // [G*H] read by the blocks the cell does not fold (GRU's b_hn)
    AlignedVector<float> h, h_next;  // [H] hidden state, and the step's new one (swapped after it)
    AlignedVector<float> c, c_next;  // [H] cell state likewise, cells with kHasCellState only
  };
  CellType cell;
  int64_t H = 0, G = 0, V = 0, E = 0;  // hidden, gate blocks, vocabulary, embedding (0 = one-hot)
  std::vector<Layer> layers;
  AlignedVector<float> table;        // [V, G*H] one-hot first layer: W_ih^T
  const float* embedding = nullptr;  // [V, E] when embedding_size > 0
  kernels::PackedGemv head_w;        // [V, H] packed
  const float* head_b = nullptr;     // [V]
  AlignedVector<float> gates;        // [G*H] pre-activations, then the activated gates
  AlignedVector<float> hh;           // [G*H] W_hh h, cells with kRecurrentApart only
  AlignedVector<float> saved;        // [H] what the step kernel keeps for backward; unused here
  AlignedVector<float> logits;       // [V]
  StepWorkers workers;               // one helper thread at 2 threads, none otherwise

  Impl(const LanguageModel& model, const InferenceOptions& options);
  template <class Cell>
  void load_layer(Layer& layer, const ParameterStore<float>& p, int l);
  // y = beta y + A x, split with the helper by panels when there is one. Below about 64K
  // multiply-adds a hand-off costs more than half the product saves.
  void gemv(const kernels::PackedGemv& A, const float* x, float beta, float* y) {
    if (workers.size() > 1 && A.M * A.N >= 65536 && A.num_panels() >= 2) {
      const int64_t bounds[3] = {0, A.num_panels() / 2, A.num_panels()};
      auto half = [&](int part, int) { kernels::packed_gemv(A, bounds[part], bounds[part + 1], x, beta, y); };
      workers.run(2, half);
    } else {
      kernels::packed_gemv(A, 0, A.num_panels(), x, beta, y);
    }
  }
  // One step of one layer from input x [in], or from the one-hot token when x is null.
  template <class Cell>
  void step_layer(Layer& layer, const float* x, int32_t token);
};

namespace {
const float* parameter(const ParameterStore<float>& p, const std::string& name) {
  return p.values().data() + p.slot(p.index_of(name)).offset;
}
}  // namespace

template <class Cell>
void InferenceSession::Impl::load_layer(Layer& layer, const ParameterStore<float>& p, int l) {
  const int64_t GH = G * H, in = l > 0 ? H : (E > 0 ? E : V);
  auto at = [&](RnnParam kind) { return parameter(p, "rnn." + rnn_parameter_name(kind, l, 0)); };
  if (l > 0 || E > 0) layer.w_ih = pack(GH, in, at(RnnParam::kWeightIh));
  layer.w_hh = pack(GH, H, at(RnnParam::kWeightHh));
  layer.b_hh.assign(at(RnnParam::kBiasHh), at(RnnParam::kBiasHh) + GH);
  layer.bias.resize(static_cast<size_t>(GH));
  fused::fold_bias<Cell>(H, at(RnnParam::kBiasIh), layer.b_hh.data(), layer.bias.data());
  layer.h.assign(static_cast<size_t>(H), 0.0f);
  layer.h_next.assign(static_cast<size_t>(H), 0.0f);
  if (Cell::kHasCellState) {
    layer.c.assign(static_cast<size_t>(H), 0.0f);
    layer.c_next.assign(static_cast<size_t>(H), 0.0f);
  }
}

InferenceSession::Impl::Impl(const LanguageModel& model, const InferenceOptions& options)
    : workers(options.threads == 2 ? 1 : 0) {
  const LanguageModelConfig& c = model.config();
  const ParameterStore<float>& p = model.parameters();
  cell = c.cell;
  H = c.hidden_size;
  G = gate_count(c.cell);
  V = c.vocab_size;
  E = c.embedding_size;
  const int64_t GH = G * H;
  layers.resize(static_cast<size_t>(c.num_layers));
  fused::visit_cell(cell, [&]<class Cell>(Cell) {
    for (int l = 0; l < c.num_layers; ++l) load_layer<Cell>(layers[static_cast<size_t>(l)], p, l);
  });
  if (E > 0) {
    embedding = parameter(p, "embedding.weight");
  } else {
    table.resize(static_cast<size_t>(V * GH));  // table[v, :] = W_ih[:, v]
    const float* w_ih = parameter(p, "rnn.weight_ih_l0");
    for (int64_t v = 0; v < V; ++v)
      for (int64_t j = 0; j < GH; ++j) table[static_cast<size_t>(v * GH + j)] = w_ih[j * V + v];
  }
  head_w = pack(V, H, parameter(p, "head.weight"));
  head_b = parameter(p, "head.bias");
  gates.resize(static_cast<size_t>(GH));
  hh.resize(static_cast<size_t>(GH));
  saved.resize(static_cast<size_t>(H));
  logits.resize(static_cast<size_t>(V));
}

template <class Cell>
void InferenceSession::Impl::step_layer(Layer& layer, const float* x, int32_t token) {
  const int64_t GH = G * H;
  if (x == nullptr) {
    std::copy_n(table.data() + static_cast<int64_t>(token) * GH, GH, gates.data());
  } else {
    gemv(layer.w_ih, x, 0.0f, gates.data());
  }
  if (Cell::kRecurrentApart) {
    gemv(layer.w_hh, layer.h.data(), 0.0f, hh.data());
  } else {
    gemv(layer.w_hh, layer.h.data(), 1.0f, gates.data());
  }
  Cell::step_forward(fused::StepForward<float>{.rows = 1,
                                               .H = H,
                                               .gates = gates.data(),
                                               .hh = hh.data(),
                                               .bias = layer.bias.data(),
                                               .b_hh = layer.b_hh.data(),
                                               .h_prev = layer.h.data(),
                                               .ld_prev = H,
                                               .h = layer.h_next.data(),
                                               .ld_h = H,
                                               .c_prev = layer.c.data(),
                                               .c = layer.c_next.data(),
                                               .saved = saved.data()});
  std::swap(layer.h, layer.h_next);
  std::swap(layer.c, layer.c_next);
}

InferenceSession::InferenceSession(const LanguageModel& model, const InferenceOptions& options) {
  check(options.threads >= 0 && options.threads <= 2,
        "InferenceSession: threads must be 0, 1 or 2, got " + std::to_string(options.threads));
  impl_ = std::make_unique<Impl>(model, options);
}

InferenceSession::~InferenceSession() = default;

void InferenceSession::reset() {
  for (Impl::Layer& layer : impl_->layers) {
    std::fill(layer.h.begin(), layer.h.end(), 0.0f);
    std::fill(layer.c.begin(), layer.c.end(), 0.0f);
  }
}

std::span<const float> InferenceSession::step(int32_t token) {
  Impl& s = *impl_;
  check(token >= 0 && token < s.V, "InferenceSession::step: token id " + std::to_string(token) +
                                       " outside [0, " + std::to_string(s.V) + ")");
  // Input of the current layer: the token's embedding row (null for one-hot), then h below.
  const float* x = s.E > 0 ? s.embedding + static_cast<int64_t>(token) * s.E : nullptr;
  fused::visit_cell(s.cell, [&]<class Cell>(Cell) {
    for (Impl::Layer& layer : s.layers) {
      s.step_layer<Cell>(layer, x, token);
      x = layer.h.data();
    }
  });
  std::copy_n(s.head_b, s.V, s.logits.data());
  s.gemv(s.head_w, x, 1.0f, s.logits.data());
  return s.logits;
}

}  // namespace recur
