// Matrix-vector product y = beta * y + A x for batch-1 inference (one token at a time) on a
// pre-packed A, and its plain reference twin.
// Glossary: M rows of A and y, N columns of A and entries of x; A row-major with row stride lda.
#pragma once

#include <cstdint>

#include "kernels/aligned_buffer.h"

namespace recur::kernels {

// A [M, N] packed for packed_gemv: panels of `panel` rows (kGemvPanel, or kGemvSmallPanel when
// M < kGemvPanel, so that a small head does not stream padding), each stored column by column,
// [ceil(M / panel), N, panel], zero-padded past M. A panel's product is then a stream
// of contiguous loads into kGemvPanel accumulators (no horizontal sums), which the hardware
// prefetcher follows: batch-1 inference is bound by how fast the weights stream in.
inline constexpr int64_t kGemvPanel = 128;
inline constexpr int64_t kGemvSmallPanel = 32;
struct PackedGemv {
  int64_t M = 0, N = 0;
  int64_t panel = kGemvPanel;  // rows per panel
  AlignedFloats panels;        // [num_panels(), N, panel], 64-byte aligned
  [[nodiscard]] int64_t num_panels() const { return (M + panel - 1) / panel; }
};
void pack_gemv(int64_t M, int64_t N, const float* A, int64_t lda, PackedGemv& out);
// Rows of panels [p0, p1) of y = beta * y + A x (beta 0 or 1), so that threads can share one
// product by panels; each y element is computed the same way however the panels are shared.
void packed_gemv(const PackedGemv& a, int64_t p0, int64_t p1, const float* x, float beta, float* y);

// y = beta * y + A x on the unpacked A [M, N] (row stride lda), plain loops in double.
void gemv_reference(int64_t M, int64_t N, const float* A, int64_t lda, const float* x, float beta, float* y);

}  // namespace recur::kernels
