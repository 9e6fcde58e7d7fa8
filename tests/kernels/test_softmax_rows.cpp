// The softmax cross-entropy row kernels (the float kernel on every SIMD target, the scalar path for
// both types) against their plain reference twin over odd shapes: V around the 4-, 8- and 16-lane
// widths, rows shorter than one vector, V past the grouped kernel's 64 and 128 classes and a
// word-level head's 13777; 1 to 40 rows (partial groups), with and without bias, mask (skipped rows
// hold NaN), gradient and bias-gradient sums, small and large logits, and -inf logits.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/softmax_rows.h"
#include "recur/core/rng.h"
#include "simd_targets.h"

namespace recur::kernels {
namespace {

struct Case {
  int64_t rows, V;
  bool has_bias, has_mask, grad, has_dbias;
  double scale;  // logits drawn from [-scale, scale]
  [[nodiscard]] std::string str() const {
    return "rows=" + std::to_string(rows) + " V=" + std::to_string(V) + (has_bias ? " bias" : "") +
           (has_mask ? " mask" : "") + (grad ? " grad" : " no-grad") + (has_dbias ? " dbias" : "") +
           " scale=" + std::to_string(static_cast<int>(scale));
  }
};

template <Scalar T>
using RowsKernel = double (*)(int64_t, int64_t, T*, const T*, const int32_t*, const T*, T, bool, T*);

// Runs `kernel` and the reference on the same inputs and reports the first value that differs by
// more than rtol * (1 + scale) relative to its magnitude (dlogits: relative to coef), and any write
// past the block of logits or dbias (a vector's worth of guard values after each).
template <Scalar T>
void expect_matches_reference(const Case& c, RowsKernel<T> kernel, const char* name, double rtol) {
  Rng rng(static_cast<uint64_t>(c.rows * 1000 + c.V));
  const auto n = static_cast<size_t>(c.rows * c.V);
  constexpr size_t kGuard = 16;
  constexpr T kGuardValue = T(12345);
  std::vector<T> z(n + kGuard, kGuardValue), bias(static_cast<size_t>(c.V)),
      mask(static_cast<size_t>(c.rows), T(1));
  std::vector<T> dbias(static_cast<size_t>(c.V) + kGuard,
                       kGuardValue);  // [V], starts nonzero: the kernels add into it
  std::vector<int32_t> targets(static_cast<size_t>(c.rows));
  for (size_t i = 0; i < n; ++i) z[i] = static_cast<T>(rng.uniform(-c.scale, c.scale));
  for (T& v : bias) v = static_cast<T>(rng.uniform(-1, 1));
  for (int64_t j = 0; j < c.V; ++j) dbias[static_cast<size_t>(j)] = static_cast<T>(rng.uniform(-1, 1));
  for (auto& t : targets) t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(c.V)));
  if (c.has_mask) {
    for (int64_t r = 1; r < c.rows; r += 3) {  // skipped rows: 1, 4, 7, ... hold NaN
      mask[static_cast<size_t>(r)] = T(0);
      for (int64_t j = 0; j < c.V; ++j)
        z[static_cast<size_t>(r * c.V + j)] = std::numeric_limits<T>::quiet_NaN();
    }
  }
  const T coef = T(1) / static_cast<T>(c.rows);
  std::vector<T> z_want = z, dbias_want = dbias;
  const T* b = c.has_bias ? bias.data() : nullptr;
  const T* m = c.has_mask ? mask.data() : nullptr;
  const double got =
      kernel(c.rows, c.V, z.data(), b, targets.data(), m, coef, c.grad, c.has_dbias ? dbias.data() : nullptr);
  const double want =
      softmax_cross_entropy_rows_reference<T>(c.rows, c.V, z_want.data(), b, targets.data(), m, coef, c.grad,
                                              c.has_dbias ? dbias_want.data() : nullptr);
  for (size_t i = n; i < z.size(); ++i)
    ASSERT_EQ(z[i], kGuardValue) << name << " " << c.str() << ": wrote past z";
  for (size_t i = static_cast<size_t>(c.V); i < dbias.size(); ++i)
    ASSERT_EQ(dbias[i], kGuardValue) << name << " " << c.str() << ": wrote past dbias";
  const double magnitude = 1 + c.scale + std::log(static_cast<double>(c.V));
  ASSERT_NEAR(got, want, rtol * magnitude * static_cast<double>(c.rows))
      << name << " " << c.str() << ": loss sum";
  if (!c.grad) return;
  for (size_t i = 0; i < n; ++i) {
    const double tol =
        rtol * (1 + c.scale) * (std::abs(static_cast<double>(z_want[i])) + static_cast<double>(coef) * 1e-3);
    ASSERT_NEAR(z[i], z_want[i], tol)
        << name << " " << c.str() << ": dlogits first differ at row " << static_cast<int64_t>(i) / c.V
        << ", class " << static_cast<int64_t>(i) % c.V;
  }
  if (!c.has_dbias) return;
  for (int64_t j = 0; j < c.V; ++j) {
    const auto at = static_cast<size_t>(j);
    ASSERT_NEAR(dbias[at], dbias_want[at],
                rtol * (1 + c.scale) * (1 + std::abs(static_cast<double>(dbias_want[at]))))
        << name << " " << c.str() << ": dbias first differs at class " << j;
  }
}

std::vector<Case> cases() {
  std::vector<Case> all;
  for (int64_t V : {1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 28, 33, 64, 65, 127, 128, 129, 1000})
    for (int64_t rows : {1, 2, 3, 5, 8, 9, 15, 16, 17, 40})
      for (bool has_bias : {false, true})
        for (bool has_mask : {false, true})
          for (int grad_mode = 0; grad_mode < 3; ++grad_mode)  // no grad; grad; grad with dbias
            for (double scale : {1.0, 30.0})
              all.push_back({rows, V, has_bias, has_mask, grad_mode > 0, grad_mode == 2, scale});
  return all;
}

template <Scalar T>
void check_all(RowsKernel<T> kernel, const char* name, double rtol) {
  for (const Case& c : cases()) {
    expect_matches_reference<T>(c, kernel, name, rtol);
    if (testing::Test::HasFatalFailure()) return;
  }
  // A word-level head's rows (one at a time, V = 861 * 16 + 1), a few of them.
  for (bool has_bias : {false, true})
    for (int grad_mode = 0; grad_mode < 3; ++grad_mode) {
      expect_matches_reference<T>({3, 13777, has_bias, true, grad_mode > 0, grad_mode == 2, 30.0}, kernel,
                                  name, rtol);
      if (testing::Test::HasFatalFailure()) return;
    }
}

class SoftmaxRowsTest : public SimdTargetTest {};
RECUR_INSTANTIATE_SIMD_TARGETS(SoftmaxRowsTest);

TEST_P(SoftmaxRowsTest, FloatMatchesReference) {
  check_all<float>(&softmax_cross_entropy_rows<float>, "optimized", 5e-6);
}

TEST(SoftmaxRows, FloatScalarPathMatchesReference) {
  check_all<float>(&softmax_cross_entropy_rows_scalar<float>, "scalar", 5e-6);
}

TEST(SoftmaxRows, DoubleMatchesReference) {
  check_all<double>(&softmax_cross_entropy_rows<double>, "optimized", 1e-13);
  check_all<double>(&softmax_cross_entropy_rows_scalar<double>, "scalar", 1e-13);
}

// Logits of -inf (classes ruled out) get probability and gradient exactly 0, and large logits
// (1e30, rows whose other classes underflow) neither overflow nor lose the loss, in rows of
// every width class (one partial vector, grouped, one at a time).
TEST_P(SoftmaxRowsTest, MinusInfinityAndLargeLogits) {
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t V : {3, 12, 28, 65, 200}) {
    const int64_t rows = 19;
    std::vector<float> z(static_cast<size_t>(rows * V)), bias(static_cast<size_t>(V), 0.0f);
    std::vector<int32_t> targets(static_cast<size_t>(rows));
    Rng rng(static_cast<uint64_t>(V));
    for (float& v : z) v = static_cast<float>(rng.uniform(-3, 3));
    for (int64_t r = 0; r < rows; ++r) {
      const auto t = static_cast<int32_t>(r % (V - 1));  // not class V - 1, which the bias rules out
      targets[static_cast<size_t>(r)] = t;
      for (int64_t c = 0; c < V; ++c)
        if (c != t && (c + r) % 3 == 0) z[static_cast<size_t>(r * V + c)] = -inf;
      if (r % 4 == 1) z[static_cast<size_t>(r * V + t)] = 1e30f;  // its loss term is 0, its gradient 0
    }
    bias[static_cast<size_t>(V - 1)] = -inf;  // a class ruled out in every row
    std::vector<float> z_want = z, dbias(static_cast<size_t>(V), 0.0f), dbias_want = dbias;
    const float coef = 1.0f / static_cast<float>(rows);
    const double got = softmax_cross_entropy_rows<float>(rows, V, z.data(), bias.data(), targets.data(),
                                                         nullptr, coef, true, dbias.data());
    const double want = softmax_cross_entropy_rows_reference<float>(
        rows, V, z_want.data(), bias.data(), targets.data(), nullptr, coef, true, dbias_want.data());
    ASSERT_TRUE(std::isfinite(got)) << "V=" << V;
    EXPECT_NEAR(got, want, 1e-5 * static_cast<double>(rows)) << "V=" << V;
    for (size_t i = 0; i < z.size(); ++i) {
      if (z_want[i] == 0.0f) {
        ASSERT_EQ(z[i], 0.0f) << "V=" << V << " row " << static_cast<int64_t>(i) / V << " class "
                              << static_cast<int64_t>(i) % V;
      } else {
        ASSERT_NEAR(z[i], z_want[i], 1e-5 * std::abs(z_want[i]) + 1e-9) << "V=" << V << " at " << i;
      }
    }
    for (size_t j = 0; j < dbias.size(); ++j)
      ASSERT_NEAR(dbias[j], dbias_want[j], 1e-6) << "V=" << V << " class " << j;
  }
}

// Rows the mask skips get a gradient of exactly 0 and add nothing, whatever their logits hold.
TEST_P(SoftmaxRowsTest, SkippedRowsGiveZeroGradient) {
  for (int64_t V : {5, 20, 200}) {  // one partial vector, grouped, one at a time
    std::vector<float> z(static_cast<size_t>(2 * V), std::numeric_limits<float>::infinity());
    for (int64_t j = 0; j < V; ++j) z[static_cast<size_t>(j)] = static_cast<float>(j);
    const std::vector<float> mask = {1.0f, 0.0f};
    const std::vector<int32_t> targets = {3, 0};
    std::vector<float> dbias(static_cast<size_t>(V), 0.0f);
    const double loss = softmax_cross_entropy_rows<float>(2, V, z.data(), nullptr, targets.data(),
                                                          mask.data(), 1.0f, true, dbias.data());
    EXPECT_TRUE(std::isfinite(loss)) << "V=" << V;
    for (int64_t j = V; j < 2 * V; ++j)
      EXPECT_EQ(z[static_cast<size_t>(j)], 0.0f) << "V=" << V << " class " << j - V;
    double sum = 0;  // dlogits of a counted row sum to 0 (softmax sums to 1, minus the one-hot)
    for (float v : dbias) sum += v;
    EXPECT_NEAR(sum, 0.0, 1e-6) << "V=" << V;
  }
}

}  // namespace
}  // namespace recur::kernels
