// linear_cross_entropy against its unfused definition, softmax_cross_entropy(linear(x, W, b)):
// loss and the gradients of x, W and b in float and double, with and without bias and mask, on
// both paths (small head on recur's threads, large head through OpenBLAS) and 1 or 2 threads;
// finite differences in double; an upstream gradient other than 1 and accumulation into a
// gradient x already has; large logits and garbage (NaN) in masked-out rows; reuse of a Graph across
// steps; no-grad mode; and the bad-input errors, which must read like softmax_cross_entropy's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"

using namespace recur;

namespace {

enum class MaskKind { kNone, kSome };

// Inputs of one case: x [N, I] (or `x_shape`), W [V, I], b [V], targets, mask.
template <Scalar T>
struct Inputs {
  Shape x_shape;
  Tensor<T> x, w, b;
  std::vector<int32_t> targets;
  std::vector<T> mask;
};

template <Scalar T>
Inputs<T> make_inputs(int64_t N, int64_t I, int64_t V, MaskKind mask_kind, uint64_t seed,
                      Shape x_shape = {}) {
  Rng rng(seed);
  Inputs<T> in;
  in.x_shape = x_shape.rank() == 0 ? Shape{N, I} : x_shape;
  in.x = Tensor<T>(in.x_shape);
  in.w = Tensor<T>(Shape{V, I});
  in.b = Tensor<T>(Shape{V});
  for (auto& v : in.x.span()) v = static_cast<T>(rng.uniform(-1, 1));
  // Logits of a few units, like a trained head's: the softmax is neither flat nor one-hot.
  const double range = 3.0 / std::sqrt(static_cast<double>(std::max<int64_t>(I, 1)));
  for (auto& v : in.w.span()) v = static_cast<T>(rng.uniform(-range, range));
  for (auto& v : in.b.span()) v = static_cast<T>(rng.uniform(-1, 1));
  for (int64_t i = 0; i < N; ++i)
    in.targets.push_back(static_cast<int32_t>(rng.below(static_cast<uint64_t>(V))));
  if (mask_kind == MaskKind::kSome) {
    for (int64_t i = 0; i < N; ++i) in.mask.push_back(rng.uniform() < 0.7 ? T(1) : T(0));
    in.mask[0] = T(1);  // at least one row counts
  }
  return in;
}

template <Scalar T>
struct Result {
  double loss = 0;
  std::vector<T> dx, dw, db;
};

template <Scalar T>
std::vector<T> grad_of(const Graph<T>& g, Var v) {
  const Tensor<T> t = g.grad_tensor(v);
  return {t.span().begin(), t.span().end()};
}

// The loss of the fused op (fused) or of linear + softmax_cross_entropy, times `upstream`, plus
// sum(x) when x_elsewhere (so x's gradient already holds something when the loss's backward runs);
// backward on it and the gradients. Runs on `g` (to test reuse), cleared first.
template <Scalar T>
Result<T> run(Graph<T>& g, const Inputs<T>& in, bool fused, bool with_bias, T upstream = T(1),
              bool x_elsewhere = false) {
  g.clear();
  Var x = g.input(in.x, true);
  Var w = g.input(in.w, true);
  std::optional<Var> b;
  if (with_bias) b = g.input(in.b, true);
  const std::span<const int32_t> targets(in.targets);
  const std::span<const T> mask(in.mask);
  Var loss;
  if (fused) {
    loss = linear_cross_entropy(g, x, w, b, targets, mask);
  } else {
    Var logits = linear(g, x, w, b);
    if (g.shape(logits).rank() != 2)
      logits = reshape(g, logits, Shape{g.shape(logits).rows(), g.shape(logits).cols()});
    loss = softmax_cross_entropy(g, logits, targets, mask);
  }
  Result<T> r;
  r.loss = static_cast<double>(g.item(loss));
  Var total = upstream == T(1) ? loss : scale(g, loss, upstream);
  if (x_elsewhere) total = add(g, total, sum(g, x));
  g.backward(total);
  r.dx = grad_of(g, x);
  r.dw = grad_of(g, w);
  if (with_bias) r.db = grad_of(g, *b);
  return r;
}

// max |a - b| <= tolerance * max |b| (gradients have many near-zero entries; element-wise
// relative error would judge rounding noise).
template <Scalar T>
void expect_close(const std::vector<T>& a, const std::vector<T>& b, double tolerance,
                  const std::string& label) {
  ASSERT_EQ(a.size(), b.size()) << label;
  double scale = 0, error = 0;
  size_t worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
    const double e = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (e > error) {
      error = e;
      worst = i;
    }
  }
  EXPECT_LE(error, tolerance * std::max(scale, 1e-30)) << label << ": worst at " << worst << ", " << a[worst]
                                                       << " vs " << b[worst] << " (scale " << scale << ")";
}

template <Scalar T>
void expect_results_close(const Result<T>& a, const Result<T>& b, double tolerance,
                          const std::string& label) {
  EXPECT_NEAR(a.loss, b.loss, tolerance * std::abs(b.loss)) << label << ": loss";
  expect_close(a.dx, b.dx, tolerance, label + ": dx");
  expect_close(a.dw, b.dw, tolerance, label + ": dW");
  expect_close(a.db, b.db, tolerance, label + ": db");
}

// Two threads: the tests that do not compare thread counts still run the op's split paths.
constexpr ComputeContext kTwoThreads{.threads = 2};

struct Size {
  int64_t N, I, V;
};

std::string describe(const Size& s, bool with_bias, MaskKind mask, int threads) {
  return "N=" + std::to_string(s.N) + " I=" + std::to_string(s.I) + " V=" + std::to_string(s.V) +
         (with_bias ? " bias" : " no bias") + (mask == MaskKind::kSome ? " mask" : " no mask") +
         " threads=" + std::to_string(threads);
}

// Every combination of bias, mask and 1 or 2 threads for each size: fused vs unfused, and the
// two thread counts against each other.
template <Scalar T>
void compare_with_unfused(const std::vector<Size>& sizes, double tolerance, double thread_tolerance) {
  Graph<T> g;
  uint64_t seed = 1;
  for (const Size& s : sizes) {
    for (bool with_bias : {true, false}) {
      for (MaskKind mask : {MaskKind::kNone, MaskKind::kSome}) {
        const Inputs<T> in = make_inputs<T>(s.N, s.I, s.V, mask, seed++);
        g.set_context({.threads = 1});
        const Result<T> reference = run(g, in, false, with_bias);
        std::optional<Result<T>> single;
        for (int threads : {1, 2}) {
          g.set_context({.threads = threads});
          const std::string label = describe(s, with_bias, mask, threads);
          const Result<T> fused = run(g, in, true, with_bias);
          expect_results_close(fused, reference, tolerance, label);
          if (single) {
            expect_results_close(fused, *single, thread_tolerance, label + " vs 1 thread");
          } else {
            single = fused;
          }
        }
      }
    }
  }
}

const std::vector<Size> kSizes = {
    {1, 32, 28},      // one row
    {7, 32, 28},      // a partial 8-row tile
    {300, 32, 28},    // several blocks, two threads
    {70, 512, 65},    // wide input, 5 vectors of classes
    {50, 40, 3000},   // large head: OpenBLAS
    {150, 40, 3000},  // large head, softmax rows on two threads
    {600, 17, 5},     // V below one vector, odd I, 3 blocks
    {3000, 32, 28},   // several blocks per thread
    {100, 16, 100},   // 7 vectors of classes
};

}  // namespace

TEST(LinearCrossEntropy, MatchesUnfusedFloat) { compare_with_unfused<float>(kSizes, 1e-5, 1e-5); }

TEST(LinearCrossEntropy, MatchesUnfusedDouble) { compare_with_unfused<double>(kSizes, 1e-12, 1e-12); }

TEST(LinearCrossEntropy, UpstreamGradientAndXUsedElsewhere) {
  // loss * 2.5, and loss * 2.5 + sum(x): the op scales by its upstream gradient, and writes x's
  // gradient when it is the first to reach x or adds into it when sum(x) was first.
  Graph<float> gf(kTwoThreads);
  Graph<double> gd(kTwoThreads);
  for (const Size& s : {Size{300, 32, 28}, Size{50, 40, 3000}}) {
    for (bool x_elsewhere : {false, true}) {
      const std::string label =
          describe(s, true, MaskKind::kSome, kTwoThreads.threads) + (x_elsewhere ? " + sum(x)" : "");
      const Inputs<float> f = make_inputs<float>(s.N, s.I, s.V, MaskKind::kSome, 77);
      expect_results_close(run(gf, f, true, true, 2.5f, x_elsewhere),
                           run(gf, f, false, true, 2.5f, x_elsewhere), 1e-5, label + " float");
      const Inputs<double> d = make_inputs<double>(s.N, s.I, s.V, MaskKind::kSome, 78);
      expect_results_close(run(gd, d, true, true, 2.5, x_elsewhere),
                           run(gd, d, false, true, 2.5, x_elsewhere), 1e-12, label + " double");
    }
  }
}

TEST(LinearCrossEntropy, LargeLogitsAndMaskedOutGarbage) {
  // Logits in the hundreds (log-sum-exp must shift by the row maximum), and masked-out rows whose
  // x is NaN or huge: they must not reach the loss or the gradient of x.
  for (const Size& s : {Size{300, 32, 28}, Size{40, 16, 65}, Size{50, 40, 3000}}) {
    Inputs<float> in = make_inputs<float>(s.N, s.I, s.V, MaskKind::kSome, 21);
    for (auto& v : in.x.span()) v *= 100.0f;
    Graph<float> g(kTwoThreads);
    const Result<float> clean = run(g, in, true, true);
    const Result<float> reference = run(g, in, false, true);
    EXPECT_TRUE(std::isfinite(clean.loss));
    expect_results_close(clean, reference, 1e-5,
                         describe(s, true, MaskKind::kSome, kTwoThreads.threads) + " x * 100");
    for (int64_t i = 0; i < s.N; ++i) {
      if (in.mask[static_cast<size_t>(i)] != 0.0f) continue;
      for (int64_t c = 0; c < s.I; ++c)
        in.x.span()[static_cast<size_t>(i * s.I + c)] =
            c % 2 ? std::numeric_limits<float>::quiet_NaN() : 1e30f;
    }
    const Result<float> dirty = run(g, in, true, true);
    EXPECT_EQ(dirty.loss, clean.loss);
    for (int64_t i = 0; i < s.N; ++i) {
      const bool counted = in.mask[static_cast<size_t>(i)] != 0.0f;
      for (int64_t c = 0; c < s.I; ++c) {
        const auto e = static_cast<size_t>(i * s.I + c);
        if (counted) {
          ASSERT_EQ(dirty.dx[e], clean.dx[e]) << "row " << i;
        } else {
          ASSERT_EQ(dirty.dx[e], 0.0f) << "row " << i;
        }
      }
    }
  }
}

TEST(LinearCrossEntropy, GraphReusedAcrossSteps) {
  // The second step finds the first step's buffers (dlogits, x's gradient) in place: they must be
  // overwritten, not added to.
  Graph<float> g(kTwoThreads);
  Graph<float> fresh(kTwoThreads);
  for (const Size& s : {Size{300, 32, 28}, Size{50, 40, 3000}}) {
    const Inputs<float> first = make_inputs<float>(s.N, s.I, s.V, MaskKind::kNone, 5);
    const Inputs<float> second = make_inputs<float>(s.N, s.I, s.V, MaskKind::kSome, 6);
    run(g, first, true, true);
    const Result<float> reused = run(g, second, true, true);
    const Result<float> alone = run(fresh, second, true, true);
    expect_results_close(reused, alone, 0.0, describe(s, true, MaskKind::kSome, kTwoThreads.threads));
  }
}

TEST(LinearCrossEntropy, RowsOfHigherRankX) {
  // x [T, B, I]: rows flattened, as linear() does.
  Graph<double> g;
  const Inputs<double> in = make_inputs<double>(12, 8, 6, MaskKind::kSome, 9, Shape{3, 4, 8});
  expect_results_close(run(g, in, true, true), run(g, in, false, true), 1e-12, "x [3, 4, 8]");
}

TEST(LinearCrossEntropy, NoInputs) {
  // I = 0: every row's logits are the bias; only the bias gets a gradient. Computed by hand, since
  // linear() leaves its output unwritten when I = 0.
  Graph<double> g;
  const Inputs<double> in = make_inputs<double>(9, 0, 4, MaskKind::kNone, 10);
  const Result<double> fused = run(g, in, true, true);
  const auto b = in.b.span();
  double total = 0;
  for (double v : b) total += std::exp(v);
  double loss = 0;
  std::vector<double> db(b.size());
  for (size_t c = 0; c < b.size(); ++c) db[c] = std::exp(b[c]) / total;  // mean of softmax - onehot
  for (int32_t t : in.targets) {
    loss += (std::log(total) - b[static_cast<size_t>(t)]) / 9.0;
    db[static_cast<size_t>(t)] -= 1.0 / 9.0;
  }
  EXPECT_NEAR(fused.loss, loss, 1e-12);
  expect_close(fused.db, db, 1e-12, "db");
}

TEST(LinearCrossEntropy, FiniteDifferences) {
  for (bool with_mask : {false, true}) {
    Inputs<double> in = make_inputs<double>(6, 5, 7, with_mask ? MaskKind::kSome : MaskKind::kNone, 11);
    Graph<double> g;
    const Result<double> analytic = run(g, in, true, true);
    auto loss_now = [&] {
      Graph<double> h;
      return h.item(linear_cross_entropy(h, h.input(in.x), h.input(in.w), h.input(in.b),
                                         std::span<const int32_t>(in.targets),
                                         std::span<const double>(in.mask)));
    };
    const std::string label = with_mask ? "with mask" : "without mask";
    test::expect_grad_close(in.x.span(), analytic.dx, loss_now, label + ": dx");
    test::expect_grad_close(in.w.span(), analytic.dw, loss_now, label + ": dW");
    test::expect_grad_close(in.b.span(), analytic.db, loss_now, label + ": db");
  }
}

TEST(LinearCrossEntropy, NoGradGivesTheSameLoss) {
  for (int threads : {1, 2}) {
    // The large no-grad case runs its rows through several scratch blocks.
    for (const Size& s : {Size{300, 32, 28}, Size{70, 512, 65}, Size{1500, 22, 3000}}) {
      const Inputs<float> in = make_inputs<float>(s.N, s.I, s.V, MaskKind::kSome, 12);
      Graph<float> g(ComputeContext{.threads = threads});
      const double with_grad = run(g, in, true, true).loss;
      const double reference = run(g, in, false, true).loss;
      g.clear();
      NoGradGuard<float> no_grad(g);
      const std::span<const int32_t> targets(in.targets);
      const std::span<const float> mask(in.mask);
      Var loss = linear_cross_entropy(g, g.input(in.x, true), g.input(in.w, true), g.input(in.b, true),
                                      targets, mask);
      EXPECT_FALSE(g.requires_grad(loss));
      // Equal up to the order in which the blocks' double sums are added.
      EXPECT_FLOAT_EQ(g.item(loss), static_cast<float>(with_grad))
          << describe(s, true, MaskKind::kSome, threads);
      EXPECT_NEAR(g.item(loss), reference, 1e-5 * reference) << describe(s, true, MaskKind::kSome, threads);
      // Constants only (grad mode on, nothing to differentiate): the same.
      Graph<float> h(ComputeContext{.threads = threads});
      Var constant = linear_cross_entropy(h, h.input(in.x), h.input(in.w), h.input(in.b), targets, mask);
      EXPECT_FLOAT_EQ(h.item(constant), static_cast<float>(with_grad));
    }
  }
}

TEST(LinearCrossEntropy, ErrorsReadLikeSoftmaxCrossEntropy) {
  Graph<double> g;
  Var x = g.input(Tensor<double>(Shape{3, 2}, 0.5), true);
  Var w = g.input(Tensor<double>(Shape{4, 2}, 0.25), true);
  Var logits = linear(g, x, w);
  const std::vector<int32_t> good = {0, 1, 3}, bad = {0, 4, 1}, negative = {0, 1, -1}, short_targets = {0, 1};
  const std::vector<double> zeros = {0, 0, 0}, half = {1, 0.5, 1}, two = {1, 1};
  struct Case {
    std::string name;
    std::vector<int32_t> targets;
    std::vector<double> mask;
  };
  for (const Case& c : std::vector<Case>{{"target id out of range", bad, {}},
                                         {"negative target id", negative, {}},
                                         {"too few targets", short_targets, {}},
                                         {"mask of all zeros", good, zeros},
                                         {"mask value not 0 or 1", good, half},
                                         {"mask of the wrong length", good, two}}) {
    const std::span<const int32_t> targets(c.targets);
    const std::span<const double> mask(c.mask);
    std::string expected, expected_type, actual, actual_type;
    try {
      softmax_cross_entropy(g, logits, targets, mask);
    } catch (const ShapeError& e) {
      expected_type = "ShapeError", expected = e.what();
    } catch (const ValueError& e) {
      expected_type = "ValueError", expected = e.what();
    }
    try {
      linear_cross_entropy(g, x, w, std::nullopt, targets, mask);
    } catch (const ShapeError& e) {
      actual_type = "ShapeError", actual = e.what();
    } catch (const ValueError& e) {
      actual_type = "ValueError", actual = e.what();
    }
    ASSERT_FALSE(expected.empty()) << c.name << ": softmax_cross_entropy accepted it";
    const std::string from = "softmax_cross_entropy";
    expected.replace(expected.find(from), from.size(), "linear_cross_entropy");
    EXPECT_EQ(actual_type, expected_type) << c.name;
    EXPECT_EQ(actual, expected) << c.name;
  }
}

TEST(LinearCrossEntropy, ShapeErrorsNameTheOperands) {
  Graph<float> g;
  Var x = g.input(Tensor<float>(Shape{3, 2}));
  const std::vector<int32_t> targets = {0, 1, 2};
  auto message_of = [&](Var xv, Var wv, std::optional<Var> bv) {
    try {
      linear_cross_entropy(g, xv, wv, bv, std::span<const int32_t>(targets));
    } catch (const ShapeError& e) {
      return std::string(e.what());
    }
    return std::string("no ShapeError");
  };
  const std::string inner = message_of(x, g.input(Tensor<float>(Shape{4, 3})), std::nullopt);
  EXPECT_NE(inner.find("linear_cross_entropy"), std::string::npos) << inner;
  EXPECT_NE(inner.find("[4, 3]"), std::string::npos) << inner;
  const std::string bias =
      message_of(x, g.input(Tensor<float>(Shape{4, 2})), g.input(Tensor<float>(Shape{3})));
  EXPECT_NE(bias.find("bias must be [4]"), std::string::npos) << bias;
  const std::string rank =
      message_of(g.input(Tensor<float>(Shape{3})), g.input(Tensor<float>(Shape{4, 3})), std::nullopt);
  EXPECT_NE(rank.find("at least 2 dimensions"), std::string::npos) << rank;
}
