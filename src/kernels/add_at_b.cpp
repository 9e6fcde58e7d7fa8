// C += A^T B (see add_at_b.h). The float kernel keeps an R x (16 P) tile of C in R*P AVX-512
// registers (R <= 12 rows of M, P <= 2 16-column vectors of N) for a chunk of K: per k it loads one
// row of B (P vectors, masked at the N edge) and broadcasts the R values A[k][m0..m0+R), which are
// contiguous, so 2 loads and 12 broadcasts feed 24 FMAs.
// Blocking: K is cut into chunks so that the B panel a chunk reads (chunk x 32 floats) stays in L1
// while every row tile of an M block passes over it, and M into blocks so that the A block
// (chunk x block rows) stays in L2 while every panel of N passes over it. The tile is added into C
// once per chunk, which costs a few percent at most.
// Memory: A is read in place, a row ahead prefetched in the kernel (for M = 1024, 2048 each row of A
// is on a new page, which the hardware prefetchers do not follow); only for wide N, where many
// panels reuse it, is the A block packed tile by tile. A B panel whose rows are not contiguous is
// copied into an aligned stack buffer once per block. A short chunk (K = 25) is bound by moving C,
// not by arithmetic, and sweeps N tile by tile instead so that C streams along its rows. The last 1
// to 4 columns of N (N = 33, 65) are vectorized along M instead of padding them to 16 lanes.
#include "kernels/add_at_b.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace recur::kernels {

namespace {

// Any shape, any T: the double path and the build without AVX-512. k outermost so the inner loop
// runs along contiguous rows of B and C.
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

#if defined(__AVX512F__)
constexpr int kMaxRows = 12;          // 24 accumulators + 2 B vectors + 1 broadcast of 32 zmm
constexpr int64_t kCols = 32;         // two zmm per row of the tile
constexpr int64_t kChunkK = 128;      // B panel per chunk: 128 x 32 floats = 16 KiB, in L1 (256: same)
constexpr int64_t kBlockM = 192;      // A block per chunk: 128 x 192 floats = 96 KiB, in L2 (384: same)
constexpr int64_t kMaxEdge = 4;       // up to this many columns past a multiple of 16 go to column_edge
constexpr int64_t kPrefetchRows = 8;  // rows of A ahead
constexpr int64_t kShortChunk = 48;   // chunks up to this many rows sweep N per tile (64: same)

// C[0..R)[0..16P) += sum over k < K of A[k][0..R)^T B[k][0..16P); the last vector of each row is
// masked by last_mask (N edge) on both the B loads and the C update.
template <int R, int P>
void tile_kernel(int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                 __mmask16 last_mask) {
  // Fetch the C tile now so that the update at the end does not wait on it (short K, big C).
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p)
      _mm_prefetch(reinterpret_cast<const char*>(C + r * ldc + p * 16), _MM_HINT_T0);
  __m512 acc[R][P];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_ps();
  // A row kPrefetchRows ahead: when A is strided by pages (M = 1024, 2048) each k starts a new
  // page, which the hardware prefetchers do not follow. Both ends, as the R floats may straddle two
  // lines. The address is an integer: past the last row it is outside A (prefetches never fault).
  const auto row_bytes = static_cast<std::uintptr_t>(lda) * sizeof(float);
  const std::uintptr_t ahead = reinterpret_cast<std::uintptr_t>(A) + kPrefetchRows * row_bytes;
  for (int64_t k = 0; k < K; ++k) {
    const std::uintptr_t row = ahead + static_cast<std::uintptr_t>(k) * row_bytes;
    _mm_prefetch(reinterpret_cast<const char*>(row), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(row + (R - 1) * sizeof(float)), _MM_HINT_T0);
    __m512 b[P];
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p)
      b[p] = p == P - 1 ? _mm512_maskz_loadu_ps(last_mask, B + p * 16) : _mm512_loadu_ps(B + p * 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(A[r]);
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) acc[r][p] = _mm512_fmadd_ps(a, b[p], acc[r][p]);
    }
    A += lda;
    B += ldb;
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      float* c = C + r * ldc + p * 16;
      const __mmask16 m = p == P - 1 ? last_mask : static_cast<__mmask16>(0xFFFF);
      _mm512_mask_storeu_ps(c, m, _mm512_add_ps(acc[r][p], _mm512_maskz_loadu_ps(m, c)));
    }
}

template <int P>
void row_tile(int rows, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc, __mmask16 last_mask) {
  switch (rows) {
    case 12:
      tile_kernel<12, P>(K, A, lda, B, ldb, C, ldc, last_mask);
      break;
    case 11:
      tile_kernel<11, P>(K, A, lda, B, ldb, C, ldc, last_mask);
      break;
    case 10:
      tile_kernel<10, P>(K, A, lda, B, ldb, C, ldc, last_mask);
      break;
    case 9:
      tile_kernel<9, P>(K, A, lda, B, ldb, C, ldc, last_mask);
      break;
    case 8:
      tile_kernel<8, P>(K, A, lda, B, ldb, C, ldc, last_mask);
      break;
    case 7:
      tile_kernel<7, P>(K, A, lda, B, ldb, C, ldc, last_mask);
      break;
    case 6:
      tile_kernel<6, P>(K, A, lda, B, ldb, C, ldc, last_mask);
      break;
    case 5:
      tile_kernel<5, P>(K, A, lda, B, ldb, C, ldc, last_mask);
      break;
    case 4:
      tile_kernel<4, P>(K, A, lda, B, ldb, C, ldc, last_mask);
      break;
    case 3:
      tile_kernel<3, P>(K, A, lda, B, ldb, C, ldc, last_mask);
      break;
    case 2:
      tile_kernel<2, P>(K, A, lda, B, ldb, C, ldc, last_mask);
      break;
    default:
      tile_kernel<1, P>(K, A, lda, B, ldb, C, ldc, last_mask);
      break;
  }
}

// The last J (1 to 4) columns of N, which a row tile would pad to 16 lanes (N = 33 or 65 would pay
// for a whole extra vector pass): vectorized along M instead. C rows [0, rows) (rows <= 16 V),
// columns [0, J) += A[k][0..rows)^T B[k][0..J), with V vectors of 16 rows of A per k and one
// broadcast per column. The result is a column of C, added element by element once per call.
template <int J, int V>
void column_kernel(int64_t K, int64_t rows, const float* A, int64_t lda, const float* B, int64_t ldb,
                   float* C, int64_t ldc) {
  __mmask16 live[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) {
    const int64_t n = std::clamp<int64_t>(rows - 16 * v, 0, 16);
    live[v] = static_cast<__mmask16>((1u << n) - 1u);
  }
  __m512 acc[J][V];
#pragma GCC unroll 4
  for (int j = 0; j < J; ++j)
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[j][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m512 a[V];
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) a[v] = _mm512_maskz_loadu_ps(live[v], A + 16 * v);
#pragma GCC unroll 4
    for (int j = 0; j < J; ++j) {
      const __m512 b = _mm512_set1_ps(B[j]);
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[j][v] = _mm512_fmadd_ps(a[v], b, acc[j][v]);
    }
    A += lda;
    B += ldb;
  }
  alignas(64) float lanes[16];
#pragma GCC unroll 4
  for (int j = 0; j < J; ++j)
    for (int v = 0; v < V; ++v) {
      _mm512_store_ps(lanes, acc[j][v]);
      const int64_t n = std::clamp<int64_t>(rows - 16 * v, 0, 16);
      for (int64_t l = 0; l < n; ++l) C[(16 * v + l) * ldc + j] += lanes[l];
    }
}

template <int J>
void column_edge_strips(int64_t K, int64_t rows, const float* A, int64_t lda, const float* B, int64_t ldb,
                        float* C, int64_t ldc) {
  // One column gets 8 vectors (8 independent FMA chains, as the FMA latency needs); more columns
  // get 4 vectors each. A short last strip takes 4.
  constexpr int64_t kWide = J == 1 ? 128 : 64;
  int64_t r0 = 0;
  for (; rows - r0 > 64; r0 += kWide)
    column_kernel<J, kWide / 16>(K, std::min(kWide, rows - r0), A + r0, lda, B, ldb, C + r0 * ldc, ldc);
  if (r0 < rows) column_kernel<J, 4>(K, rows - r0, A + r0, lda, B, ldb, C + r0 * ldc, ldc);
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
// [kc, 32] panel: one tile's B rows in L1 without cache-set conflicts (a row stride of 1 or 2 KiB
// maps a strided panel onto a few L1 sets) and without loads that straddle cache lines.
void pack_b_panel(int64_t kc, const float* B, int64_t ldb, int64_t width, float* panel) {
  const auto m0 = static_cast<__mmask16>(width >= 16 ? 0xFFFF : (1u << width) - 1u);
  const auto m1 = static_cast<__mmask16>(width >= 32 ? 0xFFFF : width > 16 ? (1u << (width - 16)) - 1u : 0u);
  for (int64_t k = 0; k < kc; ++k) {
    _mm512_store_ps(panel + k * kCols, _mm512_maskz_loadu_ps(m0, B + k * ldb));
    _mm512_store_ps(panel + k * kCols + 16, _mm512_maskz_loadu_ps(m1, B + k * ldb + 16));
  }
}

// Copies rows [0, kc) x columns [starts[0], starts[tiles]) of A into tile-major [tile][kc][rows]
// contiguous floats, tile t being columns [starts[t], starts[t + 1]): a strided A (row stride 4 or
// 8 KiB for M = 1024, 2048) costs a new page and cache set per k in the kernel. k runs outermost so
// that the reads sweep each row of A in order.
void pack_a_block(int64_t kc, const float* A, int64_t lda, const int64_t* starts, int64_t tiles, float* out) {
  for (int64_t k = 0; k < kc; ++k) {
    const float* a = A + k * lda;
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t i = starts[t], rows = starts[t + 1] - i;
      const auto m = static_cast<__mmask16>((1u << rows) - 1u);
      _mm512_mask_storeu_ps(out + (i - starts[0]) * kc + k * rows, m, _mm512_maskz_loadu_ps(m, a + i));
    }
  }
}

void add_at_b_avx512(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                     int64_t ldb, float* C, int64_t ldc) {
  // M is split into equal tiles (sizes differ by at most one row) rather than full tiles plus a
  // remainder: a thin last tile has too few independent accumulators to hide the FMA latency.
  const int64_t tiles = (M + kMaxRows - 1) / kMaxRows;
  constexpr int64_t kTilesPerBlock = kBlockM / kMaxRows;
  // Packing pays only when the packed copy is reused enough: A by more than 4 panels of N (below
  // that, reading A in place with the kernel's prefetch measured as fast), B by more than one row
  // tile (and only when B's rows are not already a contiguous panel).
  const bool pack_a = N > 4 * kCols;
  // N's last 1 to 4 columns past a multiple of 16 go to column_edge; the rest to the row tiles.
  const int64_t edge = N % 16 <= kMaxEdge ? N % 16 : 0, n_main = N - edge;
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
      const auto tile = [&](int64_t t, int64_t n0, const float* b, int64_t b_stride) {
        const int64_t i = starts[t];
        const int rows = static_cast<int>(starts[t + 1] - i);
        const float* a = pack_a ? a_block + (i - starts[0]) * kc : a_chunk + i;
        const int64_t a_stride = pack_a ? rows : lda;
        const int64_t width = std::min(kCols, n_main - n0);
        const auto mask = static_cast<__mmask16>((1u << (width > 16 ? width - 16 : width)) - 1u);
        float* c = C + i * ldc + n0;
        if (width > 16) {
          row_tile<2>(rows, kc, a, a_stride, b, b_stride, c, ldc, mask);
        } else {
          row_tile<1>(rows, kc, a, a_stride, b, b_stride, c, ldc, mask);
        }
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
#endif

}  // namespace

template <Scalar T>
void add_at_b(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
              int64_t ldc) {
  if (M <= 0 || N <= 0 || K <= 0) return;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    add_at_b_avx512(M, N, K, A, lda, B, ldb, C, ldc);
    return;
  }
#endif
  add_at_b_loop(M, N, K, A, lda, B, ldb, C, ldc);
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
