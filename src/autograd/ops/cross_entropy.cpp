// Softmax cross-entropy fused with its softmax, as torch.nn.functional.cross_entropy computes it.
//
// For row i of logits x [N, V] with target t_i and weight w_i (the mask value, or 1 without mask):
//   lse_i = log sum_j exp(x_ij)       (log-sum-exp, computed with the row maximum shifted out)
//   loss  = sum_i w_i (lse_i - x_{i t_i}) / sum_i w_i
//   dx_ij += dloss * w_i / sum_i w_i * (p_ij - [j == t_i]),  p_i = softmax(x_i)
// The softmax rows are kept in a constant node beside the loss for the backward pass.
#include <string>
#include <vector>

#include "autograd/ops/cross_entropy_checks.h"
#include "kernels/elementwise.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"

namespace recur {

template <Scalar T>
Var softmax_cross_entropy(Graph<T>& g, Var logits, std::span<const int32_t> targets,
                          std::span<const std::type_identity_t<T>> mask) {
  const Shape& shape = g.shape(logits);
  check<ShapeError>(shape.rank() == 2,
                    "softmax_cross_entropy: logits " + shape.str() + " must be 2-D [N, V]");
  const int64_t N = shape[0];
  const int64_t V = shape[1];
  const int64_t counted =
      detail::check_cross_entropy_targets<T>("softmax_cross_entropy", N, V, targets, mask);
  // weights [N]: 1 for the rows that count, 0 for the others.
  std::vector<T> weights(static_cast<size_t>(N), T(1));
  if (!mask.empty()) weights.assign(mask.begin(), mask.end());

  Var probs = g.make_node(shape, {});  // [N, V] softmax of the counted rows, zeros in the others
  Var out = g.make_node(Shape{1}, {logits});
  const T* x = g.value(logits);
  T* p = g.value(probs);
  double total = 0;
  for (int64_t i = 0; i < N; ++i) {
    if (weights[static_cast<size_t>(i)] == T(0)) continue;  // skipped rows may hold anything, even NaN
    const double lse = kernels::softmax_row<T>(V, x + i * V, p + i * V);
    total += lse - static_cast<double>(x[i * V + targets[static_cast<size_t>(i)]]);
  }
  g.value(out)[0] = static_cast<T>(total / static_cast<double>(counted));

  g.set_backward(out, [=, targets_copy = std::vector<int32_t>(targets.begin(), targets.end()),
                       weights = std::move(weights)](Graph<T>& gr) {
    if (!gr.requires_grad(logits)) return;
    const T coefficient = gr.grad(out)[0] / static_cast<T>(counted);
    const T* prob = gr.value(probs);
    T* dx = gr.grad(logits);
    for (int64_t i = 0; i < N; ++i) {
      if (weights[static_cast<size_t>(i)] == T(0)) continue;
      kernels::axpy<T>(V, coefficient, prob + i * V, dx + i * V);
      dx[i * V + targets_copy[static_cast<size_t>(i)]] -= coefficient;
    }
  });
  return out;
}

template Var softmax_cross_entropy<float>(Graph<float>&, Var, std::span<const int32_t>,
                                          std::span<const float>);
template Var softmax_cross_entropy<double>(Graph<double>&, Var, std::span<const int32_t>,
                                           std::span<const double>);

}  // namespace recur
