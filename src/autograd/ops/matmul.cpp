// matmul and linear: forward and backward through kernels::gemm (OpenBLAS).
//
// matmul: C = op(A) op(B), op(X) = X or X^T. With dC the gradient of C:
//   dop(A) = dC op(B)^T  and  dop(B) = op(A)^T dC,
// and the gradient of a transposed operand is the transpose of that, which gemm's flags express
// without copies (see the four cases in matmul_backward).
// linear (PyTorch nn.Linear): y = x W^T + b, so dx = dy W, dW = dy^T x, db = sum over rows of dy.
// Glossary: M rows of C, N columns of C, K the shared dimension; I inputs, O outputs.
#include <algorithm>
#include <string>

#include "autograd/ops/linear_checks.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"

namespace recur {

namespace {

using kernels::Trans;

Trans trans_of(bool transposed) { return transposed ? Trans::kYes : Trans::kNo; }

// C [M, N] = alpha op(A) op(B) + beta C with leading dimensions taken from the stored layouts, on
// up to `threads` threads (the graph's ComputeContext).
// K == 0 is an empty sum, done here since BLAS rejects a leading dimension of 0: beta 0 zeroes C
// (outputs are not zero-filled in advance, see NodeInit), beta 1 leaves it.
template <Scalar T>
void gemm_dense(int threads, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, const T* B,
                T beta, T* C) {
  if (K == 0) {
    if (beta == T(0)) std::fill_n(C, M * N, T(0));
    return;
  }
  const int64_t lda = ta ? M : K;  // A is [M, K], or [K, M] when transposed
  const int64_t ldb = tb ? K : N;  // B is [K, N], or [N, K] when transposed
  kernels::gemm<T>(threads, trans_of(ta), trans_of(tb), M, N, K, T(1), A, lda, B, ldb, beta, C, N);
}

template <Scalar T>
void matmul_backward(Graph<T>& g, Var a, Var b, Var out, bool ta, bool tb, int64_t M, int64_t N, int64_t K) {
  const T* dC = g.grad(out);  // [M, N]
  if (g.requires_grad(a)) {
    const T* B = g.value(b);
    T* dA = g.grad(a);
    if (!ta) {
      gemm_dense<T>(g.context().threads, false, !tb, M, K, N, dC, B, T(1), dA);  // dA [M, K] += dC op(B)^T
    } else {
      gemm_dense<T>(g.context().threads, tb, true, K, M, N, B, dC, T(1), dA);  // dA [K, M] += op(B) dC^T
    }
  }
  if (g.requires_grad(b)) {
    const T* A = g.value(a);
    T* dB = g.grad(b);
    if (!tb) {
      gemm_dense<T>(g.context().threads, !ta, false, K, N, M, A, dC, T(1), dB);  // dB [K, N] += op(A)^T dC
    } else {
      gemm_dense<T>(g.context().threads, true, ta, N, K, M, dC, A, T(1), dB);  // dB [N, K] += dC^T op(A)
    }
  }
}

}  // namespace

template <Scalar T>
Var matmul(Graph<T>& g, Var a, Var b, bool transpose_a, bool transpose_b) {
  const Shape& sa = g.shape(a);
  const Shape& sb = g.shape(b);
  const std::string described = "matmul: a " + sa.str() + (transpose_a ? " (transposed)" : "") + " and b " +
                                sb.str() + (transpose_b ? " (transposed)" : "");
  check<ShapeError>(sa.rank() == 2 && sb.rank() == 2, described + ": both must be 2-D");
  const int64_t M = transpose_a ? sa[1] : sa[0];
  const int64_t K = transpose_a ? sa[0] : sa[1];
  const int64_t Kb = transpose_b ? sb[1] : sb[0];
  const int64_t N = transpose_b ? sb[0] : sb[1];
  check<ShapeError>(K == Kb, described + ": inner dimensions " + std::to_string(K) + " and " +
                                 std::to_string(Kb) + " differ");

  Var out = g.make_node(Shape{M, N}, {a, b}, NodeInit::kUninitialized);  // beta 0 below writes it all
  gemm_dense<T>(g.context().threads, transpose_a, transpose_b, M, N, K, g.value(a), g.value(b), T(0),
                g.value(out));
  g.set_backward(out,
                 [=](Graph<T>& gr) { matmul_backward(gr, a, b, out, transpose_a, transpose_b, M, N, K); });
  return out;
}

template <Scalar T>
Var linear(Graph<T>& g, Var x, Var weight, std::optional<Var> bias) {
  // x [..., I]: leading dimensions are flattened into M rows; weight [O, I]; bias [O]
  const detail::LinearSizes sizes = detail::check_linear_operands("linear", g, x, weight, bias);
  const int64_t M = sizes.rows, I = sizes.inputs, O = sizes.outputs;
  const Shape& sx = g.shape(x);

  Shape out_shape;
  for (int axis = 0; axis + 1 < sx.rank(); ++axis) out_shape.push_back(sx[axis]);
  out_shape.push_back(O);
  constexpr NodeInit kInit = NodeInit::kUninitialized;  // beta 0 below writes it all
  Var out =
      bias ? g.make_node(out_shape, {x, weight, *bias}, kInit) : g.make_node(out_shape, {x, weight}, kInit);
  T* y = g.value(out);  // [M, O]
  gemm_dense<T>(g.context().threads, false, true, M, O, I, g.value(x), g.value(weight), T(0), y);
  if (bias) kernels::add_rows_into<T>(M, O, g.value(*bias), y);

  g.set_backward(out, [=](Graph<T>& gr) {
    const T* dy = gr.grad(out);  // [M, O]
    if (gr.requires_grad(x)) {
      const GradSlot<T> dx = gr.grad_for_write(x);
      gemm_dense<T>(gr.context().threads, false, false, M, I, O, dy, gr.value(weight),
                    dx.accumulate ? T(1) : T(0), dx.data);
    }
    if (gr.requires_grad(weight))
      gemm_dense<T>(gr.context().threads, true, false, O, I, M, dy, gr.value(x), T(1), gr.grad(weight));
    if (bias && gr.requires_grad(*bias)) kernels::sum_rows_into<T>(M, O, T(1), dy, gr.grad(*bias));
  });
  return out;
}

template Var matmul<float>(Graph<float>&, Var, Var, bool, bool);
template Var matmul<double>(Graph<double>&, Var, Var, bool, bool);
template Var linear<float>(Graph<float>&, Var, Var, std::optional<Var>);
template Var linear<double>(Graph<double>&, Var, Var, std::optional<Var>);

}  // namespace recur
