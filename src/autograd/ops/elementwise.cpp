// add, sub, mul with b broadcast over a's leading dimensions, and scale.
//
// With a viewed as [rows, cols] and b as one row [cols] (rows == 1 when the shapes are equal):
//   add: y = a + b    da += dy         db += sum_rows dy
//   sub: y = a - b    da += dy         db -= sum_rows dy
//   mul: y = a * b    da += dy * b     db += sum_rows dy * a
//   scale: y = f a    da += f dy
#include "kernels/elementwise.h"

#include <algorithm>
#include <string>

#include "recur/autograd/ops.h"
#include "recur/core/error.h"

namespace recur {

namespace {

enum class Arith { kAdd, kSub, kMul };

const char* name_of(Arith kind) {
  switch (kind) {
    case Arith::kAdd:
      return "add";
    case Arith::kSub:
      return "sub";
    case Arith::kMul:
      return "mul";
  }
  return "?";
}

// Rows of a over which b [cols] repeats; b must have a's shape or that of a's trailing dimensions.
int64_t broadcast_rows(Arith kind, const Shape& sa, const Shape& sb) {
  bool fits = sb.rank() <= sa.rank();
  for (int axis = 0; fits && axis < sb.rank(); ++axis) fits = sb[axis] == sa[sa.rank() - sb.rank() + axis];
  check<ShapeError>(fits, std::string(name_of(kind)) + ": b " + sb.str() + " must have the shape of a " +
                              sa.str() + " or of its trailing dimensions");
  int64_t rows = 1;
  for (int axis = 0; axis < sa.rank() - sb.rank(); ++axis) rows *= sa[axis];
  return rows;
}

template <Scalar T>
Var arith(Graph<T>& g, Var a, Var b, Arith kind) {
  const Shape& sa = g.shape(a);
  const int64_t rows = broadcast_rows(kind, sa, g.shape(b));
  const int64_t cols = g.shape(b).numel();

  Var out = g.make_node(sa, {a, b});
  const T* va = g.value(a);  // [rows, cols]
  const T* vb = g.value(b);  // [cols]
  T* y = g.value(out);       // [rows, cols]
  switch (kind) {
    case Arith::kAdd:
      kernels::add_rows<T>(rows, cols, va, vb, y);
      break;
    case Arith::kSub:
      kernels::sub_rows<T>(rows, cols, va, vb, y);
      break;
    case Arith::kMul:
      kernels::mul_rows<T>(rows, cols, va, vb, y);
      break;
  }

  g.set_backward(out, [=](Graph<T>& gr) {
    const T* dy = gr.grad(out);  // [rows, cols]
    // a and b may be the same Var; the two updates then add into one buffer, one after the other.
    if (gr.requires_grad(a)) {
      if (kind == Arith::kMul) {
        kernels::mul_rows_into<T>(rows, cols, dy, gr.value(b), gr.grad(a));
      } else {
        kernels::axpy<T>(rows * cols, T(1), dy, gr.grad(a));
      }
    }
    if (gr.requires_grad(b)) {
      if (kind == Arith::kMul) {
        kernels::mul_sum_rows_into<T>(rows, cols, dy, gr.value(a), gr.grad(b));
      } else {
        kernels::sum_rows_into<T>(rows, cols, kind == Arith::kSub ? T(-1) : T(1), dy, gr.grad(b));
      }
    }
  });
  return out;
}

}  // namespace

template <Scalar T>
Var add(Graph<T>& g, Var a, Var b) {
  return arith(g, a, b, Arith::kAdd);
}

template <Scalar T>
Var sub(Graph<T>& g, Var a, Var b) {
  return arith(g, a, b, Arith::kSub);
}

template <Scalar T>
Var mul(Graph<T>& g, Var a, Var b) {
  return arith(g, a, b, Arith::kMul);
}

template <Scalar T>
Var scale(Graph<T>& g, Var a, std::type_identity_t<T> factor) {
  const int64_t n = g.shape(a).numel();
  Var out = g.make_node(g.shape(a), {a});
  kernels::scale<T>(n, factor, g.value(a), g.value(out));
  g.set_backward(out, [=](Graph<T>& gr) {
    if (gr.requires_grad(a)) kernels::axpy<T>(n, factor, gr.grad(out), gr.grad(a));
  });
  return out;
}

template <Scalar T>
Var scale_gradient(Graph<T>& g, Var a, std::type_identity_t<T> factor) {
  const int64_t n = g.shape(a).numel();
  Var out = g.make_node(g.shape(a), {a});
  std::copy(g.value(a), g.value(a) + n, g.value(out));
  g.set_backward(out, [=](Graph<T>& gr) {
    if (gr.requires_grad(a)) kernels::axpy<T>(n, factor, gr.grad(out), gr.grad(a));
  });
  return out;
}

template Var add<float>(Graph<float>&, Var, Var);
template Var add<double>(Graph<double>&, Var, Var);
template Var sub<float>(Graph<float>&, Var, Var);
template Var sub<double>(Graph<double>&, Var, Var);
template Var mul<float>(Graph<float>&, Var, Var);
template Var mul<double>(Graph<double>&, Var, Var);
template Var scale<float>(Graph<float>&, Var, float);
template Var scale<double>(Graph<double>&, Var, double);
template Var scale_gradient<float>(Graph<float>&, Var, float);
template Var scale_gradient<double>(Graph<double>&, Var, double);

}  // namespace recur
