// The tape's storage rules: aliases (reshape without copying), gradient buffers handed out for
// writing, and node buffers reused across clear() without zero-filling.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "recur/autograd/graph.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"
#include "recur/core/rng.h"

namespace recur {
namespace {

Tensor<float> iota(const Shape& shape, float start = 1) {
  Tensor<float> t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = start + static_cast<float>(i);
  return t;
}

TEST(Graph, AliasSharesValueAndGradient) {
  Graph<float> g;
  Var x = g.input(iota({2, 3}), true);
  Var view = g.alias(x, Shape{3, 2});
  EXPECT_EQ(g.value(view), g.value(x));
  EXPECT_EQ(g.shape(view), (Shape{3, 2}));
  EXPECT_TRUE(g.requires_grad(view));
  Var view2 = g.alias(view, Shape{6});  // an alias of an alias shares the original
  g.backward(sum(g, mul(g, view2, view2)));
  const Tensor<float> dx = g.grad_tensor(x);
  for (int64_t i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(dx.data()[i], 2.0f * static_cast<float>(i + 1));
  EXPECT_THROW((void)g.alias(x, Shape{4}), ShapeError);
}

TEST(Graph, GradientReachesThroughReshapeAndDirectUse) {
  // x is used directly and through a reshape: both contributions add up.
  Graph<float> g;
  Var x = g.input(iota({2, 2}), true);
  Var r = reshape(g, x, Shape{4});
  g.backward(add(g, sum(g, scale(g, r, 3.0f)), sum(g, x)));
  const Tensor<float> dx = g.grad_tensor(x);
  for (float d : dx.span()) EXPECT_FLOAT_EQ(d, 4.0f);
}

TEST(Graph, GradForWriteHandsOutFreshBuffersOnceThenAccumulates) {
  Graph<float> g;
  Var x = g.input(iota({4}), true);
  GradSlot<float> first = g.grad_for_write(x);
  EXPECT_FALSE(first.accumulate);
  for (int i = 0; i < 4; ++i) first.data[i] = 1.0f;
  GradSlot<float> second = g.grad_for_write(x);
  EXPECT_TRUE(second.accumulate);
  EXPECT_EQ(second.data, first.data);
  EXPECT_TRUE(g.has_grad(x));

  // A parameter's gradient lives outside the graph and always accumulates.
  Tensor<float> w = iota({2}), dw({2});
  Var p = g.parameter(w.view(), dw.view());
  EXPECT_TRUE(g.grad_for_write(p).accumulate);
  EXPECT_EQ(g.grad_for_write(p).data, dw.data());
}

TEST(Graph, ReusedBuffersGiveTheSameResultsAsAFreshGraph) {
  // Poison the buffers of a first tape, clear, and record the same ops again: values and
  // gradients must not depend on what the earlier tape left behind.
  Rng rng(3);
  Tensor<float> w({5, 4}), dw_fresh({5, 4}), dw_reused({5, 4});
  for (float& v : w.span()) v = static_cast<float>(rng.uniform(-1, 1));
  Tensor<float> x = iota({6, 4}, -3);
  const std::vector<int32_t> targets{0, 1, 2, 3, 4, 0};
  auto step = [&](Graph<float>& g, Tensor<float>& dw) {
    Var wv = g.parameter(w.view(), dw.view());
    Var h = tanh(g, linear(g, reshape(g, g.input(x, true), Shape{6, 4}), wv));
    Var loss = softmax_cross_entropy(g, h, targets);
    g.backward(loss);
    return g.item(loss);
  };
  Graph<float> fresh;
  const float loss_fresh = step(fresh, dw_fresh);

  Graph<float> reused;
  Tensor<float> scratch({5, 4});
  (void)step(reused, scratch);
  for (size_t i = 0; i < reused.size(); ++i) {
    Var v{static_cast<int32_t>(i)};
    const int64_t n = reused.shape(v).numel();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    if (reused.value(v) != w.data()) std::fill_n(reused.value(v), n, nan);
    if (reused.has_grad(v) && reused.grad(v) != scratch.data()) std::fill_n(reused.grad(v), n, nan);
  }
  reused.clear();
  const float loss_reused = step(reused, dw_reused);
  EXPECT_EQ(loss_reused, loss_fresh);
  for (int64_t i = 0; i < w.numel(); ++i) EXPECT_EQ(dw_reused.data()[i], dw_fresh.data()[i]) << i;
}

TEST(Graph, EmptyInnerDimensionIsZeroOnAReusedTape) {
  // matmul's output is not zero-filled in advance: a sum over nothing must still write zeros.
  Graph<float> g;
  (void)g.input(iota({1}));
  (void)g.input(iota({1}));
  Var big = g.input(iota({2, 3}));  // the slot matmul's output takes on the next tape
  std::fill_n(g.value(big), 6, std::numeric_limits<float>::quiet_NaN());
  g.clear();
  Var c = matmul(g, g.input(Tensor<float>({2, 0})), g.input(Tensor<float>({0, 3})));
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(g.value(c)[i], 0.0f);
}

}  // namespace
}  // namespace recur
