// C += A^T B (see add_at_b.h), the float kernel written once for every SIMD target with Google
// Highway and dispatched at run time (recur/core/simd.h). It keeps an R x (V lanes) tile of C in R*V
// registers for a chunk of K: per k it loads one row of B (V vectors, masked at the N edge) and
// broadcasts the R values A[k][m0..m0+R), which are contiguous. The tile is chosen per target so
// that accumulators + B vectors + broadcast fit its register file (measured on Zen 4):
//   avx512  32 x 16 lanes   12 rows x 32 columns: 24 accumulators; 2 loads and 12 broadcasts
//                           feed 24 FMAs
//   avx2    16 x 8          6 x 16: 12 accumulators + 2 + 1 (3 x 32, 4 x 24: 5-15% slower)
//   neon    32 x 4          5 x 16: 20 accumulators + 4 + 5 A values (GCC loads all R before the
//                           lane FMAs; 6 rows spilled two accumulators per k)
//   sse4    16 x 4, no FMA  3 x 16: 12 accumulators + broadcast + product temp, B from memory
//                           operands (4 x 8, 6 x 8: 5-15% slower)
//   scalar  1 lane          4 x 2 (a correct fallback, and for the tests)
// Blocking: K is cut into chunks so that the B panel a chunk reads (chunk x tile width) stays in L1
// while every row tile of an M block passes over it, and M into blocks so that the A block
// (chunk x block rows) stays in L2 while every panel of N passes over it. The tile is added into C
// once per chunk, which costs a few percent at most.
// Memory: A is read in place, a row ahead prefetched in the kernel (for M = 1024, 2048 each row of A
// is on a new page, which the hardware prefetchers do not follow; how far ahead depends on the
// target, see kPrefetchRowsSameSet); only for wide N, where many panels reuse it, is the A block
// packed tile by tile. A B panel whose rows are not contiguous is
// copied into an aligned stack buffer once per block. A short chunk (K = 25) is bound by moving C,
// not by arithmetic, and sweeps N tile by tile instead so that C streams along its rows. The last 1
// to 4 columns of N past a multiple of the vector (N = 33, 65) are vectorized along M instead of
// padding them to a whole vector.

// Highway compiles this file once per target: it re-includes itself through foreach_target.h.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/add_at_b.cpp"
#include "kernels/add_at_b.h"

#include <hwy/cache_control.h>
#include <hwy/foreach_target.h>  // must come before highway.h
#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
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

// Tile rows and vectors (see the top), and the vector registers the target has.
#if HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128
constexpr int kRows = 4, kVecs = 2, kRegisters = 16;
#elif HWY_TARGET == HWY_SSE4
constexpr int kRows = 3, kVecs = 4, kRegisters = 16;
#elif HWY_ARCH_ARM_A64
constexpr int kRows = 5, kVecs = 4, kRegisters = 32;
#elif HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
constexpr int kRows = 12, kVecs = 2, kRegisters = 32;
#else  // AVX2, and any other 16-register target
constexpr int kRows = 6, kVecs = 2, kRegisters = 16;
#endif
constexpr int64_t kCols = kVecs * kLanes;  // columns of C per tile
constexpr int64_t kChunkK = 128;           // B panel per chunk: 128 x 32 floats = 16 KiB on avx512, in L1
constexpr int64_t kBlockM = 192;           // A block per chunk: 128 x 192 floats = 96 KiB, in L2
constexpr int64_t kShortChunk = 48;        // chunks up to this many rows sweep N per tile (64: same)
// Columns past a multiple of the vector that go to column_edge.
constexpr int64_t kMaxEdge = std::min<int64_t>(4, kLanes - 1);
constexpr int64_t kPrefetchRows = 8;  // rows of A ahead
// Rows of A ahead when A's row stride is a multiple of 4 KiB (M = 1024, 2048 read in place): then
// every row's line falls in the same set of the 8-way L1, and lines fetched 8 rows ahead evict the
// ones still in use. The 24 FMAs of an avx512 k step hide the L2 refetch (8 measured best there);
// the 12 of avx2 do not, and 2 rows ahead measured 1.6x faster than 8 (M = 1024, N = 64).
constexpr int64_t kPrefetchRowsSameSet = HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3 ? 8 : 2;

// Whether MaskedLoad and BlendedStore touch only the live lanes (AVX2 and AVX-512 mask
// instructions). Highway 1.0.3 elsewhere loads the whole vector (aligned on SSE4) and stores by
// reading, blending and writing it back, which reads past the end of the inputs and races with a
// thread writing the columns of C next to it; there a partial vector goes through a stack buffer.
// (It never does on those targets in practice: with 4 lanes every N edge goes to column_edge, and
// the scalar target has no partial vectors.)
constexpr bool kMaskedMemory = HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2;

// The first n floats at p (n <= 0: none); lanes past n are zero.
HWY_INLINE V load_n(D d, const float* HWY_RESTRICT p, int64_t n) {
  if (n >= kLanes) return hn::LoadU(d, p);
  if (n <= 0) return hn::Zero(d);
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

// A load of the first n floats (any n; lanes past n are zero) repeated in a loop, its mask made once.
class EdgeLoad {
 public:
  EdgeLoad() : EdgeLoad(D(), 0) {}
  EdgeLoad(D d, int64_t n)
      : n_(n), mask_(hn::FirstN(d, static_cast<size_t>(std::clamp<int64_t>(n, 0, kLanes)))) {}
  V operator()(D d, const float* HWY_RESTRICT p) const {
    if constexpr (kMaskedMemory) {
      return hn::MaskedLoad(mask_, d, p);
    } else {
      return load_n(d, p, n_);
    }
  }

 private:
  int64_t n_;
  hn::Mask<D> mask_;
};

// C[0..R)[0..NV lanes) += sum over k < K of A[k][0..R)^T B[k][0..NV lanes); with kPartial the last
// vector of each row has only `last` live lanes (N edge), on both the B loads and the C update.
template <int R, int NV, bool kPartial>
void tile_kernel(int64_t K, const float* HWY_RESTRICT A, int64_t lda, const float* HWY_RESTRICT B,
                 int64_t ldb, float* HWY_RESTRICT C, int64_t ldc, int64_t last) {
  const D d;
  // Fetch the C tile now so that the update at the end does not wait on it (short K, big C).
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
    for (int64_t j = 0; j < NV * kLanes; j += 16) hwy::Prefetch(C + r * ldc + j);
  V acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = hn::Zero(d);
  // A row kPrefetchRows ahead: when A is strided by pages (M = 1024, 2048) each k starts a new
  // page, which the hardware prefetchers do not follow. Both ends, as the R floats may straddle two
  // lines. The address is an integer: past the last row it is outside A (prefetches never fault).
  const auto row_bytes = static_cast<std::uintptr_t>(lda) * sizeof(float);
  const EdgeLoad edge(d, last);
  const int64_t rows_ahead = row_bytes % 4096 == 0 ? kPrefetchRowsSameSet : kPrefetchRows;
  const std::uintptr_t ahead = reinterpret_cast<std::uintptr_t>(A) + rows_ahead * row_bytes;
  for (int64_t k = 0; k < K; ++k) {
    const std::uintptr_t row = ahead + static_cast<std::uintptr_t>(k) * row_bytes;
    hwy::Prefetch(reinterpret_cast<const float*>(row));
    hwy::Prefetch(reinterpret_cast<const float*>(row + (R - 1) * sizeof(float)));
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v)
      b[v] = kPartial && v == NV - 1 ? edge(d, B + v * kLanes) : hn::LoadU(d, B + v * kLanes);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const V a = hn::Set(d, A[r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(a, b[v], acc[r][v]);
    }
    A += lda;
    B += ldb;
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* c = C + r * ldc + v * kLanes;
      if (kPartial && v == NV - 1) {
        store_n(hn::Add(acc[r][v], load_n(d, c, last)), d, c, last);
      } else {
        hn::StoreU(hn::Add(acc[r][v], hn::LoadU(d, c)), d, c);
      }
    }
}

// tile_kernel<rows, NV, kPartial>, rows in [1, R].
template <int R, int NV, bool kPartial>
void row_tile(int rows, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc, int64_t last) {
  if constexpr (R > 1) {
    if (rows < R) return row_tile<R - 1, NV, kPartial>(rows, K, A, lda, B, ldb, C, ldc, last);
  }
  tile_kernel<R, NV, kPartial>(K, A, lda, B, ldb, C, ldc, last);
}

// The row tile over `width` columns (1 to kCols): ceil(width / kLanes) vectors, the last one partial
// unless width is a multiple of kLanes.
template <int NV = kVecs>
void tile_columns(int64_t width, int rows, int64_t K, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float* C, int64_t ldc) {
  if constexpr (NV > 1) {
    if (width <= (NV - 1) * kLanes) return tile_columns<NV - 1>(width, rows, K, A, lda, B, ldb, C, ldc);
  }
  const int64_t last = width - (NV - 1) * kLanes;
  if (last == kLanes) {
    row_tile<kRows, NV, false>(rows, K, A, lda, B, ldb, C, ldc, last);
  } else {
    row_tile<kRows, NV, true>(rows, K, A, lda, B, ldb, C, ldc, last);
  }
}

// The last J (1 to 4) columns of N, which a row tile would pad to a whole vector (N = 33 or 65
// would pay for a whole extra vector pass): vectorized along M instead. C rows [0, rows) (rows <=
// NV lanes), columns [0, J) += A[k][0..rows)^T B[k][0..J), with NV vectors of rows of A per k and
// one broadcast per column. The result is a column of C, added element by element once per call.
// kPartial: rows < NV lanes, the vectors past rows are cut (masked or zero).
template <int J, int NV, bool kPartial>
void column_kernel(int64_t K, int64_t rows, const float* HWY_RESTRICT A, int64_t lda,
                   const float* HWY_RESTRICT B, int64_t ldb, float* HWY_RESTRICT C, int64_t ldc) {
  const D d;
  EdgeLoad live[NV];  // the rows of each vector (when kPartial)
  for (int v = 0; v < NV; ++v) live[v] = EdgeLoad(d, rows - v * kLanes);
  V acc[J][NV];
#pragma GCC unroll 4
  for (int j = 0; j < J; ++j)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[j][v] = hn::Zero(d);
  for (int64_t k = 0; k < K; ++k) {
    V a[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) a[v] = kPartial ? live[v](d, A + v * kLanes) : hn::LoadU(d, A + v * kLanes);
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j) {
      const V b = hn::Set(d, B[j]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[j][v] = hn::MulAdd(a[v], b, acc[j][v]);
    }
    A += lda;
    B += ldb;
  }
  alignas(64) float lanes[kLanes];
#pragma GCC unroll 4
  for (int j = 0; j < J; ++j)
    for (int v = 0; v < NV; ++v) {
      hn::Store(acc[j][v], d, lanes);
      const int64_t n = std::clamp<int64_t>(rows - kLanes * v, 0, kLanes);
      for (int64_t l = 0; l < n; ++l) C[(kLanes * v + l) * ldc + j] += lanes[l];
    }
}

template <int J, int NV>
void column_strip(int64_t K, int64_t rows, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                  int64_t ldc) {
  if (rows == NV * kLanes) {
    column_kernel<J, NV, false>(K, rows, A, lda, B, ldb, C, ldc);
  } else {
    column_kernel<J, NV, true>(K, rows, A, lda, B, ldb, C, ldc);
  }
}

template <int J>
void column_edge_strips(int64_t K, int64_t rows, const float* A, int64_t lda, const float* B, int64_t ldb,
                        float* C, int64_t ldc) {
  // One column gets 8 vectors (8 independent FMA chains, as the FMA latency needs); more columns
  // get up to 4 vectors each, as many as the registers hold beside a vector of A per vector and the
  // broadcast. A short last strip takes at most 4.
  constexpr int kWideVecs = J == 1 ? 8 : std::min(4, (kRegisters - 2) / (J + 1));
  constexpr int kNarrowVecs = std::min(4, kWideVecs);
  constexpr int64_t kWide = kWideVecs * kLanes, kNarrow = kNarrowVecs * kLanes;
  int64_t r0 = 0;
  for (; rows - r0 > kNarrow; r0 += kWide)
    column_strip<J, kWideVecs>(K, std::min(kWide, rows - r0), A + r0, lda, B, ldb, C + r0 * ldc, ldc);
  if (r0 < rows) column_strip<J, kNarrowVecs>(K, rows - r0, A + r0, lda, B, ldb, C + r0 * ldc, ldc);
}

void column_edge(int64_t J, int64_t K, int64_t rows, const float* A, int64_t lda, const float* B, int64_t ldb,
                 float* C, int64_t ldc) {
  switch (J) {
    case 1:
      column_edge_strips<1>(K, rows, A, lda, B, ldb, C, ldc);
      break;
    case 2:
      column_edge_strips<2>(K, rows, A, lda, B, ldb, C, ldc);
      break;
    case 3:
      column_edge_strips<3>(K, rows, A, lda, B, ldb, C, ldc);
      break;
    default:
      column_edge_strips<4>(K, rows, A, lda, B, ldb, C, ldc);
      break;
  }
}

// Copies rows [k0, k0 + kc) x columns [n0, n0 + width) of B into a zero-padded, 64-byte aligned
// [kc, kCols] panel: one tile's B rows in L1 without cache-set conflicts (a row stride of 1 or 2
// KiB maps a strided panel onto a few L1 sets) and without loads that straddle cache lines.
void pack_b_panel(int64_t kc, const float* B, int64_t ldb, int64_t width, float* panel) {
  const D d;
  for (int64_t k = 0; k < kc; ++k)
    for (int64_t v = 0; v < kVecs; ++v)
      hn::Store(load_n(d, B + k * ldb + v * kLanes, width - v * kLanes), d, panel + k * kCols + v * kLanes);
}

// Copies rows [0, kc) x columns [starts[0], starts[tiles]) of A into tile-major [tile][kc][rows]
// contiguous floats, tile t being columns [starts[t], starts[t + 1]): a strided A (row stride 4 or
// 8 KiB for M = 1024, 2048) costs a new page and cache set per k in the kernel. k runs outermost so
// that the reads sweep each row of A in order.
void pack_a_block(int64_t kc, const float* A, int64_t lda, const int64_t* starts, int64_t tiles, float* out) {
  const D d;
  for (int64_t k = 0; k < kc; ++k) {
    const float* a = A + k * lda;
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t i = starts[t], rows = starts[t + 1] - i;
      float* dst = out + (i - starts[0]) * kc + k * rows;
      if constexpr (kMaskedMemory) {
        for (int64_t j = 0; j < rows; j += kLanes)
          store_n(load_n(d, a + i + j, rows - j), d, dst + j, rows - j);
      } else {
        std::memcpy(dst, a + i, static_cast<size_t>(rows) * sizeof(float));
      }
    }
  }
}

}  // namespace

void AddAtBFloat(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                 float* C, int64_t ldc) {
  // M is split into equal tiles (sizes differ by at most one row) rather than full tiles plus a
  // remainder: a thin last tile has too few independent accumulators to hide the FMA latency.
  const int64_t tiles = (M + kRows - 1) / kRows;
  constexpr int64_t kTilesPerBlock = kBlockM / kRows;
  // Packing pays only when the packed copy is reused enough: A by more than 128 columns of N (below
  // that, reading A in place with the kernel's prefetch measured as fast, on avx2 too), B by more
  // than one row tile (and only when B's rows are not already a contiguous panel).
  const bool pack_a = N > 128;
  // N's last 1 to kMaxEdge columns past a multiple of the vector go to column_edge; the rest to the
  // row tiles.
  const int64_t edge = N % kLanes <= kMaxEdge ? N % kLanes : 0, n_main = N - edge;
  alignas(64) float panel[kChunkK * kCols];
  // The packed A block, on the stack like the panel (96 KiB at most, well within a thread's stack):
  // callers run this on worker threads started per call, so no buffer outlives the call and none
  // needs to be passed in or kept per thread.
  alignas(64) float a_block[kChunkK * kBlockM];
  for (int64_t k0 = 0; k0 < K; k0 += kChunkK) {
    const int64_t kc = std::min(kChunkK, K - k0);
    const float* a_chunk = A + k0 * lda;
    const float* b_chunk = B + k0 * ldb;
    for (int64_t t0 = 0; t0 < tiles; t0 += kTilesPerBlock) {
      const int64_t block_tiles = std::min(kTilesPerBlock, tiles - t0);
      int64_t starts[kTilesPerBlock + 1];  // row of each tile in the block, and the end
      for (int64_t t = 0; t <= block_tiles; ++t) starts[t] = (t0 + t) * M / tiles;
      if (pack_a) pack_a_block(kc, a_chunk, lda, starts, block_tiles, a_block);
      // Row tile t of the block over the panel of N at n0, its B rows at b with row stride b_stride.
      const auto tile = [&](int64_t t, int64_t n0, const float* b, int64_t b_stride) HWY_ATTR {
        const int64_t i = starts[t];
        const int rows = static_cast<int>(starts[t + 1] - i);
        const float* a = pack_a ? a_block + (i - starts[0]) * kc : a_chunk + i;
        const int64_t a_stride = pack_a ? rows : lda;
        tile_columns(std::min(kCols, n_main - n0), rows, kc, a, a_stride, b, b_stride, C + i * ldc + n0, ldc);
      };
      if (kc <= kShortChunk) {
        // A short chunk (K = 25: one time step of a batch) does little arithmetic per C tile, and
        // moving C bounds the time: each tile sweeps all of N, so C is read and written along its
        // rows, which the hardware prefetchers stream (panel by panel would jump down C by ldc).
        // B (kc x N) is small enough to be re-read from L1/L2 by every tile.
        for (int64_t t = 0; t < block_tiles; ++t)
          for (int64_t n0 = 0; n0 < n_main; n0 += kCols) tile(t, n0, b_chunk + n0, ldb);
      } else {
        const bool pack_b = block_tiles > 1 && ldb > kCols;
        for (int64_t n0 = 0; n0 < n_main; n0 += kCols) {
          if (pack_b) {
            pack_b_panel(kc, b_chunk + n0, ldb, std::min(kCols, n_main - n0), panel);
            for (int64_t t = 0; t < block_tiles; ++t) tile(t, n0, panel, kCols);
          } else {
            for (int64_t t = 0; t < block_tiles; ++t) tile(t, n0, b_chunk + n0, ldb);
          }
        }
      }
      // The block of A was just read by the row tiles: it is in cache for the column edge.
      if (edge > 0)
        column_edge(edge, kc, starts[block_tiles] - starts[0], a_chunk + starts[0], lda, b_chunk + n_main,
                    ldb, C + starts[0] * ldc + n_main, ldc);
    }
  }
}

}  // namespace recur::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace recur::kernels {

HWY_EXPORT(AddAtBFloat);

namespace {

// Any shape, any T: the double path. k outermost so the inner loop runs along contiguous rows of B
// and C.
template <Scalar T>
void add_at_b_loop(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
                   int64_t ldc) {
  for (int64_t k = 0; k < K; ++k) {
    const T* b = B + k * ldb;
    for (int64_t i = 0; i < M; ++i) {
      const T a = A[k * lda + i];
      T* c = C + i * ldc;
      for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
    }
  }
}

}  // namespace

template <Scalar T>
void add_at_b(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
              int64_t ldc) {
  if (M <= 0 || N <= 0 || K <= 0) return;
  if constexpr (std::is_same_v<T, float>) {
    apply_simd_environment();
    HWY_DYNAMIC_DISPATCH(AddAtBFloat)(M, N, K, A, lda, B, ldb, C, ldc);
  } else {
    add_at_b_loop(M, N, K, A, lda, B, ldb, C, ldc);
  }
}

template <Scalar T>
void add_at_b_reference(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
                        T* C, int64_t ldc) {
  if (K <= 0) return;  // unchanged, bit for bit (adding 0.0 would turn -0.0 into +0.0)
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k)
        acc += static_cast<double>(A[k * lda + i]) * static_cast<double>(B[k * ldb + j]);
      C[i * ldc + j] = static_cast<T>(static_cast<double>(C[i * ldc + j]) + acc);
    }
}

template void add_at_b<float>(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*,
                              int64_t);
template void add_at_b<double>(int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t,
                               double*, int64_t);
template void add_at_b_reference<float>(int64_t, int64_t, int64_t, const float*, int64_t, const float*,
                                        int64_t, float*, int64_t);
template void add_at_b_reference<double>(int64_t, int64_t, int64_t, const double*, int64_t, const double*,
                                         int64_t, double*, int64_t);

}  // namespace recur::kernels
#endif  // HWY_ONCE
