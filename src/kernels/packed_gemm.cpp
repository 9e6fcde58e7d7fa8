// Packed-B GEMM (see packed_gemm.h). The float kernel keeps an R x (16 P) tile of C in R*P AVX-512
// registers (R <= 8 rows, P <= 2 panels) and streams one panel row and R broadcast A values per k:
// 2 loads and 8 broadcasts feed 16 FMAs. Panels are walked outermost so that a panel pair stays
// in L1/L2 while every row block of A passes over it.
#include "kernels/packed_gemm.h"

#include <algorithm>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace recur::kernels {

namespace {

constexpr int64_t kPanel = 16;

#if defined(__AVX512F__)
template <int R, int P>
void tile_kernel(int64_t K, const float* A, int64_t lda, const float* panel, int64_t panel_stride, float beta,
                 float* C, int64_t ldc, __mmask16 last_mask) {
  __m512 acc[R][P];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m512 b[P];
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) b[p] = _mm512_loadu_ps(panel + p * panel_stride + k * kPanel);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(A[r * lda + k]);
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) acc[r][p] = _mm512_fmadd_ps(a, b[p], acc[r][p]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      float* c = C + r * ldc + p * kPanel;
      const __mmask16 m = p == P - 1 ? last_mask : static_cast<__mmask16>(0xFFFF);
      __m512 v = acc[r][p];
      if (beta != 0.0f) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c));
      _mm512_mask_storeu_ps(c, m, v);
    }
}

template <int P>
void row_block(int rows, int64_t K, const float* A, int64_t lda, const float* panel, int64_t panel_stride,
               float beta, float* C, int64_t ldc, __mmask16 last_mask) {
  switch (rows) {
    case 8:
      tile_kernel<8, P>(K, A, lda, panel, panel_stride, beta, C, ldc, last_mask);
      break;
    case 7:
      tile_kernel<7, P>(K, A, lda, panel, panel_stride, beta, C, ldc, last_mask);
      break;
    case 6:
      tile_kernel<6, P>(K, A, lda, panel, panel_stride, beta, C, ldc, last_mask);
      break;
    case 5:
      tile_kernel<5, P>(K, A, lda, panel, panel_stride, beta, C, ldc, last_mask);
      break;
    case 4:
      tile_kernel<4, P>(K, A, lda, panel, panel_stride, beta, C, ldc, last_mask);
      break;
    case 3:
      tile_kernel<3, P>(K, A, lda, panel, panel_stride, beta, C, ldc, last_mask);
      break;
    case 2:
      tile_kernel<2, P>(K, A, lda, panel, panel_stride, beta, C, ldc, last_mask);
      break;
    default:
      tile_kernel<1, P>(K, A, lda, panel, panel_stride, beta, C, ldc, last_mask);
      break;
  }
}
#endif

}  // namespace

template <Scalar T>
void pack_matrix(Trans trans, int64_t K, int64_t N, const T* B, int64_t ldb, PackedMatrix<T>& out) {
  out.K = K;
  out.N = N;
  out.source = B;
  out.ld = ldb;
  out.trans = trans;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    const int64_t panels = (N + kPanel - 1) / kPanel;
    out.panels.resize(static_cast<size_t>(panels * K * kPanel));
    for (int64_t p = 0; p < panels; ++p) {
      float* dst = out.panels.data() + p * K * kPanel;
      const int64_t n0 = p * kPanel, width = std::min(kPanel, N - n0);
      for (int64_t k = 0; k < K; ++k) {
        float* row = dst + k * kPanel;
        if (trans == Trans::kNo) {
          for (int64_t j = 0; j < width; ++j) row[j] = B[k * ldb + n0 + j];
        } else {
          for (int64_t j = 0; j < width; ++j) row[j] = B[(n0 + j) * ldb + k];
        }
        for (int64_t j = width; j < kPanel; ++j) row[j] = 0.0f;
      }
    }
  }
#endif
}

template <Scalar T>
void packed_gemm(int64_t M, const T* A, int64_t lda, const PackedMatrix<T>& b, T beta, T* C, int64_t ldc) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    const int64_t K = b.K, N = b.N, panels = (N + kPanel - 1) / kPanel, stride = K * kPanel;
    const int64_t rem = N - (panels - 1) * kPanel;
    const auto last_mask = static_cast<__mmask16>((1u << rem) - 1u);
    if (K == 0) {
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : C[i * ldc + j];
      return;
    }
    for (int64_t p = 0; p < panels; p += 2) {
      const float* panel = b.panels.data() + p * stride;
      const bool pair = p + 1 < panels;
      for (int64_t i = 0; i < M; i += 8) {
        const int rows = static_cast<int>(std::min<int64_t>(8, M - i));
        float* c = C + i * ldc + p * kPanel;
        if (pair) {
          row_block<2>(rows, K, A + i * lda, lda, panel, stride, beta, c, ldc,
                       p + 2 == panels ? last_mask : static_cast<__mmask16>(0xFFFF));
        } else {
          row_block<1>(rows, K, A + i * lda, lda, panel, stride, beta, c, ldc, last_mask);
        }
      }
    }
    return;
  }
#endif
  // One thread: packed_gemm runs inside recur's worker threads (row blocks), which start no more.
  gemm(1, Trans::kNo, b.trans, M, b.N, b.K, T(1), A, lda, b.source, b.ld, beta, C, ldc);
}

template <Scalar T>
void packed_gemm_reference(int64_t M, const T* A, int64_t lda, const PackedMatrix<T>& b, T beta, T* C,
                           int64_t ldc) {
  gemm_reference(Trans::kNo, b.trans, M, b.N, b.K, T(1), A, lda, b.source, b.ld, beta, C, ldc);
}

template struct PackedMatrix<float>;
template struct PackedMatrix<double>;
template void pack_matrix<float>(Trans, int64_t, int64_t, const float*, int64_t, PackedMatrix<float>&);
template void pack_matrix<double>(Trans, int64_t, int64_t, const double*, int64_t, PackedMatrix<double>&);
template void packed_gemm<float>(int64_t, const float*, int64_t, const PackedMatrix<float>&, float, float*,
                                 int64_t);
template void packed_gemm<double>(int64_t, const double*, int64_t, const PackedMatrix<double>&, double,
                                  double*, int64_t);
template void packed_gemm_reference<float>(int64_t, const float*, int64_t, const PackedMatrix<float>&, float,
                                           float*, int64_t);
template void packed_gemm_reference<double>(int64_t, const double*, int64_t, const PackedMatrix<double>&,
                                            double, double*, int64_t);

}  // namespace recur::kernels
