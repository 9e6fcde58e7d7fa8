// clip_grad_norm and grad_norm against torch.nn.utils.clip_grad_norm_'s rule, worked by hand:
// total = sqrt(sum g^2), coef = max_norm / (total + 1e-6), scale when coef < 1, return total.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "recur/core/error.h"
#include "recur/core/parameters.h"
#include "recur/optim/grad_clip.h"

using namespace recur;

template <typename T>
class GradClipTest : public ::testing::Test {};
using ScalarTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GradClipTest, ScalarTypes);

TYPED_TEST(GradClipTest, NormOfThreeFourIsFive) {
  using T = TypeParam;
  std::vector<T> g = {3, 4};
  EXPECT_EQ(grad_norm(std::span<T>(g)), T(5));
  std::vector<T> many(1001, T(0.5));  // odd length: exercises the tail after blocks of four
  EXPECT_NEAR(grad_norm(std::span<const T>(many)), 0.5 * std::sqrt(1001.0), 1e-6);
  EXPECT_EQ(grad_norm(std::span<const T>()), T(0));
}

TYPED_TEST(GradClipTest, BelowTheLimitLeavesGradientsAlone) {
  using T = TypeParam;
  std::vector<T> g = {3, 4};
  EXPECT_EQ(clip_grad_norm(std::span<T>(g), 10.0), T(5));
  EXPECT_EQ(g, (std::vector<T>{3, 4}));
}

TYPED_TEST(GradClipTest, AboveTheLimitScalesByMaxOverNormPlusEpsAndReturnsPreClipNorm) {
  using T = TypeParam;
  std::vector<T> g = {3, -4, 0};
  const T norm = clip_grad_norm(std::span<T>(g), 1.0);
  EXPECT_EQ(norm, T(5));  // before clipping
  const double coef = 1.0 / (5.0 + 1e-6);
  EXPECT_EQ(g[0], static_cast<T>(3 * static_cast<T>(coef)));
  EXPECT_EQ(g[1], static_cast<T>(-4 * static_cast<T>(coef)));
  EXPECT_EQ(g[2], T(0));
  // The epsilon leaves the clipped norm just under max_norm.
  const double after = grad_norm(std::span<const T>(g));
  EXPECT_LT(after, 1.0 + (std::is_same_v<T, float> ? 1e-7 : 0.0));
  EXPECT_NEAR(after, 5.0 / (5.0 + 1e-6), 1e-6);
}

TYPED_TEST(GradClipTest, EpsilonRuleDecidesAtTheBoundary) {
  using T = TypeParam;
  // norm == max_norm: coef = 5 / (5 + 1e-6) < 1, so PyTorch still scales (slightly).
  std::vector<T> g = {3, 4};
  (void)clip_grad_norm(std::span<T>(g), 5.0);
  EXPECT_NEAR(g[1], 4 * 5.0 / (5.0 + 1e-6), 1e-6);
  if constexpr (std::is_same_v<T, double>) {
    EXPECT_LT(g[1], 4.0);
  }
  // max_norm = norm + 1e-6: coef = 1, not below 1, so nothing changes (bit for bit).
  std::vector<T> h = {3, 4};
  (void)clip_grad_norm(std::span<T>(h), 5.0 + 1e-6);
  EXPECT_EQ(h, (std::vector<T>{3, 4}));
}

TYPED_TEST(GradClipTest, NonFiniteNormIsReturnedWithoutScaling) {
  using T = TypeParam;
  std::vector<T> g = {1, std::numeric_limits<T>::infinity(), 2};
  EXPECT_TRUE(std::isinf(clip_grad_norm(std::span<T>(g), 1.0)));
  EXPECT_EQ(g[0], T(1));
  EXPECT_EQ(g[2], T(2));
  std::vector<T> h = {1, std::numeric_limits<T>::quiet_NaN()};
  EXPECT_TRUE(std::isnan(clip_grad_norm(std::span<T>(h), 1.0)));
  EXPECT_EQ(h[0], T(1));
}

TYPED_TEST(GradClipTest, BadMaxNormThrowsValueErrorWithTheValue) {
  using T = TypeParam;
  std::vector<T> g = {1};
  for (double bad : {0.0, -1.5, std::numeric_limits<double>::infinity(), std::nan("")}) {
    try {
      (void)clip_grad_norm(std::span<T>(g), bad);
      ADD_FAILURE() << "no error for max_norm " << bad;
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("max_norm"), std::string::npos) << e.what();
    }
  }
  try {
    (void)clip_grad_norm(std::span<T>(g), -1.5);
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("-1.5"), std::string::npos) << e.what();
  }
}

TEST(GradClip, FloatSquaresAccumulateInDouble) {
  // 1e20^2 overflows float but not double: the norm is still finite.
  std::vector<float> g = {1e20f, 1e20f};
  EXPECT_NEAR(grad_norm(std::span<const float>(g)) / 1e20f, std::sqrt(2.0f), 1e-6f);
  // Many small terms: a float running sum of 2^24 + 1 ones would stall at 2^24.
  std::vector<float> ones((1 << 24) + 3, 1.0f);
  EXPECT_EQ(static_cast<double>(grad_norm(std::span<const float>(ones))),
            static_cast<double>(static_cast<float>(std::sqrt(16777219.0))));
}

TEST(GradClip, ClipsAWholeParameterStoreAsOneVector) {
  ParameterStore<double> store;
  (void)store.add("a", Shape{2});
  (void)store.add("b", Shape{1, 2});
  auto g = store.grads();
  g[0] = 1, g[1] = 2, g[2] = 2, g[3] = 4;  // norm 5 across both slots
  EXPECT_DOUBLE_EQ(clip_grad_norm(store.grads(), 2.5), 5.0);
  EXPECT_NEAR(store.grad("b")[1], 4 * 2.5 / (5 + 1e-6), 1e-15);
  EXPECT_NEAR(store.grad("a")[0], 1 * 2.5 / (5 + 1e-6), 1e-15);
}
