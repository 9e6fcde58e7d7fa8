// Element-wise loops behind the autograd ops: arithmetic with a broadcast row, the backward
// accumulations, and the activations, over contiguous non-aliasing buffers. For float, compiled
// once per SIMD target and dispatched at run time (recur/core/simd.h); for double, plain loops.
// Nothing here allocates.
//
// Glossary: n elements; rows x cols a row-major matrix whose row vector b [cols] is broadcast over
// the rows (rows == 1 is the plain element-wise case). Backward kernels ADD into their output
// (dx += ...), as every gradient buffer in recur is accumulated; outputs never alias inputs.
//
// float tanh, sigmoid, exp and softmax use the vector exp of vector_math-inl.h (Cephes expf, about
// 1 ulp) instead of libm, which does not vectorize. float multiply-adds (axpy, the backward
// accumulations, the column sums) are fused on targets with FMA, so their last bit may differ
// from a plain loop's; float sum adds in double lanes, in another order than a sequential sum.
// Their *_reference twins call std:: functions; double always takes the std:: path, because
// double is for gradient checks and reference vectors, where accuracy is the point.
#pragma once

#include <cstdint>

#include "recur/core/tensor.h"

namespace recur::kernels {

// --- Arithmetic, b [cols] repeated over rows: y[r, c] = a[r, c] op b[c] ------------------------
template <Scalar T>
void add_rows(int64_t rows, int64_t cols, const T* a, const T* b, T* y);
template <Scalar T>
void sub_rows(int64_t rows, int64_t cols, const T* a, const T* b, T* y);
template <Scalar T>
void mul_rows(int64_t rows, int64_t cols, const T* a, const T* b, T* y);
// y[r, c] += b[c] (a bias added in place)
template <Scalar T>
void add_rows_into(int64_t rows, int64_t cols, const T* b, T* y);
// y = alpha * x
template <Scalar T>
void scale(int64_t n, T alpha, const T* x, T* y);

// --- Accumulations (backward) --------------------------------------------------------------------
// y += alpha * x
template <Scalar T>
void axpy(int64_t n, T alpha, const T* x, T* y);
// dx[r, c] += dy[r, c] * b[c]
template <Scalar T>
void mul_rows_into(int64_t rows, int64_t cols, const T* dy, const T* b, T* dx);
// y[c] += alpha * sum_r x[r, c]
template <Scalar T>
void sum_rows_into(int64_t rows, int64_t cols, T alpha, const T* x, T* y);
// y[c] += sum_r x[r, c] * w[r, c]
template <Scalar T>
void mul_sum_rows_into(int64_t rows, int64_t cols, const T* x, const T* w, T* y);
// sum_i x[i], accumulated in double.
template <Scalar T>
[[nodiscard]] double sum(int64_t n, const T* x);

// --- Activations: forward y = f(x); backward dx += dy * f'(x), from y where that is cheaper -----
template <Scalar T>
void tanh_forward(int64_t n, const T* x, T* y);
template <Scalar T>
void tanh_backward(int64_t n, const T* y, const T* dy, T* dx);  // 1 - y^2
template <Scalar T>
void sigmoid_forward(int64_t n, const T* x, T* y);
template <Scalar T>
void sigmoid_backward(int64_t n, const T* y, const T* dy, T* dx);  // y (1 - y)
template <Scalar T>
void relu_forward(int64_t n, const T* x, T* y);
template <Scalar T>
void relu_backward(int64_t n, const T* x, const T* dy, T* dx);  // [x > 0]
template <Scalar T>
void exp_forward(int64_t n, const T* x, T* y);
template <Scalar T>
void exp_backward(int64_t n, const T* y, const T* dy, T* dx);  // y
template <Scalar T>
void log_forward(int64_t n, const T* x, T* y);
template <Scalar T>
void log_backward(int64_t n, const T* x, const T* dy, T* dx);  // 1 / x

// --- Softmax ---------------------------------------------------------------------------------------
// y = softmax(x) over one row [cols]; returns log sum_c exp(x[c]) (log-sum-exp: the row maximum is
// subtracted before exp, so large logits do not overflow).
template <Scalar T>
double softmax_row(int64_t cols, const T* x, T* y);
// The position of the row's first maximum (greedy decoding's token), -1 when cols is 0; with NaN in
// the row, some position in [0, cols).
template <Scalar T>
[[nodiscard]] int64_t argmax(int64_t cols, const T* x);

// --- Reference twins of the kernels above that are not plain arithmetic --------------------------
template <Scalar T>
void tanh_reference(int64_t n, const T* x, T* y);
template <Scalar T>
void sigmoid_reference(int64_t n, const T* x, T* y);
template <Scalar T>
void exp_reference(int64_t n, const T* x, T* y);
template <Scalar T>
double softmax_row_reference(int64_t cols, const T* x, T* y);

}  // namespace recur::kernels
