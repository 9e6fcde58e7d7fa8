// GEMM through OpenBLAS's CBLAS interface, and its reference twin.
#include "kernels/gemm.h"

#include <cblas.h>

#include <algorithm>

#include "core/parallel.h"
#include "recur/core/threads.h"

namespace recur::kernels {

namespace {

CBLAS_TRANSPOSE to_cblas(Trans t) { return t == Trans::kYes ? CblasTrans : CblasNoTrans; }

void blas_gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 1) {
    // One row of C (a batch-1 step of a layer or of the output head): a matrix-vector product.
    // sgemm would first copy all of op(B) into its packed panels, which for a vocabulary-sized
    // head costs as much as the product itself. C[0, :] = alpha op(B)^T a + beta C[0, :].
    const int inc_a = ta == Trans::kNo ? 1 : static_cast<int>(lda);
    if (beta == 0.0f) std::fill_n(C, N, 0.0f);  // an uninitialized C may hold NaN, which 0 * y keeps
    if (tb == Trans::kYes)                      // B [N, K]: y = B a
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(N), static_cast<int>(K), alpha, B,
                  static_cast<int>(ldb), A, inc_a, beta, C, 1);
    else  // B [K, N]: y = B^T a
      cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(K), static_cast<int>(N), alpha, B,
                  static_cast<int>(ldb), A, inc_a, beta, C, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, to_cblas(ta), to_cblas(tb), static_cast<int>(M), static_cast<int>(N),
              static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta, C,
              static_cast<int>(ldc));
}

void blas_gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
               int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, to_cblas(ta), to_cblas(tb), static_cast<int>(M), static_cast<int>(N),
              static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta, C,
              static_cast<int>(ldc));
}

// OpenBLAS runs single-threaded (threads.h); a large product is split into contiguous blocks of
// C's rows (or columns, when C is wider than tall), one single-threaded BLAS call per block, each
// on its own thread. Blocks are disjoint, so results do not depend on the thread count beyond the
// blocking BLAS itself does.
template <typename T>
void split_gemm(int threads, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  keep_blas_single_threaded();
  const bool by_rows = M >= N;
  const int64_t extent = by_rows ? M : N;
  const int parts =
      gemm_parts(threads, extent, static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K));
  if (parts <= 1) {
    blas_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  auto run_part = [&](int p) {
    // Block edges on multiples of 16 keep every block but the last a whole number of SIMD widths.
    const int64_t begin = extent * p / parts / 16 * 16;
    const int64_t end = p + 1 == parts ? extent : extent * (p + 1) / parts / 16 * 16;
    if (end <= begin) return;
    if (by_rows) {
      const T* a = ta == Trans::kNo ? A + begin * lda : A + begin;
      blas_gemm(ta, tb, end - begin, N, K, alpha, a, lda, B, ldb, beta, C + begin * ldc, ldc);
    } else {
      const T* b = tb == Trans::kNo ? B + begin : B + begin * ldb;
      blas_gemm(ta, tb, M, end - begin, K, alpha, A, lda, b, ldb, beta, C + begin, ldc);
    }
  };
  run_parts(parts, run_part);
}

}  // namespace

int gemm_parts(int threads, int64_t extent, double macs) {
  // Below this many multiply-adds a second thread (woken or started per call) does not pay.
  constexpr double kSplitMacs = 8.0e6;
  if (macs < kSplitMacs) return 1;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, extent / 16)));
}

template <>
void gemm<float>(int threads, Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc) {
  split_gemm(threads, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <>
void gemm<double>(int threads, Trans trans_a, Trans trans_b, int64_t M, int64_t N, int64_t K, double alpha,
                  const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
                  int64_t ldc) {
  split_gemm(threads, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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
