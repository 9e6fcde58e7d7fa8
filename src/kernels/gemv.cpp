// Matrix-vector product for batch-1 inference (see gemv.h), written once for every SIMD target
// with Google Highway and dispatched at run time (recur/core/simd.h). The packed layout makes the
// inner loop a contiguous multiply-add into a panel's worth of accumulators kept in registers.

// Highway compiles this file once per target: it re-includes itself through foreach_target.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemv.cpp"
#include "kernels/gemv.h"

#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>

#include <algorithm>

#include "recur/core/simd.h"

HWY_BEFORE_NAMESPACE();
namespace recur::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

// acc[0, P) = panel [N, P] (column by column) times x. V accumulators of kLanes floats cover the
// panel's P rows; they stay in registers across k (as many as the target has: 16 on AVX-512 for
// P = 128 uses 8, and on 4-lane targets the panel is walked in 32-row strips).
template <size_t V>
HWY_INLINE void panel_strip(int64_t N, int64_t P, const float* HWY_RESTRICT panel,
                            const float* HWY_RESTRICT x, float* HWY_RESTRICT acc) {
  const hn::ScalableTag<float> d;
  constexpr size_t kLanes = hn::MaxLanes(d);
  hn::Vec<decltype(d)> sum[V];
  for (size_t v = 0; v < V; ++v) sum[v] = hn::Zero(d);
  for (int64_t k = 0; k < N; ++k) {
    const auto xk = hn::Set(d, x[k]);
    const float* col = panel + k * P;
    for (size_t v = 0; v < V; ++v) sum[v] = hn::MulAdd(hn::LoadU(d, col + v * kLanes), xk, sum[v]);
  }
  for (size_t v = 0; v < V; ++v) hn::StoreU(sum[v], d, acc + v * kLanes);
}

}  // namespace

void PackedGemv(const PackedGemv& a, int64_t p0, int64_t p1, const float* x, float beta, float* y) {
  const hn::ScalableTag<float> d;
  constexpr int64_t kLanes = static_cast<int64_t>(hn::MaxLanes(d));
  // Rows per strip: what fits the target's registers (8 accumulators of 16 lanes, 8 of 4).
  constexpr int64_t kStrip = kLanes >= 16 ? kGemvPanel : 8 * kLanes;
  static_assert(kGemvPanel % kStrip == 0 && kGemvSmallPanel % std::min(kStrip, kGemvSmallPanel) == 0);
  const int64_t N = a.N, P = a.panel;
  for (int64_t p = p0; p < p1; ++p) {
    const float* panel = a.panels.data() + p * N * P;
    alignas(64) float acc[kGemvPanel];
    const int64_t strip = std::min(kStrip, P);
    for (int64_t s = 0; s < P; s += strip) {
      if (strip == kStrip) {
        panel_strip<kStrip / kLanes>(N, P, panel + s, x, acc + s);
      } else {
        panel_strip<std::max<int64_t>(1, kGemvSmallPanel / kLanes)>(N, P, panel + s, x, acc + s);
      }
    }
    const int64_t row0 = p * P, rows = std::min(P, a.M - row0);
    float* yp = y + row0;
    if (beta == 0.0f) {
      for (int64_t i = 0; i < rows; ++i) yp[i] = acc[i];
    } else {
      for (int64_t i = 0; i < rows; ++i) yp[i] += acc[i];
    }
  }
}

}  // namespace recur::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace recur::kernels {

HWY_EXPORT(PackedGemv);

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
  apply_simd_environment();
  HWY_DYNAMIC_DISPATCH(PackedGemv)(a, p0, p1, x, beta, y);
}

void gemv_reference(int64_t M, int64_t N, const float* A, int64_t lda, const float* x, float beta, float* y) {
  for (int64_t i = 0; i < M; ++i) {
    double d = 0;
    for (int64_t k = 0; k < N; ++k) d += static_cast<double>(A[i * lda + k]) * static_cast<double>(x[k]);
    y[i] = static_cast<float>(beta == 0.0f ? d : static_cast<double>(beta) * y[i] + d);
  }
}

}  // namespace recur::kernels
#endif  // HWY_ONCE
