// The element-wise kernels, every float case on every SIMD target: float tanh, sigmoid, exp and
// softmax (vector polynomial exp) against their libm reference twins over many lengths (1, SIMD
// widths and their neighbours, unaligned starts) and the special values (NaN included); the float
// arithmetic kernels equal to plain loops written here, and the multiply-adds (fused on targets
// with FMA) within their rounding of the exact result. double, which stays plain code, is checked
// once: activations equal to the reference, arithmetic against plain loops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "recur/core/rng.h"
#include "simd_targets.h"

using namespace recur;

namespace {

using UnaryKernel = std::function<void(int64_t, const float*, float*)>;

const std::vector<int64_t> kLengths = {1,  2,  3,  5,  7,  8,   9,   15,  16,  17,  31,   32,
                                       33, 47, 63, 64, 65, 100, 127, 128, 129, 255, 1000, 1023};

// Relative bound with an absolute floor for results in the denormal range, where a float keeps
// fewer digits: 4 ulp, or 1e-37 absolute.
bool close_float(float fast, float reference) {
  if (std::isnan(reference)) return std::isnan(fast);
  if (std::isinf(reference)) return fast == reference;
  const float diff = std::abs(fast - reference);
  return diff <= 4 * std::numeric_limits<float>::epsilon() * std::abs(reference) || diff <= 1e-37f;
}

// A float multiply-add's result, fused or not, is within an ulp of the exact sum and product:
// each rounding errs by at most half an ulp of its own result, and the float product by half an
// ulp of |product| (`magnitude`: the sum of the terms' magnitudes bounds both).
bool close_multiply_add(float got, double exact, double magnitude) {
  return std::abs(static_cast<double>(got) - exact) <= std::numeric_limits<float>::epsilon() * magnitude;
}

// Runs both kernels over x[offset, offset + n) for every length and offset 0..2, and reports the
// first index that differs with its input, and any write outside the output.
void expect_twins_agree(const UnaryKernel& fast, const UnaryKernel& reference, double low, double high,
                        const std::string& name) {
  Rng rng(7);
  for (int64_t n : kLengths) {
    for (int64_t offset = 0; offset < 3; ++offset) {
      std::vector<float> x(static_cast<size_t>(n + offset + 1));
      for (auto& v : x) v = static_cast<float>(rng.uniform(low, high));
      std::vector<float> y_fast(x.size(), -1.0f), y_ref(x.size(), -1.0f);
      fast(n, x.data() + offset, y_fast.data() + offset);
      reference(n, x.data() + offset, y_ref.data() + offset);
      for (int64_t i = offset; i < n + offset; ++i) {
        const auto k = static_cast<size_t>(i);
        if (!close_float(y_fast[k], y_ref[k])) {
          ADD_FAILURE() << name << " n=" << n << " offset=" << offset << ": first difference at index "
                        << i - offset << ", x=" << x[k] << ": fast " << y_fast[k] << ", reference "
                        << y_ref[k];
          break;
        }
      }
      EXPECT_EQ(y_fast[0], offset > 0 ? -1.0f : y_fast[0]) << name << ": wrote before its output";
      EXPECT_EQ(y_fast.back(), -1.0f) << name << " n=" << n << ": wrote past its output";
    }
  }
}

const std::vector<float> kSpecials = {0.0f,
                                      -0.0f,
                                      1e-30f,
                                      -1e-30f,
                                      1e-40f,  // denormal input
                                      0.625f,
                                      -0.625f,
                                      0.62500006f,
                                      1.0f,
                                      -1.0f,
                                      9.0f,
                                      -9.0f,
                                      20.0f,
                                      -20.0f,
                                      87.0f,
                                      -87.5f,
                                      88.7f,
                                      -88.7f,
                                      88.8f,
                                      -100.0f,
                                      -103.9f,
                                      -104.5f,
                                      1000.0f,
                                      -1000.0f,
                                      std::numeric_limits<float>::infinity(),
                                      -std::numeric_limits<float>::infinity(),
                                      std::numeric_limits<float>::quiet_NaN()};

// The specials at every position of a vector: the whole list, and each suffix (so that each value
// also lands in a partial last vector).
void expect_specials_agree(const UnaryKernel& fast, const UnaryKernel& reference, const std::string& name) {
  const auto n = static_cast<int64_t>(kSpecials.size());
  for (int64_t start = 0; start < n; ++start) {
    std::vector<float> y_fast(kSpecials.size()), y_ref(kSpecials.size());
    fast(n - start, kSpecials.data() + start, y_fast.data());
    reference(n - start, kSpecials.data() + start, y_ref.data());
    for (int64_t i = 0; i < n - start; ++i) {
      const auto k = static_cast<size_t>(i);
      EXPECT_TRUE(close_float(y_fast[k], y_ref[k]))
          << name << "(" << kSpecials[static_cast<size_t>(start + i)] << ") at " << i << " of " << n - start
          << ": fast " << y_fast[k] << ", reference " << y_ref[k];
    }
  }
}

}  // namespace

namespace recur {

class ElementwiseTest : public SimdTargetTest {};
RECUR_INSTANTIATE_SIMD_TARGETS(ElementwiseTest);

TEST_P(ElementwiseTest, TanhFloatMatchesReference) {
  expect_twins_agree(kernels::tanh_forward<float>, kernels::tanh_reference<float>, -12, 12, "tanh");
  expect_twins_agree(kernels::tanh_forward<float>, kernels::tanh_reference<float>, -1, 1, "tanh (small)");
  expect_specials_agree(kernels::tanh_forward<float>, kernels::tanh_reference<float>, "tanh");
}

TEST_P(ElementwiseTest, SigmoidFloatMatchesReference) {
  expect_twins_agree(kernels::sigmoid_forward<float>, kernels::sigmoid_reference<float>, -30, 30, "sigmoid");
  expect_specials_agree(kernels::sigmoid_forward<float>, kernels::sigmoid_reference<float>, "sigmoid");
}

TEST_P(ElementwiseTest, ExpFloatMatchesReference) {
  expect_twins_agree(kernels::exp_forward<float>, kernels::exp_reference<float>, -110, 88.7, "exp");
  expect_twins_agree(kernels::exp_forward<float>, kernels::exp_reference<float>, -2, 2, "exp (small)");
  expect_specials_agree(kernels::exp_forward<float>, kernels::exp_reference<float>, "exp");
}

TEST_P(ElementwiseTest, SoftmaxRowMatchesReference) {
  Rng rng(11);
  for (int64_t n : kLengths) {
    for (double spread : {1.0, 30.0, 1000.0}) {
      std::vector<float> x(static_cast<size_t>(n));
      for (auto& v : x) v = static_cast<float>(rng.uniform(-spread, spread));
      std::vector<float> y_fast(x.size() + 1, -1.0f), y_ref(x.size());
      const double lse_fast = kernels::softmax_row<float>(n, x.data(), y_fast.data());
      const double lse_ref = kernels::softmax_row_reference<float>(n, x.data(), y_ref.data());
      const std::string where = "n=" + std::to_string(n) + " spread=" + std::to_string(spread);
      EXPECT_NEAR(lse_fast, lse_ref, 1e-6 * (1 + std::abs(lse_ref))) << where;
      const float max = *std::max_element(x.begin(), x.end());
      double total = 0;
      bool reported = false;
      for (size_t i = 0; i < x.size(); ++i) {
        total += y_fast[i];
        // Float rounds x - max to half an ulp of |x - max|, which exp turns into that relative
        // error; add a few ulp for exp, the sum and the division.
        const float bound =
            std::numeric_limits<float>::epsilon() * (4 + std::abs(x[i] - max)) * y_ref[i] + 1e-37f;
        if (!reported && std::abs(y_fast[i] - y_ref[i]) > bound) {
          ADD_FAILURE() << where << ": first difference at index " << i << ": fast " << y_fast[i]
                        << ", reference " << y_ref[i];
          reported = true;
        }
      }
      EXPECT_NEAR(total, 1.0, 1e-5) << where;
      EXPECT_EQ(y_fast.back(), -1.0f) << where << ": wrote past its output";
    }
  }
}

// Large logits do not overflow (the maximum is subtracted first); -inf logits get probability 0;
// a NaN logit makes the row NaN.
TEST_P(ElementwiseTest, SoftmaxRowFloatEdgeValues) {
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t n : {3, 17, 40}) {
    std::vector<float> x(static_cast<size_t>(n), -inf), y(x.size());
    x[0] = 1e30f;
    x[static_cast<size_t>(n - 1)] = 1e30f - 1e24f;  // 1e24 below: exp underflows to 0
    x[1] = 1000.0f;
    double lse = kernels::softmax_row<float>(n, x.data(), y.data());
    EXPECT_DOUBLE_EQ(lse, static_cast<double>(1e30f)) << "n=" << n;
    EXPECT_EQ(y[0], 1.0f) << "n=" << n;
    for (size_t i = 1; i < y.size(); ++i) EXPECT_EQ(y[i], 0.0f) << "n=" << n << " index " << i;

    std::fill(x.begin(), x.end(), 0.0f);
    x[static_cast<size_t>(n - 1)] = std::numeric_limits<float>::quiet_NaN();
    lse = kernels::softmax_row<float>(n, x.data(), y.data());
    EXPECT_TRUE(std::isnan(lse)) << "n=" << n;
    EXPECT_TRUE(std::isnan(y[0])) << "n=" << n;
  }
}

// argmax equals std::max_element (the first maximum) for every length, with ties placed in the
// whole vectors, in the partial last one and across both, and with -inf and huge values.
TEST_P(ElementwiseTest, ArgmaxIsTheFirstMaximum) {
  Rng rng(17);
  for (int64_t n : kLengths) {
    for (int trial = 0; trial < 6; ++trial) {
      std::vector<float> x(static_cast<size_t>(n));
      // Few distinct values, so that the maximum repeats in most rows.
      for (auto& v : x) v = static_cast<float>(static_cast<int>(rng.uniform(0.0, trial < 3 ? 4.0 : 1e6)));
      if (trial == 5) std::fill(x.begin(), x.end(), -std::numeric_limits<float>::infinity());
      const auto expected = std::max_element(x.begin(), x.end()) - x.begin();
      EXPECT_EQ(kernels::argmax<float>(n, x.data()), expected) << "n=" << n << " trial " << trial;
      EXPECT_EQ(kernels::argmax<double>(n, std::vector<double>(x.begin(), x.end()).data()), expected);
    }
    std::vector<float> x(static_cast<size_t>(n), -1e38f);
    x[static_cast<size_t>(n - 1)] = 3e38f;  // only in the last (possibly partial) vector
    EXPECT_EQ(kernels::argmax<float>(n, x.data()), n - 1) << "n=" << n;
  }
  EXPECT_EQ(kernels::argmax<float>(0, nullptr), -1);
}

// The float arithmetic kernels over shapes around the vector widths (partial last vectors, rows
// shorter than one vector): adds and multiplies exactly as a plain loop, multiply-adds within their
// rounding; nothing written past the output.
TEST_P(ElementwiseTest, FloatArithmeticMatchesPlainLoops) {
  Rng rng(5);
  for (int64_t rows : {1, 2, 7}) {
    for (int64_t cols : {1, 3, 4, 5, 8, 15, 16, 17, 33, 100, 1030}) {
      const auto n = static_cast<size_t>(rows * cols);
      std::vector<float> a(n), b(static_cast<size_t>(cols)), w(n), y(n + 1, -1.0f);
      for (auto& v : a) v = static_cast<float>(rng.uniform(-1, 1));
      for (auto& v : b) v = static_cast<float>(rng.uniform(-1, 1));
      for (auto& v : w) v = static_cast<float>(rng.uniform(-1, 1));
      const std::string where = "rows=" + std::to_string(rows) + " cols=" + std::to_string(cols);
      auto at = [&](int64_t r, int64_t c) { return static_cast<size_t>(r * cols + c); };
      auto bc = [](int64_t c) { return static_cast<size_t>(c); };

      kernels::add_rows<float>(rows, cols, a.data(), b.data(), y.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(y[at(r, c)], a[at(r, c)] + b[bc(c)]) << where;
      kernels::sub_rows<float>(rows, cols, a.data(), b.data(), y.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(y[at(r, c)], a[at(r, c)] - b[bc(c)]) << where;
      kernels::mul_rows<float>(rows, cols, a.data(), b.data(), y.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(y[at(r, c)], a[at(r, c)] * b[bc(c)]) << where;
      std::vector<float> expected = y;
      kernels::add_rows_into<float>(rows, cols, b.data(), y.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(y[at(r, c)], expected[at(r, c)] + b[bc(c)]) << where;
      ASSERT_EQ(y[n], -1.0f) << where << ": wrote past y";

      // Accumulating forms start from a non-zero buffer: they must add, not overwrite. Column sums
      // round once or twice per row: within rows ulp of the sum of magnitudes.
      for (bool weighted : {false, true}) {
        std::vector<float> acc(static_cast<size_t>(cols) + 1, 0.5f);
        std::vector<double> exact(acc.size(), 0.5), magnitude(acc.size(), 0.5);
        if (weighted) {
          kernels::mul_sum_rows_into<float>(rows, cols, a.data(), w.data(), acc.data());
        } else {
          kernels::sum_rows_into<float>(rows, cols, -2.0f, a.data(), acc.data());
        }
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            const double term = static_cast<double>(a[at(r, c)]) * (weighted ? w[at(r, c)] : -2.0);
            exact[bc(c)] += term;
            magnitude[bc(c)] += std::abs(term);
          }
        for (int64_t c = 0; c < cols; ++c)
          ASSERT_TRUE(
              close_multiply_add(acc[bc(c)], exact[bc(c)], static_cast<double>(rows) * magnitude[bc(c)]))
              << where << (weighted ? " mul_sum_rows_into" : " sum_rows_into") << " column " << c << ": "
              << acc[bc(c)] << ", exact " << exact[bc(c)];
        ASSERT_EQ(acc[bc(cols)], 0.5f) << where << ": wrote past y";
      }

      std::vector<float> dx(n + 1, 0.25f);
      kernels::mul_rows_into<float>(rows, cols, a.data(), b.data(), dx.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          const double product = static_cast<double>(a[at(r, c)]) * b[bc(c)];
          ASSERT_TRUE(close_multiply_add(dx[at(r, c)], 0.25 + product, 0.25 + std::abs(product))) << where;
        }
      ASSERT_EQ(dx[n], 0.25f) << where << ": wrote past dx";
    }
  }
}

// The flat kernels against plain loops: scale, relu exactly; axpy and the activations' backward
// within their multiply-adds' rounding (the product of two or three floats); sum (double lanes,
// summed in another order) against a sequential double sum.
TEST_P(ElementwiseTest, FloatFlatKernelsMatchPlainLoops) {
  Rng rng(9);
  for (int64_t n : kLengths) {
    const auto size = static_cast<size_t>(n);
    std::vector<float> x(size), y(size), dy(size);
    for (auto& v : x) v = static_cast<float>(rng.uniform(-2, 2));
    for (auto& v : y) v = static_cast<float>(rng.uniform(-1, 1));
    for (auto& v : dy) v = static_cast<float>(rng.uniform(-1, 1));
    x[0] = 0.0f;                        // relu's boundary
    std::vector<float> positive(size);  // log's inputs
    for (size_t i = 0; i < size; ++i) positive[i] = std::abs(x[i]) + 0.5f;
    const std::string where = "n=" + std::to_string(n);

    std::vector<float> out(size + 1, -1.0f);
    kernels::scale<float>(n, 0.3f, x.data(), out.data());
    for (size_t i = 0; i < size; ++i) ASSERT_EQ(out[i], 0.3f * x[i]) << where << " scale at " << i;
    ASSERT_EQ(out[size], -1.0f) << where << ": scale wrote past y";
    kernels::relu_forward<float>(n, x.data(), out.data());
    for (size_t i = 0; i < size; ++i)
      ASSERT_EQ(out[i], x[i] > 0.0f ? x[i] : 0.0f) << where << " relu at " << i;

    // dx = 0.75 + term(in, dy), the term exact in double.
    auto accumulate = [&](const char* name, auto kernel, const std::vector<float>& in, auto term) {
      std::vector<float> dx(size + 1, 0.75f);
      kernel(n, in.data(), dy.data(), dx.data());
      for (size_t i = 0; i < size; ++i) {
        const double t = term(static_cast<double>(in[i]), static_cast<double>(dy[i]));
        ASSERT_TRUE(close_multiply_add(dx[i], 0.75 + t, 2 * (0.75 + std::abs(t))))
            << where << " " << name << " at " << i << ": " << dx[i] << ", exact " << 0.75 + t;
      }
      ASSERT_EQ(dx[size], 0.75f) << where << " " << name << ": wrote past dx";
    };
    accumulate("tanh_backward", kernels::tanh_backward<float>, y,
               [](double v, double g) { return g * (1 - v * v); });
    accumulate("sigmoid_backward", kernels::sigmoid_backward<float>, y,
               [](double v, double g) { return g * v * (1 - v); });
    accumulate("relu_backward", kernels::relu_backward<float>, x,
               [](double v, double g) { return v > 0 ? g : 0.0; });
    accumulate("exp_backward", kernels::exp_backward<float>, y, [](double v, double g) { return g * v; });
    accumulate("log_backward", kernels::log_backward<float>, positive,
               [](double v, double g) { return g / v; });
    const auto axpy = [](int64_t m, const float*, const float* g, float* d) {
      kernels::axpy<float>(m, -1.5f, g, d);
    };
    accumulate("axpy", axpy, x, [](double, double g) { return -1.5 * g; });

    double sequential = 0;
    for (float v : x) sequential += static_cast<double>(v);
    ASSERT_NEAR(kernels::sum<float>(n, x.data()), sequential, 1e-12) << where;
  }
}

TEST(OpsKernel, DoubleActivationsAreTheReference) {
  Rng rng(3);
  std::vector<double> x(257);
  for (auto& v : x) v = rng.uniform(-30, 30);
  const auto n = static_cast<int64_t>(x.size());
  std::vector<double> fast(x.size()), ref(x.size());
  kernels::tanh_forward<double>(n, x.data(), fast.data());
  kernels::tanh_reference<double>(n, x.data(), ref.data());
  EXPECT_EQ(fast, ref);
  kernels::sigmoid_forward<double>(n, x.data(), fast.data());
  kernels::sigmoid_reference<double>(n, x.data(), ref.data());
  EXPECT_EQ(fast, ref);
  kernels::exp_forward<double>(n, x.data(), fast.data());
  kernels::exp_reference<double>(n, x.data(), ref.data());
  EXPECT_EQ(fast, ref);
}

TEST(OpsKernel, SoftmaxRowIsStableForLargeLogits) {
  const std::vector<double> x = {1000.0, -1000.0, 999.0};
  std::vector<double> y(3);
  const double lse = kernels::softmax_row<double>(3, x.data(), y.data());
  EXPECT_NEAR(lse, 1000.0 + std::log(1.0 + std::exp(-1.0)), 1e-12);
  EXPECT_NEAR(y[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-15);
  EXPECT_EQ(y[1], 0.0);
}

TEST(OpsKernel, BroadcastArithmeticMatchesPlainLoops) {
  Rng rng(5);
  for (int64_t rows : {1, 2, 7}) {
    for (int64_t cols : {1, 3, 16, 17, 33}) {
      const auto n = static_cast<size_t>(rows * cols);
      std::vector<double> a(n), b(static_cast<size_t>(cols)), y(n);
      for (auto& v : a) v = rng.uniform(-1, 1);
      for (auto& v : b) v = rng.uniform(-1, 1);
      const std::string where = "rows=" + std::to_string(rows) + " cols=" + std::to_string(cols);
      auto at = [&](int64_t r, int64_t c) { return static_cast<size_t>(r * cols + c); };
      auto bc = [](int64_t c) { return static_cast<size_t>(c); };

      kernels::add_rows<double>(rows, cols, a.data(), b.data(), y.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(y[at(r, c)], a[at(r, c)] + b[bc(c)]) << where;
      kernels::sub_rows<double>(rows, cols, a.data(), b.data(), y.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(y[at(r, c)], a[at(r, c)] - b[bc(c)]) << where;
      kernels::mul_rows<double>(rows, cols, a.data(), b.data(), y.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(y[at(r, c)], a[at(r, c)] * b[bc(c)]) << where;

      // Accumulating forms start from a non-zero buffer: they must add, not overwrite.
      std::vector<double> acc(static_cast<size_t>(cols), 0.5), expected(static_cast<size_t>(cols), 0.5);
      kernels::sum_rows_into<double>(rows, cols, -2.0, a.data(), acc.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) expected[bc(c)] += -2.0 * a[at(r, c)];
      for (int64_t c = 0; c < cols; ++c) ASSERT_NEAR(acc[bc(c)], expected[bc(c)], 1e-14) << where;

      std::vector<double> w(n);
      for (auto& v : w) v = rng.uniform(-1, 1);
      std::fill(acc.begin(), acc.end(), 0.5);
      std::fill(expected.begin(), expected.end(), 0.5);
      kernels::mul_sum_rows_into<double>(rows, cols, a.data(), w.data(), acc.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) expected[bc(c)] += a[at(r, c)] * w[at(r, c)];
      for (int64_t c = 0; c < cols; ++c) ASSERT_NEAR(acc[bc(c)], expected[bc(c)], 1e-14) << where;

      std::vector<double> dx(n, 0.25);
      kernels::mul_rows_into<double>(rows, cols, a.data(), b.data(), dx.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(dx[at(r, c)], 0.25 + a[at(r, c)] * b[bc(c)]) << where;
    }
  }
}

TEST(OpsKernel, BackwardKernelsAccumulate) {
  const std::vector<double> y = {0.5, -0.25, 0.0, 2.0};  // activation outputs (or inputs, for relu/log)
  const std::vector<double> dy = {1.0, 2.0, 3.0, 4.0};
  auto run = [&](auto kernel) {
    std::vector<double> dx(4, 1.0);
    kernel(4, y.data(), dy.data(), dx.data());
    return dx;
  };
  EXPECT_EQ(run(kernels::tanh_backward<double>), (std::vector<double>{1.75, 2.875, 4.0, -11.0}));
  EXPECT_EQ(run(kernels::sigmoid_backward<double>), (std::vector<double>{1.25, 0.375, 1.0, -7.0}));
  EXPECT_EQ(run(kernels::relu_backward<double>), (std::vector<double>{2.0, 1.0, 1.0, 5.0}));
  EXPECT_EQ(run(kernels::exp_backward<double>), (std::vector<double>{1.5, 0.5, 1.0, 9.0}));
  const std::vector<double> x = {0.5, -0.25, 4.0, 2.0};
  std::vector<double> dx(4, 1.0);
  kernels::log_backward<double>(4, x.data(), dy.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<double>{3.0, -7.0, 1.75, 3.0}));
  EXPECT_DOUBLE_EQ(kernels::sum<float>(4, std::vector<float>{1, 2, 3, 4.5f}.data()), 10.5);
}

}  // namespace recur
