// Inverted dropout (Srivastava et al., 2014, scaled at training time as PyTorch does):
//   m_i = [u_i >= p] / (1 - p) with u_i uniform in [0, 1) drawn from the caller's Rng,
//   y = x * m, dx += dy * m.
// The mask is kept in a constant node beside the output. In evaluation, or with p == 0, the op is
// the identity: it returns its input and draws nothing from the Rng.
#include <string>

#include "kernels/elementwise.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"

namespace recur {

template <Scalar T>
Var dropout(Graph<T>& g, Var a, std::type_identity_t<T> p, Rng& rng, bool training) {
  check<ValueError>(p >= T(0) && p < T(1), "dropout: p = " + std::to_string(p) + " must be in [0, 1)");
  if (!training || p == T(0)) return a;

  const Shape& shape = g.shape(a);
  const int64_t n = shape.numel();
  Var mask = g.make_node(shape, {});  // [shape] 0 or 1 / (1 - p)
  T* m = g.value(mask);
  const T keep_scale = T(1) / (T(1) - p);
  const auto threshold = static_cast<double>(p);
  for (int64_t i = 0; i < n; ++i) m[i] = rng.uniform() >= threshold ? keep_scale : T(0);

  Var out = g.make_node(shape, {a});
  kernels::mul_rows<T>(1, n, g.value(a), m, g.value(out));
  g.set_backward(out, [=](Graph<T>& gr) {
    if (gr.requires_grad(a)) kernels::mul_rows_into<T>(1, n, gr.grad(out), gr.value(mask), gr.grad(a));
  });
  return out;
}

template Var dropout<float>(Graph<float>&, Var, float, Rng&, bool);
template Var dropout<double>(Graph<double>&, Var, double, Rng&, bool);

}  // namespace recur
