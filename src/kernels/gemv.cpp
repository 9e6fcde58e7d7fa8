// Matrix-vector product for batch-1 inference (see gemv.h). Plain loops: the packed layout makes
// the inner loop a contiguous multiply-add into kGemvPanel accumulators, which g++ -O3 vectorizes
// without reassociating anything.
#include "kernels/gemv.h"

#include <algorithm>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace recur::kernels {

void pack_gemv(int64_t M, int64_t N, const float* A, int64_t lda, PackedGemv& out) {
  out.M = M;
  out.N = N;
  out.panel = M >= kGemvPanel ? kGemvPanel : kGemvSmallPanel;
  const int64_t P = out.panel;
  out.panels.resize(static_cast<size_t>(out.num_panels() * N * P));
  std::fill(out.panels.data(), out.panels.data() + out.panels.size(), 0.0f);
  for (int64_t i = 0; i < M; ++i) {
    float* dst = out.panels.data() + (i / P) * N * P + i % P;
    for (int64_t k = 0; k < N; ++k) dst[k * P] = A[i * lda + k];
  }
}

void packed_gemv(const PackedGemv& a, int64_t p0, int64_t p1, const float* x, float beta, float* y) {
  const int64_t N = a.N, P = a.panel;
  for (int64_t p = p0; p < p1; ++p) {
    const float* __restrict__ panel = a.panels.data() + p * N * P;
    alignas(64) float acc[kGemvPanel];
#if defined(__AVX512F__)
    if (P == kGemvSmallPanel) {
      static_assert(kGemvSmallPanel == 32);
      __m512 s0 = _mm512_setzero_ps(), s1 = s0;
      for (int64_t k = 0; k < N; ++k) {
        const __m512 xk = _mm512_set1_ps(x[k]);
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(panel + k * P), xk, s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(panel + k * P + 16), xk, s1);
      }
      _mm512_store_ps(acc, s0);
      _mm512_store_ps(acc + 16, s1);
    } else {
      // Eight 16-wide accumulators stay in registers across k (g++ keeps an array in memory).
      static_assert(kGemvPanel == 128);
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
      for (int64_t k = 0; k < N; ++k) {
        const __m512 xk = _mm512_set1_ps(x[k]);
        const float* col = panel + k * kGemvPanel;
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(col), xk, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(col + 16), xk, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(col + 32), xk, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(col + 48), xk, a3);
        a4 = _mm512_fmadd_ps(_mm512_loadu_ps(col + 64), xk, a4);
        a5 = _mm512_fmadd_ps(_mm512_loadu_ps(col + 80), xk, a5);
        a6 = _mm512_fmadd_ps(_mm512_loadu_ps(col + 96), xk, a6);
        a7 = _mm512_fmadd_ps(_mm512_loadu_ps(col + 112), xk, a7);
      }
      _mm512_store_ps(acc, a0);
      _mm512_store_ps(acc + 16, a1);
      _mm512_store_ps(acc + 32, a2);
      _mm512_store_ps(acc + 48, a3);
      _mm512_store_ps(acc + 64, a4);
      _mm512_store_ps(acc + 80, a5);
      _mm512_store_ps(acc + 96, a6);
      _mm512_store_ps(acc + 112, a7);
    }
#else
    std::fill(acc, acc + P, 0.0f);
    for (int64_t k = 0; k < N; ++k) {
      const float xk = x[k];
      const float* __restrict__ col = panel + k * P;
      for (int64_t i = 0; i < P; ++i) acc[i] += col[i] * xk;
    }
#endif
    const int64_t row0 = p * P, rows = std::min(P, a.M - row0);
    float* __restrict__ yp = y + row0;
    if (beta == 0.0f) {
      for (int64_t i = 0; i < rows; ++i) yp[i] = acc[i];
    } else {
      for (int64_t i = 0; i < rows; ++i) yp[i] += acc[i];
    }
  }
}

void gemv_reference(int64_t M, int64_t N, const float* A, int64_t lda, const float* x, float beta, float* y) {
  for (int64_t i = 0; i < M; ++i) {
    double d = 0;
    for (int64_t k = 0; k < N; ++k) d += static_cast<double>(A[i * lda + k]) * static_cast<double>(x[k]);
    y[i] = static_cast<float>(beta == 0.0f ? d : static_cast<double>(beta) * y[i] + d);
  }
}

}  // namespace recur::kernels
