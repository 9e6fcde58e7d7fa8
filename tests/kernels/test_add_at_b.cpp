// The weight-gradient kernel C += A^T B against its plain reference twin: M and N on and off every
// target's register tile (3 to 12 rows; 2 to 32 columns), N 1 to 4 columns past a multiple of
// the vector (the column edge, vectorized along M), K = 1 up to several K chunks, M past one M
// block, N wide enough that A is packed, tight and padded strides (inputs allocated to their last
// element, so over-reads show under ASan), columns past N untouched, K = 0 a no-op, accumulation
// into C, agreement with OpenBLAS gemm, and concurrent calls on disjoint C. The float cases run on
// every SIMD target.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/add_at_b.h"
#include "kernels/gemm.h"
#include "recur/core/rng.h"
#include "simd_targets.h"

namespace recur::kernels {

namespace {

// One problem, each buffer exactly as long as its strides require (no slack after the last row).
template <typename T>
struct Problem {
  int64_t M, N, K, lda, ldb, ldc;
  std::vector<T> A, B, C;

  Problem(int64_t m, int64_t n, int64_t k, int64_t pad, Rng& rng)
      : M(m), N(n), K(k), lda(m + pad), ldb(n + 2 * pad), ldc(n + 3 * pad) {
    A.resize(static_cast<size_t>(K > 0 ? (K - 1) * lda + M : 0));
    B.resize(static_cast<size_t>(K > 0 ? (K - 1) * ldb + N : 0));
    C.resize(static_cast<size_t>((M - 1) * ldc + N));
    for (auto& v : A) v = static_cast<T>(rng.uniform(-1, 1));
    for (auto& v : B) v = static_cast<T>(rng.uniform(-1, 1));
    for (auto& v : C) v = static_cast<T>(rng.uniform(-1, 1));
    // -0.0 between rows: a stray write of "C + 0" (a masked-off lane, a row past a tile) turns it
    // into +0.0, which the bitwise padding check sees; any other value would survive unchanged.
    for (int64_t i = 0; i + 1 < M; ++i)
      for (int64_t j = N; j < ldc; ++j) C[static_cast<size_t>(i * ldc + j)] = T(-0.0);
  }

  std::string name() const {
    return "M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
           " lda=" + std::to_string(lda) + " ldb=" + std::to_string(ldb) + " ldc=" + std::to_string(ldc);
  }

  // Scale of element (i, j) for a relative tolerance: |C0| + sum over k of |a b|, in double.
  double scale(const std::vector<T>& c0, int64_t i, int64_t j) const {
    double s = std::abs(static_cast<double>(c0[static_cast<size_t>(i * ldc + j)]));
    for (int64_t k = 0; k < K; ++k)
      s += std::abs(static_cast<double>(A[static_cast<size_t>(k * lda + i)]) *
                    static_cast<double>(B[static_cast<size_t>(k * ldb + j)]));
    return s;
  }
};

template <typename T>
constexpr double kRelTol = std::is_same_v<T, float> ? 1e-5 : 1e-12;

// Runs add_at_b on p.C and the reference on a copy; compares within tolerance and checks that the
// padding between rows of C stays bit for bit as it was.
template <typename T>
void check(Problem<T>& p) {
  const std::vector<T> c0 = p.C;
  std::vector<T> want = p.C;
  add_at_b_reference(p.M, p.N, p.K, p.A.data(), p.lda, p.B.data(), p.ldb, want.data(), p.ldc);
  add_at_b(p.M, p.N, p.K, p.A.data(), p.lda, p.B.data(), p.ldb, p.C.data(), p.ldc);
  for (int64_t i = 0; i < p.M; ++i) {
    for (int64_t j = 0; j < p.N; ++j) {
      const size_t at = static_cast<size_t>(i * p.ldc + j);
      const double diff = std::abs(static_cast<double>(p.C[at]) - static_cast<double>(want[at]));
      ASSERT_LE(diff, kRelTol<T> * p.scale(c0, i, j)) << p.name() << " at " << i << "," << j;
    }
    for (int64_t j = p.N; j < p.ldc && i + 1 < p.M; ++j) {
      const size_t at = static_cast<size_t>(i * p.ldc + j);
      ASSERT_EQ(std::memcmp(&p.C[at], &c0[at], sizeof(T)), 0)
          << p.name() << " wrote past N at " << i << "," << j;
    }
  }
}

const std::vector<int64_t> kEdges = {1, 7, 8, 9, 15, 16, 17, 28, 31, 32, 33, 65, 96};
// N also around the column edge (1 to 4 columns past a multiple of 16 or 8, vectorized along M;
// 5 past one, a part vector).
const std::vector<int64_t> kColumnEdges = {2, 3, 4, 5, 12, 13, 18, 20, 21, 36, 68};

template <typename T>
void check_grid() {
  Rng rng(11);
  std::vector<int64_t> widths = kEdges;
  widths.insert(widths.end(), kColumnEdges.begin(), kColumnEdges.end());
  for (int64_t pad : {0, 3})
    for (int64_t M : kEdges)
      for (int64_t N : widths)
        for (int64_t K : {1, 9, 33, 96}) {
          Problem<T> p(M, N, K, pad, rng);
          check(p);
          if (::testing::Test::HasFatalFailure()) return;
        }
  // Every K edge on a few M x N, tight and padded.
  for (int64_t pad : {0, 5})
    for (int64_t K : kEdges)
      for (auto [M, N] : {std::pair<int64_t, int64_t>{28, 65}, {96, 32}, {9, 17}}) {
        Problem<T> p(M, N, K, pad, rng);
        check(p);
        if (::testing::Test::HasFatalFailure()) return;
      }
}

}  // namespace

class AddAtBTest : public SimdTargetTest {};
RECUR_INSTANTIATE_SIMD_TARGETS(AddAtBTest);

TEST_P(AddAtBTest, FloatMatchesReferenceOnEdgeShapes) { check_grid<float>(); }
TEST(AddAtB, DoubleMatchesReferenceOnEdgeShapes) { check_grid<double>(); }

// K across several chunks (with a partial last one, and short chunks that sweep N per tile), M
// across several M blocks (with and without the column edge), N wide enough that A is packed.
TEST_P(AddAtBTest, FloatLongKAndTallM) {
  Rng rng(12);
  for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{96, 32, 4099},
                         {65, 28, 1000},
                         {130, 65, 600},
                         {400, 40, 300},
                         {1024, 17, 20},
                         {200, 131, 130},
                         {390, 164, 257},
                         {1000, 3, 140},
                         {500, 196, 30}}) {
    Problem<float> p(M, N, K, 1, rng);
    check(p);
    if (HasFatalFailure()) return;
  }
}

TEST_P(AddAtBTest, ZeroKLeavesCUnchanged) {
  Rng rng(13);
  Problem<float> p(9, 33, 0, 2, rng);
  p.C[0] = -0.0f;
  p.C[1] = std::nanf("");
  const std::vector<float> c0 = p.C;
  add_at_b(p.M, p.N, p.K, p.A.data(), p.lda, p.B.data(), p.ldb, p.C.data(), p.ldc);
  EXPECT_EQ(std::memcmp(p.C.data(), c0.data(), c0.size() * sizeof(float)), 0);
  add_at_b_reference(p.M, p.N, p.K, p.A.data(), p.lda, p.B.data(), p.ldb, p.C.data(), p.ldc);
  EXPECT_EQ(std::memcmp(p.C.data(), c0.data(), c0.size() * sizeof(float)), 0);
}

// Two calls add twice: C is accumulated into, never overwritten.
TEST_P(AddAtBTest, Accumulates) {
  Rng rng(14);
  Problem<float> p(28, 65, 40, 0, rng);
  std::vector<float> want = p.C;
  for (int pass = 0; pass < 2; ++pass) {
    add_at_b(p.M, p.N, p.K, p.A.data(), p.lda, p.B.data(), p.ldb, p.C.data(), p.ldc);
    add_at_b_reference(p.M, p.N, p.K, p.A.data(), p.lda, p.B.data(), p.ldb, want.data(), p.ldc);
  }
  for (size_t at = 0; at < want.size(); ++at) ASSERT_NEAR(p.C[at], want[at], 1e-4) << at;
}

// The same product through OpenBLAS: gemm(A^T, B) with beta = 1.
TEST_P(AddAtBTest, MatchesGemm) {
  Rng rng(15);
  using Shape = std::tuple<int64_t, int64_t, int64_t, int64_t>;  // M, N, K, padding of the strides
  for (auto [M, N, K, pad] : {Shape{96, 32, 512, 0}, Shape{28, 65, 100, 3}, Shape{2048, 512, 25, 0}}) {
    Problem<float> p(M, N, K, pad, rng);
    std::vector<float> want = p.C;
    gemm<float>(1, Trans::kYes, Trans::kNo, M, N, K, 1.0f, p.A.data(), p.lda, p.B.data(), p.ldb, 1.0f,
                want.data(), p.ldc);
    add_at_b(M, N, K, p.A.data(), p.lda, p.B.data(), p.ldb, p.C.data(), p.ldc);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        const size_t at = static_cast<size_t>(i * p.ldc + j);
        ASSERT_NEAR(p.C[at], want[at], 1e-5 * (1 + K)) << p.name() << " at " << i << "," << j;
      }
  }
}

// Threads writing disjoint column blocks of one C, the way recur's workers split a weight gradient,
// give the single-threaded result bit for bit: the kernel holds no shared state.
TEST_P(AddAtBTest, ConcurrentCallsOnDisjointC) {
  Rng rng(16);
  Problem<float> p(96, 4 * 33, 300, 0, rng);
  std::vector<float> serial = p.C;
  add_at_b(p.M, p.N, p.K, p.A.data(), p.lda, p.B.data(), p.ldb, serial.data(), p.ldc);
  std::vector<std::thread> workers;
  for (int64_t w = 0; w < 4; ++w)
    workers.emplace_back([&p, w] {
      const int64_t n0 = w * 33;
      add_at_b<float>(p.M, 33, p.K, p.A.data(), p.lda, p.B.data() + n0, p.ldb, p.C.data() + n0, p.ldc);
    });
  for (auto& t : workers) t.join();
  // Column blocks of 33 start off the tile grid, so tiles (and which columns the column edge takes)
  // differ, but each element's sum runs over k in the same order: equal bit for bit.
  EXPECT_EQ(std::memcmp(p.C.data(), serial.data(), serial.size() * sizeof(float)), 0);
}

}  // namespace recur::kernels
