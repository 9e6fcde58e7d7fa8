// Initializers: bounds, empirical moments, determinism per seed, and the Xavier bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "recur/core/error.h"
#include "recur/nn/init.h"

using namespace recur;

template <typename T>
class InitTest : public ::testing::Test {};
using ScalarTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(InitTest, ScalarTypes);

namespace {
template <Scalar T>
double mean_of(const std::vector<T>& v) {
  double s = 0;
  for (T x : v) s += x;
  return s / static_cast<double>(v.size());
}
template <Scalar T>
double stddev_of(const std::vector<T>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (T x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}
}  // namespace

TYPED_TEST(InitTest, UniformStaysInBoundsAndFillsThem) {
  using T = TypeParam;
  std::vector<T> v(20000);
  Rng rng(1);
  init_uniform(std::span<T>(v), -0.25, 0.5, rng);
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  EXPECT_GE(*lo, T(-0.25));
  EXPECT_LE(*hi, T(0.5));
  EXPECT_LT(*lo, T(-0.24));
  EXPECT_GT(*hi, T(0.49));
  // U(a, b): mean (a+b)/2, sd (b-a)/sqrt(12) = 0.2165; 5 standard errors of the mean = 0.0077.
  EXPECT_NEAR(mean_of(v), 0.125, 0.0077);
  EXPECT_NEAR(stddev_of(v), 0.75 / std::sqrt(12.0), 0.005);
}

TYPED_TEST(InitTest, UniformFanUsesOneOverSqrtFan) {
  using T = TypeParam;
  std::vector<T> v(4096);
  Rng rng(2);
  init_uniform_fan(std::span<T>(v), 16, rng);  // nn.GRU(hidden_size=16): bound 0.25
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  EXPECT_GE(*lo, T(-0.25));
  EXPECT_LE(*hi, T(0.25));
  EXPECT_GT(std::max(-*lo, *hi), T(0.249));
}

TYPED_TEST(InitTest, UniformDrawsTheRngInIndexOrder) {
  using T = TypeParam;
  std::vector<T> v(8);
  Rng rng(3), twin(3);
  init_uniform(std::span<T>(v), -1, 1, rng);
  for (T x : v) EXPECT_EQ(x, static_cast<T>(twin.uniform(-1, 1)));
  EXPECT_EQ(rng.state(), twin.state());
}

TYPED_TEST(InitTest, NormalHasTheRequestedMeanAndStd) {
  using T = TypeParam;
  std::vector<T> v(40000);
  Rng rng(4);
  init_normal(std::span<T>(v), 0.0, 0.01, rng);  // d2l's scratch models
  // Standard error of the mean: 0.01/200 = 5e-5; of the sd: about 0.01/sqrt(2n) = 3.5e-5. Five of each.
  EXPECT_NEAR(mean_of(v), 0.0, 2.5e-4);
  EXPECT_NEAR(stddev_of(v), 0.01, 1.8e-4);
  init_normal(std::span<T>(v), 3.0, 0.5, rng);
  EXPECT_NEAR(mean_of(v), 3.0, 0.0125);
  EXPECT_NEAR(stddev_of(v), 0.5, 0.009);
}

TYPED_TEST(InitTest, SameSeedGivesTheSameBits) {
  using T = TypeParam;
  std::vector<T> a(257), b(257), c(257);
  Rng ra(42), rb(42), rc(43);
  init_normal(std::span<T>(a), 0.0, 1.0, ra);
  init_normal(std::span<T>(b), 0.0, 1.0, rb);
  init_normal(std::span<T>(c), 0.0, 1.0, rc);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(T)), 0);
  EXPECT_NE(std::memcmp(a.data(), c.data(), a.size() * sizeof(T)), 0);
  init_uniform_fan(std::span<T>(a), 7, ra);
  init_uniform_fan(std::span<T>(b), 7, rb);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(T)), 0);
}

TYPED_TEST(InitTest, XavierUniformBoundUsesBothFans) {
  using T = TypeParam;
  Tensor<T> w(Shape{30, 20});  // [fan_out, fan_in]
  Rng rng(5);
  init_xavier_uniform(w.view(), rng);
  const double bound = std::sqrt(6.0 / 50.0);
  const auto [lo, hi] = std::minmax_element(w.span().begin(), w.span().end());
  EXPECT_GE(*lo, static_cast<T>(-bound));
  EXPECT_LE(*hi, static_cast<T>(bound));
  EXPECT_GT(std::max(-*lo, *hi), static_cast<T>(0.98 * bound));
  // Gain scales the bound; trailing dims multiply both fans (receptive field): [4, 3, 5] -> fans 15 and 20.
  Tensor<T> conv(Shape{4, 3, 5});
  init_xavier_uniform(conv.view(), rng, 2.0);
  const double conv_bound = 2.0 * std::sqrt(6.0 / 35.0);
  for (T x : conv.span()) EXPECT_LE(std::abs(static_cast<double>(x)), conv_bound);
  EXPECT_GT(*std::max_element(conv.span().begin(), conv.span().end()), static_cast<T>(0.5 * conv_bound));
}

TYPED_TEST(InitTest, ZerosZeroes) {
  using T = TypeParam;
  std::vector<T> v = {1, -2, 3};
  init_zeros(std::span<T>(v));
  EXPECT_EQ(v, (std::vector<T>{0, 0, 0}));
}

TEST(Init, BadArgumentsThrowValueErrorNamingTheValue) {
  std::vector<float> v(3);
  Rng rng(0);
  auto expect = [](auto&& fn, std::initializer_list<std::string> words) {
    try {
      fn();
      ADD_FAILURE() << "expected ValueError";
    } catch (const ValueError& e) {
      const std::string msg = e.what();
      for (const auto& w : words)
        EXPECT_NE(msg.find(w), std::string::npos) << "'" << w << "' not in: " << msg;
    }
  };
  const std::span<float> s(v);
  expect([&] { init_uniform(s, 1.0, -1.0, rng); }, {"init_uniform", "low = 1", "high = -1"});
  expect([&] { init_uniform(s, 0.0, INFINITY, rng); }, {"inf"});
  expect([&] { init_uniform_fan(s, 0, rng); }, {"fan", "0"});
  expect([&] { init_normal(s, 0.0, -0.01, rng); }, {"stddev", "-0.01"});
  expect([&] { init_normal(s, std::nan(""), 1.0, rng); }, {"mean", "nan"});
  Tensor<float> vec(Shape{5});
  expect([&] { init_xavier_uniform(vec.view(), rng); }, {"rank", "[5]"});
  Tensor<float> empty(Shape{0, 3});
  expect([&] { init_xavier_uniform(empty.view(), rng); }, {"empty", "[0, 3]"});
  Tensor<float> w(Shape{2, 2});
  expect([&] { init_xavier_uniform(w.view(), rng, -1.0); }, {"gain", "-1"});
}
