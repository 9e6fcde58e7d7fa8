// Element-wise kernels and their reference twins; see elementwise.h for the conventions.
#include "kernels/elementwise.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/fast_math.h"

namespace recur::kernels {

// --- Arithmetic ------------------------------------------------------------------------------------

template <Scalar T>
void add_rows(int64_t rows, int64_t cols, const T* __restrict__ a, const T* __restrict__ b,
              T* __restrict__ y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = a[r * cols + c] + b[c];
}

template <Scalar T>
void sub_rows(int64_t rows, int64_t cols, const T* __restrict__ a, const T* __restrict__ b,
              T* __restrict__ y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = a[r * cols + c] - b[c];
}

template <Scalar T>
void mul_rows(int64_t rows, int64_t cols, const T* __restrict__ a, const T* __restrict__ b,
              T* __restrict__ y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = a[r * cols + c] * b[c];
}

template <Scalar T>
void add_rows_into(int64_t rows, int64_t cols, const T* __restrict__ b, T* __restrict__ y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] += b[c];
}

template <Scalar T>
void scale(int64_t n, T alpha, const T* __restrict__ x, T* __restrict__ y) {
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i];
}

// --- Accumulations ---------------------------------------------------------------------------------

template <Scalar T>
void axpy(int64_t n, T alpha, const T* __restrict__ x, T* __restrict__ y) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

template <Scalar T>
void mul_rows_into(int64_t rows, int64_t cols, const T* __restrict__ dy, const T* __restrict__ b,
                   T* __restrict__ dx) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dx[r * cols + c] += dy[r * cols + c] * b[c];
}

template <Scalar T>
void sum_rows_into(int64_t rows, int64_t cols, T alpha, const T* __restrict__ x, T* __restrict__ y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[c] += alpha * x[r * cols + c];
}

template <Scalar T>
void mul_sum_rows_into(int64_t rows, int64_t cols, const T* __restrict__ x, const T* __restrict__ w,
                       T* __restrict__ y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) y[c] += x[r * cols + c] * w[r * cols + c];
}

template <Scalar T>
double sum(int64_t n, const T* __restrict__ x) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(x[i]);
  return total;
}

// --- Activations -----------------------------------------------------------------------------------

template <Scalar T>
void tanh_forward(int64_t n, const T* __restrict__ x, T* __restrict__ y) {
  if constexpr (std::is_same_v<T, float>) {
    for (int64_t i = 0; i < n; ++i) y[i] = tanh_approx(x[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
  }
}

template <Scalar T>
void tanh_backward(int64_t n, const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * (T(1) - y[i] * y[i]);
}

template <Scalar T>
void sigmoid_forward(int64_t n, const T* __restrict__ x, T* __restrict__ y) {
  if constexpr (std::is_same_v<T, float>) {
    for (int64_t i = 0; i < n; ++i) y[i] = fast_sigmoid(x[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = T(1) / (T(1) + std::exp(-x[i]));
  }
}

template <Scalar T>
void sigmoid_backward(int64_t n, const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * y[i] * (T(1) - y[i]);
}

template <Scalar T>
void relu_forward(int64_t n, const T* __restrict__ x, T* __restrict__ y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <Scalar T>
void relu_backward(int64_t n, const T* __restrict__ x, const T* __restrict__ dy, T* __restrict__ dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] += x[i] > T(0) ? dy[i] : T(0);
}

template <Scalar T>
void exp_forward(int64_t n, const T* __restrict__ x, T* __restrict__ y) {
  if constexpr (std::is_same_v<T, float>) {
    for (int64_t i = 0; i < n; ++i) y[i] = exp_approx(x[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
  }
}

template <Scalar T>
void exp_backward(int64_t n, const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * y[i];
}

template <Scalar T>
void log_forward(int64_t n, const T* __restrict__ x, T* __restrict__ y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::log(x[i]);
}

template <Scalar T>
void log_backward(int64_t n, const T* __restrict__ x, const T* __restrict__ dy, T* __restrict__ dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] / x[i];
}

// --- Softmax ---------------------------------------------------------------------------------------

template <Scalar T>
double softmax_row(int64_t cols, const T* __restrict__ x, T* __restrict__ y) {
  if (cols == 0) return -std::numeric_limits<double>::infinity();
  T m = x[0];  // the row maximum, subtracted so that every exp is at most 1
  for (int64_t c = 1; c < cols; ++c) m = x[c] > m ? x[c] : m;
  if constexpr (std::is_same_v<T, float>) {
    for (int64_t c = 0; c < cols; ++c) y[c] = exp_approx(x[c] - m);
  } else {
    for (int64_t c = 0; c < cols; ++c) y[c] = std::exp(x[c] - m);
  }
  const double total = sum<T>(cols, y);  // in [1, cols] unless x holds NaN or infinities
  const T inverse = static_cast<T>(1.0 / total);
  for (int64_t c = 0; c < cols; ++c) y[c] *= inverse;
  return static_cast<double>(m) + std::log(total);
}

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
  template double softmax_row_reference<T>(int64_t, const T*, T*);

RECUR_INSTANTIATE_ELEMENTWISE(float)
RECUR_INSTANTIATE_ELEMENTWISE(double)
#undef RECUR_INSTANTIATE_ELEMENTWISE

}  // namespace recur::kernels
