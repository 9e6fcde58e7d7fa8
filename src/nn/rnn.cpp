// The recurrent stack as one autograd op: the walk over layers and directions, forward and then
// fused BPTT, with dropout between layers. The time loop is in sequence_scan.h, the cells in
// rnn_cell.h, gru.h and lstm.h, parameters in rnn_parameters.cpp, buffers in rnn_workspace.h.
#include "recur/nn/rnn.h"

#include <fmt/format.h>

#include <algorithm>

#include "nn/cells.h"
#include "nn/dropout_mask.h"
#include "nn/rnn_checks.h"
#include "nn/rnn_workspace.h"
#include "recur/core/error.h"

namespace recur {

namespace {

using detail::RnnRecord;

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

// Layer 0's input, time-major: for one-hot input the ids and W_ih^T of each direction (so a row's
// projection is one contiguous row), else x transposed when it is batch-major.
template <Scalar T>
void stage_input(Graph<T>& g, const RnnRecord<T>& r, std::span<const int32_t> ids) {
  detail::RnnWorkspace<T>& ws = *r.workspace;
  if (!r.one_hot) {
    if (r.batch_major())
      swap_leading_axes(r.batch, r.steps, r.config.input_size, g.value(r.x), ws.x_time_major.data(), false);
    return;
  }
  ws.ids.resize(ids.size());
  if (r.batch_major()) {
    swap_leading_axes<int32_t>(r.batch, r.steps, 1, ids.data(), ws.ids.data(), false);
  } else {
    std::copy(ids.begin(), ids.end(), ws.ids.begin());
  }
  const int64_t I = r.config.input_size, GH = gate_count(r.config.cell) * r.config.hidden_size;
  ws.w_ih_t.resize(static_cast<size_t>(r.num_directions() * I * GH));
  for (int d = 0; d < r.num_directions(); ++d) {
    const T* w = g.value(r.param(d, RnnParam::kWeightIh));  // [GH, I]
    T* wt = ws.w_ih_t.data() + d * I * GH;                  // [I, GH]
    for (int64_t j = 0; j < GH; ++j)
      for (int64_t i = 0; i < I; ++i) wt[i * GH + j] = w[j * I + i];
  }
}

// The stack's forward for cell type Cell, layer by layer from the bottom; dropout on the input of
// every layer above the first. `keep` keeps the per-step caches for backward.
template <class Cell, Scalar T>
void forward_stack(Graph<T>& g, const RnnRecord<T>& r, Rng* dropout_rng, bool keep) {
  detail::RnnWorkspace<T>& ws = *r.workspace;
  const int D = r.num_directions();
  for (int l = 0; l < r.config.num_layers; ++l) {
    if (r.use_dropout && l > 0) {
      auto& mask = ws.masks[static_cast<size_t>(l)];
      auto& dropped = ws.dropped[static_cast<size_t>(l)];
      fused::draw_dropout_mask(*dropout_rng, r.config.dropout, std::span<T>(mask));
      const T* below = r.layer_output(g, l - 1);
      for (size_t i = 0; i < mask.size(); ++i) dropped[i] = below[i] * mask[i];
    }
    for (int d = 0; d < D; ++d)
      fused::scan_forward<Cell>(r.sequence(g, l, d), ws.caches[static_cast<size_t>(l * D + d)], keep);
  }
  if (r.batch_major())
    swap_leading_axes(r.steps, r.batch, D * r.config.hidden_size, ws.outputs.back().data(), g.value(r.output),
                      false);
}

// The scan's gradient arguments for layer l, direction d: dy [T*B, D*H] arriving on the layer's
// output (null = zero), dx where its input gradient goes, and the pool's scratch.
template <class Cell, Scalar T>
fused::SequenceGrads<T> sequence_grads(Graph<T>& g, const RnnRecord<T>& r, int l, int d, const T* dy, T* dx,
                                       bool dx_accumulates) {
  detail::RnnPool<T>& pool = *r.pool;
  const int k = l * r.num_directions() + d;
  const int64_t H = r.config.hidden_size;
  auto grad_of = [&](RnnParam kind) {
    const Var p = r.param(k, kind);
    return g.requires_grad(p) ? g.grad(p) : nullptr;
  };
  fused::SequenceGrads<T> s{.dy = dy != nullptr ? dy + d * H : nullptr, .ld_dy = r.num_directions() * H};
  s.dh = pool.dh.data();
  s.want_dh0 = r.h0 && g.requires_grad(*r.h0);  // as add_initial_state_grad
  s.dc = pool.dc.data();
  s.dx = dx;
  s.dx_beta = dx_accumulates || d > 0 ? T(1) : T(0);
  s.dw_ih = grad_of(RnnParam::kWeightIh);
  s.dw_hh = grad_of(RnnParam::kWeightHh);
  s.db_ih = grad_of(RnnParam::kBiasIh);
  s.db_hh = grad_of(RnnParam::kBiasHh);
  s.dgates_ih = pool.dgates_ih.data();
  s.dgates_hh = Cell::kRecurrentApart ? pool.dgates_hh.data() : nullptr;
  s.dbias = pool.dbias.data();
  s.w_hh_packed = &pool.w_hh_packed;
  s.w_ih_packed = &pool.w_ih_packed;
  s.dbias_parts = pool.dbias_parts.empty() ? nullptr : pool.dbias_parts.data();
  s.dw_ih_t_parts = l == 0 && r.one_hot ? pool.dw_ih_t_parts.data() : nullptr;
  s.dw_hh_parts = fused::use_step_weight_grads<T>(Cell::kGates * H, H) ? pool.dw_hh_parts.data() : nullptr;
  return s;
}

// state [B, H] = slice k of the gradient on a final state [L*D, B, H], or zeros when none arrived.
template <Scalar T>
void load_state_grad(const T* grad_n, int k, AlignedVector<T>& state) {
  const auto BH = static_cast<int64_t>(state.size());
  if (grad_n != nullptr) {
    std::copy(grad_n + k * BH, grad_n + (k + 1) * BH, state.begin());
  } else {
    std::fill(state.begin(), state.end(), T(0));
  }
}

// Adds the gradient the scan left on an initial state (d.dh, d.dc) into slice k of h0's or c0's.
template <Scalar T>
void add_initial_state_grad(Graph<T>& g, const std::optional<Var>& state0, int k,
                            const AlignedVector<T>& grad) {
  if (!state0 || !g.requires_grad(*state0)) return;
  const auto BH = static_cast<int64_t>(grad.size());
  T* d0 = g.grad(*state0) + k * BH;
  for (int64_t i = 0; i < BH; ++i) d0[i] += grad[static_cast<size_t>(i)];
}

// Where layer l's input gradient goes: the layer below's output gradient (the dy buffer not in
// use), or x's gradient (through pool.dx when batch-major); null when none is wanted. Sets
// `accumulates` when the buffer already holds gradient that must be kept.
template <Scalar T>
T* input_grad_target(Graph<T>& g, const RnnRecord<T>& r, int l, const T* dy, bool& accumulates) {
  detail::RnnPool<T>& pool = *r.pool;
  accumulates = false;
  if (l > 0) return dy == pool.dy_a.data() ? pool.dy_b.data() : pool.dy_a.data();
  if (r.one_hot || !g.requires_grad(r.x)) return nullptr;
  if (r.batch_major()) {
    pool.dx.resize(static_cast<size_t>(r.steps * r.batch * r.config.input_size));
    return pool.dx.data();
  }
  // A fresh gradient buffer is written by the dx GEMM (beta 0) rather than zero-filled and added to.
  const GradSlot<T> slot = g.grad_for_write(r.x);
  accumulates = slot.accumulate;
  return slot.data;
}

// Fused BPTT over the whole stack: layers from the top down, each direction from its last step to
// its first; every gradient is added into its buffer.
template <class Cell, Scalar T>
void backward_stack(Graph<T>& g, const RnnRecord<T>& r) {
  detail::RnnPool<T>& pool = *r.pool;
  const int D = r.num_directions();
  const int64_t width = D * r.config.hidden_size;
  const auto n_dy = static_cast<size_t>(r.steps * r.batch * width);
  detail::prepare_backward_scratch(pool, r, Cell::kGates, Cell::kRecurrentApart);
  // Gradient on the top layer's output, time-major, or null when none arrived.
  const T* dy = nullptr;
  if (g.has_grad(r.output)) {
    dy = r.batch_major() ? pool.dy_a.data() : g.grad(r.output);
    if (r.batch_major())
      swap_leading_axes(r.batch, r.steps, width, g.grad(r.output), pool.dy_a.data(), false);
  }
  const T* dh_n = g.has_grad(r.h_n) ? g.grad(r.h_n) : nullptr;
  const T* dc_n = r.c_n.valid() && g.has_grad(r.c_n) ? g.grad(r.c_n) : nullptr;
  for (int l = r.config.num_layers - 1; l >= 0; --l) {
    bool dx_accumulates = false;
    T* dx = input_grad_target(g, r, l, dy, dx_accumulates);
    for (int d = 0; d < D; ++d) {
      const int k = l * D + d;
      load_state_grad(dh_n, k, pool.dh);
      load_state_grad(dc_n, k, pool.dc);
      fused::scan_backward<Cell>(r.sequence(g, l, d), r.workspace->caches[static_cast<size_t>(k)],
                                 sequence_grads<Cell>(g, r, l, d, dy, dx, dx_accumulates));
      add_initial_state_grad(g, r.h0, k, pool.dh);
      add_initial_state_grad(g, r.c0, k, pool.dc);
    }
    if (l > 0 && r.use_dropout) {
      const T* mask = r.workspace->masks[static_cast<size_t>(l)].data();
      for (size_t i = 0; i < n_dy; ++i) dx[i] *= mask[i];
    }
    if (l == 0 && dx != nullptr && r.batch_major()) {
      const GradSlot<T> slot = g.grad_for_write(r.x);
      swap_leading_axes(r.steps, r.batch, r.config.input_size, dx, slot.data, slot.accumulate);
    }
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
                                   std::optional<Var> h0, std::optional<Var> c0, Rng* dropout_rng,
                                   bool training) {
  const bool batch_major = config_.layout == Layout::kBatchMajor;
  check<ShapeError>(
      steps >= 1 && batch >= 1 && static_cast<int64_t>(ids.size()) == steps * batch,
      fmt::format("Rnn::forward_one_hot: {} ids for {} steps x batch {}", ids.size(), steps, batch));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= config_.input_size) [[unlikely]] {
      check(false, fmt::format("Rnn::forward_one_hot: id {} at position {} is outside [0, {}) (input_size)",
                               ids[i], i, config_.input_size));
    }
  }
  const Shape x_shape =
      batch_major ? Shape{batch, steps, config_.input_size} : Shape{steps, batch, config_.input_size};
  return forward_impl(g, Var{}, ids, x_shape, h0, c0, dropout_rng, training);
}

template <Scalar T>
RnnOutputs Rnn<T>::forward_impl(Graph<T>& g, Var x, std::span<const int32_t> ids, const Shape& x_shape,
                                std::optional<Var> h0, std::optional<Var> c0, Rng* dropout_rng,
                                bool training) {
  const RnnConfig& c = config_;
  RnnRecord<T> r;
  r.config = c;
  r.use_dropout = training && c.dropout > 0 && c.num_layers > 1;
  r.one_hot = !x.valid();
  r.threads = g.context().threads;
  const auto [steps, batch] = fused::check_rnn_inputs(
      r.one_hot ? "Rnn::forward_one_hot" : "Rnn::forward", c, x_shape, h0 ? &g.shape(*h0) : nullptr,
      c0 ? &g.shape(*c0) : nullptr, r.use_dropout, dropout_rng != nullptr);
  r.steps = steps;
  r.batch = batch;
  r.x = x;
  r.h0 = h0;
  r.c0 = c0;
  std::vector<Var> inputs;
  if (!r.one_hot) inputs.push_back(x);
  if (h0) inputs.push_back(*h0);
  if (c0) inputs.push_back(*c0);
  for (int index : parameter_indices_) {
    r.params.push_back(g.parameter(store_->value(index), store_->grad(index)));
    inputs.push_back(r.params.back());
  }
  // The op's outputs, consecutive nodes sharing one backward closure; the scans write every element.
  const int64_t width = num_directions() * c.hidden_size;
  const Shape state_shape{c.num_layers * num_directions(), batch, c.hidden_size};
  r.output = g.make_node(r.batch_major() ? Shape{batch, steps, width} : Shape{steps, batch, width}, inputs,
                         NodeInit::kUninitialized);
  r.h_n = g.make_node(state_shape, inputs, NodeInit::kUninitialized);
  if (fused::has_cell_state(c.cell)) r.c_n = g.make_node(state_shape, inputs, NodeInit::kUninitialized);
  const bool keep = g.requires_grad(r.output);  // false in no-grad mode: nothing per step is kept

  r.workspace = detail::acquire_workspace(pool_);
  r.pool = pool_;
  detail::prepare_workspace(*r.workspace, r);
  stage_input(g, r, ids);
  fused::visit_cell(c.cell, [&]<class Cell>(Cell) { forward_stack<Cell>(g, r, dropout_rng, keep); });

  const RnnOutputs result{r.output, r.h_n, r.c_n};
  if (keep) {
    const int num_outputs = r.c_n.valid() ? 3 : 2;
    g.set_backward(
        result.output,
        [rec = std::move(r)](Graph<T>& graph) {
          fused::visit_cell(rec.config.cell, [&]<class Cell>(Cell) { backward_stack<Cell>(graph, rec); });
        },
        num_outputs);
  }
  return result;
}

template class Rnn<float>;
template class Rnn<double>;

}  // namespace recur
