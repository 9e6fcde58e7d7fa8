// Reductions of a whole value to shape [1]:
//   sum:  y = sum_i x_i         dx_i += dy
//   mean: y = sum_i x_i / n     dx_i += dy / n
// The forward sum is accumulated in double, so float losses over many elements lose no digits.
#include <algorithm>
#include <string>

#include "kernels/elementwise.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"

namespace recur {

namespace {

// dx_i += value for every i (the broadcast of a scalar gradient); a fresh gradient buffer is
// written instead, one pass over it rather than a zero fill and an add.
template <Scalar T>
void add_constant_into(Graph<T>& g, Var x, int64_t n, T value) {
  const GradSlot<T> dx = g.grad_for_write(x);
  if (dx.accumulate) {
    for (int64_t i = 0; i < n; ++i) dx.data[i] += value;
  } else {
    std::fill_n(dx.data, n, value);
  }
}

}  // namespace

template <Scalar T>
Var sum(Graph<T>& g, Var a) {
  const int64_t n = g.shape(a).numel();
  Var out = g.make_node(Shape{1}, {a});
  g.value(out)[0] = static_cast<T>(kernels::sum<T>(n, g.value(a)));
  g.set_backward(out, [=](Graph<T>& gr) {
    if (gr.requires_grad(a)) add_constant_into<T>(gr, a, n, gr.grad(out)[0]);
  });
  return out;
}

template <Scalar T>
Var mean(Graph<T>& g, Var a) {
  const int64_t n = g.shape(a).numel();
  check<ShapeError>(n > 0, "mean: value of shape " + g.shape(a).str() + " has no elements");
  Var out = g.make_node(Shape{1}, {a});
  g.value(out)[0] = static_cast<T>(kernels::sum<T>(n, g.value(a)) / static_cast<double>(n));
  g.set_backward(out, [=](Graph<T>& gr) {
    if (gr.requires_grad(a)) add_constant_into<T>(gr, a, n, gr.grad(out)[0] / static_cast<T>(n));
  });
  return out;
}

template Var sum<float>(Graph<float>&, Var);
template Var sum<double>(Graph<double>&, Var);
template Var mean<float>(Graph<float>&, Var);
template Var mean<double>(Graph<double>&, Var);

}  // namespace recur
