// General matrix multiply C = alpha * op(A) * op(B) + beta * C on row-major data, through CBLAS
// (OpenBLAS), with a plain-loop reference twin that tests compare against.
// Glossary: M rows of op(A) and C, N columns of op(B) and C, K the shared dimension.
// OpenBLAS itself runs on one thread (recur/core/threads.h); gemm splits a large product into
// blocks of C on up to `threads` threads it starts (the caller's ComputeContext::threads), so call
// it from the caller's thread, not from inside recur's own worker threads (for_row_blocks), where
// it would start threads of its own.
#pragma once

#include <cstdint>

#include "recur/core/tensor.h"

namespace recur::kernels {

enum class Trans { kNo, kYes };

// How many blocks of C's rows or columns gemm splits a product of `macs` multiply-adds over `extent`
// rows or columns into: up to `threads`, each at least 16 wide, and one when the product is too
// small to pay for a thread (about 8e6 multiply-adds). Other split products follow the same rule.
int gemm_parts(int threads, int64_t extent, double macs);

template <Scalar T>
void gemm(int threads, Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

template <Scalar T>
void gemm_reference(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                    int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace recur::kernels
