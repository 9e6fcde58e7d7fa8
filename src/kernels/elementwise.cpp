// Element-wise kernels and their reference twins; see elementwise.h for the conventions. The float
// kernels are written once for every SIMD target with Google Highway and dispatched at run time
// (recur/core/simd.h): a portable build's plain loops would only get SSE2. double and the
// reference twins stay plain loops.
//
// Glossary: L lanes of a float vector on the target (16 AVX-512, 8 AVX2, 4 SSE4 and NEON, 1 scalar).

// Highway compiles this file once per target: it re-includes itself through foreach_target.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/elementwise.cpp"
#include "kernels/elementwise.h"

#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/vector_math-inl.h"
#include "recur/core/simd.h"

HWY_BEFORE_NAMESPACE();
namespace recur::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using Vf = hn::Vec<D>;
constexpr int64_t L = static_cast<int64_t>(hn::MaxLanes(D()));

// The first n < L floats at p as a vector (lanes past n: 0), and the first n lanes of v stored to
// p; neither touches memory past p + n. Masked loads and stores where they are instructions
// (AVX2's masked store is slow on AMD; Highway 1.0.3's SSE4 MaskedLoad reads a whole aligned
// vector), a copy through an aligned buffer elsewhere. The same as softmax_rows.cpp's.
HWY_INLINE Vf LoadHead(D d, const float* HWY_RESTRICT p, int64_t n) {
#if HWY_TARGET <= HWY_AVX2
  return hn::MaskedLoad(hn::FirstN(d, static_cast<size_t>(n)), d, p);
#else
  alignas(64) float buffer[L] = {};
  std::copy_n(p, n, buffer);
  return hn::Load(d, buffer);
#endif
}

HWY_INLINE void StoreHead(Vf v, D d, float* HWY_RESTRICT p, int64_t n) {
#if HWY_TARGET <= HWY_AVX3
  hn::BlendedStore(v, hn::FirstN(d, static_cast<size_t>(n)), d, p);
#else
  alignas(64) float buffer[L];
  hn::Store(v, d, buffer);
  std::copy_n(buffer, n, p);
#endif
}

// y[i] = f(d, in[i]...) for i < n: whole vectors, then the rest in one partial vector. y may be one
// of the inputs (the accumulating kernels: dx += ...).
template <class F, class... In>
HWY_INLINE void Map(int64_t n, float* y, F f, const In*... in) {
  const D d;
  int64_t i = 0;
  for (; i + L <= n; i += L) hn::StoreU(f(d, hn::LoadU(d, in + i)...), d, y + i);
  if (i < n) StoreHead(f(d, LoadHead(d, in + i, n - i)...), d, y + i, n - i);
}

// Sums of floats in double lanes (exact conversions): `lo` and `hi` take the lower and upper halves
// of each vector (on the one-lane scalar target, `lo` takes it all).
#if HWY_TARGET == HWY_SCALAR
using DW = hn::Rebind<double, D>;
HWY_INLINE void AddWidened(Vf v, hn::Vec<DW>& lo, hn::Vec<DW>& /* hi */) {
  lo = hn::Add(lo, hn::PromoteTo(DW(), v));
}
#else
using DW = hn::Repartition<double, D>;
HWY_INLINE void AddWidened(Vf v, hn::Vec<DW>& lo, hn::Vec<DW>& hi) {
  const hn::Half<D> dh;
  lo = hn::Add(lo, hn::PromoteTo(DW(), hn::LowerHalf(dh, v)));
  hi = hn::Add(hi, hn::PromoteTo(DW(), hn::UpperHalf(dh, v)));
}
#endif

// --- Arithmetic ------------------------------------------------------------------------------------

void AddRows(int64_t rows, int64_t cols, const float* a, const float* b, float* y) {
  const auto add = [](D, Vf va, Vf vb) { return hn::Add(va, vb); };
  for (int64_t r = 0; r < rows; ++r) Map(cols, y + r * cols, add, a + r * cols, b);
}

void SubRows(int64_t rows, int64_t cols, const float* a, const float* b, float* y) {
  const auto sub = [](D, Vf va, Vf vb) { return hn::Sub(va, vb); };
  for (int64_t r = 0; r < rows; ++r) Map(cols, y + r * cols, sub, a + r * cols, b);
}

void MulRows(int64_t rows, int64_t cols, const float* a, const float* b, float* y) {
  const auto mul = [](D, Vf va, Vf vb) { return hn::Mul(va, vb); };
  for (int64_t r = 0; r < rows; ++r) Map(cols, y + r * cols, mul, a + r * cols, b);
}

void AddRowsInto(int64_t rows, int64_t cols, const float* b, float* y) {
  const auto add = [](D, Vf vy, Vf vb) { return hn::Add(vy, vb); };
  for (int64_t r = 0; r < rows; ++r) Map(cols, y + r * cols, add, static_cast<const float*>(y + r * cols), b);
}

void Scale(int64_t n, float alpha, const float* x, float* y) {
  const auto scaled = [alpha](D d, Vf vx) { return hn::Mul(hn::Set(d, alpha), vx); };
  Map(n, y, scaled, x);
}

// --- Accumulations ---------------------------------------------------------------------------------

void Axpy(int64_t n, float alpha, const float* x, float* y) {
  const auto axpy = [alpha](D d, Vf vy, Vf vx) { return hn::MulAdd(hn::Set(d, alpha), vx, vy); };
  Map(n, y, axpy, static_cast<const float*>(y), x);
}

void MulRowsInto(int64_t rows, int64_t cols, const float* dy, const float* b, float* dx) {
  const auto mul_add = [](D, Vf vdx, Vf vdy, Vf vb) { return hn::MulAdd(vdy, vb, vdx); };
  for (int64_t r = 0; r < rows; ++r)
    Map(cols, dx + r * cols, mul_add, static_cast<const float*>(dx + r * cols), dy + r * cols, b);
}

// y[c] += sum over r of a term of row r and column c, each column summed in row order as the plain
// loop does: acc = add(d, acc, r, c, head) adds row r's terms of the vector of columns from c (a
// partial vector when `head`). Four rows at a time per load and store of y (the same order of
// adds), over tiles of columns that keep y's share in L1 while the rows stream by; the partial
// vector of columns stays in a register.
template <class AddRow>
HWY_INLINE void ColumnSums(int64_t rows, int64_t cols, float* HWY_RESTRICT y, AddRow add) {
  const D d;
  constexpr int64_t kTile = 1024, kRows = 4;
  const int64_t whole = cols / L * L;
  for (int64_t c0 = 0; c0 < whole; c0 += kTile) {
    const int64_t c1 = std::min(whole, c0 + kTile);
    int64_t r = 0;
    for (; r + kRows <= rows; r += kRows) {
      for (int64_t c = c0; c < c1; c += L) {
        Vf acc = hn::LoadU(d, y + c);
        for (int64_t k = 0; k < kRows; ++k) acc = add(d, acc, r + k, c, false);
        hn::StoreU(acc, d, y + c);
      }
    }
    for (; r < rows; ++r)
      for (int64_t c = c0; c < c1; c += L) hn::StoreU(add(d, hn::LoadU(d, y + c), r, c, false), d, y + c);
  }
  if (whole < cols) {
    Vf acc = LoadHead(d, y + whole, cols - whole);
    for (int64_t r = 0; r < rows; ++r) acc = add(d, acc, r, whole, true);
    StoreHead(acc, d, y + whole, cols - whole);
  }
}

void SumRowsInto(int64_t rows, int64_t cols, float alpha, const float* x, float* y) {
  ColumnSums(rows, cols, y, [=](D d, Vf acc, int64_t r, int64_t c, bool head) {
    const float* p = x + r * cols + c;
    return hn::MulAdd(hn::Set(d, alpha), head ? LoadHead(d, p, cols - c) : hn::LoadU(d, p), acc);
  });
}

void MulSumRowsInto(int64_t rows, int64_t cols, const float* x, const float* w, float* y) {
  ColumnSums(rows, cols, y, [=](D d, Vf acc, int64_t r, int64_t c, bool head) {
    const float* px = x + r * cols + c;
    const float* pw = w + r * cols + c;
    return head ? hn::MulAdd(LoadHead(d, px, cols - c), LoadHead(d, pw, cols - c), acc)
                : hn::MulAdd(hn::LoadU(d, px), hn::LoadU(d, pw), acc);
  });
}

// In double lanes, two sums per lane (the halves of each vector) so that the adds overlap.
double Sum(int64_t n, const float* x) {
  const D d;
  const DW dw;
  auto lo = hn::Zero(dw), hi = hn::Zero(dw);
  int64_t i = 0;
  for (; i + L <= n; i += L) AddWidened(hn::LoadU(d, x + i), lo, hi);
  if (i < n) AddWidened(LoadHead(d, x + i, n - i), lo, hi);
  return hn::GetLane(hn::SumOfLanes(dw, hn::Add(lo, hi)));
}

// --- Activations -----------------------------------------------------------------------------------
// Backward: dx += dy * f'(x), as f'(x) from y where that is cheaper.

void TanhForward(int64_t n, const float* x, float* y) {
  const auto f = [](D d, Vf v) { return tanh_approx(d, v); };
  Map(n, y, f, x);
}

void TanhBackward(int64_t n, const float* y, const float* dy, float* dx) {
  const auto grad = [](D d, Vf vdx, Vf vy, Vf vdy) {
    return hn::MulAdd(vdy, hn::NegMulAdd(vy, vy, hn::Set(d, 1.0f)), vdx);  // 1 - y^2
  };
  Map(n, dx, grad, static_cast<const float*>(dx), y, dy);
}

void SigmoidForward(int64_t n, const float* x, float* y) {
  const auto f = [](D d, Vf v) { return sigmoid_approx(d, v); };
  Map(n, y, f, x);
}

void SigmoidBackward(int64_t n, const float* y, const float* dy, float* dx) {
  const auto grad = [](D d, Vf vdx, Vf vy, Vf vdy) {
    return hn::MulAdd(hn::Mul(vdy, vy), hn::Sub(hn::Set(d, 1.0f), vy), vdx);  // y (1 - y)
  };
  Map(n, dx, grad, static_cast<const float*>(dx), y, dy);
}

// x > 0 ? x : 0, so that NaN gives 0 as in the plain loop.
void ReluForward(int64_t n, const float* x, float* y) {
  const auto f = [](D d, Vf v) { return hn::IfThenElseZero(hn::Gt(v, hn::Zero(d)), v); };
  Map(n, y, f, x);
}

void ReluBackward(int64_t n, const float* x, const float* dy, float* dx) {
  const auto grad = [](D d, Vf vdx, Vf vx, Vf vdy) {
    return hn::Add(vdx, hn::IfThenElseZero(hn::Gt(vx, hn::Zero(d)), vdy));
  };
  Map(n, dx, grad, static_cast<const float*>(dx), x, dy);
}

void ExpForward(int64_t n, const float* x, float* y) {
  const auto f = [](D d, Vf v) { return exp_approx(d, v); };
  Map(n, y, f, x);
}

void ExpBackward(int64_t n, const float* y, const float* dy, float* dx) {
  const auto grad = [](D, Vf vdx, Vf vy, Vf vdy) { return hn::MulAdd(vdy, vy, vdx); };
  Map(n, dx, grad, static_cast<const float*>(dx), y, dy);
}

void LogBackward(int64_t n, const float* x, const float* dy, float* dx) {
  const auto grad = [](D, Vf vdx, Vf vx, Vf vdy) { return hn::Add(vdx, hn::Div(vdy, vx)); };
  Map(n, dx, grad, static_cast<const float*>(dx), x, dy);
}

// --- Softmax ---------------------------------------------------------------------------------------

// The largest of x[0, cols), cols >= 1.
HWY_INLINE float RowMax(int64_t cols, const float* HWY_RESTRICT x) {
  const D d;
  const int64_t whole = cols / L * L, rest = cols - whole;
  Vf vmax = hn::Set(d, -std::numeric_limits<float>::infinity());
  for (int64_t c = 0; c < whole; c += L) vmax = hn::Max(vmax, hn::LoadU(d, x + c));
  if (rest > 0)
    vmax = hn::Max(
        vmax, hn::IfThenElse(hn::FirstN(d, static_cast<size_t>(rest)), LoadHead(d, x + whole, rest), vmax));
  return hn::GetLane(hn::MaxOfLanes(d, vmax));
}

// cols >= 1. The row maximum, then the exps and their sum (in double), then the scaling.
double SoftmaxRow(int64_t cols, const float* HWY_RESTRICT x, float* HWY_RESTRICT y) {
  const D d;
  const DW dw;
  const int64_t whole = cols / L * L, rest = cols - whole;
  const auto head = hn::FirstN(d, static_cast<size_t>(rest));
  const float m = RowMax(cols, x);  // subtracted so that every exp is at most 1
  const Vf vm = hn::Set(d, m);
  auto lo = hn::Zero(dw), hi = hn::Zero(dw);
  for (int64_t c = 0; c < whole; c += L) {
    const Vf e = exp_approx(d, hn::Sub(hn::LoadU(d, x + c), vm));
    hn::StoreU(e, d, y + c);
    AddWidened(e, lo, hi);
  }
  if (rest > 0) {
    const Vf e = exp_approx(d, hn::Sub(LoadHead(d, x + whole, rest), vm));
    StoreHead(e, d, y + whole, rest);
    AddWidened(hn::IfThenElseZero(head, e), lo, hi);
  }
  // In [1, cols] unless x holds NaN or infinities.
  const double total = hn::GetLane(hn::SumOfLanes(dw, hn::Add(lo, hi)));
  const Vf inverse = hn::Set(d, static_cast<float>(1.0 / total));
  for (int64_t c = 0; c < whole; c += L) hn::StoreU(hn::Mul(hn::LoadU(d, y + c), inverse), d, y + c);
  if (rest > 0) StoreHead(hn::Mul(LoadHead(d, y + whole, rest), inverse), d, y + whole, rest);
  return static_cast<double>(m) + std::log(total);
}

// cols >= 1. The maximum by vectors, then the first position that holds it (usually found early:
// the search stops there). A row with NaN may compare unequal everywhere: then 0.
int64_t Argmax(int64_t cols, const float* HWY_RESTRICT x) {
  const D d;
  const int64_t whole = cols / L * L, rest = cols - whole;
  const auto head = hn::FirstN(d, static_cast<size_t>(rest));
  const Vf m = hn::Set(d, RowMax(cols, x));
  for (int64_t c = 0; c < whole; c += L) {
    const auto equal = hn::Eq(hn::LoadU(d, x + c), m);
    if (!hn::AllFalse(d, equal)) return c + static_cast<int64_t>(hn::FindKnownFirstTrue(d, equal));
  }
  if (rest > 0) {
    const auto equal = hn::And(head, hn::Eq(LoadHead(d, x + whole, rest), m));
    if (!hn::AllFalse(d, equal)) return whole + static_cast<int64_t>(hn::FindKnownFirstTrue(d, equal));
  }
  return 0;
}

}  // namespace recur::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace recur::kernels {

HWY_EXPORT(AddRows);
HWY_EXPORT(SubRows);
HWY_EXPORT(MulRows);
HWY_EXPORT(AddRowsInto);
HWY_EXPORT(Scale);
HWY_EXPORT(Axpy);
HWY_EXPORT(MulRowsInto);
HWY_EXPORT(SumRowsInto);
HWY_EXPORT(MulSumRowsInto);
HWY_EXPORT(Sum);
HWY_EXPORT(TanhForward);
HWY_EXPORT(TanhBackward);
HWY_EXPORT(SigmoidForward);
HWY_EXPORT(SigmoidBackward);
HWY_EXPORT(ReluForward);
HWY_EXPORT(ReluBackward);
HWY_EXPORT(ExpForward);
HWY_EXPORT(ExpBackward);
HWY_EXPORT(LogBackward);
HWY_EXPORT(SoftmaxRow);
HWY_EXPORT(Argmax);

// The float kernel `name`, on the target chosen at run time, else the plain loop that follows.
#define RECUR_FLOAT_KERNEL(name, ...)               \
  if constexpr (std::is_same_v<T, float>) {         \
    apply_simd_environment();                       \
    return HWY_DYNAMIC_DISPATCH(name)(__VA_ARGS__); \
  }

// --- Arithmetic ------------------------------------------------------------------------------------

template <Scalar T>
void add_rows(int64_t rows, int64_t cols, const T* __restrict__ a, const T* __restrict__ b,
              T* __restrict__ y) {
  RECUR_FLOAT_KERNEL(AddRows, rows, cols, a, b, y)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = a[r * cols + c] + b[c];
}

template <Scalar T>
void sub_rows(int64_t rows, int64_t cols, const T* __restrict__ a, const T* __restrict__ b,
              T* __restrict__ y) {
  RECUR_FLOAT_KERNEL(SubRows, rows, cols, a, b, y)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = a[r * cols + c] - b[c];
}

template <Scalar T>
void mul_rows(int64_t rows, int64_t cols, const T* __restrict__ a, const T* __restrict__ b,
              T* __restrict__ y) {
  RECUR_FLOAT_KERNEL(MulRows, rows, cols, a, b, y)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = a[r * cols + c] * b[c];
}

template <Scalar T>
void add_rows_into(int64_t rows, int64_t cols, const T* __restrict__ b, T* __restrict__ y) {
  RECUR_FLOAT_KERNEL(AddRowsInto, rows, cols, b, y)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] += b[c];
}

template <Scalar T>
void scale(int64_t n, T alpha, const T* __restrict__ x, T* __restrict__ y) {
  RECUR_FLOAT_KERNEL(Scale, n, alpha, x, y)
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i];
}

// --- Accumulations ---------------------------------------------------------------------------------

template <Scalar T>
void axpy(int64_t n, T alpha, const T* __restrict__ x, T* __restrict__ y) {
  RECUR_FLOAT_KERNEL(Axpy, n, alpha, x, y)
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

template <Scalar T>
void mul_rows_into(int64_t rows, int64_t cols, const T* __restrict__ dy, const T* __restrict__ b,
                   T* __restrict__ dx) {
  RECUR_FLOAT_KERNEL(MulRowsInto, rows, cols, dy, b, dx)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dx[r * cols + c] += dy[r * cols + c] * b[c];
}

template <Scalar T>
void sum_rows_into(int64_t rows, int64_t cols, T alpha, const T* __restrict__ x, T* __restrict__ y) {
  RECUR_FLOAT_KERNEL(SumRowsInto, rows, cols, alpha, x, y)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[c] += alpha * x[r * cols + c];
}

template <Scalar T>
void mul_sum_rows_into(int64_t rows, int64_t cols, const T* __restrict__ x, const T* __restrict__ w,
                       T* __restrict__ y) {
  RECUR_FLOAT_KERNEL(MulSumRowsInto, rows, cols, x, w, y)
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[c] += x[r * cols + c] * w[r * cols + c];
}

template <Scalar T>
double sum(int64_t n, const T* __restrict__ x) {
  RECUR_FLOAT_KERNEL(Sum, n, x)
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(x[i]);
  return total;
}

// --- Activations -----------------------------------------------------------------------------------

template <Scalar T>
void tanh_forward(int64_t n, const T* __restrict__ x, T* __restrict__ y) {
  RECUR_FLOAT_KERNEL(TanhForward, n, x, y)
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

template <Scalar T>
void tanh_backward(int64_t n, const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx) {
  RECUR_FLOAT_KERNEL(TanhBackward, n, y, dy, dx)
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * (T(1) - y[i] * y[i]);
}

template <Scalar T>
void sigmoid_forward(int64_t n, const T* __restrict__ x, T* __restrict__ y) {
  RECUR_FLOAT_KERNEL(SigmoidForward, n, x, y)
  for (int64_t i = 0; i < n; ++i) y[i] = T(1) / (T(1) + std::exp(-x[i]));
}

template <Scalar T>
void sigmoid_backward(int64_t n, const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx) {
  RECUR_FLOAT_KERNEL(SigmoidBackward, n, y, dy, dx)
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * y[i] * (T(1) - y[i]);
}

template <Scalar T>
void relu_forward(int64_t n, const T* __restrict__ x, T* __restrict__ y) {
  RECUR_FLOAT_KERNEL(ReluForward, n, x, y)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <Scalar T>
void relu_backward(int64_t n, const T* __restrict__ x, const T* __restrict__ dy, T* __restrict__ dx) {
  RECUR_FLOAT_KERNEL(ReluBackward, n, x, dy, dx)
  for (int64_t i = 0; i < n; ++i) dx[i] += x[i] > T(0) ? dy[i] : T(0);
}

template <Scalar T>
void exp_forward(int64_t n, const T* __restrict__ x, T* __restrict__ y) {
  RECUR_FLOAT_KERNEL(ExpForward, n, x, y)
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

template <Scalar T>
void exp_backward(int64_t n, const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx) {
  RECUR_FLOAT_KERNEL(ExpBackward, n, y, dy, dx)
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * y[i];
}

// libm's log, for float too: no vector log yet, and log is no activation of the recurrent cells.
template <Scalar T>
void log_forward(int64_t n, const T* __restrict__ x, T* __restrict__ y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::log(x[i]);
}

template <Scalar T>
void log_backward(int64_t n, const T* __restrict__ x, const T* __restrict__ dy, T* __restrict__ dx) {
  RECUR_FLOAT_KERNEL(LogBackward, n, x, dy, dx)
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] / x[i];
}

// --- Softmax ---------------------------------------------------------------------------------------

template <Scalar T>
double softmax_row(int64_t cols, const T* __restrict__ x, T* __restrict__ y) {
  if (cols == 0) return -std::numeric_limits<double>::infinity();
  RECUR_FLOAT_KERNEL(SoftmaxRow, cols, x, y)
  T m = x[0];  // the row maximum, subtracted so that every exp is at most 1
  for (int64_t c = 1; c < cols; ++c) m = x[c] > m ? x[c] : m;
  for (int64_t c = 0; c < cols; ++c) y[c] = std::exp(x[c] - m);
  const double total = sum<T>(cols, y);  // in [1, cols] unless x holds NaN or infinities
  const T inverse = static_cast<T>(1.0 / total);
  for (int64_t c = 0; c < cols; ++c) y[c] *= inverse;
  return static_cast<double>(m) + std::log(total);
}

template <Scalar T>
int64_t argmax(int64_t cols, const T* x) {
  if (cols <= 0) return -1;
  RECUR_FLOAT_KERNEL(Argmax, cols, x)
  int64_t best = 0;
  for (int64_t c = 1; c < cols; ++c)
    if (x[c] > x[best]) best = c;
  return best;
}

#undef RECUR_FLOAT_KERNEL

// --- Reference twins: libm in double, rounded once to T --------------------------------------------

template <Scalar T>
void tanh_reference(int64_t n, const T* x, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(std::tanh(static_cast<double>(x[i])));
}

template <Scalar T>
void sigmoid_reference(int64_t n, const T* x, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(1.0 / (1.0 + std::exp(-static_cast<double>(x[i]))));
}

template <Scalar T>
void exp_reference(int64_t n, const T* x, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(std::exp(static_cast<double>(x[i])));
}

template <Scalar T>
double softmax_row_reference(int64_t cols, const T* x, T* y) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < cols; ++c) m = std::max(m, static_cast<double>(x[c]));
  double total = 0;
  for (int64_t c = 0; c < cols; ++c) total += std::exp(static_cast<double>(x[c]) - m);
  for (int64_t c = 0; c < cols; ++c) y[c] = static_cast<T>(std::exp(static_cast<double>(x[c]) - m) / total);
  return m + std::log(total);
}

#define RECUR_INSTANTIATE_ELEMENTWISE(T)                                        \
  template void add_rows<T>(int64_t, int64_t, const T*, const T*, T*);          \
  template void sub_rows<T>(int64_t, int64_t, const T*, const T*, T*);          \
  template void mul_rows<T>(int64_t, int64_t, const T*, const T*, T*);          \
  template void add_rows_into<T>(int64_t, int64_t, const T*, T*);               \
  template void scale<T>(int64_t, T, const T*, T*);                             \
  template void axpy<T>(int64_t, T, const T*, T*);                              \
  template void mul_rows_into<T>(int64_t, int64_t, const T*, const T*, T*);     \
  template void sum_rows_into<T>(int64_t, int64_t, T, const T*, T*);            \
  template void mul_sum_rows_into<T>(int64_t, int64_t, const T*, const T*, T*); \
  template double sum<T>(int64_t, const T*);                                    \
  template void tanh_forward<T>(int64_t, const T*, T*);                         \
  template void tanh_backward<T>(int64_t, const T*, const T*, T*);              \
  template void sigmoid_forward<T>(int64_t, const T*, T*);                      \
  template void sigmoid_backward<T>(int64_t, const T*, const T*, T*);           \
  template void relu_forward<T>(int64_t, const T*, T*);                         \
  template void relu_backward<T>(int64_t, const T*, const T*, T*);              \
  template void exp_forward<T>(int64_t, const T*, T*);                          \
  template void exp_backward<T>(int64_t, const T*, const T*, T*);               \
  template void log_forward<T>(int64_t, const T*, T*);                          \
  template void log_backward<T>(int64_t, const T*, const T*, T*);               \
  template void tanh_reference<T>(int64_t, const T*, T*);                       \
  template void sigmoid_reference<T>(int64_t, const T*, T*);                    \
  template void exp_reference<T>(int64_t, const T*, T*);                        \
  template double softmax_row<T>(int64_t, const T*, T*);                        \
  template int64_t argmax<T>(int64_t, const T*);                                \
  template double softmax_row_reference<T>(int64_t, const T*, T*);

RECUR_INSTANTIATE_ELEMENTWISE(float)
RECUR_INSTANTIATE_ELEMENTWISE(double)
#undef RECUR_INSTANTIATE_ELEMENTWISE

}  // namespace recur::kernels
#endif  // HWY_ONCE
