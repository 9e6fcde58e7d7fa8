// Pointwise functions y = f(x) and their derivatives:
//   tanh:    dx += dy (1 - y^2)       sigmoid: dx += dy y (1 - y)
//   relu:    dx += dy [x > 0]         (the subgradient at 0 is 0, as in PyTorch)
//   exp:     dx += dy y               log:     dx += dy / x
#include "kernels/elementwise.h"
#include "recur/autograd/ops.h"

namespace recur {

namespace {

enum class Pointwise { kTanh, kSigmoid, kRelu, kExp, kLog };

template <Scalar T>
Var pointwise(Graph<T>& g, Var a, Pointwise kind) {
  const int64_t n = g.shape(a).numel();
  Var out = g.make_node(g.shape(a), {a});
  const T* x = g.value(a);
  T* y = g.value(out);
  switch (kind) {
    case Pointwise::kTanh:
      kernels::tanh_forward<T>(n, x, y);
      break;
    case Pointwise::kSigmoid:
      kernels::sigmoid_forward<T>(n, x, y);
      break;
    case Pointwise::kRelu:
      kernels::relu_forward<T>(n, x, y);
      break;
    case Pointwise::kExp:
      kernels::exp_forward<T>(n, x, y);
      break;
    case Pointwise::kLog:
      kernels::log_forward<T>(n, x, y);
      break;
  }

  g.set_backward(out, [=](Graph<T>& gr) {
    if (!gr.requires_grad(a)) return;
    const T* dy = gr.grad(out);
    T* dx = gr.grad(a);
    switch (kind) {
      case Pointwise::kTanh:
        kernels::tanh_backward<T>(n, gr.value(out), dy, dx);
        break;
      case Pointwise::kSigmoid:
        kernels::sigmoid_backward<T>(n, gr.value(out), dy, dx);
        break;
      case Pointwise::kRelu:
        kernels::relu_backward<T>(n, gr.value(a), dy, dx);
        break;
      case Pointwise::kExp:
        kernels::exp_backward<T>(n, gr.value(out), dy, dx);
        break;
      case Pointwise::kLog:
        kernels::log_backward<T>(n, gr.value(a), dy, dx);
        break;
    }
  });
  return out;
}

}  // namespace

template <Scalar T>
Var tanh(Graph<T>& g, Var a) {
  return pointwise(g, a, Pointwise::kTanh);
}

template <Scalar T>
Var sigmoid(Graph<T>& g, Var a) {
  return pointwise(g, a, Pointwise::kSigmoid);
}

template <Scalar T>
Var relu(Graph<T>& g, Var a) {
  return pointwise(g, a, Pointwise::kRelu);
}

template <Scalar T>
Var exp(Graph<T>& g, Var a) {
  return pointwise(g, a, Pointwise::kExp);
}

template <Scalar T>
Var log(Graph<T>& g, Var a) {
  return pointwise(g, a, Pointwise::kLog);
}

template Var tanh<float>(Graph<float>&, Var);
template Var tanh<double>(Graph<double>&, Var);
template Var sigmoid<float>(Graph<float>&, Var);
template Var sigmoid<double>(Graph<double>&, Var);
template Var relu<float>(Graph<float>&, Var);
template Var relu<double>(Graph<double>&, Var);
template Var exp<float>(Graph<float>&, Var);
template Var exp<double>(Graph<double>&, Var);
template Var log<float>(Graph<float>&, Var);
template Var log<double>(Graph<double>&, Var);

}  // namespace recur
