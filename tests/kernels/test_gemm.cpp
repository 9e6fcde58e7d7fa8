// kernels::gemm (OpenBLAS) against gemm_reference (plain loops), in float and double, for every
// transpose combination over many shapes: 1x1x1, odd sizes, sizes around SIMD and blocking widths.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "recur/core/rng.h"

using namespace recur;
using kernels::Trans;

namespace {

struct GemmShape {
  int64_t M, N, K;
};

const std::vector<GemmShape> kShapes = {
    {1, 1, 1},  {1, 1, 7},  {1, 5, 1},    {3, 1, 1},    {2, 3, 4},    {3, 5, 7},    {7, 3, 5},
    {1, 17, 9}, {17, 1, 9}, {16, 16, 16}, {15, 17, 33}, {31, 64, 65}, {64, 65, 31}, {100, 3, 129},
};

template <typename T>
std::vector<T> random_values(Rng& rng, int64_t n) {
  std::vector<T> v(static_cast<size_t>(n));
  for (auto& x : v) x = static_cast<T>(rng.uniform(-1.0, 1.0));
  return v;
}

std::string describe(const GemmShape& s, Trans ta, Trans tb, double alpha, double beta) {
  return "M=" + std::to_string(s.M) + " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K) +
         " trans_a=" + (ta == Trans::kYes ? "yes" : "no") + " trans_b=" + (tb == Trans::kYes ? "yes" : "no") +
         " alpha=" + std::to_string(alpha) + " beta=" + std::to_string(beta);
}

// C = alpha op(A) op(B) + beta C from both kernels; entries of A, B and C are in [-1, 1], so each
// output is a sum of K + 1 terms of magnitude at most max(|alpha|, |beta|) and the error bound
// is 2 (K + 1) eps of that.
template <typename T>
void expect_gemm_matches_reference(const GemmShape& s, Trans ta, Trans tb, T alpha, T beta, uint64_t seed,
                                   int threads = 1) {
  Rng rng(seed);
  const int64_t lda = ta == Trans::kYes ? s.M : s.K;  // A stored [M, K] or [K, M]
  const int64_t ldb = tb == Trans::kYes ? s.K : s.N;  // B stored [K, N] or [N, K]
  const auto a = random_values<T>(rng, s.M * s.K);
  const auto b = random_values<T>(rng, s.K * s.N);
  auto c_fast = random_values<T>(rng, s.M * s.N);
  auto c_ref = c_fast;
  kernels::gemm<T>(threads, ta, tb, s.M, s.N, s.K, alpha, a.data(), lda, b.data(), ldb, beta, c_fast.data(),
                   s.N);
  kernels::gemm_reference<T>(ta, tb, s.M, s.N, s.K, alpha, a.data(), lda, b.data(), ldb, beta, c_ref.data(),
                             s.N);
  const double magnitude =
      std::max(std::abs(static_cast<double>(alpha)), std::abs(static_cast<double>(beta)));
  const double bound = 2.0 * static_cast<double>(s.K + 1) * std::numeric_limits<T>::epsilon() * magnitude;
  for (size_t i = 0; i < c_fast.size(); ++i) {
    const double diff = std::abs(static_cast<double>(c_fast[i]) - static_cast<double>(c_ref[i]));
    if (!(diff <= bound)) {
      ADD_FAILURE() << describe(s, ta, tb, alpha, beta) << ": first difference at index " << i << " (row "
                    << static_cast<int64_t>(i) / s.N << ", column " << static_cast<int64_t>(i) % s.N
                    << "): gemm " << c_fast[i] << ", reference " << c_ref[i] << ", |diff| " << diff << " > "
                    << bound;
      return;
    }
  }
}

template <typename T>
void check_all_shapes() {
  uint64_t seed = 1;
  for (const auto& s : kShapes)
    for (Trans ta : {Trans::kNo, Trans::kYes})
      for (Trans tb : {Trans::kNo, Trans::kYes}) {
        expect_gemm_matches_reference<T>(s, ta, tb, T(1), T(0), seed++);
        expect_gemm_matches_reference<T>(s, ta, tb, T(0.5), T(1), seed++);  // accumulate, as backward does
        expect_gemm_matches_reference<T>(s, ta, tb, T(-2), T(0.25), seed++);
      }
}

}  // namespace

TEST(Gemm, MatchesReferenceFloat) { check_all_shapes<float>(); }

// beta 0 overwrites C whatever it held (NaN in an uninitialized node), one row or many.
TEST(Gemm, BetaZeroIgnoresNaNInC) {
  for (int64_t M : {1, 3}) {
    const int64_t N = 5, K = 4;
    std::vector<float> a(static_cast<size_t>(M * K), 1.0f), b(static_cast<size_t>(K * N), 0.5f);
    std::vector<float> c(static_cast<size_t>(M * N), std::numeric_limits<float>::quiet_NaN());
    for (Trans tb : {Trans::kNo, Trans::kYes}) {
      kernels::gemm<float>(1, Trans::kNo, tb, M, N, K, 1.0f, a.data(), K, b.data(), tb == Trans::kNo ? N : K,
                           0.0f, c.data(), N);
      for (float v : c) EXPECT_EQ(v, 2.0f) << "M=" << M;
    }
  }
}

TEST(Gemm, LargeProductsSplitOverThreadsMatchTheReference) {
  // Above the split threshold gemm runs blocks of C's rows (tall C) or columns (wide C) on
  // several threads; uneven extents leave a short last block.
  uint64_t seed = 1000;
  for (int threads : {2, 3}) {
    // {1, 40000, 256}: one row (a batch-1 output head), a matrix-vector product split by columns.
    for (const GemmShape& s : {GemmShape{301, 77, 500}, GemmShape{77, 301, 500}, GemmShape{1000, 40, 260},
                               GemmShape{1, 40000, 256}})
      for (Trans ta : {Trans::kNo, Trans::kYes})
        for (Trans tb : {Trans::kNo, Trans::kYes}) {
          expect_gemm_matches_reference<float>(s, ta, tb, 1.0f, 0.0f, seed++, threads);
          expect_gemm_matches_reference<float>(s, ta, tb, 0.5f, 1.0f, seed++, threads);
        }
  }
}

TEST(Gemm, MatchesReferenceDouble) { check_all_shapes<double>(); }

TEST(Gemm, HandComputed2x2) {
  // [1 2; 3 4] @ [5 6; 7 8] = [19 22; 43 50]
  const std::vector<double> a = {1, 2, 3, 4}, b = {5, 6, 7, 8};
  for (bool reference : {false, true}) {
    std::vector<double> c(4, 0.0);
    if (reference) {
      kernels::gemm_reference<double>(Trans::kNo, Trans::kNo, 2, 2, 2, 1.0, a.data(), 2, b.data(), 2, 0.0,
                                      c.data(), 2);
    } else {
      kernels::gemm<double>(1, Trans::kNo, Trans::kNo, 2, 2, 2, 1.0, a.data(), 2, b.data(), 2, 0.0, c.data(),
                            2);
    }
    EXPECT_EQ(c, (std::vector<double>{19, 22, 43, 50})) << (reference ? "reference" : "gemm");
  }
}

TEST(Gemm, BetaZeroOverwritesNaN) {
  // BLAS semantics: with beta == 0, C is not read, so garbage (NaN) in it does not leak through.
  const std::vector<float> a = {1, 2}, b = {3, 4};
  for (bool reference : {false, true}) {
    std::vector<float> c = {std::numeric_limits<float>::quiet_NaN()};
    if (reference) {
      kernels::gemm_reference<float>(Trans::kNo, Trans::kNo, 1, 1, 2, 1.0f, a.data(), 2, b.data(), 1, 0.0f,
                                     c.data(), 1);
    } else {
      kernels::gemm<float>(1, Trans::kNo, Trans::kNo, 1, 1, 2, 1.0f, a.data(), 2, b.data(), 1, 0.0f, c.data(),
                           1);
    }
    EXPECT_EQ(c[0], 11.0f) << (reference ? "reference" : "gemm");
  }
}
