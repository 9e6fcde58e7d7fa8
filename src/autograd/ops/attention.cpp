// Bahdanau (additive) attention, d2l 11.4: the attention weights and the context they weigh.
//
// additive_attention_weights, for row b with L = valid_lengths[b] and positions s < L:
//   t[b, s, h]  = tanh(query[b, h] + keys[b, s, h])          (kept for backward)
//   scores[b, s] = sum_h w_v[h] t[b, s, h]
//   w[b, s]     = softmax(scores[b, :L])[s];   w[b, s] = 0 for s >= L (constant: no gradient)
// backward (softmax Jacobian, then the tanh):
//   dscores[b, s]  = w[b, s] (dw[b, s] - sum_{s' < L} w[b, s'] dw[b, s'])
//   dt[b, s, h]    = dscores[b, s] w_v[h] (1 - t[b, s, h]^2)
//   dquery[b, h]  += sum_{s < L} dt[b, s, h];   dkeys[b, s, h] += dt[b, s, h]
//   dw_v[h]       += sum_{b, s < L} dscores[b, s] t[b, s, h]
// attention_context (a batched [1, S] x [S, Hv] product):
//   c[b, :] = sum_s w[b, s] values[b, s, :]
//   dw[b, s] += dot(dc[b, :], values[b, s, :]);   dvalues[b, s, :] += w[b, s] dc[b, :]
// Glossary: B batch, S source positions (keys), H attention hidden size, Hv value size, L a row's
// valid length. Every inner loop runs over h or Hv, contiguous in memory.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"

namespace recur {

namespace {

// Reusable buffers of additive_attention_weights (Graph::scratch), filled and read within one call.
template <Scalar T>
struct AdditiveAttentionScratch {
  std::vector<T> features;  // [S, H] query[b] + keys[b] of one row (forward)
  std::vector<T> tanh;      // [S, H] tanh of it, when the forward keeps nothing for backward
  std::vector<T> scores;    // [S] one row's scores (forward)
  std::vector<T> dtanh;     // [H] dscores[b, s] w_v (backward)
};

}  // namespace

template <Scalar T>
Var additive_attention_weights(Graph<T>& g, Var query, Var keys, Var w_v,
                               std::span<const int64_t> valid_lengths) {
  const Shape& sq = g.shape(query);
  const Shape& sk = g.shape(keys);
  const Shape& sv = g.shape(w_v);
  const std::string described =
      "additive_attention_weights: query " + sq.str() + ", keys " + sk.str() + " and w_v " + sv.str();
  check<ShapeError>(sq.rank() == 2, described + ": query must be 2-D [B, H]");
  check<ShapeError>(sk.rank() == 3, described + ": keys must be 3-D [B, S, H]");
  check<ShapeError>(sv.rank() == 2 && sv[0] == 1, described + ": w_v must be [1, H]");
  const int64_t B = sq[0];
  const int64_t H = sq[1];
  const int64_t S = sk[1];
  check<ShapeError>(sk[0] == B, described + ": batch sizes " + std::to_string(B) + " (query) and " +
                                    std::to_string(sk[0]) + " (keys) differ");
  check<ShapeError>(sk[2] == H && sv[1] == H, described + ": hidden sizes " + std::to_string(H) +
                                                  " (query), " + std::to_string(sk[2]) + " (keys) and " +
                                                  std::to_string(sv[1]) + " (w_v) must agree");
  check<ShapeError>(static_cast<int64_t>(valid_lengths.size()) == B,
                    described + ": need " + std::to_string(B) + " valid lengths (one per row), got " +
                        std::to_string(valid_lengths.size()));
  for (size_t b = 0; b < valid_lengths.size(); ++b) {
    check<ValueError>(valid_lengths[b] >= 1 && valid_lengths[b] <= S,
                      "additive_attention_weights: valid length " + std::to_string(valid_lengths[b]) +
                          " of row " + std::to_string(b) + " is outside [1, " + std::to_string(S) +
                          "] (S, keys' second dimension)");
  }

  Var out = g.make_node(Shape{B, S}, {query, keys, w_v}, NodeInit::kUninitialized);  // all written below
  // t [B, S, H], written at the valid positions only; kept only when backward will run.
  const bool keeps_tanh = g.requires_grad(out);
  const Var saved = keeps_tanh ? g.make_node(Shape{B, S, H}, {}, NodeInit::kUninitialized) : Var{};
  auto& scratch = g.template scratch<AdditiveAttentionScratch<T>>();
  scratch.features.resize(static_cast<size_t>(S * H));
  scratch.scores.resize(static_cast<size_t>(S));
  if (!keeps_tanh) scratch.tanh.resize(static_cast<size_t>(S * H));

  const T* q = g.value(query);  // [B, H]
  const T* k = g.value(keys);   // [B, S, H]
  const T* v = g.value(w_v);    // [H]
  T* w = g.value(out);          // [B, S]
  for (int64_t b = 0; b < B; ++b) {
    const int64_t L = valid_lengths[static_cast<size_t>(b)];
    T* t = keeps_tanh ? g.value(saved) + b * S * H : scratch.tanh.data();  // [L, H] of this row
    kernels::add_rows<T>(L, H, k + b * S * H, q + b * H, scratch.features.data());
    kernels::tanh_forward<T>(L * H, scratch.features.data(), t);
    for (int64_t s = 0; s < L; ++s) {
      const T* t_s = t + s * H;
      T score = 0;
      for (int64_t h = 0; h < H; ++h) score += v[h] * t_s[h];
      scratch.scores[static_cast<size_t>(s)] = score;
    }
    (void)kernels::softmax_row<T>(L, scratch.scores.data(), w + b * S);
    std::fill(w + b * S + L, w + (b + 1) * S, T(0));
  }
  if (!keeps_tanh) return out;

  g.set_backward(
      out, [=, lengths = std::vector<int64_t>(valid_lengths.begin(), valid_lengths.end())](Graph<T>& gr) {
        const T* dw = gr.grad(out);                                  // [B, S]
        const T* w = gr.value(out);                                  // [B, S]
        const T* tanh_saved = gr.value(saved);                       // [B, S, H]
        const T* v = gr.value(w_v);                                  // [H]
        T* dq = gr.requires_grad(query) ? gr.grad(query) : nullptr;  // [B, H]
        T* dk = gr.requires_grad(keys) ? gr.grad(keys) : nullptr;    // [B, S, H]
        T* dv = gr.requires_grad(w_v) ? gr.grad(w_v) : nullptr;      // [H]
        auto& buffers = gr.template scratch<AdditiveAttentionScratch<T>>();
        buffers.dtanh.resize(static_cast<size_t>(H));
        T* dt = buffers.dtanh.data();  // [H]
        for (int64_t b = 0; b < B; ++b) {
          const int64_t L = lengths[static_cast<size_t>(b)];
          const T* w_row = w + b * S;
          const T* dw_row = dw + b * S;
          T weighted = 0;  // sum_s w dw
          for (int64_t s = 0; s < L; ++s) weighted += w_row[s] * dw_row[s];
          for (int64_t s = 0; s < L; ++s) {
            const T dscore = w_row[s] * (dw_row[s] - weighted);
            const T* t_s = tanh_saved + (b * S + s) * H;
            if (dv != nullptr) kernels::axpy<T>(H, dscore, t_s, dv);
            if (dq == nullptr && dk == nullptr) continue;
            kernels::scale<T>(H, dscore, v, dt);
            if (dq != nullptr) kernels::tanh_backward<T>(H, t_s, dt, dq + b * H);
            if (dk != nullptr) kernels::tanh_backward<T>(H, t_s, dt, dk + (b * S + s) * H);
          }
        }
      });
  return out;
}

template <Scalar T>
Var attention_context(Graph<T>& g, Var weights, Var values) {
  const Shape& sw = g.shape(weights);
  const Shape& sv = g.shape(values);
  const std::string described = "attention_context: weights " + sw.str() + " and values " + sv.str();
  check<ShapeError>(sw.rank() == 2, described + ": weights must be 2-D [B, S]");
  check<ShapeError>(sv.rank() == 3, described + ": values must be 3-D [B, S, Hv]");
  check<ShapeError>(
      sv[0] == sw[0] && sv[1] == sw[1],
      described + ": values' [B, S] " + Shape{sv[0], sv[1]}.str() + " must equal weights' " + sw.str());
  const int64_t B = sw[0];
  const int64_t S = sw[1];
  const int64_t Hv = sv[2];

  Var out = g.make_node(Shape{B, Hv}, {weights, values});  // zero-filled: accumulated below
  const T* w = g.value(weights);                           // [B, S]
  const T* x = g.value(values);                            // [B, S, Hv]
  T* c = g.value(out);                                     // [B, Hv]
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s) kernels::axpy<T>(Hv, w[b * S + s], x + (b * S + s) * Hv, c + b * Hv);

  g.set_backward(out, [=](Graph<T>& gr) {
    const T* dc = gr.grad(out);  // [B, Hv]
    const T* wv = gr.value(weights);
    const T* xv = gr.value(values);
    T* dw = gr.requires_grad(weights) ? gr.grad(weights) : nullptr;  // [B, S]
    T* dx = gr.requires_grad(values) ? gr.grad(values) : nullptr;    // [B, S, Hv]
    for (int64_t b = 0; b < B; ++b) {
      const T* dc_b = dc + b * Hv;
      for (int64_t s = 0; s < S; ++s) {
        const T* x_s = xv + (b * S + s) * Hv;
        if (dw != nullptr) {
          T dot = 0;
          for (int64_t h = 0; h < Hv; ++h) dot += dc_b[h] * x_s[h];
          dw[b * S + s] += dot;
        }
        if (dx != nullptr) kernels::axpy<T>(Hv, wv[b * S + s], dc_b, dx + (b * S + s) * Hv);
      }
    }
  });
  return out;
}

template Var additive_attention_weights<float>(Graph<float>&, Var, Var, Var, std::span<const int64_t>);
template Var additive_attention_weights<double>(Graph<double>&, Var, Var, Var, std::span<const int64_t>);
template Var attention_context<float>(Graph<float>&, Var, Var);
template Var attention_context<double>(Graph<double>&, Var, Var);

}  // namespace recur
