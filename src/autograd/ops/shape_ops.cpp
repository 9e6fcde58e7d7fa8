// concat, split, slice, reshape and transpose: ops that move elements without arithmetic, so each
// backward adds the output gradient back at the positions the forward read from.
//
// Along an axis, a row-major value is [outer, dim, inner]: outer the product of the dimensions
// before the axis, inner the product of those after. A piece [start, start + len) along the axis
// is then, for every outer index o, the contiguous run of len * inner elements at
// (o * dim + start) * inner, which is all concat, split and slice need.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"

namespace recur {

namespace {

// Axis in [0, rank); negative counts from the end, as numpy does.
int normalize_axis(const char* op, int axis, const Shape& shape) {
  const int normalized = axis < 0 ? axis + shape.rank() : axis;
  check<ShapeError>(
      normalized >= 0 && normalized < shape.rank(),
      std::string(op) + ": axis " + std::to_string(axis) + " out of range for shape " + shape.str());
  return normalized;
}

struct AxisView {
  int64_t outer = 1;  // product of the dimensions before the axis
  int64_t dim = 0;    // the axis itself
  int64_t inner = 1;  // product of the dimensions after the axis
};

AxisView view_along(const Shape& shape, int axis) {
  AxisView v;
  for (int i = 0; i < axis; ++i) v.outer *= shape[i];
  v.dim = shape[axis];
  for (int i = axis + 1; i < shape.rank(); ++i) v.inner *= shape[i];
  return v;
}

// dst[o * dst_stride + [0, width)] = src[o * src_stride + [0, width)] for o < outer.
template <Scalar T>
void copy_runs(int64_t outer, int64_t width, const T* src, int64_t src_stride, T* dst, int64_t dst_stride) {
  for (int64_t o = 0; o < outer; ++o) std::copy_n(src + o * src_stride, width, dst + o * dst_stride);
}

// The same with += (backward).
template <Scalar T>
void add_runs(int64_t outer, int64_t width, const T* src, int64_t src_stride, T* dst, int64_t dst_stride) {
  for (int64_t o = 0; o < outer; ++o)
    kernels::axpy<T>(width, T(1), src + o * src_stride, dst + o * dst_stride);
}

}  // namespace

template <Scalar T>
Var concat(Graph<T>& g, const std::vector<Var>& parts, int axis) {
  check<ShapeError>(!parts.empty(), "concat: no parts to join");
  const Shape first = g.shape(parts[0]);
  const int ax = normalize_axis("concat", axis, first);
  Shape out_shape = first;
  out_shape[ax] = 0;
  std::vector<int64_t> widths;  // [parts]: elements each part contributes per outer index
  for (size_t k = 0; k < parts.size(); ++k) {
    const Shape& s = g.shape(parts[k]);
    bool fits = s.rank() == first.rank();
    for (int i = 0; fits && i < s.rank(); ++i) fits = i == ax || s[i] == first[i];
    check<ShapeError>(fits, "concat: part " + std::to_string(k) + " " + s.str() + " does not match part 0 " +
                                first.str() + " outside axis " + std::to_string(ax));
    out_shape[ax] += s[ax];
    widths.push_back(view_along(s, ax).dim * view_along(s, ax).inner);
  }
  const AxisView v = view_along(out_shape, ax);
  const int64_t row = v.dim * v.inner;  // output elements per outer index

  Var out = g.make_node(out_shape, parts);
  int64_t offset = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    copy_runs<T>(v.outer, widths[k], g.value(parts[k]), widths[k], g.value(out) + offset, row);
    offset += widths[k];
  }

  g.set_backward(out, [=](Graph<T>& gr) {
    const T* dy = gr.grad(out);
    int64_t at = 0;
    for (size_t k = 0; k < parts.size(); ++k) {
      if (gr.requires_grad(parts[k]))
        add_runs<T>(v.outer, widths[k], dy + at, row, gr.grad(parts[k]), widths[k]);
      at += widths[k];
    }
  });
  return out;
}

template <Scalar T>
std::vector<Var> split(Graph<T>& g, Var a, const std::vector<int64_t>& sizes, int axis) {
  const Shape shape = g.shape(a);
  const int ax = normalize_axis("split", axis, shape);
  check<ValueError>(!sizes.empty(), "split: no sizes given for " + shape.str());
  int64_t total = 0;
  std::string listed;
  for (int64_t s : sizes) {
    check<ValueError>(s >= 0, "split: negative size " + std::to_string(s));
    total += s;
    listed += (listed.empty() ? "" : ", ") + std::to_string(s);
  }
  const AxisView v = view_along(shape, ax);
  check<ShapeError>(total == v.dim, "split: sizes [" + listed + "] add up to " + std::to_string(total) +
                                        ", but axis " + std::to_string(ax) + " of " + shape.str() + " is " +
                                        std::to_string(v.dim));
  const int64_t row = v.dim * v.inner;  // input elements per outer index

  // The outputs are consecutive nodes sharing one backward closure.
  std::vector<Var> outs;
  std::vector<int64_t> widths;  // [pieces]: elements per outer index
  int64_t offset = 0;
  for (int64_t s : sizes) {
    Shape piece = shape;
    piece[ax] = s;
    Var out = g.make_node(piece, {a});
    widths.push_back(s * v.inner);
    copy_runs<T>(v.outer, widths.back(), g.value(a) + offset, row, g.value(out), widths.back());
    offset += widths.back();
    outs.push_back(out);
  }

  g.set_backward(
      outs[0],
      [=](Graph<T>& gr) {
        if (!gr.requires_grad(a)) return;
        T* dx = gr.grad(a);
        int64_t at = 0;
        for (size_t k = 0; k < outs.size(); ++k) {
          if (gr.has_grad(outs[k]))
            add_runs<T>(v.outer, widths[k], gr.grad(outs[k]), widths[k], dx + at, row);
          at += widths[k];
        }
      },
      static_cast<int>(outs.size()));
  return outs;
}

template <Scalar T>
Var slice(Graph<T>& g, Var a, int axis, int64_t start, int64_t end) {
  const Shape shape = g.shape(a);
  const int ax = normalize_axis("slice", axis, shape);
  const AxisView v = view_along(shape, ax);
  check<ShapeError>(0 <= start && start <= end && end <= v.dim,
                    "slice: range [" + std::to_string(start) + ", " + std::to_string(end) +
                        ") does not fit axis " + std::to_string(ax) + " of " + shape.str() + " (size " +
                        std::to_string(v.dim) + ")");
  Shape out_shape = shape;
  out_shape[ax] = end - start;
  const int64_t row = v.dim * v.inner;            // input elements per outer index
  const int64_t width = (end - start) * v.inner;  // output elements per outer index
  const int64_t offset = start * v.inner;

  Var out = g.make_node(out_shape, {a});
  copy_runs<T>(v.outer, width, g.value(a) + offset, row, g.value(out), width);
  g.set_backward(out, [=](Graph<T>& gr) {
    if (gr.requires_grad(a)) add_runs<T>(v.outer, width, gr.grad(out), width, gr.grad(a) + offset, row);
  });
  return out;
}

template <Scalar T>
Var reshape(Graph<T>& g, Var a, const Shape& shape) {
  const int64_t n = g.shape(a).numel();
  check<ShapeError>(shape.numel() == n, "reshape: cannot view " + g.shape(a).str() + " (" +
                                            std::to_string(n) + " elements) as " + shape.str() + " (" +
                                            std::to_string(shape.numel()) + " elements)");
  // Row-major data reads the same in any shape with the same count: share a's storage (a copy
  // here moved megabytes per training step for nothing).
  return g.alias(a, shape);
}

template <Scalar T>
Var transpose(Graph<T>& g, Var a) {
  const Shape& shape = g.shape(a);
  check<ShapeError>(shape.rank() == 2, "transpose: value of shape " + shape.str() + " is not 2-D");
  const int64_t rows = shape[0];
  const int64_t cols = shape[1];
  Var out = g.make_node(Shape{cols, rows}, {a});
  const T* x = g.value(a);  // [rows, cols]
  T* y = g.value(out);      // [cols, rows]
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) y[j * rows + i] = x[i * cols + j];
  g.set_backward(out, [=](Graph<T>& gr) {
    if (!gr.requires_grad(a)) return;
    const T* dy = gr.grad(out);
    T* dx = gr.grad(a);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) dx[i * cols + j] += dy[j * rows + i];
  });
  return out;
}

template Var concat<float>(Graph<float>&, const std::vector<Var>&, int);
template Var concat<double>(Graph<double>&, const std::vector<Var>&, int);
template std::vector<Var> split<float>(Graph<float>&, Var, const std::vector<int64_t>&, int);
template std::vector<Var> split<double>(Graph<double>&, Var, const std::vector<int64_t>&, int);
template Var slice<float>(Graph<float>&, Var, int, int64_t, int64_t);
template Var slice<double>(Graph<double>&, Var, int, int64_t, int64_t);
template Var reshape<float>(Graph<float>&, Var, const Shape&);
template Var reshape<double>(Graph<double>&, Var, const Shape&);
template Var transpose<float>(Graph<float>&, Var);
template Var transpose<double>(Graph<double>&, Var);

}  // namespace recur
