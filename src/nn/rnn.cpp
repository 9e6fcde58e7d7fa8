// The recurrent stack as one autograd op: parameter registration in PyTorch's layout, shape checks,
// the walk over layers and directions (forward and BPTT), dropout between layers, and the
// workspaces reused across calls. The cells themselves are in rnn_cell.cpp, gru.cpp and lstm.cpp.
#include "recur/nn/rnn.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "nn/dropout_mask.h"
#include "nn/gru.h"
#include "nn/lstm.h"
#include "nn/rnn_cell.h"
#include "nn/rnn_checks.h"
#include "recur/core/error.h"

namespace recur {

int gate_count(CellType cell) {
  switch (cell) {
    case CellType::kRnnTanh:
    case CellType::kRnnRelu:
      return 1;
    case CellType::kGru:
      return 3;
    case CellType::kLstm:
      return 4;
  }
  throw ValueError("gate_count: unknown cell type");
}

const char* cell_name(CellType cell) {
  switch (cell) {
    case CellType::kRnnTanh:
      return "rnn_tanh";
    case CellType::kRnnRelu:
      return "rnn_relu";
    case CellType::kGru:
      return "gru";
    case CellType::kLstm:
      return "lstm";
  }
  throw ValueError("cell_name: unknown cell type");
}

std::string rnn_parameter_name(int kind, int layer, int direction) {
  static constexpr const char* kKinds[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
  check(kind >= 0 && kind < 4, fmt::format("rnn_parameter_name: kind must be in [0, 4), got {}", kind));
  return fmt::format("{}_l{}{}", kKinds[kind], layer, direction == 1 ? "_reverse" : "");
}

namespace {

void check_config(const RnnConfig& c) {
  check(c.input_size > 0, fmt::format("Rnn: input_size must be > 0, got {}", c.input_size));
  check(c.hidden_size > 0, fmt::format("Rnn: hidden_size must be > 0, got {}", c.hidden_size));
  check(c.num_layers >= 1, fmt::format("Rnn: num_layers must be >= 1, got {}", c.num_layers));
  check(std::isfinite(c.dropout) && c.dropout >= 0 && c.dropout < 1,
        fmt::format("Rnn: dropout must be in [0, 1), got {}", c.dropout));
  (void)gate_count(c.cell);  // rejects an out-of-range enum value
}

// src [n0, n1, width] -> dst [n1, n0, width] (time-major <-> batch-major); adds into dst with `add`.
template <typename T>
void swap_leading_axes(int64_t n0, int64_t n1, int64_t width, const T* src, T* dst, bool add) {
  for (int64_t i = 0; i < n0; ++i) {
    for (int64_t k = 0; k < n1; ++k) {
      const T* s = src + (i * n1 + k) * width;
      T* d = dst + (k * n0 + i) * width;
      if (add) {
        for (int64_t w = 0; w < width; ++w) d[w] += s[w];
      } else {
        std::copy(s, s + width, d);
      }
    }
  }
}

}  // namespace

namespace fused {

SequenceSize check_rnn_inputs(const char* op, const RnnConfig& c, const Shape& xs, const Shape* h0,
                              const Shape* c0, bool use_dropout, bool has_dropout_rng) {
  const bool batch_major = c.layout == Layout::kBatchMajor;
  const char* x_layout = batch_major ? "[B, T, I] (batch-major)" : "[T, B, I] (time-major)";
  check<ShapeError>(xs.rank() == 3, fmt::format("{}: x must be {}, got shape {}", op, x_layout, xs.str()));
  check<ShapeError>(xs[2] == c.input_size,
                    fmt::format("{}: x has width {}, expected input_size {} (x shape {})", op, xs[2],
                                c.input_size, xs.str()));
  const int64_t steps = batch_major ? xs[1] : xs[0];
  const int64_t batch = batch_major ? xs[0] : xs[1];
  check<ShapeError>(steps >= 1 && batch >= 1,
                    fmt::format("{}: x {} needs at least one step and one batch row, got shape {}", op,
                                x_layout, xs.str()));
  const Shape state{c.num_layers * (c.bidirectional ? 2 : 1), batch, c.hidden_size};
  if (h0 != nullptr)
    check<ShapeError>(*h0 == state,
                      fmt::format("{}: h0 has shape {}, expected {} (layers * directions, batch, hidden)", op,
                                  h0->str(), state.str()));
  if (c0 != nullptr) {
    check(c.cell == CellType::kLstm,
          fmt::format("{}: c0 given, but a {} cell has no cell state", op, cell_name(c.cell)));
    check<ShapeError>(*c0 == state,
                      fmt::format("{}: c0 has shape {}, expected {} (layers * directions, batch, hidden)", op,
                                  c0->str(), state.str()));
  }
  check(!use_dropout || has_dropout_rng,
        fmt::format("{}: training with dropout {} needs a dropout_rng", op, c.dropout));
  return {steps, batch};
}

}  // namespace fused

template <Scalar T>
std::vector<int> add_rnn_parameters(ParameterStore<T>& store, const RnnConfig& config,
                                    const std::string& prefix) {
  check_config(config);
  const int64_t H = config.hidden_size;
  const int64_t GH = gate_count(config.cell) * H;
  const int D = config.bidirectional ? 2 : 1;
  std::vector<int> indices;
  for (int l = 0; l < config.num_layers; ++l) {
    const int64_t in = l == 0 ? config.input_size : D * H;
    for (int d = 0; d < D; ++d) {
      indices.push_back(store.add(prefix + rnn_parameter_name(0, l, d), Shape{GH, in}));
      indices.push_back(store.add(prefix + rnn_parameter_name(1, l, d), Shape{GH, H}));
      indices.push_back(store.add(prefix + rnn_parameter_name(2, l, d), Shape{GH}));
      indices.push_back(store.add(prefix + rnn_parameter_name(3, l, d), Shape{GH}));
    }
  }
  return indices;
}

namespace detail {

// Buffers of one forward pass, reused by later passes of the same or smaller (T, B).
template <Scalar T>
struct RnnWorkspace {
  std::vector<fused::RnnCache<T>> rnn;    // [L*D] caches, vanilla RNN only
  std::vector<fused::GruCache<T>> gru;    // [L*D] caches, GRU only
  std::vector<fused::LstmCache<T>> lstm;  // [L*D] caches, LSTM only
  // [L] each [T*B, D*H]: hidden states of layer l. Unused for the top layer of a time-major stack,
  // which writes straight into the op's output value.
  std::vector<std::vector<T>> outputs;
  std::vector<std::vector<T>> dropped;  // [L] each [T*B, D*H]: input of layer l >= 1 after dropout
  std::vector<std::vector<T>> masks;    // [L] each [T*B, D*H]: its mask, 0 or 1 / (1 - p)
  std::vector<T> x_time_major;          // [T*B, I] the input, transposed (batch-major only)
  std::vector<int32_t> ids;             // [T*B] one-hot input: the ids, time-major
  std::vector<T> w_ih_t;                // [D, I, G*H] one-hot input: layer 0's W_ih transposed
  std::vector<T> zeros;                 // [B, H] the initial state when none is given
};

template <Scalar T>
struct RnnPool {
  std::vector<std::unique_ptr<RnnWorkspace<T>>> all;
  std::vector<RnnWorkspace<T>*> free;  // capacity kept at all.size(), so returning one never allocates
  // Backward scratch, shared by all workspaces: backward passes run one at a time.
  std::vector<T> dgates_ih;   // [T*B, G*H]
  std::vector<T> dgates_hh;   // [T*B, G*H], GRU only
  std::vector<T> dy_a, dy_b;  // [T*B, D*H] gradient on a layer's output, alternating between layers
  std::vector<T> dx;          // [T*B, I] gradient on the input before transposing (batch-major)
  std::vector<T> dh, dc;      // [B, H] carried state gradients
  std::vector<T> dbias;       // [G*H + H] bias-gradient sums of one sweep
  kernels::PackedMatrix<T> w_hh_packed;  // W_hh [G*H, H] of the sweep being run, packed
  std::vector<T> dbias_parts;            // [(threads - 1) * (G*H + H)] bias sums of extra row blocks
  std::vector<T> dw_ih_t_parts;          // [threads, I, G*H] one-hot input: dW_ih^T of each row block
  std::vector<T> dw_hh_parts;            // [threads, G*H, H] small layers: dW_hh of each row block
};

}  // namespace detail

namespace {

template <Scalar T>
using WorkspaceLease = std::shared_ptr<detail::RnnWorkspace<T>>;

// A free workspace (or a new one), returned to the pool when the last holder lets go.
template <Scalar T>
WorkspaceLease<T> acquire_workspace(const std::shared_ptr<detail::RnnPool<T>>& pool) {
  if (pool->free.empty()) {
    pool->all.push_back(std::make_unique<detail::RnnWorkspace<T>>());
    pool->free.reserve(pool->all.size());
    pool->free.push_back(pool->all.back().get());
  }
  detail::RnnWorkspace<T>* ws = pool->free.back();
  pool->free.pop_back();
  return WorkspaceLease<T>(ws, [pool](detail::RnnWorkspace<T>* w) { pool->free.push_back(w); });
}

// Everything about one forward pass that its backward needs.
template <Scalar T>
struct Recorded {
  RnnConfig config;
  int64_t steps = 0, batch = 0;
  bool use_dropout = false;
  bool one_hot = false;  // layer 0 reads workspace->ids instead of x
  Var x, output, h_n, c_n;
  std::optional<Var> h0, c0;
  std::vector<Var> params;  // [L*D*4] parameter leaves, in add_rnn_parameters order
  WorkspaceLease<T> workspace;
  std::shared_ptr<detail::RnnPool<T>> pool;

  [[nodiscard]] int num_directions() const { return config.bidirectional ? 2 : 1; }
  [[nodiscard]] bool batch_major() const { return config.layout == Layout::kBatchMajor; }
  [[nodiscard]] bool top_writes_output(int layer) const {
    return layer == config.num_layers - 1 && !batch_major();
  }
  [[nodiscard]] int64_t layer_input_size(int layer) const {
    return layer == 0 ? config.input_size : num_directions() * config.hidden_size;
  }

  // [T*B, D*H] hidden states of a layer.
  T* layer_output(Graph<T>& g, int layer) const {
    return top_writes_output(layer) ? g.value(output) : workspace->outputs[static_cast<size_t>(layer)].data();
  }
  // [T*B, in_l] what a layer reads: the (time-major) input, or the layer below after dropout.
  const T* layer_input(Graph<T>& g, int layer) const {
    if (layer == 0) {
      if (one_hot) return nullptr;
      return batch_major() ? workspace->x_time_major.data() : g.value(x);
    }
    if (use_dropout) return workspace->dropped[static_cast<size_t>(layer)].data();
    return layer_output(g, layer - 1);
  }

  fused::SequenceArgs<T> sequence(Graph<T>& g, int layer, int direction) const {
    const int D = num_directions();
    const int64_t H = config.hidden_size, BH = batch * H;
    const int k = layer * D + direction;
    const Var* p = params.data() + 4 * k;
    const T* zeros = workspace->zeros.data();
    fused::SequenceArgs<T> a;
    a.steps = steps;
    a.B = batch;
    a.I = layer_input_size(layer);
    a.H = H;
    a.reverse = direction == 1;
    a.x = layer_input(g, layer);
    if (layer == 0 && one_hot) {
      const int64_t GH = gate_count(config.cell) * H;
      a.ids = workspace->ids.data();
      a.w_ih_t = workspace->w_ih_t.data() + direction * config.input_size * GH;
    }
    a.w_ih = g.value(p[0]);
    a.w_hh = g.value(p[1]);
    a.b_ih = g.value(p[2]);
    a.b_hh = g.value(p[3]);
    a.h0 = h0 ? g.value(*h0) + k * BH : zeros;
    a.c0 = c0 ? g.value(*c0) + k * BH : zeros;
    a.out = layer_output(g, layer) + direction * H;
    a.ld_out = D * H;
    a.h_n = g.value(h_n) + k * BH;
    a.c_n = c_n.valid() ? g.value(c_n) + k * BH : nullptr;
    return a;
  }
};

template <Scalar T>
void prepare_workspace(detail::RnnWorkspace<T>& ws, const Recorded<T>& r) {
  const auto L = static_cast<size_t>(r.config.num_layers);
  const auto n_out = static_cast<size_t>(r.steps * r.batch * r.num_directions() * r.config.hidden_size);
  const size_t caches = L * static_cast<size_t>(r.num_directions());
  switch (r.config.cell) {
    case CellType::kRnnTanh:
    case CellType::kRnnRelu:
      ws.rnn.resize(caches);
      break;
    case CellType::kGru:
      ws.gru.resize(caches);
      break;
    case CellType::kLstm:
      ws.lstm.resize(caches);
      break;
  }
  ws.outputs.resize(L);
  for (size_t l = 0; l < L; ++l)
    if (!r.top_writes_output(static_cast<int>(l))) ws.outputs[l].resize(n_out);
  if (r.use_dropout) {
    ws.dropped.resize(L);
    ws.masks.resize(L);
    for (size_t l = 1; l < L; ++l) {
      ws.dropped[l].resize(n_out);
      ws.masks[l].resize(n_out);
    }
  }
  if (r.batch_major() && !r.one_hot)
    ws.x_time_major.resize(static_cast<size_t>(r.steps * r.batch * r.config.input_size));
  ws.zeros.resize(static_cast<size_t>(r.batch * r.config.hidden_size));  // never written: stays zero
}

template <Scalar T>
kernels::RnnActivation activation_of(CellType cell) {
  return cell == CellType::kRnnRelu ? kernels::RnnActivation::kRelu : kernels::RnnActivation::kTanh;
}

// Fused BPTT over the whole stack: layers from the top down, each direction from its last step to
// its first; every gradient is added into its buffer.
template <Scalar T>
void backward_stack(Graph<T>& g, const Recorded<T>& r) {
  detail::RnnWorkspace<T>& ws = *r.workspace;
  detail::RnnPool<T>& pool = *r.pool;
  const int L = r.config.num_layers, D = r.num_directions();
  const int64_t H = r.config.hidden_size, B = r.batch, BH = B * H;
  const int64_t GH = gate_count(r.config.cell) * H;
  const auto rows = static_cast<size_t>(r.steps * B);
  const int64_t width = D * H;
  pool.dgates_ih.resize(rows * static_cast<size_t>(GH));
  if (r.config.cell == CellType::kGru) pool.dgates_hh.resize(rows * static_cast<size_t>(GH));
  pool.dy_a.resize(rows * static_cast<size_t>(width));
  if (L > 1) pool.dy_b.resize(rows * static_cast<size_t>(width));
  pool.dh.resize(static_cast<size_t>(BH));
  pool.dc.resize(static_cast<size_t>(BH));
  pool.dbias.resize(static_cast<size_t>(GH + H));
  pool.dbias_parts.resize(static_cast<size_t>(std::max(num_threads() - 1, 0)) * static_cast<size_t>(GH + H));
  const bool step_weight_grads = fused::use_step_weight_grads<T>(GH, H);
  if (step_weight_grads)
    pool.dw_hh_parts.resize(static_cast<size_t>(std::max(num_threads(), 1)) * static_cast<size_t>(GH * H));
  if (r.one_hot)
    pool.dw_ih_t_parts.resize(static_cast<size_t>(std::max(num_threads(), 1)) *
                              static_cast<size_t>(r.config.input_size * GH));

  // Gradient on the top layer's output, time-major, or null when none arrived.
  const T* dy = nullptr;
  if (g.has_grad(r.output)) {
    if (r.batch_major()) {
      swap_leading_axes(B, r.steps, width, g.grad(r.output), pool.dy_a.data(), false);
      dy = pool.dy_a.data();
    } else {
      dy = g.grad(r.output);
    }
  }
  const T* dh_n = g.has_grad(r.h_n) ? g.grad(r.h_n) : nullptr;
  const T* dc_n = r.c_n.valid() && g.has_grad(r.c_n) ? g.grad(r.c_n) : nullptr;

  for (int l = L - 1; l >= 0; --l) {
    // Where this layer's input gradient goes: the layer below's output gradient, or x's gradient.
    T* dx = nullptr;
    bool dx_accumulates = false;  // whether dx already holds gradient that must be kept
    if (l > 0) {
      dx = dy == pool.dy_a.data() ? pool.dy_b.data() : pool.dy_a.data();
    } else if (!r.one_hot && g.requires_grad(r.x)) {
      if (r.batch_major()) {
        pool.dx.resize(rows * static_cast<size_t>(r.config.input_size));
        dx = pool.dx.data();
      } else {
        dx = g.grad(r.x);
        dx_accumulates = true;
      }
    }
    for (int d = 0; d < D; ++d) {
      const int k = l * D + d;
      const fused::SequenceArgs<T> a = r.sequence(g, l, d);
      const Var* p = r.params.data() + 4 * k;
      if (dh_n != nullptr) {
        std::copy(dh_n + k * BH, dh_n + (k + 1) * BH, pool.dh.begin());
      } else {
        std::fill(pool.dh.begin(), pool.dh.end(), T(0));
      }
      if (dc_n != nullptr) {
        std::copy(dc_n + k * BH, dc_n + (k + 1) * BH, pool.dc.begin());
      } else {
        std::fill(pool.dc.begin(), pool.dc.end(), T(0));
      }
      fused::SequenceGrads<T> s;
      s.dy = dy != nullptr ? dy + d * H : nullptr;
      s.ld_dy = width;
      s.dh = pool.dh.data();
      s.dc = pool.dc.data();
      s.dx = dx;
      s.dx_beta = dx_accumulates || d > 0 ? T(1) : T(0);
      s.dw_ih = g.requires_grad(p[0]) ? g.grad(p[0]) : nullptr;
      s.dw_hh = g.requires_grad(p[1]) ? g.grad(p[1]) : nullptr;
      s.db_ih = g.requires_grad(p[2]) ? g.grad(p[2]) : nullptr;
      s.db_hh = g.requires_grad(p[3]) ? g.grad(p[3]) : nullptr;
      s.dgates_ih = pool.dgates_ih.data();
      s.dgates_hh = r.config.cell == CellType::kGru ? pool.dgates_hh.data() : pool.dgates_ih.data();
      s.dbias = pool.dbias.data();
      s.w_hh_packed = &pool.w_hh_packed;
      s.dbias_parts = pool.dbias_parts.empty() ? nullptr : pool.dbias_parts.data();
      s.dw_ih_t_parts = l == 0 && r.one_hot ? pool.dw_ih_t_parts.data() : nullptr;
      s.dw_hh_parts = step_weight_grads ? pool.dw_hh_parts.data() : nullptr;
      switch (r.config.cell) {
        case CellType::kRnnTanh:
        case CellType::kRnnRelu:
          fused::rnn_sequence_backward(activation_of<T>(r.config.cell), a, ws.rnn[static_cast<size_t>(k)], s);
          break;
        case CellType::kGru:
          fused::gru_sequence_backward(a, ws.gru[static_cast<size_t>(k)], s);
          break;
        case CellType::kLstm:
          fused::lstm_sequence_backward(a, ws.lstm[static_cast<size_t>(k)], s);
          break;
      }
      if (r.h0 && g.requires_grad(*r.h0)) {
        T* dh0 = g.grad(*r.h0) + k * BH;
        for (int64_t i = 0; i < BH; ++i) dh0[i] += pool.dh[static_cast<size_t>(i)];
      }
      if (r.c0 && g.requires_grad(*r.c0)) {
        T* dc0 = g.grad(*r.c0) + k * BH;
        for (int64_t i = 0; i < BH; ++i) dc0[i] += pool.dc[static_cast<size_t>(i)];
      }
    }
    if (l > 0 && r.use_dropout) {
      const T* mask = ws.masks[static_cast<size_t>(l)].data();
      for (size_t i = 0; i < rows * static_cast<size_t>(width); ++i) dx[i] *= mask[i];
    }
    if (l == 0 && dx != nullptr && r.batch_major())
      swap_leading_axes(r.steps, B, r.config.input_size, dx, g.grad(r.x), true);
    dy = dx;
  }
}

}  // namespace

template <Scalar T>
Rnn<T>::Rnn(ParameterStore<T>& store, const RnnConfig& config, std::string prefix)
    : store_(&store),
      config_(config),
      prefix_(std::move(prefix)),
      parameter_indices_(add_rnn_parameters(store, config, prefix_)),
      pool_(std::make_shared<detail::RnnPool<T>>()) {}

template <Scalar T>
Rnn<T>::~Rnn() = default;
template <Scalar T>
Rnn<T>::Rnn(Rnn&&) noexcept = default;
template <Scalar T>
Rnn<T>& Rnn<T>::operator=(Rnn&&) noexcept = default;

template <Scalar T>
void Rnn<T>::reset_parameters(Rng& rng) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(config_.hidden_size));
  for (int index : parameter_indices_)
    for (T& v : store_->value(index).span()) v = static_cast<T>(rng.uniform(-bound, bound));
}

template <Scalar T>
int Rnn<T>::num_workspaces() const {
  return static_cast<int>(pool_->all.size());
}

template <Scalar T>
RnnOutputs Rnn<T>::forward(Graph<T>& g, Var x, std::optional<Var> h0, std::optional<Var> c0, Rng* dropout_rng,
                           bool training) {
  return forward_impl(g, x, {}, g.shape(x), h0, c0, dropout_rng, training);
}

template <Scalar T>
RnnOutputs Rnn<T>::forward_one_hot(Graph<T>& g, std::span<const int32_t> ids, int64_t steps, int64_t batch,
                                   std::optional<Var> h0, std::optional<Var> c0, Rng* dropout_rng, bool training) {
  const bool batch_major = config_.layout == Layout::kBatchMajor;
  check<ShapeError>(steps >= 1 && batch >= 1 && static_cast<int64_t>(ids.size()) == steps * batch,
                    fmt::format("Rnn::forward_one_hot: {} ids for {} steps x batch {}", ids.size(), steps, batch));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= config_.input_size) [[unlikely]] {
      check(false, fmt::format("Rnn::forward_one_hot: id {} at position {} is outside [0, {}) (input_size)", ids[i],
                               i, config_.input_size));
    }
  }
  const Shape x_shape = batch_major ? Shape{batch, steps, config_.input_size} : Shape{steps, batch, config_.input_size};
  return forward_impl(g, Var{}, ids, x_shape, h0, c0, dropout_rng, training);
}

template <Scalar T>
RnnOutputs Rnn<T>::forward_impl(Graph<T>& g, Var x, std::span<const int32_t> ids, const Shape& x_shape,
                                std::optional<Var> h0, std::optional<Var> c0, Rng* dropout_rng, bool training) {
  const RnnConfig& c = config_;
  const bool one_hot = !x.valid();
  const bool batch_major = c.layout == Layout::kBatchMajor;
  const bool use_dropout = training && c.dropout > 0 && c.num_layers > 1;
  const fused::SequenceSize size =
      fused::check_rnn_inputs(one_hot ? "Rnn::forward_one_hot" : "Rnn::forward", c, x_shape,
                              h0 ? &g.shape(*h0) : nullptr, c0 ? &g.shape(*c0) : nullptr, use_dropout,
                              dropout_rng != nullptr);
  const int64_t steps = size.steps, batch = size.batch;
  const int D = num_directions();
  const int64_t H = c.hidden_size;
  const Shape state_shape{c.num_layers * D, batch, H};

  Recorded<T> r;
  r.config = c;
  r.steps = steps;
  r.batch = batch;
  r.use_dropout = use_dropout;
  r.one_hot = one_hot;
  r.x = x;
  r.h0 = h0;
  r.c0 = c0;
  std::vector<Var> inputs;
  if (!one_hot) inputs.push_back(x);
  if (h0) inputs.push_back(*h0);
  if (c0) inputs.push_back(*c0);
  for (int index : parameter_indices_) {
    r.params.push_back(g.parameter(store_->value(index), store_->grad(index)));
    inputs.push_back(r.params.back());
  }
  // The op's outputs, consecutive nodes sharing one backward closure.
  const Shape out_shape = batch_major ? Shape{batch, steps, D * H} : Shape{steps, batch, D * H};
  // Every element of the outputs is written below.
  r.output = g.make_node(out_shape, inputs, NodeInit::kUninitialized);
  r.h_n = g.make_node(state_shape, inputs, NodeInit::kUninitialized);
  if (c.cell == CellType::kLstm) r.c_n = g.make_node(state_shape, inputs, NodeInit::kUninitialized);
  const bool keep = g.requires_grad(r.output);  // false in no-grad mode: nothing per step is kept

  r.workspace = acquire_workspace(pool_);
  r.pool = pool_;
  detail::RnnWorkspace<T>& ws = *r.workspace;
  prepare_workspace(ws, r);
  if (one_hot) {
    ws.ids.resize(ids.size());
    if (batch_major) {
      swap_leading_axes<int32_t>(batch, steps, 1, ids.data(), ws.ids.data(), false);
    } else {
      std::copy(ids.begin(), ids.end(), ws.ids.begin());
    }
    // W_ih^T of layer 0 per direction, so each row's projection is one contiguous row.
    const int64_t I = c.input_size, GH = gate_count(c.cell) * H;
    ws.w_ih_t.resize(static_cast<size_t>(D * I * GH));
    for (int d = 0; d < D; ++d) {
      const T* w = g.value(r.params[static_cast<size_t>(4 * d)]);  // [GH, I]
      T* wt = ws.w_ih_t.data() + d * I * GH;
      for (int64_t j = 0; j < GH; ++j)
        for (int64_t i = 0; i < I; ++i) wt[i * GH + j] = w[j * I + i];
    }
  } else if (batch_major) {
    swap_leading_axes(batch, steps, c.input_size, g.value(x), ws.x_time_major.data(), false);
  }

  for (int l = 0; l < c.num_layers; ++l) {
    if (use_dropout && l > 0) {
      auto& mask = ws.masks[static_cast<size_t>(l)];
      auto& dropped = ws.dropped[static_cast<size_t>(l)];
      fused::draw_dropout_mask(*dropout_rng, c.dropout, std::span<T>(mask));
      const T* below = r.layer_output(g, l - 1);
      for (size_t i = 0; i < mask.size(); ++i) dropped[i] = below[i] * mask[i];
    }
    for (int d = 0; d < D; ++d) {
      const int k = l * D + d;
      const fused::SequenceArgs<T> a = r.sequence(g, l, d);
      switch (c.cell) {
        case CellType::kRnnTanh:
        case CellType::kRnnRelu:
          fused::rnn_sequence_forward(activation_of<T>(c.cell), a, ws.rnn[static_cast<size_t>(k)]);
          break;
        case CellType::kGru:
          fused::gru_sequence_forward(a, ws.gru[static_cast<size_t>(k)], keep);
          break;
        case CellType::kLstm:
          fused::lstm_sequence_forward(a, ws.lstm[static_cast<size_t>(k)], keep);
          break;
      }
    }
  }
  if (batch_major) swap_leading_axes(steps, batch, D * H, ws.outputs.back().data(), g.value(r.output), false);

  RnnOutputs result{r.output, r.h_n, r.c_n};
  if (keep) {
    const Var first = r.output;
    const int num_outputs = r.c_n.valid() ? 3 : 2;
    g.set_backward(
        first, [rec = std::move(r)](Graph<T>& graph) { backward_stack(graph, rec); }, num_outputs);
  }
  return result;
}

template std::vector<int> add_rnn_parameters<float>(ParameterStore<float>&, const RnnConfig&,
                                                    const std::string&);
template std::vector<int> add_rnn_parameters<double>(ParameterStore<double>&, const RnnConfig&,
                                                     const std::string&);
template class Rnn<float>;
template class Rnn<double>;

}  // namespace recur
