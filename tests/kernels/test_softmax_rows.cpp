// The softmax cross-entropy row kernels (the AVX-512 kernel where built, and the scalar fallback)
// against their plain reference twin over odd shapes: V around the 16-lane width and past the
// grouped kernel's 128 classes, 1 to 40 rows (partial groups of 16), with and without bias, mask
// (skipped rows hold NaN), gradient and bias-gradient sums, small and large logits.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/softmax_rows.h"
#include "recur/core/rng.h"

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
// more than rtol * (1 + scale) relative to its magnitude (dlogits: relative to coef).
template <Scalar T>
void expect_matches_reference(const Case& c, RowsKernel<T> kernel, const char* name, double rtol) {
  Rng rng(static_cast<uint64_t>(c.rows * 1000 + c.V));
  const auto n = static_cast<size_t>(c.rows * c.V);
  std::vector<T> z(n), bias(static_cast<size_t>(c.V)), mask(static_cast<size_t>(c.rows), T(1));
  std::vector<T> dbias(static_cast<size_t>(c.V));  // [V], starts nonzero: the kernels add into it
  std::vector<int32_t> targets(static_cast<size_t>(c.rows));
  for (T& v : z) v = static_cast<T>(rng.uniform(-c.scale, c.scale));
  for (T& v : bias) v = static_cast<T>(rng.uniform(-1, 1));
  for (T& v : dbias) v = static_cast<T>(rng.uniform(-1, 1));
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
  for (int64_t V : {1, 7, 15, 16, 17, 33, 65, 128, 129, 1000})
    for (int64_t rows : {1, 2, 15, 16, 17, 40})
      for (bool has_bias : {false, true})
        for (bool has_mask : {false, true})
          for (int grad_mode = 0; grad_mode < 3; ++grad_mode)  // no grad; grad; grad with dbias
            for (double scale : {1.0, 30.0})
              all.push_back({rows, V, has_bias, has_mask, grad_mode > 0, grad_mode == 2, scale});
  return all;
}

template <Scalar T>
void check_all(double rtol) {
  for (const Case& c : cases()) {
    expect_matches_reference<T>(c, &softmax_cross_entropy_rows<T>, "optimized", rtol);
    expect_matches_reference<T>(c, &softmax_cross_entropy_rows_scalar<T>, "scalar", rtol);
    if (testing::Test::HasFatalFailure()) return;
  }
}

TEST(SoftmaxRows, FloatMatchesReference) { check_all<float>(5e-6); }

TEST(SoftmaxRows, DoubleMatchesReference) { check_all<double>(1e-13); }

// Rows the mask skips get a gradient of exactly 0 and add nothing, whatever their logits hold.
TEST(SoftmaxRows, SkippedRowsGiveZeroGradient) {
  const int64_t V = 20;
  std::vector<float> z(2 * V, std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < V; ++j) z[static_cast<size_t>(j)] = static_cast<float>(j);
  const std::vector<float> mask = {1.0f, 0.0f};
  const std::vector<int32_t> targets = {3, 0};
  std::vector<float> dbias(V, 0.0f);
  const double loss = softmax_cross_entropy_rows<float>(2, V, z.data(), nullptr, targets.data(), mask.data(),
                                                        1.0f, true, dbias.data());
  EXPECT_TRUE(std::isfinite(loss));
  for (int64_t j = V; j < 2 * V; ++j) EXPECT_EQ(z[static_cast<size_t>(j)], 0.0f) << "class " << j - V;
  double sum = 0;  // dlogits of a counted row sum to 0 (softmax sums to 1, minus the one-hot)
  for (float v : dbias) sum += v;
  EXPECT_NEAR(sum, 0.0, 1e-6);
}

}  // namespace
}  // namespace recur::kernels
