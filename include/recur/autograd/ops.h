// Differentiable operations on Graph values. Each op computes its forward value now and records a
// backward closure beside it (see src/autograd/ops/). All ops check shapes and throw ShapeError
// naming the op and the shapes involved.
//
// Broadcasting is deliberately narrow: in add/sub/mul the second operand may have the shape of the
// first or of its trailing dimensions (a bias row [N] against [M, N], or [N] against [T, B, N]).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "recur/autograd/graph.h"
#include "recur/core/rng.h"

namespace recur {

// --- Linear algebra ------------------------------------------------------------------------------
// op(a) @ op(b) for 2-D values: a [M, K] (or [K, M] with transpose_a), b [K, N] (or [N, K]).
template <Scalar T>
Var matmul(Graph<T>& g, Var a, Var b, bool transpose_a = false, bool transpose_b = false);
// x @ weight^T + bias, PyTorch's nn.Linear layout: x [..., I], weight [O, I], bias [O] (optional).
template <Scalar T>
Var linear(Graph<T>& g, Var x, Var weight, std::optional<Var> bias = std::nullopt);

// --- Element-wise with trailing broadcast of b ---------------------------------------------------
template <Scalar T>
Var add(Graph<T>& g, Var a, Var b);
template <Scalar T>
Var sub(Graph<T>& g, Var a, Var b);
template <Scalar T>
Var mul(Graph<T>& g, Var a, Var b);
// a * factor for a constant factor.
template <Scalar T>
Var scale(Graph<T>& g, Var a, std::type_identity_t<T> factor);
// Identity forward; backward passes factor * gradient. Not a derivative: randomized truncated BPTT
// (Tallec and Ollivier, 2017; d2l 9.7) reweights the gradient carried between time steps with it.
template <Scalar T>
Var scale_gradient(Graph<T>& g, Var a, std::type_identity_t<T> factor);

// --- Activations and pointwise functions ---------------------------------------------------------
template <Scalar T>
Var tanh(Graph<T>& g, Var a);
template <Scalar T>
Var sigmoid(Graph<T>& g, Var a);
template <Scalar T>
Var relu(Graph<T>& g, Var a);
template <Scalar T>
Var exp(Graph<T>& g, Var a);
// Natural log; the input must be positive (a non-positive value gives -inf/NaN, as in PyTorch).
template <Scalar T>
Var log(Graph<T>& g, Var a);

// --- Reductions (to a one-element value of shape [1]) --------------------------------------------
template <Scalar T>
Var sum(Graph<T>& g, Var a);
template <Scalar T>
Var mean(Graph<T>& g, Var a);

// --- Shape ---------------------------------------------------------------------------------------
// Joins values along `axis`; all other dimensions must agree.
template <Scalar T>
Var concat(Graph<T>& g, const std::vector<Var>& parts, int axis);
// Splits along `axis` into pieces of the given sizes (which must add up to that dimension).
template <Scalar T>
std::vector<Var> split(Graph<T>& g, Var a, const std::vector<int64_t>& sizes, int axis);
// Elements [start, end) along `axis`.
template <Scalar T>
Var slice(Graph<T>& g, Var a, int axis, int64_t start, int64_t end);
// Same elements, new shape with equal element count.
template <Scalar T>
Var reshape(Graph<T>& g, Var a, const Shape& shape);
// Transpose of a 2-D value.
template <Scalar T>
Var transpose(Graph<T>& g, Var a);

// --- Tokens --------------------------------------------------------------------------------------
// Rows of weight [V, E] picked by ids (each in [0, V)): result [ids.size(), E]. Backward
// scatter-adds into the rows of weight's gradient (repeated ids accumulate).
template <Scalar T>
Var embedding(Graph<T>& g, Var weight, std::span<const int32_t> ids);
// Constant [ids.size(), depth] with a 1 at each id (d2l feeds characters to RNNs this way).
template <Scalar T>
Var one_hot(Graph<T>& g, std::span<const int32_t> ids, int64_t depth);

// --- Losses --------------------------------------------------------------------------------------
// Softmax and cross-entropy fused, computed with log-sum-exp so large logits do not overflow:
// logits [N, V], targets N ids in [0, V). Returns the mean over the counted rows; with `mask`
// (N values, 0 or 1) only rows whose mask is 1 count. Like torch.nn.functional.cross_entropy.
template <Scalar T>
Var softmax_cross_entropy(Graph<T>& g, Var logits, std::span<const int32_t> targets,
                          std::span<const std::type_identity_t<T>> mask = {});
// softmax_cross_entropy(linear(x, weight, bias), targets, mask) in one op, same value and
// gradients, without the logits in the graph: x [N, I] (or [..., I], rows flattened), weight [V, I],
// bias [V] (optional), targets N ids in [0, V). The output head of a language model.
template <Scalar T>
Var linear_cross_entropy(Graph<T>& g, Var x, Var weight, std::optional<Var> bias,
                         std::span<const int32_t> targets,
                         std::span<const std::type_identity_t<T>> mask = {});

// --- Regularization ------------------------------------------------------------------------------
// Inverted dropout: in training, zeroes each element with probability p and scales the rest by
// 1/(1-p); in evaluation (training == false) or with p == 0 it is the identity.
template <Scalar T>
Var dropout(Graph<T>& g, Var a, std::type_identity_t<T> p, Rng& rng, bool training);

// --- Attention -----------------------------------------------------------------------------------
// Bahdanau (additive) attention (Bahdanau et al., 2015; d2l 11.4 AdditiveAttention), split in two
// ops so that dropout can sit between them. The projections W_q, W_k stay ordinary `linear` ops
// (the keys' projection is computed once per source sequence):
//   scores[b, s]  = sum_h w_v[h] tanh(query[b, h] + keys[b, s, h])
//   weights[b, :] = softmax(scores[b, s < valid_lengths[b]]), and weights[b, s] = 0 exactly for
//                   s >= valid_lengths[b] (d2l's masked_softmax sets those scores to -1e6, whose exp
//                   is exactly 0; here they are skipped, which gives the same result)
// query [B, H] (already W_q-projected), keys [B, S, H] (already W_k-projected), w_v [1, H] (the
// weight of nn.Linear(H, 1, bias=False)), valid_lengths B values each in [1, S]. Returns [B, S].
// Gradients reach query, keys and w_v; tanh(features) is kept for the backward pass.
template <Scalar T>
Var additive_attention_weights(Graph<T>& g, Var query, Var keys, Var w_v,
                               std::span<const int64_t> valid_lengths);
// context[b] = sum_s weights[b, s] values[b, s] (torch.bmm of [B, 1, S] and [B, S, Hv]):
// weights [B, S], values [B, S, Hv]. Returns [B, Hv].
template <Scalar T>
Var attention_context(Graph<T>& g, Var weights, Var values);

// --- Checks --------------------------------------------------------------------------------------
// Throws NumericError naming `where` (e.g. "epoch 3, step 120") and the value if it is not finite.
void check_finite(double value, std::string_view what, std::string_view where);

}  // namespace recur
