// Forward values of the ops against small hand-computed cases, gradient flow control (detach,
// NoGradGuard, accumulation into parameter gradients) and bad-input errors, which must name the
// op and the offending shapes or values.
#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "recur/autograd/ops.h"
#include "recur/core/error.h"

using namespace recur;

namespace {

template <Scalar T>
Var constant(Graph<T>& g, const Shape& shape, std::vector<T> values, bool requires_grad = false) {
  return g.input(Tensor<T>(shape, std::move(values)), requires_grad);
}

template <Scalar T>
std::vector<T> values_of(const Graph<T>& g, Var v) {
  const Tensor<T> t = g.to_tensor(v);
  return {t.span().begin(), t.span().end()};
}

// Runs f, expects an exception of type E whose message contains every one of `words`.
template <typename E, typename F>
void expect_error(F&& f, std::initializer_list<std::string> words) {
  try {
    f();
    ADD_FAILURE() << "no exception thrown";
  } catch (const E& e) {
    const std::string message = e.what();
    for (const auto& w : words)
      EXPECT_NE(message.find(w), std::string::npos) << "'" << w << "' not in: " << message;
  }
}

}  // namespace

// --- Values --------------------------------------------------------------------------------------

TEST(OpsForward, MatmulHandComputedAndTransposeFlags) {
  Graph<double> g;
  Var a = constant<double>(g, {2, 3}, {1, 2, 3, 4, 5, 6});
  Var b = constant<double>(g, {3, 2}, {7, 8, 9, 10, 11, 12});
  EXPECT_EQ(values_of(g, matmul(g, a, b)), (std::vector<double>{58, 64, 139, 154}));
  // The same product from stored transposes.
  Var at = constant<double>(g, {3, 2}, {1, 4, 2, 5, 3, 6});
  Var bt = constant<double>(g, {2, 3}, {7, 9, 11, 8, 10, 12});
  EXPECT_EQ(values_of(g, matmul(g, at, b, true, false)), (std::vector<double>{58, 64, 139, 154}));
  EXPECT_EQ(values_of(g, matmul(g, a, bt, false, true)), (std::vector<double>{58, 64, 139, 154}));
  EXPECT_EQ(values_of(g, matmul(g, at, bt, true, true)), (std::vector<double>{58, 64, 139, 154}));
  EXPECT_EQ(g.shape(matmul(g, a, b)), (Shape{2, 2}));
}

TEST(OpsForward, LinearIsXTimesWeightTransposedPlusBias) {
  Graph<float> g;
  Var x = constant<float>(g, {1, 2}, {1, 2});
  Var w = constant<float>(g, {3, 2}, {1, 0, 0, 1, 1, 1});
  Var b = constant<float>(g, {3}, {0.5f, -1, 2});
  EXPECT_EQ(values_of(g, linear(g, x, w, b)), (std::vector<float>{1.5f, 1, 5}));
  EXPECT_EQ(values_of(g, linear(g, x, w)), (std::vector<float>{1, 2, 3}));
  Var seq = constant<float>(g, {2, 1, 2}, {1, 2, 3, 4});  // [T, B, I]
  Var y = linear(g, seq, w, b);
  EXPECT_EQ(g.shape(y), (Shape{2, 1, 3}));
  EXPECT_EQ(values_of(g, y), (std::vector<float>{1.5f, 1, 5, 3.5f, 3, 9}));
}

TEST(OpsForward, ArithmeticBroadcastsTrailingDimensions) {
  Graph<double> g;
  Var a = constant<double>(g, {2, 2}, {1, 2, 3, 4});
  Var row = constant<double>(g, {2}, {10, 20});
  EXPECT_EQ(values_of(g, add(g, a, row)), (std::vector<double>{11, 22, 13, 24}));
  EXPECT_EQ(values_of(g, sub(g, a, row)), (std::vector<double>{-9, -18, -7, -16}));
  EXPECT_EQ(values_of(g, mul(g, a, row)), (std::vector<double>{10, 40, 30, 80}));
  EXPECT_EQ(values_of(g, mul(g, a, a)), (std::vector<double>{1, 4, 9, 16}));
  EXPECT_EQ(values_of(g, scale(g, a, 0.5)), (std::vector<double>{0.5, 1, 1.5, 2}));
  Var tbn = constant<double>(g, {2, 1, 2}, {1, 2, 3, 4});
  EXPECT_EQ(values_of(g, add(g, tbn, row)), (std::vector<double>{11, 22, 13, 24}));
}

TEST(OpsForward, ActivationsAtKnownPoints) {
  Graph<double> g;
  Var x = constant<double>(g, {4}, {0, 1, -2, 2});
  const auto t = values_of(g, tanh(g, x));
  EXPECT_EQ(t[0], 0.0);
  EXPECT_NEAR(t[1], 0.7615941559557649, 1e-15);
  EXPECT_NEAR(t[2], -0.9640275800758169, 1e-15);
  const auto s = values_of(g, sigmoid(g, x));
  EXPECT_EQ(s[0], 0.5);
  EXPECT_NEAR(s[3], 0.8807970779778823, 1e-15);
  EXPECT_EQ(values_of(g, relu(g, x)), (std::vector<double>{0, 1, 0, 2}));
  EXPECT_NEAR(values_of(g, exp(g, x))[1], std::numbers::e, 1e-15);
  Var e = constant<double>(g, {2}, {std::numbers::e, 1});
  EXPECT_NEAR(values_of(g, log(g, e))[0], 1.0, 1e-15);
  EXPECT_EQ(values_of(g, log(g, e))[1], 0.0);

  Graph<float> f;  // float takes the vectorized polynomial path
  Var xf = constant<float>(f, {3}, {1, -2, 30});
  EXPECT_NEAR(values_of(f, tanh(f, xf))[0], 0.7615941559557649, 1e-7);
  EXPECT_NEAR(values_of(f, sigmoid(f, xf))[1], 0.11920292202211755, 1e-8);
  EXPECT_NEAR(values_of(f, exp(f, xf))[2] / 1.0686474581524463e13, 1.0, 1e-6);
}

TEST(OpsForward, SumAndMeanGiveShapeOne) {
  Graph<float> g;
  Var x = constant<float>(g, {2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(g.shape(sum(g, x)), Shape{1});
  EXPECT_EQ(g.item(sum(g, x)), 21.0f);
  EXPECT_EQ(g.item(mean(g, x)), 3.5f);
}

TEST(OpsForward, SliceSplitConcatOnA3DValue) {
  Graph<double> g;
  Var x = constant<double>(g, {2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  Var s1 = slice(g, x, 1, 1, 2);
  EXPECT_EQ(g.shape(s1), (Shape{2, 1, 2}));
  EXPECT_EQ(values_of(g, s1), (std::vector<double>{2, 3, 6, 7}));
  EXPECT_EQ(values_of(g, slice(g, x, -1, 0, 1)), (std::vector<double>{0, 2, 4, 6}));
  EXPECT_EQ(values_of(g, slice(g, x, 0, 1, 2)), (std::vector<double>{4, 5, 6, 7}));
  auto pieces = split(g, x, {1, 1}, 2);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(values_of(g, pieces[1]), (std::vector<double>{1, 3, 5, 7}));
  Var y = constant<double>(g, {2, 1, 2}, {8, 9, 10, 11});
  EXPECT_EQ(values_of(g, concat(g, {x, y}, 1)), (std::vector<double>{0, 1, 2, 3, 8, 9, 4, 5, 6, 7, 10, 11}));
  // split then concat gives the value back, along every axis.
  for (int axis = 0; axis < 3; ++axis)
    EXPECT_EQ(values_of(g, concat(g, split(g, x, {1, 1}, axis), axis)), values_of(g, x));
}

TEST(OpsForward, ReshapeKeepsOrderAndTransposeSwaps) {
  Graph<double> g;
  Var x = constant<double>(g, {2, 3}, {1, 2, 3, 4, 5, 6});
  Var r = reshape(g, x, Shape{3, 2});
  EXPECT_EQ(g.shape(r), (Shape{3, 2}));
  EXPECT_EQ(values_of(g, r), values_of(g, x));
  Var t = transpose(g, x);
  EXPECT_EQ(g.shape(t), (Shape{3, 2}));
  EXPECT_EQ(values_of(g, t), (std::vector<double>{1, 4, 2, 5, 3, 6}));
}

TEST(OpsForward, EmbeddingPicksRowsAndOneHotIsConstant) {
  Graph<double> g;
  std::vector<double> w = {0, 1, 10, 11, 20, 21};
  Tensor<double> grad({3, 2});
  Var weight = g.parameter({w.data(), Shape{3, 2}}, grad.view());
  const std::vector<int32_t> ids = {2, 0, 2};
  Var e = embedding(g, weight, std::span(ids));
  EXPECT_EQ(g.shape(e), (Shape{3, 2}));
  EXPECT_EQ(values_of(g, e), (std::vector<double>{20, 21, 0, 1, 20, 21}));
  g.backward(sum(g, e));
  EXPECT_EQ(values_of(g, weight), w);
  EXPECT_EQ(std::vector<double>(grad.span().begin(), grad.span().end()),
            (std::vector<double>{1, 1, 0, 0, 2, 2}));

  Var h = one_hot(g, std::span(ids), 4);
  EXPECT_EQ(values_of(g, h), (std::vector<double>{0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0}));
  EXPECT_FALSE(g.requires_grad(h));
}

TEST(OpsForward, SoftmaxCrossEntropyKnownLogits) {
  Graph<double> g;
  // -log softmax([1, 2, 3])[2] = log(1 + e^-1 + e^-2)
  Var one = constant<double>(g, {1, 3}, {1, 2, 3});
  const std::vector<int32_t> target = {2};
  EXPECT_NEAR(g.item(softmax_cross_entropy(g, one, std::span(target))),
              std::log(1 + std::exp(-1.0) + std::exp(-2.0)), 1e-15);
  // Equal logits: log V for any target; the mean over rows stays log V.
  Var flat = constant<double>(g, {2, 4}, std::vector<double>(8, 0.3));
  const std::vector<int32_t> targets = {0, 3};
  EXPECT_NEAR(g.item(softmax_cross_entropy(g, flat, std::span(targets))), std::log(4.0), 1e-15);
  // Mask: only counted rows enter the mean.
  Var two = constant<double>(g, {2, 3}, {1, 2, 3, 0, 0, 0});
  const std::vector<int32_t> t2 = {2, 0};
  const std::vector<double> second_only = {0, 1}, both = {1, 1};
  EXPECT_NEAR(g.item(softmax_cross_entropy(g, two, std::span(t2), std::span(second_only))), std::log(3.0),
              1e-15);
  EXPECT_NEAR(g.item(softmax_cross_entropy(g, two, std::span(t2), std::span(both))),
              (std::log(1 + std::exp(-1.0) + std::exp(-2.0)) + std::log(3.0)) / 2, 1e-15);
}

template <Scalar T>
void expect_cross_entropy_stable() {
  Graph<T> g;
  Var logits = constant<T>(g, {2, 2}, {1000, -1000, 1000, -1000}, true);
  const std::vector<int32_t> targets = {0, 1};
  Var loss = softmax_cross_entropy(g, logits, std::span(targets));
  EXPECT_TRUE(std::isfinite(g.item(loss)));
  EXPECT_NEAR(g.item(loss), T(1000), T(1e-3));  // (0 + 2000) / 2
  g.backward(loss);
  // (softmax - one_hot) / N: row 0 is exactly right, row 1 all wrong.
  EXPECT_EQ(values_of(g, logits).size(), 4u);
  const Tensor<T> d = g.grad_tensor(logits);
  EXPECT_EQ(std::vector<T>(d.span().begin(), d.span().end()), (std::vector<T>{0, 0, T(0.5), T(-0.5)}));
}

TEST(OpsForward, CrossEntropyIsStableForLogitsOf1000) {
  expect_cross_entropy_stable<double>();
  expect_cross_entropy_stable<float>();
}

TEST(OpsForward, DropoutIsReproducibleAndIdentityInEval) {
  Graph<float> g;
  Var x = constant<float>(g, {1000}, std::vector<float>(1000, 2.0f), true);
  Rng first(5), second(5);
  const auto a = values_of(g, dropout(g, x, 0.5f, first, true));
  EXPECT_EQ(a, values_of(g, dropout(g, x, 0.5f, second, true)));  // same seed, same mask
  int64_t kept = 0;
  for (float v : a) {
    ASSERT_TRUE(v == 0.0f || v == 4.0f) << v;  // dropped, or kept and scaled by 1 / (1 - p)
    kept += v != 0.0f ? 1 : 0;
  }
  EXPECT_NEAR(static_cast<double>(kept), 500.0, 80.0);  // Binomial(1000, 0.5): sd about 16

  Rng untouched(9);
  const auto state = untouched.state();
  EXPECT_EQ(dropout(g, x, 0.5f, untouched, false).id, x.id);  // eval: the input itself
  EXPECT_EQ(dropout(g, x, 0.0f, untouched, true).id, x.id);   // p == 0: the input itself
  EXPECT_EQ(untouched.state(), state);                        // and nothing drawn
}

TEST(OpsForward, CheckFiniteNamesWhatWhereAndValue) {
  EXPECT_NO_THROW(check_finite(1.5, "loss", "epoch 1, step 2"));
  expect_error<NumericError>(
      [] { check_finite(std::numeric_limits<double>::quiet_NaN(), "loss", "epoch 3, step 120"); },
      {"loss", "NaN", "epoch 3, step 120"});
  expect_error<NumericError>(
      [] { check_finite(-std::numeric_limits<double>::infinity(), "grad norm", "step 7"); },
      {"grad norm", "-inf", "step 7"});
}

TEST(OpsForward, EmptyDimensionsGiveEmptyOrZeroResults) {
  Graph<double> g;
  Var a = g.input(Tensor<double>({2, 0}), true);
  Var b = g.input(Tensor<double>({0, 3}), true);
  Var c = matmul(g, a, b);  // an empty inner dimension: a sum of nothing
  EXPECT_EQ(values_of(g, c), std::vector<double>(6, 0.0));
  g.backward(sum(g, c));
  Var w = g.input(Tensor<double>({4, 2}));
  EXPECT_EQ(g.shape(embedding(g, w, std::span<const int32_t>{})), (Shape{0, 2}));
  EXPECT_EQ(g.shape(slice(g, w, 0, 2, 2)), (Shape{0, 2}));
  EXPECT_EQ(g.shape(concat(g, {w, g.input(Tensor<double>({0, 2}))}, 0)), (Shape{4, 2}));
}

// --- Gradient flow ---------------------------------------------------------------------------------

TEST(OpsForward, DetachStopsGradients) {
  Graph<double> g;
  Var x = constant<double>(g, {3}, {1, 2, 3}, true);
  Var stopped = g.detach(x);
  EXPECT_FALSE(g.requires_grad(stopped));
  g.backward(sum(g, mul(g, stopped, x)));  // d/dx (c * x) = c, not 2x
  const Tensor<double> dx = g.grad_tensor(x);
  EXPECT_EQ(std::vector<double>(dx.span().begin(), dx.span().end()), (std::vector<double>{1, 2, 3}));
  EXPECT_FALSE(g.has_grad(stopped));
}

TEST(OpsForward, NoGradGuardRecordsNoBackward) {
  Graph<double> g;
  std::vector<double> w = {1, 2, 3, 4};
  Tensor<double> grad({2, 2});
  Var weight = g.parameter({w.data(), Shape{2, 2}}, grad.view());
  Var x = constant<double>(g, {1, 2}, {1, 1}, true);
  {
    NoGradGuard<double> guard(g);
    Var y = tanh(g, matmul(g, x, weight));
    EXPECT_FALSE(g.requires_grad(y));
    Var loss = sum(g, y);
    EXPECT_FALSE(g.requires_grad(loss));
    EXPECT_THROW(g.backward(loss), Error);
  }
  EXPECT_TRUE(g.grad_enabled());
  EXPECT_TRUE(g.requires_grad(matmul(g, x, weight)));
}

TEST(OpsForward, BackwardAddsIntoParameterGradients) {
  Graph<double> g;
  std::vector<double> w = {1, 2};
  Tensor<double> grad(Shape{2}, 10.0);  // what earlier steps left; the trainer zeroes it, not backward
  Var weight = g.parameter({w.data(), Shape{2}}, grad.view());
  g.backward(sum(g, scale(g, weight, 3.0)));
  EXPECT_EQ(std::vector<double>(grad.span().begin(), grad.span().end()), (std::vector<double>{13, 13}));
}

// --- Bad input -------------------------------------------------------------------------------------

TEST(OpsForward, ShapeErrorsNameTheOpAndShapes) {
  Graph<double> g;
  Var a23 = g.input(Tensor<double>({2, 3}));
  Var a45 = g.input(Tensor<double>({4, 5}));
  Var a3 = g.input(Tensor<double>({3}));
  Var a234 = g.input(Tensor<double>({2, 3, 4}));
  expect_error<ShapeError>([&] { matmul(g, a23, a45); }, {"matmul", "[2, 3]", "[4, 5]", "3", "4"});
  expect_error<ShapeError>([&] { matmul(g, a234, a23); }, {"matmul", "[2, 3, 4]", "2-D"});
  expect_error<ShapeError>([&] { linear(g, a23, a45); }, {"linear", "[2, 3]", "[4, 5]"});
  expect_error<ShapeError>(
      [&] {
        linear(g, a23, g.input(Tensor<double>({4, 3})), a3);
      },
      {"linear", "bias", "[3]", "[4]"});
  expect_error<ShapeError>([&] { add(g, a45, a3); }, {"add", "[4, 5]", "[3]"});
  expect_error<ShapeError>([&] { sub(g, a3, a23); }, {"sub", "[3]", "[2, 3]"});
  expect_error<ShapeError>([&] { mul(g, a234, a23); }, {"mul", "[2, 3, 4]", "[2, 3]"});
  expect_error<ShapeError>([&] { concat(g, {a23, a45}, 0); }, {"concat", "[2, 3]", "[4, 5]"});
  expect_error<ShapeError>([&] { concat(g, {a23, a23}, 2); }, {"concat", "axis 2", "[2, 3]"});
  expect_error<ShapeError>([&] { split(g, a234, {1, 1}, 2); }, {"split", "[1, 1]", "[2, 3, 4]"});
  expect_error<ShapeError>([&] { slice(g, a234, 1, 2, 4); }, {"slice", "[2, 4)", "[2, 3, 4]"});
  expect_error<ShapeError>([&] { reshape(g, a23, Shape{4, 2}); }, {"reshape", "[2, 3]", "[4, 2]"});
  expect_error<ShapeError>([&] { transpose(g, a234); }, {"transpose", "[2, 3, 4]"});
  expect_error<ShapeError>([&] { mean(g, g.input(Tensor<double>({0, 3}))); }, {"mean", "[0, 3]"});
  expect_error<ShapeError>([&] { embedding(g, a3, std::span<const int32_t>{}); }, {"embedding", "[3]"});
}

TEST(OpsForward, ValueErrorsNameTheBadIdAndPosition) {
  Graph<double> g;
  Var weight = g.input(Tensor<double>({5, 2}));
  const std::vector<int32_t> ids = {0, 4, 7, 1};
  expect_error<ValueError>([&] { embedding(g, weight, std::span(ids)); },
                           {"embedding", "id 7", "position 2", "[0, 5)"});
  const std::vector<int32_t> negative = {-1};
  expect_error<ValueError>([&] { embedding(g, weight, std::span(negative)); },
                           {"embedding", "id -1", "position 0"});
  expect_error<ValueError>([&] { one_hot<double>(g, std::span(ids), 5); }, {"one_hot", "id 7", "position 2"});
  expect_error<ValueError>([&] { one_hot<double>(g, std::span(ids), 0); }, {"one_hot", "depth", "0"});
  Rng rng(1);
  for (double p : {1.0, -0.1, std::numeric_limits<double>::quiet_NaN()})
    expect_error<ValueError>([&] { dropout(g, weight, p, rng, true); }, {"dropout", "[0, 1)"});
  expect_error<ValueError>([&] { split(g, weight, {6, -1}, 0); }, {"split", "-1"});
}

TEST(OpsForward, CrossEntropyRejectsBadTargetsAndMasks) {
  Graph<double> g;
  Var logits = g.input(Tensor<double>({3, 4}));
  const std::vector<int32_t> good = {0, 1, 3}, bad = {0, 4, 1}, short_targets = {0, 1};
  expect_error<ValueError>([&] { softmax_cross_entropy(g, logits, std::span(bad)); },
                           {"softmax_cross_entropy", "id 4", "position 1", "[0, 4)"});
  expect_error<ShapeError>([&] { softmax_cross_entropy(g, logits, std::span(short_targets)); },
                           {"softmax_cross_entropy", "[3, 4]", "3 targets", "got 2"});
  const std::vector<double> zeros = {0, 0, 0}, half = {1, 0.5, 1}, two = {1, 1};
  expect_error<ValueError>([&] { softmax_cross_entropy(g, logits, std::span(good), std::span(zeros)); },
                           {"softmax_cross_entropy", "mask", "no rows"});
  expect_error<ValueError>([&] { softmax_cross_entropy(g, logits, std::span(good), std::span(half)); },
                           {"softmax_cross_entropy", "mask[1]", "0.5", "0 or 1"});
  expect_error<ShapeError>([&] { softmax_cross_entropy(g, logits, std::span(good), std::span(two)); },
                           {"softmax_cross_entropy", "mask", "3", "got 2"});
  expect_error<ShapeError>([&] { softmax_cross_entropy(g, g.input(Tensor<double>({4})), std::span(good)); },
                           {"softmax_cross_entropy", "[4]", "2-D"});
}
