// The packed-B GEMM against its plain reference twin over many shapes: M = 1 and M on and off
// every target's row tile (3 to 6 rows, split into equal tiles), N not a multiple of the 16-wide
// panel (odd and even panel counts) and ending in every part of a tile (a part vector, a whole
// vector, the second half of a panel, 1 to 4 panels of a 64-wide tile), K = 1 and K past
// pack_matrix's 64-row blocks, both op(B) layouts, strided A and C, beta 0 and 1; float on every
// SIMD target, and double. A matrix packed once serves every target.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/packed_gemm.h"
#include "recur/core/rng.h"
#include "simd_targets.h"

namespace recur::kernels {

namespace {

template <typename T>
void check_shapes() {
  Rng rng(5);
  for (int64_t M : {1, 3, 5, 6, 7, 8, 9, 13, 32, 50})
    for (int64_t N : {1, 5, 13, 16, 17, 24, 33, 40, 48, 70, 100})
      for (int64_t K : {1, 7, 40, 130})
        for (Trans trans : {Trans::kNo, Trans::kYes})
          for (T beta : {T(0), T(1)}) {
            const int64_t ldb = (trans == Trans::kNo ? N : K) + 2, lda = K + 1, ldc = N + 3;
            std::vector<T> A(static_cast<size_t>(M * lda)),
                B(static_cast<size_t>((trans == Trans::kNo ? K : N) * ldb)), C(static_cast<size_t>(M * ldc));
            for (auto& v : A) v = static_cast<T>(rng.uniform(-1, 1));
            for (auto& v : B) v = static_cast<T>(rng.uniform(-1, 1));
            for (auto& v : C)
              v = beta == T(0) ? std::numeric_limits<T>::quiet_NaN() : static_cast<T>(rng.uniform(-1, 1));
            std::vector<T> want = C;
            PackedMatrix<T> packed;
            pack_matrix(trans, K, N, B.data(), ldb, packed);
            packed_gemm(M, A.data(), lda, packed, beta, C.data(), ldc);
            packed_gemm_reference(M, A.data(), lda, packed, beta, want.data(), ldc);
            const std::string config = "M=" + std::to_string(M) + " N=" + std::to_string(N) +
                                       " K=" + std::to_string(K) + (trans == Trans::kYes ? " B^T" : " B") +
                                       " beta=" + std::to_string(beta);
            for (int64_t i = 0; i < M; ++i)
              for (int64_t j = 0; j < N; ++j) {
                const size_t at = static_cast<size_t>(i * ldc + j);
                ASSERT_NEAR(C[at], want[at], 1e-5 * (1 + std::sqrt(static_cast<double>(K))))
                    << config << " at " << i << "," << j;
              }
            // Padding columns of C past N are untouched.
            for (int64_t i = 0; i < M; ++i)
              for (int64_t j = N; j < ldc; ++j) {
                const size_t at = static_cast<size_t>(i * ldc + j);
                if (beta == T(0)) {
                  ASSERT_TRUE(std::isnan(C[at])) << config << " wrote past N at " << i << "," << j;
                } else {
                  ASSERT_EQ(C[at], want[at]) << config << " wrote past N at " << i << "," << j;
                }
              }
          }
}

// packed_gemm_columns over column ranges [n0, n1) of one packed matrix, n0 on every panel boundary
// and n1 at every column after it: the range matches the reference twin and, for float, equals
// the same columns of the whole product bit for bit (threads that split a product by columns get
// what one thread gets; double goes through OpenBLAS, whose order of sums may depend on N); the
// columns outside the range are untouched.
template <typename T>
void check_column_ranges() {
  Rng rng(7);
  for (int64_t M : {1, 7, 25})
    for (int64_t N : {5, 16, 40, 100, 150})
      for (Trans trans : {Trans::kNo, Trans::kYes})
        for (T beta : {T(0), T(1)}) {
          const int64_t K = 19, ldb = (trans == Trans::kNo ? N : K) + 1, lda = K + 2, ldc = N + 1;
          std::vector<T> A(static_cast<size_t>(M * lda)),
              B(static_cast<size_t>((trans == Trans::kNo ? K : N) * ldb)), C0(static_cast<size_t>(M * ldc));
          for (auto& v : A) v = static_cast<T>(rng.uniform(-1, 1));
          for (auto& v : B) v = static_cast<T>(rng.uniform(-1, 1));
          for (auto& v : C0) v = static_cast<T>(rng.uniform(-1, 1));
          PackedMatrix<T> packed;
          pack_matrix(trans, K, N, B.data(), ldb, packed);
          std::vector<T> whole = C0;
          packed_gemm(M, A.data(), lda, packed, beta, whole.data(), ldc);
          for (int64_t n0 = 0; n0 <= N; n0 += kPackedPanel)
            for (int64_t n1 = n0; n1 <= N; ++n1) {
              std::vector<T> C = C0, want = C0;
              packed_gemm_columns(M, A.data(), lda, packed, n0, n1, beta, C.data(), ldc);
              packed_gemm_columns_reference(M, A.data(), lda, packed, n0, n1, beta, want.data(), ldc);
              const std::string config = "M=" + std::to_string(M) + " N=" + std::to_string(N) + " columns [" +
                                         std::to_string(n0) + ", " + std::to_string(n1) + ")" +
                                         (trans == Trans::kYes ? " B^T" : " B") +
                                         " beta=" + std::to_string(beta);
              for (int64_t i = 0; i < M; ++i)
                for (int64_t j = 0; j < ldc; ++j) {
                  const size_t at = static_cast<size_t>(i * ldc + j);
                  if (j >= n0 && j < n1) {
                    ASSERT_NEAR(C[at], want[at], 1e-5 * (1 + std::sqrt(static_cast<double>(K))))
                        << config << " at " << i << "," << j;
                    if constexpr (std::is_same_v<T, float>) {
                      ASSERT_EQ(C[at], whole[at])
                          << config << " differs from the whole product at " << i << "," << j;
                    }
                  } else {
                    ASSERT_EQ(C[at], C0[at]) << config << " wrote outside the range at " << i << "," << j;
                  }
                }
            }
        }
}

}  // namespace

class PackedGemmTest : public SimdTargetTest {};
RECUR_INSTANTIATE_SIMD_TARGETS(PackedGemmTest);

TEST_P(PackedGemmTest, FloatMatchesReference) { check_shapes<float>(); }

// The panel layout is the same for every target: a matrix packed under one target (here the best)
// gives every other target's kernel the same product.
TEST_P(PackedGemmTest, PackedUnderBestTargetServesThisOne) {
  Rng rng(6);
  const int64_t M = 11, K = 37, N = 53, ld = K + 1;
  std::vector<float> A(static_cast<size_t>(M * K)), B(static_cast<size_t>(N * ld)),
      C(static_cast<size_t>(M * N)), want(static_cast<size_t>(M * N));
  for (auto& v : A) v = static_cast<float>(rng.uniform(-1, 1));
  for (auto& v : B) v = static_cast<float>(rng.uniform(-1, 1));
  PackedMatrix<float> packed;
  set_simd_target("best");
  pack_matrix(Trans::kYes, K, N, B.data(), ld, packed);
  set_simd_target(GetParam());
  packed_gemm(M, A.data(), K, packed, 0.0f, C.data(), N);
  packed_gemm_reference(M, A.data(), K, packed, 0.0f, want.data(), N);
  for (size_t at = 0; at < C.size(); ++at)
    ASSERT_NEAR(C[at], want[at], 1e-5 * (1 + std::sqrt(static_cast<double>(K)))) << at;
}

TEST_P(PackedGemmTest, FloatColumnRangesMatchReference) { check_column_ranges<float>(); }

// AVX2 has two tiles (set_avx2_tile): whichever this CPU did not pick runs the same checks here (the
// other targets ignore the choice, so for them this repeats the tests above).
TEST_P(PackedGemmTest, BothAvx2TilesMatchReference) {
  for (Avx2Tile tile : {Avx2Tile::k3x32, Avx2Tile::k6x16}) {
    set_avx2_tile(tile);
    SCOPED_TRACE(avx2_tile_name());
    check_shapes<float>();
    check_column_ranges<float>();
  }
  set_avx2_tile(Avx2Tile::kAuto);
}

// A matrix of 4.5 MiB, past half of any L2 we know of, so the kernel prefetches the next column
// group while it computes one: the product, and two column halves, still match the reference and
// the whole product.
TEST_P(PackedGemmTest, LargeMatrixWithPrefetchMatchesReference) {
  Rng rng(8);
  const int64_t M = 7, K = 512, N = 2304;
  std::vector<float> A(static_cast<size_t>(M * K)), B(static_cast<size_t>(N * K)),
      C(static_cast<size_t>(M * N)), halves(static_cast<size_t>(M * N)), want(static_cast<size_t>(M * N));
  for (auto& v : A) v = static_cast<float>(rng.uniform(-1, 1));
  for (auto& v : B) v = static_cast<float>(rng.uniform(-1, 1));
  PackedMatrix<float> packed;
  pack_matrix(Trans::kYes, K, N, B.data(), K, packed);
  for (Avx2Tile tile : {Avx2Tile::k3x32, Avx2Tile::k6x16}) {
    set_avx2_tile(tile);
    packed_gemm(M, A.data(), K, packed, 0.0f, C.data(), N);
    packed_gemm_columns(M, A.data(), K, packed, 0, 1024, 0.0f, halves.data(), N);
    packed_gemm_columns(M, A.data(), K, packed, 1024, N, 0.0f, halves.data(), N);
    packed_gemm_reference(M, A.data(), K, packed, 0.0f, want.data(), N);
    for (size_t at = 0; at < C.size(); ++at) {
      ASSERT_NEAR(C[at], want[at], 1e-5 * (1 + std::sqrt(static_cast<double>(K))))
          << avx2_tile_name() << " " << at;
      ASSERT_EQ(halves[at], C[at]) << avx2_tile_name() << " " << at;
    }
  }
  set_avx2_tile(Avx2Tile::kAuto);
}

TEST(PackedGemm, DoubleMatchesReference) { check_shapes<double>(); }

TEST(PackedGemm, DoubleColumnRangesMatchReference) { check_column_ranges<double>(); }

}  // namespace recur::kernels
