// GEMM through OpenBLAS's CBLAS interface, and its reference twin.
#include "kernels/gemm.h"

#include <cblas.h>

namespace recur::kernels {

namespace {
CBLAS_TRANSPOSE to_cblas(Trans t) { return t == Trans::kYes ? CblasTrans : CblasNoTrans; }
}  // namespace

template <>
void gemm<float>(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, to_cblas(trans_a), to_cblas(trans_b), static_cast<int>(M), static_cast<int>(N),
              static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta, C,
              static_cast<int>(ldc));
}

template <>
void gemm<double>(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
                  int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_dgemm(CblasRowMajor, to_cblas(trans_a), to_cblas(trans_b), static_cast<int>(M), static_cast<int>(N),
              static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta, C,
              static_cast<int>(ldc));
}

template <Scalar T>
void gemm_reference(Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                    int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        const T a = trans_a == Trans::kNo ? A[i * lda + k] : A[k * lda + i];
        const T b = trans_b == Trans::kNo ? B[k * ldb + j] : B[j * ldb + k];
        acc += static_cast<double>(a) * static_cast<double>(b);
      }
      // beta == 0 overwrites, as BLAS does, so NaNs in an uninitialized C do not leak through.
      C[i * ldc + j] = static_cast<T>(alpha * acc + (beta == T(0) ? T(0) : beta * C[i * ldc + j]));
    }
  }
}

template void gemm_reference<float>(Trans, Trans, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                    const float*, int64_t, float, float*, int64_t);
template void gemm_reference<double>(Trans, Trans, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                     const double*, int64_t, double, double*, int64_t);

}  // namespace recur::kernels
