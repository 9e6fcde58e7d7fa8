// Central-difference gradient checks, in double precision, of every differentiable op in
// recur/ops.h with respect to every differentiable input.
//
// Each check builds loss = sum_k sum(y_k * R_k) over the op's outputs y_k with fixed random R_k
// (so every output element matters, with its own weight), runs backward, and compares each input
// gradient with (L(x + eps) - L(x - eps)) / 2 eps, rebuilding the graph from the perturbed input.
// Bound (tests/support/gradcheck.h): |a - n| / max(|a| + |n|, 1e-7) <= 1e-6 with eps = 1e-6.
// Kinks are avoided: relu inputs are kept at least 0.1 away from 0, log inputs positive.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "random_tensor.h"
#include "recur/autograd/ops.h"

using namespace recur;

namespace {

using test::random_tensor;
using test::random_uniform;

using Op = std::function<std::vector<Var>(Graph<double>&, const std::vector<Var>&)>;

// Values in +-[0.1, 1]: away from relu's kink at 0.
Tensor<double> away_from_zero(const Shape& shape, Rng& rng) {
  Tensor<double> t(shape);
  for (auto& v : t.span()) v = (rng.uniform() < 0.5 ? -1 : 1) * rng.uniform(0.1, 1.0);
  return t;
}

// Checks d loss / d inputs[k] for every k with differentiable[k] (all when empty).
void check_gradients(const std::string& label, std::vector<Tensor<double>> inputs, const Op& op,
                     std::vector<bool> differentiable = {}) {
  if (differentiable.empty()) differentiable.assign(inputs.size(), true);
  Rng rng(1234);
  std::vector<Tensor<double>> weights;  // R_k, one per output, fixed across evaluations
  auto loss_of = [&](Graph<double>& g, const std::vector<Var>& outputs) {
    Var total;
    for (size_t k = 0; k < outputs.size(); ++k) {
      if (weights.size() <= k) weights.push_back(random_tensor(rng, g.shape(outputs[k])));
      Var term = sum(g, mul(g, outputs[k], g.input(weights[k])));
      total = k == 0 ? term : add(g, total, term);
    }
    return total;
  };

  Graph<double> g;
  std::vector<Var> leaves;
  for (size_t k = 0; k < inputs.size(); ++k) leaves.push_back(g.input(inputs[k], differentiable[k]));
  g.backward(loss_of(g, op(g, leaves)));

  auto loss_at_current_values = [&] {
    Graph<double> h;
    std::vector<Var> constants;
    for (const auto& t : inputs) constants.push_back(h.input(t));
    return h.item(loss_of(h, op(h, constants)));
  };
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!differentiable[k]) continue;
    ASSERT_TRUE(g.has_grad(leaves[k])) << label << ": no gradient reached input " << k;
    const Tensor<double> analytic = g.grad_tensor(leaves[k]);
    test::expect_grad_close(inputs[k].span(), analytic.span(), loss_at_current_values,
                            label + ", input " + std::to_string(k));
  }
}

// An op of one output.
Op single(std::function<Var(Graph<double>&, const std::vector<Var>&)> f) {
  return [f](Graph<double>& g, const std::vector<Var>& in) { return std::vector<Var>{f(g, in)}; };
}

}  // namespace

TEST(OpsGradcheck, MatmulEveryTransposeCombination) {
  const int64_t M = 3, K = 4, N = 5;
  Rng rng(1);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const Shape sa = ta ? Shape{K, M} : Shape{M, K};
      const Shape sb = tb ? Shape{N, K} : Shape{K, N};
      check_gradients("matmul ta=" + std::to_string(ta) + " tb=" + std::to_string(tb),
                      {random_tensor(rng, sa), random_tensor(rng, sb)},
                      single([=](Graph<double>& g, const std::vector<Var>& in) {
                        return matmul(g, in[0], in[1], ta, tb);
                      }));
    }
  }
}

TEST(OpsGradcheck, MatmulOfAValueWithItself) {
  Rng rng(2);
  check_gradients("matmul(a, a^T)", {random_tensor(rng, {3, 4})},
                  single([](Graph<double>& g, const std::vector<Var>& in) {
                    return matmul(g, in[0], in[0], false, true);
                  }));
}

TEST(OpsGradcheck, LinearWithAndWithoutBias) {
  Rng rng(3);
  check_gradients(
      "linear with bias", {random_tensor(rng, {4, 3}), random_tensor(rng, {5, 3}), random_tensor(rng, {5})},
      single([](Graph<double>& g, const std::vector<Var>& in) { return linear(g, in[0], in[1], in[2]); }));
  check_gradients(
      "linear without bias", {random_tensor(rng, {4, 3}), random_tensor(rng, {5, 3})},
      single([](Graph<double>& g, const std::vector<Var>& in) { return linear(g, in[0], in[1]); }));
  // A whole sequence [T, B, I] projected at once.
  check_gradients(
      "linear on [T, B, I]",
      {random_tensor(rng, {3, 2, 4}), random_tensor(rng, {5, 4}), random_tensor(rng, {5})},
      single([](Graph<double>& g, const std::vector<Var>& in) { return linear(g, in[0], in[1], in[2]); }));
}

TEST(OpsGradcheck, AddSubMulSameShapeAndBroadcast) {
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> cases = {
      {{3, 4}, {3, 4}},     // same shape
      {{3, 4}, {4}},        // bias [N] against [M, N]
      {{2, 3, 4}, {4}},     // bias [N] against [T, B, N]
      {{2, 3, 4}, {3, 4}},  // [B, N] against [T, B, N]
      {{2, 3}, {}},         // a one-element scalar against everything
  };
  using Binary = Var (*)(Graph<double>&, Var, Var);
  const std::vector<std::pair<std::string, Binary>> ops = {
      {"add", add<double>}, {"sub", sub<double>}, {"mul", mul<double>}};
  Rng rng(4);
  for (const auto& [name, f] : ops) {
    for (const auto& c : cases) {
      check_gradients(
          name + " " + c.a.str() + " and " + c.b.str(), {random_tensor(rng, c.a), random_tensor(rng, c.b)},
          single([f](Graph<double>& g, const std::vector<Var>& in) { return f(g, in[0], in[1]); }));
    }
    // Both operands the same Var: the two gradient contributions add up (x * x -> 2x).
    check_gradients(name + " of a value with itself", {random_tensor(rng, {3, 4})},
                    single([f](Graph<double>& g, const std::vector<Var>& in) { return f(g, in[0], in[0]); }));
  }
}

TEST(OpsGradcheck, Scale) {
  Rng rng(5);
  check_gradients(
      "scale", {random_tensor(rng, {2, 5})},
      single([](Graph<double>& g, const std::vector<Var>& in) { return scale(g, in[0], -1.75); }));
}

TEST(OpsGradcheck, Activations) {
  using Unary = Var (*)(Graph<double>&, Var);
  const std::vector<std::pair<std::string, Unary>> ops = {
      {"tanh", tanh<double>}, {"sigmoid", sigmoid<double>}, {"exp", exp<double>}};
  Rng rng(6);
  for (const auto& [name, f] : ops) {
    check_gradients(name, {random_uniform(rng, {3, 7}, -3, 3)},
                    single([f](Graph<double>& g, const std::vector<Var>& in) { return f(g, in[0]); }));
  }
  check_gradients("relu", {away_from_zero({3, 7}, rng)},
                  single([](Graph<double>& g, const std::vector<Var>& in) { return relu(g, in[0]); }));
  check_gradients("log", {random_uniform(rng, {3, 7}, 0.2, 3)},
                  single([](Graph<double>& g, const std::vector<Var>& in) { return log(g, in[0]); }));
}

TEST(OpsGradcheck, SumAndMean) {
  Rng rng(7);
  check_gradients("sum", {random_tensor(rng, {2, 3, 4})},
                  single([](Graph<double>& g, const std::vector<Var>& in) { return sum(g, in[0]); }));
  check_gradients("mean", {random_tensor(rng, {2, 3, 4})},
                  single([](Graph<double>& g, const std::vector<Var>& in) { return mean(g, in[0]); }));
  // Two reductions of one value: the first writes its fresh gradient, the second adds to it.
  check_gradients("sum + mean of one value", {random_tensor(rng, {2, 3, 4})},
                  single([](Graph<double>& g, const std::vector<Var>& in) {
                    return add(g, sum(g, in[0]), mean(g, in[0]));
                  }));
}

TEST(OpsGradcheck, ConcatAlongEveryAxis) {
  Rng rng(8);
  const Shape base{2, 3, 4};
  for (int axis : {0, 1, 2, -1}) {
    const int ax = axis < 0 ? axis + 3 : axis;
    std::vector<Tensor<double>> parts;
    for (int64_t size : {1, 2, 3}) {
      Shape s = base;
      s[ax] = size;
      parts.push_back(random_tensor(rng, s));
    }
    check_gradients(
        "concat axis " + std::to_string(axis), parts,
        single([axis](Graph<double>& g, const std::vector<Var>& in) { return concat(g, in, axis); }));
  }
  // The same Var twice: its gradient is the sum of both slots'.
  check_gradients("concat of a value with itself", {random_tensor(rng, base)},
                  single([](Graph<double>& g, const std::vector<Var>& in) {
                    return concat(g, {in[0], in[0]}, 1);
                  }));
}

TEST(OpsGradcheck, SplitAlongEveryAxis) {
  Rng rng(9);
  const Shape shape{3, 4, 5};
  const std::vector<std::vector<int64_t>> sizes = {
      {1, 2}, {2, 0, 2}, {2, 3}};  // per axis; 0 gives an empty piece
  for (int axis = 0; axis < 3; ++axis) {
    const auto& s = sizes[static_cast<size_t>(axis)];
    check_gradients(
        "split axis " + std::to_string(axis), {random_tensor(rng, shape)},
        [axis, s](Graph<double>& g, const std::vector<Var>& in) { return split(g, in[0], s, axis); });
  }
  // Only the last piece used: the others receive no gradient and must be skipped.
  check_gradients("split, last piece only", {random_tensor(rng, shape)},
                  [](Graph<double>& g, const std::vector<Var>& in) {
                    return std::vector<Var>{split(g, in[0], {1, 1, 3}, -1)[2]};
                  });
}

TEST(OpsGradcheck, SliceAlongEveryAxis) {
  Rng rng(10);
  const Shape shape{3, 4, 5};
  const std::vector<std::pair<int64_t, int64_t>> ranges = {{1, 3}, {0, 2}, {2, 5}};
  for (int axis = 0; axis < 3; ++axis) {
    const auto [start, end] = ranges[static_cast<size_t>(axis)];
    check_gradients("slice axis " + std::to_string(axis), {random_tensor(rng, shape)},
                    single([=](Graph<double>& g, const std::vector<Var>& in) {
                      return slice(g, in[0], axis, start, end);
                    }));
  }
}

TEST(OpsGradcheck, ReshapeAndTranspose) {
  Rng rng(11);
  check_gradients("reshape", {random_tensor(rng, {2, 3, 4})},
                  single([](Graph<double>& g, const std::vector<Var>& in) {
                    return reshape(g, in[0], Shape{4, 6});
                  }));
  check_gradients("transpose", {random_tensor(rng, {3, 5})},
                  single([](Graph<double>& g, const std::vector<Var>& in) { return transpose(g, in[0]); }));
}

TEST(OpsGradcheck, EmbeddingWithRepeatedIds) {
  Rng rng(12);
  const std::vector<int32_t> ids = {1, 4, 1, 1, 0};  // row 1 three times, rows 2 and 3 never
  check_gradients("embedding", {random_tensor(rng, {5, 3})},
                  single([&](Graph<double>& g, const std::vector<Var>& in) {
                    return embedding(g, in[0], std::span(ids));
                  }));
}

TEST(OpsGradcheck, SoftmaxCrossEntropyWithAndWithoutMask) {
  Rng rng(13);
  const std::vector<int32_t> targets = {0, 3, 3, 4};
  check_gradients("cross-entropy", {random_uniform(rng, {4, 5}, -2, 2)},
                  single([&](Graph<double>& g, const std::vector<Var>& in) {
                    return softmax_cross_entropy(g, in[0], std::span(targets));
                  }));
  const std::vector<double> mask = {1, 0, 1, 1};
  check_gradients("cross-entropy with mask", {random_uniform(rng, {4, 5}, -2, 2)},
                  single([&](Graph<double>& g, const std::vector<Var>& in) {
                    return softmax_cross_entropy(g, in[0], std::span(targets), std::span(mask));
                  }));
  // Far-apart logits (+-1000) are a forward test: there finite differences lose their digits.
}

TEST(OpsGradcheck, DropoutTrainingAndEval) {
  Rng rng(14);
  // The op draws its mask from an Rng seeded afresh on every rebuild, so the mask is fixed.
  check_gradients("dropout training", {random_tensor(rng, {4, 6})},
                  single([](Graph<double>& g, const std::vector<Var>& in) {
                    Rng mask_rng(99);
                    return dropout(g, in[0], 0.3, mask_rng, true);
                  }));
  check_gradients("dropout eval", {random_tensor(rng, {4, 6})},
                  single([](Graph<double>& g, const std::vector<Var>& in) {
                    Rng mask_rng(99);
                    return dropout(g, in[0], 0.3, mask_rng, false);
                  }));
}

TEST(OpsGradcheck, DropoutGradientIsMaskOverKeepProbability) {
  const double p = 0.25;
  Rng values(15), mask_rng(42);
  Graph<double> g;
  Var x = g.input(away_from_zero({64, 32}, values), true);
  Var y = dropout(g, x, p, mask_rng, true);
  g.backward(sum(g, y));
  const Tensor<double> dx = g.grad_tensor(x);
  const double* xv = g.value(x);
  const double* yv = g.value(y);
  int64_t dropped = 0;
  for (int64_t i = 0; i < dx.numel(); ++i) {
    // d sum(y) / dx_i is the mask value, 0 or 1 / (1 - p), and y_i = x_i times it.
    ASSERT_TRUE(dx[i] == 0.0 || dx[i] == 1.0 / (1.0 - p)) << "index " << i << ": " << dx[i];
    ASSERT_DOUBLE_EQ(yv[i], xv[i] * dx[i]) << "index " << i;
    dropped += dx[i] == 0.0 ? 1 : 0;
  }
  // 2048 Bernoulli(0.25) draws: mean 512, standard deviation about 20.
  EXPECT_NEAR(static_cast<double>(dropped), p * static_cast<double>(dx.numel()), 100.0);
}

TEST(OpsGradcheck, RecurrentStepWithFanOut) {
  // h1 = tanh(x W_ih^T + b + h0 W_hh^T), logits = h1 W_out^T, loss = CE + sum(h0 * h1): h0 feeds
  // two consumers and h1 three (the gradient of each is the sum over its uses).
  Rng rng(16);
  const std::vector<int32_t> targets = {2, 0, 1};
  check_gradients("recurrent step",
                  {random_tensor(rng, {3, 4}), random_tensor(rng, {5, 4}), random_tensor(rng, {5}),
                   random_tensor(rng, {3, 5}), random_tensor(rng, {5, 5}), random_tensor(rng, {3, 5})},
                  [&](Graph<double>& g, const std::vector<Var>& in) {
                    Var pre = add(g, linear(g, in[0], in[1], in[2]), matmul(g, in[3], in[4], false, true));
                    Var h1 = tanh(g, pre);
                    Var loss = softmax_cross_entropy(g, linear(g, h1, in[5]), std::span(targets));
                    return std::vector<Var>{loss, mul(g, in[3], h1), sigmoid(g, h1)};
                  });
}
