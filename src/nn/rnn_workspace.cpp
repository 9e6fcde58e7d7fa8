// The fused stack's workspaces: leasing from the pool, sizing for a pass, and the per-layer
// arguments of the scan (where each layer reads its input and writes its output).
#include "nn/rnn_workspace.h"

#include <algorithm>

#include "core/parallel.h"

namespace recur::detail {

template <Scalar T>
WorkspaceLease<T> acquire_workspace(const std::shared_ptr<RnnPool<T>>& pool) {
  if (pool->free.empty()) {
    pool->all.push_back(std::make_unique<RnnWorkspace<T>>());
    pool->free.reserve(pool->all.size());
    pool->free.push_back(pool->all.back().get());
  }
  RnnWorkspace<T>* ws = pool->free.back();
  pool->free.pop_back();
  return WorkspaceLease<T>(ws, [pool](RnnWorkspace<T>* w) { pool->free.push_back(w); });
}

template <Scalar T>
T* RnnRecord<T>::layer_output(Graph<T>& g, int layer) const {
  return top_writes_output(layer) ? g.value(output) : workspace->outputs[static_cast<size_t>(layer)].data();
}

template <Scalar T>
const T* RnnRecord<T>::layer_input(Graph<T>& g, int layer) const {
  if (layer == 0) {
    if (one_hot) return nullptr;
    return batch_major() ? workspace->x_time_major.data() : g.value(x);
  }
  if (use_dropout) return workspace->dropped[static_cast<size_t>(layer)].data();
  return layer_output(g, layer - 1);
}

template <Scalar T>
fused::SequenceArgs<T> RnnRecord<T>::sequence(Graph<T>& g, int layer, int direction) const {
  const int D = num_directions();
  const int64_t H = config.hidden_size, BH = batch * H;
  const int k = layer * D + direction;
  const T* zeros = workspace->zeros.data();
  fused::SequenceArgs<T> a{
      .steps = steps, .B = batch, .I = layer_input_size(layer), .H = H, .threads = threads};
  a.reverse = direction == 1;
  a.x = layer_input(g, layer);
  if (layer == 0 && one_hot) {
    const int64_t GH = gate_count(config.cell) * H;
    a.ids = workspace->ids.data();
    a.w_ih_t = workspace->w_ih_t.data() + direction * config.input_size * GH;
  }
  a.w_ih = g.value(param(k, RnnParam::kWeightIh));
  a.w_hh = g.value(param(k, RnnParam::kWeightHh));
  a.b_ih = g.value(param(k, RnnParam::kBiasIh));
  a.b_hh = g.value(param(k, RnnParam::kBiasHh));
  a.h0 = h0 ? g.value(*h0) + k * BH : zeros;
  a.h0_is_zero = !h0;
  a.c0 = c0 ? g.value(*c0) + k * BH : zeros;
  a.out = layer_output(g, layer) + direction * H;
  a.ld_out = D * H;
  a.h_n = g.value(h_n) + k * BH;
  a.c_n = c_n.valid() ? g.value(c_n) + k * BH : nullptr;
  return a;
}

template <Scalar T>
void prepare_workspace(RnnWorkspace<T>& ws, const RnnRecord<T>& r) {
  const auto L = static_cast<size_t>(r.config.num_layers);
  const auto n_out = static_cast<size_t>(r.steps * r.batch * r.num_directions() * r.config.hidden_size);
  ws.caches.resize(L * static_cast<size_t>(r.num_directions()));
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
void prepare_backward_scratch(RnnPool<T>& pool, const RnnRecord<T>& r, int gates, bool recurrent_apart) {
  const int64_t H = r.config.hidden_size, GH = gates * H;
  const auto rows = static_cast<size_t>(r.steps * r.batch);
  const auto width = static_cast<size_t>(r.num_directions() * H);
  const auto threads = static_cast<size_t>(std::max(r.threads, 1));
  pool.dgates_ih.resize(rows * static_cast<size_t>(GH));
  if (recurrent_apart) pool.dgates_hh.resize(rows * static_cast<size_t>(GH));
  pool.dy_a.resize(rows * width);
  if (r.config.num_layers > 1) pool.dy_b.resize(rows * width);
  pool.dh.resize(static_cast<size_t>(r.batch * H));
  pool.dc.resize(static_cast<size_t>(r.batch * H));
  pool.dbias.resize(static_cast<size_t>(GH + H));
  pool.dbias_parts.resize((threads - 1) * static_cast<size_t>(GH + H));
  if (fused::use_step_weight_grads<T>(GH, H)) pool.dw_hh_parts.resize(threads * static_cast<size_t>(GH * H));
  if (r.one_hot) pool.dw_ih_t_parts.resize(threads * static_cast<size_t>(r.config.input_size * GH));
}

template WorkspaceLease<float> acquire_workspace<float>(const std::shared_ptr<RnnPool<float>>&);
template struct RnnRecord<float>;
template void prepare_workspace<float>(RnnWorkspace<float>&, const RnnRecord<float>&);
template void prepare_backward_scratch<float>(RnnPool<float>&, const RnnRecord<float>&, int, bool);
template WorkspaceLease<double> acquire_workspace<double>(const std::shared_ptr<RnnPool<double>>&);
template struct RnnRecord<double>;
template void prepare_workspace<double>(RnnWorkspace<double>&, const RnnRecord<double>&);
template void prepare_backward_scratch<double>(RnnPool<double>&, const RnnRecord<double>&, int, bool);

}  // namespace recur::detail
