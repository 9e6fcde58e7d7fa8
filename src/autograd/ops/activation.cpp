// Pointwise functions y = f(x) and their derivatives:
//   tanh:    dx += dy (1 - y^2)       sigmoid: dx += dy y (1 - y)
//   relu:    dx += dy [x > 0]         (the subgradient at 0 is 0, as in PyTorch)
//   exp:     dx += dy y               log:     dx += dy / x
#include "kernels/elementwise.h"
#include "recur/autograd/ops.h"

namespace recur {

namespace {

// One function's kernels. The derivative is computed from y where that is cheaper (tanh, sigmoid,
// exp) and from x otherwise (relu, log).
template <Scalar T>
struct PointwiseKernels {
  void (*forward)(int64_t n, const T* x, T* y);
  void (*backward)(int64_t n, const T* x_or_y, const T* dy, T* dx);
  bool derivative_from_output;
};

template <Scalar T>
Var pointwise(Graph<T>& g, Var a, PointwiseKernels<T> kernels) {
  const int64_t n = g.shape(a).numel();
  Var out = g.make_node(g.shape(a), {a});
  kernels.forward(n, g.value(a), g.value(out));
  g.set_backward(out, [=](Graph<T>& gr) {
    if (!gr.requires_grad(a)) return;
    kernels.backward(n, gr.value(kernels.derivative_from_output ? out : a), gr.grad(out), gr.grad(a));
  });
  return out;
}

// The table pointwise() takes its kernels from, one row per function.
enum PointwiseFunction { kTanh, kSigmoid, kRelu, kExp, kLog };
template <Scalar T>
constexpr PointwiseKernels<T> kPointwise[] = {
    {kernels::tanh_forward<T>, kernels::tanh_backward<T>, true},        // kTanh
    {kernels::sigmoid_forward<T>, kernels::sigmoid_backward<T>, true},  // kSigmoid
    {kernels::relu_forward<T>, kernels::relu_backward<T>, false},       // kRelu
    {kernels::exp_forward<T>, kernels::exp_backward<T>, true},          // kExp
    {kernels::log_forward<T>, kernels::log_backward<T>, false},         // kLog
};

}  // namespace

// One line a function, read as a list.
// clang-format off
template <Scalar T> Var tanh(Graph<T>& g, Var a) { return pointwise<T>(g, a, kPointwise<T>[kTanh]); }
template <Scalar T> Var sigmoid(Graph<T>& g, Var a) { return pointwise<T>(g, a, kPointwise<T>[kSigmoid]); }
template <Scalar T> Var relu(Graph<T>& g, Var a) { return pointwise<T>(g, a, kPointwise<T>[kRelu]); }
template <Scalar T> Var exp(Graph<T>& g, Var a) { return pointwise<T>(g, a, kPointwise<T>[kExp]); }
template <Scalar T> Var log(Graph<T>& g, Var a) { return pointwise<T>(g, a, kPointwise<T>[kLog]); }
// clang-format on

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
