// GEMM against a matrix packed once and reused many times: the recurrent product of every time
// step (h_{t-1} W_hh^T forward, dgates W_hh backward) multiplies the same W_hh, so it is packed
// once per sequence instead of once per step (which OpenBLAS's sgemm does on every call), and the
// small-M product runs in a register-blocked kernel compiled for every SIMD target (AVX-512, AVX2,
// SSE4, NEON, scalar; recur/core/simd.h picks one at run time). Plain reference twin below.
//
// Glossary: C [M, N] = beta C + A [M, K] op(B); op(B) [K, N] is what gets packed; M rows of A and C.
// float packs op(B) into panels of kPackedPanel = 16 columns, [ceil(N/16), K, 16], zero-padded past
// N, the same layout for every target (16 is a multiple of every target's lane count), so a packed
// matrix stays valid when the target changes; double keeps a view and calls gemm (double is for
// gradient checks, where speed does not matter).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/aligned_buffer.h"
#include "kernels/gemm.h"
#include "recur/core/tensor.h"

namespace recur::kernels {

// Columns per packed panel (float).
inline constexpr int64_t kPackedPanel = 16;

template <Scalar T>
struct PackedMatrix {
  int64_t K = 0, N = 0;       // op(B) is [K, N]
  AlignedFloats panels;       // float: [ceil(N/16), K, 16], 64-byte aligned; double: unused
  const T* source = nullptr;  // the unpacked B (double path and the reference)
  int64_t ld = 0;
  Trans trans = Trans::kNo;
};

// Packs op(B) [K, N], B with row stride ldb (B is [K, N] for kNo, [N, K] for kYes). Reuses
// out.panels' capacity; B must stay alive and unchanged while `out` is used.
template <Scalar T>
void pack_matrix(Trans trans, int64_t K, int64_t N, const T* B, int64_t ldb, PackedMatrix<T>& out);

// C [M, N] (row stride ldc) = beta C + A [M, K] (row stride lda) op(B). beta is 0 or 1 (0
// overwrites C, so NaNs there do not leak through).
template <Scalar T>
void packed_gemm(int64_t M, const T* A, int64_t lda, const PackedMatrix<T>& b, T beta, T* C, int64_t ldc);

// Same contract from b.source, plain loops in double.
template <Scalar T>
void packed_gemm_reference(int64_t M, const T* A, int64_t lda, const PackedMatrix<T>& b, T beta, T* C,
                           int64_t ldc);

// Columns [n0, n1) of the same product: C[:, n0..n1) = beta C[:, n0..n1) + A op(B)[:, n0..n1), C
// still pointing at column 0; the other columns are not touched. n0 is a multiple of kPackedPanel
// (a panel boundary). Threads that each take their own column range of one product each stream
// only their part of the packed matrix (the layer scans' column split, nn/sequence_scan.h). In
// float every element gets the same sum in the same order as from packed_gemm (double goes through
// OpenBLAS, whose order may depend on the width).
template <Scalar T>
void packed_gemm_columns(int64_t M, const T* A, int64_t lda, const PackedMatrix<T>& b, int64_t n0, int64_t n1,
                         T beta, T* C, int64_t ldc);

// Same contract from b.source, plain loops in double.
template <Scalar T>
void packed_gemm_columns_reference(int64_t M, const T* A, int64_t lda, const PackedMatrix<T>& b, int64_t n0,
                                   int64_t n1, T beta, T* C, int64_t ldc);

// The AVX2 kernel's register tile (the other targets have one each). 3 rows x 32 columns reads half
// its panel vectors as FMA memory operands, 11 loads per 12 FMAs; 6 x 16 reads 8. Which is faster
// depends on the core's load ports: at 50 x 512 x 2048, 6 x 16 took 1053 us against 1230-1348 on an
// Intel Xeon (two loads per cycle), 3 x 32 was 15-20% faster on AMD Zen 4 (three). kAuto (the
// default) picks 6 x 16 on Intel CPUs, 3 x 32 elsewhere. Process-wide; for tests and measurements,
// not to be changed while kernels run.
enum class Avx2Tile { kAuto, k3x32, k6x16 };
void set_avx2_tile(Avx2Tile tile);
// The tile AVX2 runs now (never kAuto), and its name ("3x32" or "6x16"), which benchmarks print.
[[nodiscard]] Avx2Tile avx2_tile();
[[nodiscard]] const char* avx2_tile_name();

}  // namespace recur::kernels
