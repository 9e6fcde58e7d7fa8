// The packed batch-1 GEMV against its plain reference twin over many shapes (M, N = 1, M not a
// multiple of the panel height, strided rows, beta 0 and 1), and split over panels, on every SIMD
// target.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/gemv.h"
#include "recur/core/rng.h"
#include "simd_targets.h"

namespace recur::kernels {

class PackedGemvTest : public SimdTargetTest {};
RECUR_INSTANTIATE_SIMD_TARGETS(PackedGemvTest);

TEST_P(PackedGemvTest, MatchesReferenceAndPanelSplits) {
  Rng rng(12);
  for (int64_t M : {1, 28, 33, 127, 128, 129, 300})
    for (int64_t N : {1, 16, 33})
      for (float beta : {0.0f, 1.0f}) {
        const int64_t lda = N + 1;
        std::vector<float> A(static_cast<size_t>(M * lda)), x(static_cast<size_t>(N)),
            y(static_cast<size_t>(M) + 1);
        for (auto& v : A) v = static_cast<float>(rng.uniform(-1, 1));
        for (auto& v : x) v = static_cast<float>(rng.uniform(-1, 1));
        for (auto& v : y)
          v = beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(rng.uniform(-1, 1));
        std::vector<float> want = y, split = y;
        PackedGemv packed;
        pack_gemv(M, N, A.data(), lda, packed);
        packed_gemv(packed, 0, packed.num_panels(), x.data(), beta, y.data());
        gemv_reference(M, N, A.data(), lda, x.data(), beta, want.data());
        // Two calls over halves of the panels give the same bits as one call over all.
        const int64_t half = packed.num_panels() / 2;
        packed_gemv(packed, 0, half, x.data(), beta, split.data());
        packed_gemv(packed, half, packed.num_panels(), x.data(), beta, split.data());
        for (int64_t i = 0; i < M; ++i) {
          const auto at = static_cast<size_t>(i);
          ASSERT_NEAR(y[at], want[at], 1e-5 * (1 + std::sqrt(static_cast<double>(N))))
              << "M=" << M << " N=" << N << " beta=" << beta << " row " << i;
          ASSERT_EQ(y[at], split[at]) << "M=" << M << " N=" << N << " row " << i;
        }
        // y past M is untouched.
        const auto past = static_cast<size_t>(M);
        if (beta == 0.0f) {
          ASSERT_TRUE(std::isnan(y[past]));
        } else {
          ASSERT_EQ(y[past], want[past]);
        }
      }
}

}  // namespace recur::kernels
