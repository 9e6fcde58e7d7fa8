// Weight-gradient accumulation C += A^T B without BLAS: dW [G*H, I] += dY^T X summed over a block
// of K rows (time steps x batch). recur calls it on its own worker threads, where OpenBLAS must not
// run (its thread pool serializes concurrent callers), so it is a self-contained single-threaded
// kernel, safe to call from many threads on disjoint C (its only scratch, the packed A block of up
// to 96 KiB for wide N and a B panel of up to 16 KiB, is on its stack).
//
// Glossary: A [K, M] (row stride lda), B [K, N] (row stride ldb), C [M, N] (row stride ldc).
// float keeps a tile of C (on AVX-512 12 rows of M x 32 columns of N; each SIMD target has its
// own, recur/core/simd.h picks the target at run time) in vector registers across a chunk of K,
// streaming one row of B and broadcast values of A per k; inputs may be unaligned and strided.
// double (gradient checks) runs a plain loop. Plain reference twin below.
#pragma once

#include <cstdint>

#include "recur/core/tensor.h"

namespace recur::kernels {

// C [M, N] (row stride ldc) += A^T B, for A [K, M] (row stride lda) and B [K, N] (row stride ldb).
// K = 0 leaves C unchanged; columns of C past N are never touched.
template <Scalar T>
void add_at_b(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
              int64_t ldc);

// Same contract, plain loops accumulating in double (the tests' twin).
template <Scalar T>
void add_at_b_reference(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
                        T* C, int64_t ldc);

}  // namespace recur::kernels
