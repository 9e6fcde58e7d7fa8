// Packed-B GEMM (see packed_gemm.h), the float kernel written once for every SIMD target with Google
// Highway and dispatched at run time (recur/core/simd.h). The kernel keeps an R x (V lanes) tile of
// C in R*V registers and streams V vectors of a panel row and R broadcast A values per k. The tile is
// chosen per target so that accumulators + panel vectors + broadcast fit its register file, and as
// wide as that allows: with M small and N large, fewer broadcasts per FMA (1/V) measured faster
// than fewer panel loads (1/R) on Zen 4 (in parentheses, the runner-up):
//   avx512  32 x 16 lanes   6 rows x 64 columns (4 panels): 24 accumulators + 4 + 1 (8 x 32 as the
//                           former intrinsics kernel: 5-10% slower)
//   avx2    16 x 8          3 x 32 (2 panels): 12 accumulators + broadcast + 2 panel vectors, the
//                           other 2 FMA memory operands (6 x 16, the classic sgemm tile: 15-20%
//                           slower at N = 2048, 5% faster at M = 13 and K = 128); on Intel CPUs
//                           6 x 16 instead (set_avx2_tile in packed_gemm.h)
//   neon    32 x 4          5 x 16: 20 accumulators + 4 + 5 A values (GCC loads all R before the
//                           lane FMAs; 6 rows spilled two accumulators per k)
//   sse4    16 x 4, no FMA  3 x 16: 12 accumulators + broadcast + product temp; the panel vectors
//                           are aligned memory operands of the multiplies (4 x 8: 10-30% slower)
//   scalar  1 lane          4 x 4 (a correct fallback, and for the tests)
// The panel layout is the same for every target, so pack_matrix is plain code outside the dispatch.
// Panels are walked outermost so that a tile's panels stay in L1/L2 while every row block of A passes
// over them. M is cut into equal row tiles (sizes differ by at most one row) rather than full tiles
// plus a remainder: a thin last tile has too few independent accumulators to hide the FMA latency.

// Highway compiles this file once per target: it re-includes itself through foreach_target.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/packed_gemm.cpp"
#include "kernels/packed_gemm.h"

#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>

#include "recur/core/simd.h"

HWY_BEFORE_NAMESPACE();
namespace recur::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// File-local: the other kernels' helpers live in this same per-target namespace.
namespace {

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
constexpr int64_t kLanes = static_cast<int64_t>(hn::MaxLanes(D()));

// Tile rows and vectors (see the top).
#if HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128
constexpr int kRows = 4, kVecs = 4;
#elif HWY_TARGET == HWY_SSE4
constexpr int kRows = 3, kVecs = 4;
#elif HWY_ARCH_ARM_A64
constexpr int kRows = 5, kVecs = 4;
#elif HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
constexpr int kRows = 6, kVecs = 4;
#else  // AVX2, and any other 16-register target
constexpr int kRows = 3, kVecs = 4;
#endif
// AVX2's second tile (Avx2Tile::k6x16): 12 accumulators + 2 panel vectors + broadcast.
constexpr int kTallRows = 6, kTallVecs = 2;

// Whether MaskedLoad and BlendedStore touch only the live lanes (AVX2 and AVX-512 mask
// instructions). Highway 1.0.3 elsewhere loads the whole vector (aligned on SSE4) and stores by
// reading, blending and writing it back, which reads past the end of C and races with a thread
// writing the columns next to it; there the edge goes through a buffer on the stack.
constexpr bool kMaskedMemory = HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2;

// The first n (1 <= n <= kLanes) floats at p; lanes past n are zero.
HWY_INLINE V load_n(D d, const float* HWY_RESTRICT p, int64_t n) {
  if (n >= kLanes) return hn::LoadU(d, p);
  if constexpr (kMaskedMemory) {
    return hn::MaskedLoad(hn::FirstN(d, static_cast<size_t>(n)), d, p);
  } else {
    alignas(64) float buf[kLanes] = {};
    std::memcpy(buf, p, static_cast<size_t>(n) * sizeof(float));
    return hn::Load(d, buf);
  }
}

// Stores the first n (1 <= n <= kLanes) lanes of v at p.
HWY_INLINE void store_n(V v, D d, float* HWY_RESTRICT p, int64_t n) {
  if (n >= kLanes) {
    hn::StoreU(v, d, p);
  } else if constexpr (kMaskedMemory) {
    hn::BlendedStore(v, hn::FirstN(d, static_cast<size_t>(n)), d, p);
  } else {
    alignas(64) float buf[kLanes];
    hn::Store(v, d, buf);
    std::memcpy(p, buf, static_cast<size_t>(n) * sizeof(float));
  }
}

// C[0..R)[0..width) = beta C + A[0..R)[0..K) times the tile's columns of the panels, which start at
// `panel` (vector v of the tile is in panel v*kLanes/16, at v*kLanes%16 in it). The panels are
// 64-byte aligned and zero-padded, so every load is a full aligned one; only the C update is cut
// at width (V vectors cover it, the last one partly).
// `ahead` [ahead_lines cache lines] is memory the next tiles will read (see PackedGemmFloat): prefetched
// into L2, one line every few k, while this tile computes.
template <int R, int NV>
void tile_kernel(int64_t K, const float* HWY_RESTRICT A, int64_t lda, const float* HWY_RESTRICT panel,
                 int64_t panel_stride, float beta, float* HWY_RESTRICT C, int64_t ldc, int64_t width,
                 const char* ahead, int64_t ahead_lines) {
  const D d;
  int64_t offset[NV];
  for (int v = 0; v < NV; ++v)
    offset[v] = v * kLanes / kPackedPanel * panel_stride + v * kLanes % kPackedPanel;
  V acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = hn::Zero(d);
  // With beta 1 the tile adds into C after the k loop; C's rows there (an LSTM step's gates, written
  // by the input projection over the whole sequence long before) usually come from L3, so ask for
  // them now and let them arrive while the tile computes.
  if (beta != 0.0f) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
      for (int64_t col = 0; col < width; col += 16) __builtin_prefetch(C + r * ldc + col, 1, 3);
  }
  // Prefetch line l at k = l * every: spread over the whole k loop.
  const int64_t every = ahead_lines > 0 ? std::max<int64_t>(1, K / ahead_lines) : K + 1;
  int64_t next_line = 0, next_k = 0;
  for (int64_t k = 0; k < K; ++k) {
    if (k == next_k && next_line < ahead_lines) {
      __builtin_prefetch(ahead + next_line * 64, 0, 2);
      ++next_line;
      next_k += every;
    }
    const float* row = panel + k * kPackedPanel;
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = hn::Load(d, row + offset[v]);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const V a = hn::Set(d, A[r * lda + k]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(a, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* c = C + r * ldc + v * kLanes;
      const int64_t n = width - v * kLanes;
      V sum = acc[r][v];
      if (beta != 0.0f) sum = hn::Add(sum, load_n(d, c, n));
      store_n(sum, d, c, n);
    }
}

// tile_kernel<rows, NV>, rows in [1, R].
template <int R, int NV>
void row_tile(int rows, int64_t K, const float* A, int64_t lda, const float* panel, int64_t panel_stride,
              float beta, float* C, int64_t ldc, int64_t width, const char* ahead, int64_t ahead_lines) {
  if constexpr (R > 1) {
    if (rows < R)
      return row_tile<R - 1, NV>(rows, K, A, lda, panel, panel_stride, beta, C, ldc, width, ahead,
                                 ahead_lines);
  }
  tile_kernel<R, NV>(K, A, lda, panel, panel_stride, beta, C, ldc, width, ahead, ahead_lines);
}

// row_tile<R, vecs>, vecs in [1, NV].
template <int R, int NV>
void vec_tile(int vecs, int rows, int64_t K, const float* A, int64_t lda, const float* panel,
              int64_t panel_stride, float beta, float* C, int64_t ldc, int64_t width, const char* ahead,
              int64_t ahead_lines) {
  if constexpr (NV > 1) {
    if (vecs < NV)
      return vec_tile<R, NV - 1>(vecs, rows, K, A, lda, panel, panel_stride, beta, C, ldc, width, ahead,
                                 ahead_lines);
  }
  row_tile<R, NV>(rows, K, A, lda, panel, panel_stride, beta, C, ldc, width, ahead, ahead_lines);
}

// The product in tiles of up to R rows and NV vectors (see PackedGemmFloat).
template <int R, int NV>
void packed_gemm_tiles(int64_t M, const float* A, int64_t lda, const PackedMatrix<float>& b, int64_t first,
                       int64_t N, float beta, float* C, int64_t ldc, bool prefetch) {
  constexpr int64_t kWidth = NV * kLanes;  // columns of C per tile
  // A tile spans whole panels or lies within one, so its vectors sit at fixed offsets (tile_kernel).
  static_assert(kWidth % kPackedPanel == 0 || kPackedPanel % kWidth == 0);
  const int64_t K = b.K, stride = K * kPackedPanel;
  if (M <= 0 || N <= first) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = first; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : C[i * ldc + j];
    return;
  }
  const int64_t tiles = (M + R - 1) / R;
  const int64_t panels_end = (N + kPackedPanel - 1) / kPackedPanel;  // past this range's last panel
  for (int64_t n0 = first; n0 < N; n0 += kWidth) {
    const float* panel = b.panels.data() + n0 / kPackedPanel * stride + n0 % kPackedPanel;
    const int64_t width = std::min(kWidth, N - n0);
    const int vecs = static_cast<int>((width + kLanes - 1) / kLanes);  // vectors past N are not computed
    // The panels of the next column group, which the first tile over them would otherwise wait for:
    // a recurrent W_hh of hidden 512 (3-4 MiB) outgrows L2 and streams from L3 every step, and its
    // first tile took twice a later one's time (perf, C LSTM). The tiles of this group fetch it
    // into L2 meanwhile, each its share of the lines. Within a panel (kWidth < 16) nothing to do.
    const int64_t next_panel = (n0 + kWidth) / kPackedPanel;
    const int64_t ahead_panels =
        prefetch && kWidth % kPackedPanel == 0 ? std::min(kWidth / kPackedPanel, panels_end - next_panel) : 0;
    const int64_t ahead_lines = std::max<int64_t>(0, ahead_panels) * K;  // a panel row is one 64-byte line
    const char* ahead =
        ahead_lines > 0 ? reinterpret_cast<const char*>(b.panels.data() + next_panel * stride) : nullptr;
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t i0 = t * M / tiles, rows = (t + 1) * M / tiles - i0;
      const int64_t line0 = ahead_lines * t / tiles, line1 = ahead_lines * (t + 1) / tiles;
      vec_tile<R, NV>(vecs, static_cast<int>(rows), K, A + i0 * lda, lda, panel, stride, beta,
                      C + i0 * ldc + n0, ldc, width, ahead != nullptr ? ahead + line0 * 64 : nullptr,
                      line1 - line0);
    }
  }
}

}  // namespace

// Columns [first, N) of C, first a multiple of kPackedPanel (packed_gemm_columns); `prefetch`: fetch
// each column group's panels into L2 while the group before it computes (see below); `tall_tile`:
// AVX2 runs its 6 x 16 tile (Avx2Tile::k6x16), other targets ignore it.
void PackedGemmFloat(int64_t M, const float* A, int64_t lda, const PackedMatrix<float>& b, int64_t first,
                     int64_t N, float beta, float* C, int64_t ldc, bool prefetch, bool tall_tile) {
#if HWY_ARCH_X86 && HWY_TARGET == HWY_AVX2
  if (tall_tile)
    return packed_gemm_tiles<kTallRows, kTallVecs>(M, A, lda, b, first, N, beta, C, ldc, prefetch);
#else
  (void)tall_tile;
#endif
  packed_gemm_tiles<kRows, kVecs>(M, A, lda, b, first, N, beta, C, ldc, prefetch);
}

}  // namespace recur::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace recur::kernels {

HWY_EXPORT(PackedGemmFloat);

template <Scalar T>
void pack_matrix(Trans trans, int64_t K, int64_t N, const T* B, int64_t ldb, PackedMatrix<T>& out) {
  out.K = K;
  out.N = N;
  out.source = B;
  out.ld = ldb;
  out.trans = trans;
  if constexpr (std::is_same_v<T, float>) {
    constexpr int64_t P = kPackedPanel;
    const int64_t panels = (N + P - 1) / P;
    out.panels.resize(static_cast<size_t>(panels * K * P));
    // kNo: blocks of kBlock rows of B, every panel within a block, so that the block stays in L1/L2
    // while each panel takes its 64 bytes of every row (panel by panel over all K read B in 64-byte
    // pieces one row apart: 4 MiB W_hh of hidden 512, 670 -> 340 us). kYes reads a panel's 16 rows
    // of B front to back already: one block.
    const int64_t block = trans == Trans::kNo ? 64 : K;
    for (int64_t k0 = 0; k0 < K; k0 += block) {
      const int64_t k1 = std::min(K, k0 + block);
      for (int64_t p = 0; p < panels; ++p) {
        float* dst = out.panels.data() + p * K * P;
        const int64_t n0 = p * P, width = std::min(P, N - n0);
        for (int64_t k = k0; k < k1; ++k) {
          float* row = dst + k * P;
          if (trans == Trans::kNo) {
            for (int64_t j = 0; j < width; ++j) row[j] = B[k * ldb + n0 + j];
          } else {
            for (int64_t j = 0; j < width; ++j) row[j] = B[(n0 + j) * ldb + k];
          }
          for (int64_t j = width; j < P; ++j) row[j] = 0.0f;
        }
      }
    }
  }
}

namespace {

// Column n0 of op(B) in the unpacked source.
template <Scalar T>
const T* source_column(const PackedMatrix<T>& b, int64_t n0) {
  return b.trans == Trans::kNo ? b.source + n0 : b.source + n0 * b.ld;
}

// The AVX2 tile set_avx2_tile chose; kAuto until then.
std::atomic<Avx2Tile> g_avx2_tile{Avx2Tile::kAuto};

// Intel cores load two vectors per cycle, AMD's Zen 3 and 4 three: 3 x 32 reads half its panel
// vectors as FMA memory operands (11 loads per 12 FMAs) and ran 15-20% faster on Zen 4 at N = 2048,
// 6 x 16 needs 8 and ran 15% faster on an Intel Xeon (see packed_gemm.h).
Avx2Tile default_avx2_tile() {
#if defined(__x86_64__) || defined(__i386__)
  if (__builtin_cpu_is("intel")) return Avx2Tile::k6x16;
#endif
  return Avx2Tile::k3x32;
}

// Whether a product streams `bytes` of packed panels from beyond L2: then the kernel prefetches the
// next column group into L2 (C LSTM step, 4 MiB on an Intel Xeon with 2 MiB of L2: 705 -> 652-674 us
// at AVX-512, 1442 -> 1246-1348 us at AVX2). Panels that stay in L2 gain nothing and pay for the
// prefetch instructions (B LSTM step, 1 MiB: 101 -> 106 us), so only past half the core's L2.
bool streams_from_beyond_l2(int64_t bytes) {
  static const int64_t half_l2 = [] {
    const long l2 = ::sysconf(_SC_LEVEL2_CACHE_SIZE);
    return l2 > 0 ? static_cast<int64_t>(l2) / 2 : int64_t{512} << 10;
  }();
  return bytes > half_l2;
}

}  // namespace

void set_avx2_tile(Avx2Tile tile) { g_avx2_tile.store(tile, std::memory_order_relaxed); }

Avx2Tile avx2_tile() {
  const Avx2Tile tile = g_avx2_tile.load(std::memory_order_relaxed);
  return tile == Avx2Tile::kAuto ? default_avx2_tile() : tile;
}

const char* avx2_tile_name() { return avx2_tile() == Avx2Tile::k6x16 ? "6x16" : "3x32"; }

}  // namespace recur::kernels

namespace recur {

std::string simd_kernel_details() {
  return simd_target() == "avx2" ? std::string("avx2_tile=") + kernels::avx2_tile_name() : std::string();
}

}  // namespace recur

namespace recur::kernels {

template <Scalar T>
void packed_gemm_columns(int64_t M, const T* A, int64_t lda, const PackedMatrix<T>& b, int64_t n0, int64_t n1,
                         T beta, T* C, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    apply_simd_environment();
    const bool prefetch = streams_from_beyond_l2((n1 - n0) * b.K * static_cast<int64_t>(sizeof(float)));
    HWY_DYNAMIC_DISPATCH(PackedGemmFloat)
    (M, A, lda, b, n0, n1, beta, C, ldc, prefetch, avx2_tile() == Avx2Tile::k6x16);
  } else {
    // One thread: packed_gemm runs inside recur's worker threads (row blocks), which start no more.
    if (n1 > n0)
      gemm(1, Trans::kNo, b.trans, M, n1 - n0, b.K, T(1), A, lda, source_column(b, n0), b.ld, beta, C + n0,
           ldc);
  }
}

template <Scalar T>
void packed_gemm(int64_t M, const T* A, int64_t lda, const PackedMatrix<T>& b, T beta, T* C, int64_t ldc) {
  packed_gemm_columns(M, A, lda, b, 0, b.N, beta, C, ldc);
}

template <Scalar T>
void packed_gemm_columns_reference(int64_t M, const T* A, int64_t lda, const PackedMatrix<T>& b, int64_t n0,
                                   int64_t n1, T beta, T* C, int64_t ldc) {
  gemm_reference(Trans::kNo, b.trans, M, n1 - n0, b.K, T(1), A, lda, source_column(b, n0), b.ld, beta, C + n0,
                 ldc);
}

template <Scalar T>
void packed_gemm_reference(int64_t M, const T* A, int64_t lda, const PackedMatrix<T>& b, T beta, T* C,
                           int64_t ldc) {
  packed_gemm_columns_reference(M, A, lda, b, 0, b.N, beta, C, ldc);
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
template void packed_gemm_columns<float>(int64_t, const float*, int64_t, const PackedMatrix<float>&, int64_t,
                                         int64_t, float, float*, int64_t);
template void packed_gemm_columns<double>(int64_t, const double*, int64_t, const PackedMatrix<double>&,
                                          int64_t, int64_t, double, double*, int64_t);
template void packed_gemm_columns_reference<float>(int64_t, const float*, int64_t, const PackedMatrix<float>&,
                                                   int64_t, int64_t, float, float*, int64_t);
template void packed_gemm_columns_reference<double>(int64_t, const double*, int64_t,
                                                    const PackedMatrix<double>&, int64_t, int64_t, double,
                                                    double*, int64_t);

}  // namespace recur::kernels
#endif  // HWY_ONCE
