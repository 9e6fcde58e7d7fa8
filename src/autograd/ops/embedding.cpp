// Token ops: embedding (a row gather) and one_hot (a constant).
//   embedding: y[i] = W[ids[i]]        dW[ids[i]] += dy[i]  (scatter-add: repeated ids accumulate)
//   one_hot:   y[i, c] = [c == ids[i]]  no gradient
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"

namespace recur {

namespace {

// Throws ValueError naming the first id outside [0, limit) and its position.
void check_ids(const char* op, std::span<const int32_t> ids, int64_t limit, const char* limit_name) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= limit) {
      throw ValueError(std::string(op) + ": id " + std::to_string(ids[i]) + " at position " +
                       std::to_string(i) + " is outside [0, " + std::to_string(limit) + ") (" + limit_name +
                       ")");
    }
  }
}

}  // namespace

template <Scalar T>
Var embedding(Graph<T>& g, Var weight, std::span<const int32_t> ids) {
  const Shape& sw = g.shape(weight);
  check<ShapeError>(sw.rank() == 2, "embedding: weight " + sw.str() + " must be 2-D [vocab, embedding]");
  const int64_t V = sw[0];
  const int64_t E = sw[1];
  check_ids("embedding", ids, V, "the vocabulary size, weight's first dimension");
  const auto n = static_cast<int64_t>(ids.size());

  Var out = g.make_node(Shape{n, E}, {weight});
  const T* w = g.value(weight);  // [V, E]
  T* y = g.value(out);           // [n, E]
  for (int64_t i = 0; i < n; ++i) std::copy_n(w + ids[static_cast<size_t>(i)] * E, E, y + i * E);

  // The closure keeps its own copy of the ids: the caller's span need not outlive the graph.
  g.set_backward(out, [=, ids_copy = std::vector<int32_t>(ids.begin(), ids.end())](Graph<T>& gr) {
    if (!gr.requires_grad(weight)) return;
    const T* dy = gr.grad(out);
    T* dw = gr.grad(weight);
    for (int64_t i = 0; i < n; ++i)
      kernels::axpy<T>(E, T(1), dy + i * E, dw + ids_copy[static_cast<size_t>(i)] * E);
  });
  return out;
}

template <Scalar T>
Var one_hot(Graph<T>& g, std::span<const int32_t> ids, int64_t depth) {
  check<ValueError>(depth > 0, "one_hot: depth must be positive, got " + std::to_string(depth));
  check_ids("one_hot", ids, depth, "depth");
  const auto n = static_cast<int64_t>(ids.size());
  Var out = g.make_node(Shape{n, depth}, {});  // no inputs: a constant, like a leaf without gradient
  T* y = g.value(out);                         // [n, depth], zero-filled by make_node
  for (int64_t i = 0; i < n; ++i) y[i * depth + ids[static_cast<size_t>(i)]] = T(1);
  return out;
}

template Var embedding<float>(Graph<float>&, Var, std::span<const int32_t>);
template Var embedding<double>(Graph<double>&, Var, std::span<const int32_t>);
template Var one_hot<float>(Graph<float>&, std::span<const int32_t>, int64_t);
template Var one_hot<double>(Graph<double>&, std::span<const int32_t>, int64_t);

}  // namespace recur
