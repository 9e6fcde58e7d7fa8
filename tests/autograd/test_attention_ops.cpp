// additive_attention_weights and attention_context (Bahdanau attention, d2l 11.4): forward against
// a plain-loop reference written from d2l's masked_softmax (masked scores set to -1e6), closed
// forms, central-difference gradient checks in double, bad input, and no-grad mode.
//
// Gradient bound (tests/support/gradcheck.h): |a - n| / max(|a| + |n|, 1e-7) <= 1e-6, with
// eps = 1e-5 instead of the helper's 1e-6: these losses add up to a few hundred terms, so the
// rounding error of the difference quotient (~1e-16 sum |terms| / eps, about 4e-10 at 1e-6) is
// what limits gradients near 1e-5; at 1e-5 the truncation error O(eps^2) is still far below the
// bound (measured margin about 3x). The ops have no kinks (tanh and softmax are smooth; the valid
// lengths are fixed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "expect_error.h"
#include "gradcheck.h"
#include "random_tensor.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"

using namespace recur;

namespace {

using test::expect_error_words;
using test::random_tensor;

struct Sizes {
  int64_t B, S, H;
  std::vector<int64_t> lengths;  // [B], each in [1, S]

  [[nodiscard]] std::string str() const {
    std::string listed;
    for (int64_t l : lengths) listed += (listed.empty() ? "" : ", ") + std::to_string(l);
    return "B=" + std::to_string(B) + " S=" + std::to_string(S) + " H=" + std::to_string(H) + " lengths [" +
           listed + "]";
  }
};

// Edge shapes: B = 1, S = 1, valid lengths of 1 and of S in one batch, H not a multiple of 8.
const std::vector<Sizes> kSizes = {
    {1, 1, 1, {1}},
    {1, 1, 5, {1}},
    {1, 4, 3, {4}},
    {3, 5, 7, {1, 5, 3}},
    {2, 6, 11, {6, 1}},
    {4, 3, 9, {3, 3, 1, 2}},
    {5, 12, 19, {12, 1, 7, 12, 4}},
};

// d2l's forward in plain double loops: scores from the formula, masked_softmax's -1e6 for
// s >= valid_len, then softmax over all S (exp(-1e6 - max) underflows to exactly 0).
std::vector<double> reference_weights(const Sizes& z, std::span<const double> query,
                                      std::span<const double> keys, std::span<const double> w_v) {
  std::vector<double> weights(static_cast<size_t>(z.B * z.S));
  for (int64_t b = 0; b < z.B; ++b) {
    std::vector<double> scores(static_cast<size_t>(z.S));
    for (int64_t s = 0; s < z.S; ++s) {
      double score = 0;
      for (int64_t h = 0; h < z.H; ++h)
        score += w_v[h] * std::tanh(query[b * z.H + h] + keys[(b * z.S + s) * z.H + h]);
      scores[s] = s < z.lengths[b] ? score : -1e6;
    }
    const double top = *std::max_element(scores.begin(), scores.end());
    double total = 0;
    for (double x : scores) total += std::exp(x - top);
    for (int64_t s = 0; s < z.S; ++s) weights[b * z.S + s] = std::exp(scores[s] - top) / total;
  }
  return weights;
}

// torch.bmm([B, 1, S], [B, S, Hv]) in plain loops.
std::vector<double> reference_context(int64_t B, int64_t S, int64_t Hv, std::span<const double> weights,
                                      std::span<const double> values) {
  std::vector<double> context(static_cast<size_t>(B * Hv), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hv; ++h)
      for (int64_t s = 0; s < S; ++s)
        context[b * Hv + h] += weights[b * S + s] * values[(b * S + s) * Hv + h];
  return context;
}

template <Scalar T>
Tensor<T> cast(const Tensor<double>& t) {
  Tensor<T> out(t.shape());
  for (int64_t i = 0; i < t.shape().numel(); ++i) out[i] = static_cast<T>(t[i]);
  return out;
}

// |actual - expected| <= tolerance elementwise; prints the first index that differs.
template <Scalar T>
void expect_close(std::span<const T> actual, const std::vector<double>& expected, double tolerance,
                  const std::string& label) {
  ASSERT_EQ(actual.size(), expected.size()) << label;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double a = static_cast<double>(actual[i]);
    if (!(std::abs(a - expected[i]) <= tolerance)) {
      ADD_FAILURE() << label << ": first difference at [" << i << "]: " << a << " vs reference "
                    << expected[i];
      return;
    }
  }
}

template <Scalar T>
void check_forward_against_reference(double tolerance) {
  Rng rng(11);
  for (const Sizes& z : kSizes) {
    const int64_t Hv = z.H + 2;
    const Tensor<double> query = random_tensor(rng, {z.B, z.H});
    const Tensor<double> keys = random_tensor(rng, {z.B, z.S, z.H});
    const Tensor<double> w_v = random_tensor(rng, {1, z.H}, 2.0);
    const Tensor<double> values = random_tensor(rng, {z.B, z.S, Hv});
    const std::vector<double> expected = reference_weights(z, query.span(), keys.span(), w_v.span());
    // The context from the reference weights, so that each op is checked on its own.
    const std::vector<double> expected_context = reference_context(z.B, z.S, Hv, expected, values.span());

    Graph<T> g;
    Var weights =
        additive_attention_weights(g, g.input(cast<T>(query), true), g.input(cast<T>(keys), true),
                                   g.input(cast<T>(w_v), true), std::span<const int64_t>(z.lengths));
    ASSERT_EQ(g.shape(weights), (Shape{z.B, z.S})) << z.str();
    const Tensor<T> actual = g.to_tensor(weights);
    expect_close<T>(actual.span(), expected, tolerance, "weights, " + z.str());
    for (int64_t b = 0; b < z.B; ++b) {
      double total = 0;
      for (int64_t s = 0; s < z.S; ++s) {
        total += static_cast<double>(actual[b * z.S + s]);
        // Masked positions: exactly 0, as d2l's -1e6 gives after exp.
        if (s >= z.lengths[b]) {
          EXPECT_EQ(expected[b * z.S + s], 0.0) << z.str();
          EXPECT_EQ(actual[b * z.S + s], T(0)) << z.str() << ", row " << b << ", position " << s;
        }
      }
      EXPECT_NEAR(total, 1.0, tolerance) << z.str() << ", row " << b;
    }

    Var context = attention_context(g, g.input(cast<T>(Tensor<double>({z.B, z.S}, expected)), true),
                                    g.input(cast<T>(values), true));
    ASSERT_EQ(g.shape(context), (Shape{z.B, Hv})) << z.str();
    expect_close<T>(g.to_tensor(context).span(), expected_context, tolerance, "context, " + z.str());
  }
}

constexpr double kEps = 1e-5;  // finite-difference step, see the top of the file

// Checks d loss / d inputs[k] for every k with differentiable[k] (all when empty), with
// loss = sum(y * R) for a fixed random R over the op's output y (as test_ops_gradcheck.cpp does).
using Op = std::function<Var(Graph<double>&, const std::vector<Var>&)>;

void check_gradients(const std::string& label, std::vector<Tensor<double>> inputs, const Op& op,
                     std::vector<bool> differentiable = {}) {
  if (differentiable.empty()) differentiable.assign(inputs.size(), true);
  Rng rng(1234);
  std::optional<Tensor<double>> weight;  // R, fixed across evaluations
  auto loss_of = [&](Graph<double>& g, Var output) {
    if (g.shape(output).numel() == 1) return output;  // already a loss
    if (!weight) weight = random_tensor(rng, g.shape(output));
    return sum(g, mul(g, output, g.input(*weight)));
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
                            label + ", input " + std::to_string(k), kEps);
  }
}

}  // namespace

// --- Forward -----------------------------------------------------------------------------------------

TEST(AttentionOps, ForwardMatchesMaskedSoftmaxReferenceInDouble) {
  check_forward_against_reference<double>(1e-12);
}

TEST(AttentionOps, ForwardMatchesMaskedSoftmaxReferenceInFloat) {
  check_forward_against_reference<float>(2e-6);
}

TEST(AttentionOps, ZeroScoreVectorGivesUniformWeightsOverValidPositions) {
  Rng rng(12);
  for (const Sizes& z : kSizes) {
    Graph<double> g;
    Var weights = additive_attention_weights(
        g, g.input(random_tensor(rng, {z.B, z.H})), g.input(random_tensor(rng, {z.B, z.S, z.H})),
        g.input(Tensor<double>({1, z.H})), std::span<const int64_t>(z.lengths));
    const Tensor<double> w = g.to_tensor(weights);
    for (int64_t b = 0; b < z.B; ++b)
      for (int64_t s = 0; s < z.S; ++s) {
        const double expected = s < z.lengths[b] ? 1.0 / static_cast<double>(z.lengths[b]) : 0.0;
        EXPECT_NEAR(w[b * z.S + s], expected, 1e-15) << z.str() << ", row " << b << ", position " << s;
      }
  }
}

TEST(AttentionOps, ValuesConstantAlongSourceGiveThatConstant) {
  Rng rng(13);
  for (const Sizes& z : kSizes) {
    const int64_t Hv = 6;
    Tensor<double> values({z.B, z.S, Hv});  // values[b, s, :] = row[b, :] for every s
    const Tensor<double> row = random_tensor(rng, {z.B, Hv});
    for (int64_t b = 0; b < z.B; ++b)
      for (int64_t s = 0; s < z.S; ++s)
        for (int64_t h = 0; h < Hv; ++h) values[(b * z.S + s) * Hv + h] = row[b * Hv + h];
    Graph<double> g;
    Var weights = additive_attention_weights(
        g, g.input(random_tensor(rng, {z.B, z.H})), g.input(random_tensor(rng, {z.B, z.S, z.H})),
        g.input(random_tensor(rng, {1, z.H}, 3.0)), std::span<const int64_t>(z.lengths));
    const Tensor<double> context = g.to_tensor(attention_context(g, weights, g.input(values)));
    expect_close<double>(context.span(), std::vector<double>(row.span().begin(), row.span().end()), 1e-14,
                         "context of constant values, " + z.str());
  }
}

// --- Gradients ---------------------------------------------------------------------------------------

TEST(AttentionOps, GradcheckWeightsWithRespectToQueryKeysAndScoreVector) {
  Rng rng(21);
  for (const Sizes& z : kSizes) {
    const std::vector<int64_t> lengths = z.lengths;
    const Op op = [lengths](Graph<double>& g, const std::vector<Var>& in) {
      return additive_attention_weights(g, in[0], in[1], in[2], std::span<const int64_t>(lengths));
    };
    const std::vector<Tensor<double>> inputs = {random_tensor(rng, {z.B, z.H}),
                                                random_tensor(rng, {z.B, z.S, z.H}),
                                                random_tensor(rng, {1, z.H}, 2.0)};
    check_gradients("additive_attention_weights " + z.str(), inputs, op);
    // Each input alone (the others constant), so that every branch of the backward runs.
    check_gradients("additive_attention_weights, query only, " + z.str(), inputs, op, {true, false, false});
    check_gradients("additive_attention_weights, keys only, " + z.str(), inputs, op, {false, true, false});
    check_gradients("additive_attention_weights, w_v only, " + z.str(), inputs, op, {false, false, true});
  }
}

TEST(AttentionOps, GradcheckContextWithRespectToWeightsAndValues) {
  Rng rng(22);
  for (const Sizes& z : kSizes) {
    const int64_t Hv = z.H + 1;
    const Op op = [](Graph<double>& g, const std::vector<Var>& in) {
      return attention_context(g, in[0], in[1]);
    };
    const std::vector<Tensor<double>> inputs = {random_tensor(rng, {z.B, z.S}),
                                                random_tensor(rng, {z.B, z.S, Hv})};
    check_gradients("attention_context " + z.str(), inputs, op);
    check_gradients("attention_context, weights only, " + z.str(), inputs, op, {true, false});
    check_gradients("attention_context, values only, " + z.str(), inputs, op, {false, true});
  }
}

// The decoder's use (d2l 11.4 Seq2SeqAttentionDecoder): the state projected by W_q, the encoder
// outputs projected by W_k as keys and used as values, the context through an output layer into a
// cross-entropy loss. Every input gets a gradient; the encoder outputs get it through two paths.
TEST(AttentionOps, GradcheckChainFromProjectionsToLoss) {
  Rng rng(23);
  for (const Sizes& z : kSizes) {
    const int64_t hidden = 5, vocab = 4;  // state and encoder output size, output classes
    const std::vector<int64_t> lengths = z.lengths;
    std::vector<int32_t> targets;
    for (int64_t b = 0; b < z.B; ++b) targets.push_back(static_cast<int32_t>(rng.below(vocab)));
    const Op op = [lengths, targets](Graph<double>& g, const std::vector<Var>& in) {
      // in: state [B, hidden], encoder outputs [B, S, hidden], W_q [H, hidden], W_k [H, hidden],
      //     w_v [1, H], output weight [vocab, hidden], output bias [vocab]
      Var query = linear(g, in[0], in[2]);
      Var keys = linear(g, in[1], in[3]);
      Var weights = additive_attention_weights(g, query, keys, in[4], std::span<const int64_t>(lengths));
      Var context = attention_context(g, weights, in[1]);
      return softmax_cross_entropy(g, linear(g, context, in[5], in[6]), std::span<const int32_t>(targets));
    };
    check_gradients(
        "projections + attention + cross-entropy, " + z.str(),
        {random_tensor(rng, {z.B, hidden}), random_tensor(rng, {z.B, z.S, hidden}),
         random_tensor(rng, {z.H, hidden}), random_tensor(rng, {z.H, hidden}),
         random_tensor(rng, {1, z.H}, 2.0), random_tensor(rng, {vocab, hidden}), random_tensor(rng, {vocab})},
        op);
  }
}

TEST(AttentionOps, MaskedPositionsGetNoGradient) {
  const Sizes z = {3, 5, 4, {2, 5, 1}};
  Rng rng(24);
  Graph<double> g;
  Var keys = g.input(random_tensor(rng, {z.B, z.S, z.H}), true);
  Var weights = additive_attention_weights(g, g.input(random_tensor(rng, {z.B, z.H}), true), keys,
                                           g.input(random_tensor(rng, {1, z.H}), true),
                                           std::span<const int64_t>(z.lengths));
  g.backward(sum(g, mul(g, weights, g.input(random_tensor(rng, {z.B, z.S})))));
  const Tensor<double> dkeys = g.grad_tensor(keys);
  for (int64_t b = 0; b < z.B; ++b)
    for (int64_t s = 0; s < z.S; ++s)
      for (int64_t h = 0; h < z.H; ++h) {
        const double d = dkeys[(b * z.S + s) * z.H + h];
        // A row of one valid position has weight 1 whatever its score: no gradient there either.
        if (s >= z.lengths[b] || z.lengths[b] == 1) {
          EXPECT_EQ(d, 0.0) << "row " << b << ", position " << s;
        } else {
          EXPECT_NE(d, 0.0) << "row " << b << ", position " << s;
        }
      }
}

// --- No-grad mode ------------------------------------------------------------------------------------

template <Scalar T>
void check_no_grad_mode() {
  const Sizes z = {4, 6, 13, {6, 1, 3, 6}};
  Rng rng(31);
  Graph<T> g;
  Var query = g.input(random_tensor<T>(rng, {z.B, z.H}), true);
  Var keys = g.input(random_tensor<T>(rng, {z.B, z.S, z.H}), true);
  Var w_v = g.input(random_tensor<T>(rng, {1, z.H}), true);
  Var values = g.input(random_tensor<T>(rng, {z.B, z.S, 3}), true);
  const std::span<const int64_t> lengths(z.lengths);

  size_t before = g.size();
  Var weights = additive_attention_weights(g, query, keys, w_v, lengths);
  EXPECT_EQ(g.size(), before + 2) << "grad mode: the output and the saved tanh(features)";
  before = g.size();
  Var context = attention_context(g, weights, values);
  EXPECT_EQ(g.size(), before + 1);
  EXPECT_TRUE(g.requires_grad(weights));
  EXPECT_TRUE(g.requires_grad(context));

  NoGradGuard<T> guard(g);
  before = g.size();
  Var weights_no_grad = additive_attention_weights(g, query, keys, w_v, lengths);
  EXPECT_EQ(g.size(), before + 1) << "no-grad mode saves nothing beside the output";
  Var context_no_grad = attention_context(g, weights_no_grad, values);
  EXPECT_EQ(g.size(), before + 2);
  EXPECT_FALSE(g.requires_grad(weights_no_grad));
  EXPECT_FALSE(g.requires_grad(context_no_grad));
  // The same arithmetic in the same order: equal bit for bit.
  const Tensor<T> a = g.to_tensor(weights), b = g.to_tensor(weights_no_grad);
  EXPECT_TRUE(std::equal(a.span().begin(), a.span().end(), b.span().begin()));
  const Tensor<T> c = g.to_tensor(context), d = g.to_tensor(context_no_grad);
  EXPECT_TRUE(std::equal(c.span().begin(), c.span().end(), d.span().begin()));
}

TEST(AttentionOps, NoGradModeGivesTheSameValuesAndSavesNothing) {
  check_no_grad_mode<float>();
  check_no_grad_mode<double>();
}

TEST(AttentionOps, InputsWithoutGradientSaveNothing) {
  const Sizes z = {2, 3, 4, {3, 2}};
  Rng rng(32);
  Graph<float> g;
  const size_t before = g.size();
  additive_attention_weights(
      g, g.input(random_tensor<float>(rng, {z.B, z.H})), g.input(random_tensor<float>(rng, {z.B, z.S, z.H})),
      g.input(random_tensor<float>(rng, {1, z.H})), std::span<const int64_t>(z.lengths));
  EXPECT_EQ(g.size(), before + 4) << "three inputs and the output";
}

// --- Bad input -----------------------------------------------------------------------------------------

TEST(AttentionOps, AdditiveAttentionWeightsRejectsBadShapesAndLengths) {
  Graph<double> g;
  Var query = g.input(Tensor<double>({2, 4}));
  Var keys = g.input(Tensor<double>({2, 3, 4}));
  Var w_v = g.input(Tensor<double>({1, 4}));
  const std::vector<int64_t> ok = {3, 1};
  auto call = [&](Var q, Var k, Var v, std::vector<int64_t> lengths) {
    return
        [&g, q, k, v, lengths] { additive_attention_weights(g, q, k, v, std::span<const int64_t>(lengths)); };
  };
  expect_error_words<ShapeError>(call(g.input(Tensor<double>({2, 1, 4})), keys, w_v, ok),
                                 {"additive_attention_weights", "query", "[2, 1, 4]", "2-D"});
  expect_error_words<ShapeError>(call(query, g.input(Tensor<double>({2, 12})), w_v, ok),
                                 {"additive_attention_weights", "keys", "[2, 12]", "3-D"});
  expect_error_words<ShapeError>(call(query, keys, g.input(Tensor<double>({4})), ok),
                                 {"additive_attention_weights", "w_v", "[4]", "[1, H]"});
  expect_error_words<ShapeError>(call(query, keys, g.input(Tensor<double>({2, 4})), ok),
                                 {"additive_attention_weights", "w_v", "[2, 4]", "[1, H]"});
  expect_error_words<ShapeError>(call(query, g.input(Tensor<double>({3, 3, 4})), w_v, ok),
                                 {"additive_attention_weights", "batch", "[2, 4]", "[3, 3, 4]"});
  expect_error_words<ShapeError>(call(query, g.input(Tensor<double>({2, 3, 5})), w_v, ok),
                                 {"additive_attention_weights", "hidden", "[2, 3, 5]", "4", "5"});
  expect_error_words<ShapeError>(call(query, keys, g.input(Tensor<double>({1, 5})), ok),
                                 {"additive_attention_weights", "hidden", "[1, 5]", "4", "5"});
  expect_error_words<ShapeError>(call(query, keys, w_v, {3}),
                                 {"additive_attention_weights", "need 2 valid lengths", "got 1"});
  expect_error_words<ShapeError>(call(query, keys, w_v, {3, 1, 2}),
                                 {"additive_attention_weights", "need 2 valid lengths", "got 3"});
  expect_error_words<ValueError>(call(query, keys, w_v, {3, 0}),
                                 {"additive_attention_weights", "valid length 0", "row 1", "[1, 3]"});
  expect_error_words<ValueError>(call(query, keys, w_v, {4, 1}),
                                 {"additive_attention_weights", "valid length 4", "row 0", "[1, 3]"});
  expect_error_words<ValueError>(call(query, keys, w_v, {-1, 1}),
                                 {"additive_attention_weights", "valid length -1", "row 0"});
}

TEST(AttentionOps, AttentionContextRejectsBadShapes) {
  Graph<double> g;
  Var weights = g.input(Tensor<double>({2, 3}));
  Var values = g.input(Tensor<double>({2, 3, 5}));
  expect_error_words<ShapeError>(
      [&] {
        attention_context(g, g.input(Tensor<double>({2, 1, 3})), values);
      },
      {"attention_context", "weights", "[2, 1, 3]", "2-D"});
  expect_error_words<ShapeError>(
      [&] {
        attention_context(g, weights, g.input(Tensor<double>({2, 15})));
      },
      {"attention_context", "values", "[2, 15]", "3-D"});
  expect_error_words<ShapeError>(
      [&] {
        attention_context(g, weights, g.input(Tensor<double>({2, 4, 5})));
      },
      {"attention_context", "[2, 3]", "[2, 4, 5]", "[2, 4]"});
  expect_error_words<ShapeError>(
      [&] {
        attention_context(g, weights, g.input(Tensor<double>({1, 3, 5})));
      },
      {"attention_context", "[2, 3]", "[1, 3, 5]", "[1, 3]"});
}
