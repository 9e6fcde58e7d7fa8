// The recurrent stack's contract: PyTorch parameter names and shapes, default init, gate order by
// closed forms, bad inputs, layouts, inference mode, workspace reuse, truncated BPTT and dropout.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "random_tensor.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"
#include "recur/nn/rnn.h"
#include "recur/nn/scratch_cells.h"

namespace recur {
namespace {

using test::random_tensor;

template <typename E, typename F>
void expect_throw_with(F&& f, std::initializer_list<const char*> words) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    const std::string message = e.what();
    for (const char* w : words)
      EXPECT_NE(message.find(w), std::string::npos) << "'" << w << "' not in: " << message;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

TEST(Rnn, ParameterNamesAndShapesFollowPyTorch) {
  ParameterStore<float> store;
  Rnn<float> rnn(
      store,
      {.cell = CellType::kLstm, .input_size = 5, .hidden_size = 4, .num_layers = 2, .bidirectional = true});
  const std::vector<std::pair<std::string, Shape>> expected{{"rnn.weight_ih_l0", {16, 5}},
                                                            {"rnn.weight_hh_l0", {16, 4}},
                                                            {"rnn.bias_ih_l0", {16}},
                                                            {"rnn.bias_hh_l0", {16}},
                                                            {"rnn.weight_ih_l0_reverse", {16, 5}},
                                                            {"rnn.weight_hh_l0_reverse", {16, 4}},
                                                            {"rnn.bias_ih_l0_reverse", {16}},
                                                            {"rnn.bias_hh_l0_reverse", {16}},
                                                            {"rnn.weight_ih_l1", {16, 8}},
                                                            {"rnn.weight_hh_l1", {16, 4}},
                                                            {"rnn.bias_ih_l1", {16}},
                                                            {"rnn.bias_hh_l1", {16}},
                                                            {"rnn.weight_ih_l1_reverse", {16, 8}},
                                                            {"rnn.weight_hh_l1_reverse", {16, 4}},
                                                            {"rnn.bias_ih_l1_reverse", {16}},
                                                            {"rnn.bias_hh_l1_reverse", {16}}};
  ASSERT_EQ(store.size(), static_cast<int>(expected.size()));
  for (int i = 0; i < store.size(); ++i) {
    EXPECT_EQ(store.slot(i).name, expected[static_cast<size_t>(i)].first);
    EXPECT_EQ(store.slot(i).shape, expected[static_cast<size_t>(i)].second) << store.slot(i).name;
  }
  EXPECT_EQ(gate_count(CellType::kGru), 3);
  EXPECT_EQ(rnn_parameter_name(RnnParam::kWeightHh, 2, 1), "weight_hh_l2_reverse");
}

TEST(Rnn, ResetParametersUsesPyTorchsDefaultRange) {
  ParameterStore<double> store;
  Rnn<double> rnn(store, {.cell = CellType::kGru, .input_size = 3, .hidden_size = 16});
  Rng rng(1);
  rnn.reset_parameters(rng);
  double lo = 1, hi = -1;
  for (double v : store.values()) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_GE(lo, -0.25);  // 1 / sqrt(16)
  EXPECT_LE(hi, 0.25);
  EXPECT_LT(lo, -0.2);
  EXPECT_GT(hi, 0.2);
  ParameterStore<double> again;
  Rnn<double> same(again, rnn.config());
  Rng rng2(1);
  same.reset_parameters(rng2);
  EXPECT_TRUE(std::equal(store.values().begin(), store.values().end(), again.values().begin()));
}

// Zero weights leave only the biases, so each gate is a known constant and a wrong gate order or
// a misplaced b_hn shows. LSTM (order i, f, g, o): i = o ~ 1, f ~ 0, g = 0.5 give c = 0.5 and
// h = tanh(0.5), whatever c0 is.
TEST(Rnn, LstmGateOrderClosedForm) {
  ParameterStore<double> store;
  Rnn<double> rnn(store, {.cell = CellType::kLstm, .input_size = 2, .hidden_size = 1});
  double* b_ih = store.value("rnn.bias_ih_l0").data;
  b_ih[0] = 40;               // i
  b_ih[1] = -40;              // f
  b_ih[2] = std::atanh(0.5);  // g
  b_ih[3] = 40;               // o
  Graph<double> g;
  Var x = g.input(Tensor<double>(Shape{1, 1, 2}, {0.3, -0.7}));
  Var c0 = g.input(Tensor<double>(Shape{1, 1, 1}, {2.0}));
  const RnnOutputs out = rnn.forward(g, x, std::nullopt, c0);
  EXPECT_NEAR(g.value(out.c_n)[0], 0.5, 1e-12);
  EXPECT_NEAR(g.value(out.h_n)[0], std::tanh(0.5), 1e-12);
}

// GRU (order r, z, n): r ~ 0 must also cancel b_hn, since r multiplies W_hn h + b_hn; z = 1/2
// gives h = (n + h0) / 2 with n = tanh(b_in) = 0.3.
TEST(Rnn, GruGateOrderAndResetOfRecurrentBiasClosedForm) {
  ParameterStore<double> store;
  Rnn<double> rnn(store, {.cell = CellType::kGru, .input_size = 2, .hidden_size = 1});
  double* b_ih = store.value("rnn.bias_ih_l0").data;
  double* b_hh = store.value("rnn.bias_hh_l0").data;
  b_ih[0] = -40;              // r
  b_ih[2] = std::atanh(0.3);  // n
  b_hh[2] = 5;                // b_hn: multiplied by r ~ 0
  Graph<double> g;
  Var x = g.input(Tensor<double>(Shape{1, 1, 2}, {0.3, -0.7}));
  Var h0 = g.input(Tensor<double>(Shape{1, 1, 1}, {0.8}));
  const RnnOutputs out = rnn.forward(g, x, h0);
  EXPECT_NEAR(g.value(out.h_n)[0], 0.55, 1e-12);
}

// RNN relu with zero weights: h = relu(b_ih + b_hh) at every step.
TEST(Rnn, RnnReluClosedForm) {
  ParameterStore<double> store;
  Rnn<double> rnn(store, {.cell = CellType::kRnnRelu, .input_size = 1, .hidden_size = 2});
  store.value("rnn.bias_ih_l0").data[0] = 0.5;
  store.value("rnn.bias_hh_l0").data[0] = 0.25;
  store.value("rnn.bias_ih_l0").data[1] = -0.5;
  Graph<double> g;
  const RnnOutputs out = rnn.forward(g, g.input(Tensor<double>(Shape{3, 1, 1}, {1, 2, 3})));
  for (int t = 0; t < 3; ++t) {
    EXPECT_DOUBLE_EQ(g.value(out.output)[2 * t], 0.75);
    EXPECT_DOUBLE_EQ(g.value(out.output)[2 * t + 1], 0.0);
  }
}

TEST(Rnn, BadConfigIsRejected) {
  ParameterStore<float> store;
  expect_throw_with<ValueError>(
      [&] { Rnn<float>(store, {.cell = CellType::kGru, .input_size = 3, .hidden_size = 0}); },
      {"hidden_size", "0"});
  expect_throw_with<ValueError>(
      [&] { Rnn<float>(store, {.cell = CellType::kGru, .input_size = 0, .hidden_size = 2}); },
      {"input_size"});
  expect_throw_with<ValueError>(
      [&] {
        Rnn<float>(store, {.cell = CellType::kGru, .input_size = 3, .hidden_size = 2, .num_layers = 0});
      },
      {"num_layers"});
  expect_throw_with<ValueError>(
      [&] { Rnn<float>(store, {.cell = CellType::kGru, .input_size = 3, .hidden_size = 2, .dropout = 1.0}); },
      {"dropout", "[0, 1)"});
  expect_throw_with<ValueError>(
      [&] { Rnn<float>(store, {.cell = CellType::kGru, .input_size = 3, .hidden_size = 2, .dropout = NAN}); },
      {"dropout"});
}

template <typename Model>
void check_bad_inputs(Model& model, const char* op) {
  Graph<double> g;
  Var x = g.input(Tensor<double>(Shape{6, 3, 5}));
  expect_throw_with<ShapeError>(
      [&] {
        model.forward(g, g.input(Tensor<double>(Shape{6, 3, 7})));
      },
      {op, "width 7", "input_size 5", "[6, 3, 7]"});
  expect_throw_with<ShapeError>(
      [&] {
        model.forward(g, g.input(Tensor<double>(Shape{18, 5})));
      },
      {op, "[T, B, I]", "[18, 5]"});
  expect_throw_with<ShapeError>(
      [&] {
        model.forward(g, g.input(Tensor<double>(Shape{0, 3, 5})));
      },
      {op, "[0, 3, 5]"});
  expect_throw_with<ShapeError>(
      [&] {
        model.forward(g, x, g.input(Tensor<double>(Shape{1, 3, 4})));
      },
      {op, "h0", "[1, 3, 4]", "expected [2, 3, 4]"});
  expect_throw_with<ShapeError>(
      [&] {
        model.forward(g, x, g.input(Tensor<double>(Shape{2, 2, 4})));
      },
      {op, "h0", "[2, 2, 4]"});
  expect_throw_with<ValueError>(
      [&] {
        model.forward(g, x, std::nullopt, g.input(Tensor<double>(Shape{2, 3, 4})));
      },
      {op, "c0", "gru"});
  expect_throw_with<ValueError>([&] { model.forward(g, x, std::nullopt, std::nullopt, nullptr, true); },
                                {op, "dropout_rng"});
}

TEST(Rnn, BadInputsNameTheOpAndShapes) {
  const RnnConfig cfg{
      .cell = CellType::kGru, .input_size = 5, .hidden_size = 4, .num_layers = 2, .dropout = 0.5};
  ParameterStore<double> store;
  Rnn<double> rnn(store, cfg);
  check_bad_inputs(rnn, "Rnn::forward");
  ScratchRnn<double> scratch(rnn);
  check_bad_inputs(scratch, "ScratchRnn::forward");

  ParameterStore<double> lstm_store;
  Rnn<double> lstm(lstm_store, {.cell = CellType::kLstm, .input_size = 5, .hidden_size = 4});
  Graph<double> g;
  expect_throw_with<ShapeError>(
      [&] {
        lstm.forward(g, g.input(Tensor<double>(Shape{6, 3, 5})), std::nullopt,
                     g.input(Tensor<double>(Shape{1, 3, 3})));
      },
      {"Rnn::forward", "c0", "[1, 3, 3]", "expected [1, 3, 4]"});
}

// Batch-major input [B, T, I] gives the transposed output and the transposed input gradient.
TEST(Rnn, BatchMajorIsTheTransposeOfTimeMajor) {
  constexpr int64_t T = 4, B = 3, I = 2, H = 3;
  RnnConfig cfg{
      .cell = CellType::kLstm, .input_size = I, .hidden_size = H, .num_layers = 2, .bidirectional = true};
  ParameterStore<double> store;
  Rnn<double> time_major(store, cfg, "a.");
  cfg.layout = Layout::kBatchMajor;
  Rnn<double> batch_major(store, cfg, "b.");
  Rng rng(4);
  time_major.reset_parameters(rng);
  const auto n = static_cast<size_t>(store.num_values() / 2);
  std::copy(store.values().begin(), store.values().begin() + static_cast<std::ptrdiff_t>(n),
            store.values().begin() + static_cast<std::ptrdiff_t>(n));

  const Tensor<double> x = random_tensor(rng, Shape{T, B, I});
  Tensor<double> xb(Shape{B, T, I});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < I; ++i) xb[(b * T + t) * I + i] = x[(t * B + b) * I + i];
  const Tensor<double> R = random_tensor(rng, Shape{T, B, 2 * H});
  Tensor<double> Rb(Shape{B, T, 2 * H});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t k = 0; k < 2 * H; ++k) Rb[(b * T + t) * 2 * H + k] = R[(t * B + b) * 2 * H + k];

  Graph<double> g;
  Var xt = g.input(x, true), xbv = g.input(xb, true);
  const RnnOutputs a = time_major.forward(g, xt);
  const RnnOutputs b = batch_major.forward(g, xbv);
  EXPECT_EQ(g.shape(b.output), (Shape{B, T, 2 * H}));
  g.backward(add(g, sum(g, mul(g, a.output, g.input(R))), sum(g, mul(g, b.output, g.input(Rb)))));
  const Tensor<double> dxt = g.grad_tensor(xt), dxb = g.grad_tensor(xbv);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t bi = 0; bi < B; ++bi) {
      for (int64_t k = 0; k < 2 * H; ++k)
        EXPECT_NEAR(g.value(a.output)[(t * B + bi) * 2 * H + k], g.value(b.output)[(bi * T + t) * 2 * H + k],
                    1e-14);
      for (int64_t i = 0; i < I; ++i)
        EXPECT_NEAR(dxt[(t * B + bi) * I + i], dxb[(bi * T + t) * I + i], 1e-14);
    }
  }
  for (int64_t i = 0; i < g.shape(a.h_n).numel(); ++i)
    EXPECT_NEAR(g.value(a.h_n)[i], g.value(b.h_n)[i], 1e-14);
  for (size_t i = 0; i < n; ++i) EXPECT_NEAR(store.grads()[i], store.grads()[n + i], 1e-13);
}

TEST(Rnn, InferenceRecordsNothingAndMatchesTraining) {
  ParameterStore<float> store;
  Rnn<float> rnn(store, {.cell = CellType::kGru, .input_size = 3, .hidden_size = 5, .num_layers = 2});
  Rng rng(2);
  rnn.reset_parameters(rng);
  Tensor<float> x(Shape{7, 2, 3});
  for (float& v : x.span()) v = static_cast<float>(rng.uniform(-1, 1));

  Graph<float> train;
  const RnnOutputs a = rnn.forward(train, train.input(x));
  EXPECT_TRUE(train.requires_grad(a.output));

  Graph<float> infer;
  NoGradGuard<float> no_grad(infer);
  const RnnOutputs b = rnn.forward(infer, infer.input(x));
  EXPECT_FALSE(infer.requires_grad(b.output));
  const Tensor<float> ya = train.to_tensor(a.output), yb = infer.to_tensor(b.output);
  for (int64_t i = 0; i < ya.numel(); ++i) EXPECT_EQ(ya[i], yb[i]);
}

TEST(Rnn, WorkspacesAreReusedAcrossSteps) {
  ParameterStore<float> store;
  Rnn<float> rnn(store, {.cell = CellType::kLstm, .input_size = 3, .hidden_size = 4, .bidirectional = true});
  Rng rng(3);
  rnn.reset_parameters(rng);
  Graph<float> g;
  for (int64_t steps : {6, 6, 4, 6}) {
    Var x = g.input(Tensor<float>(Shape{steps, 2, 3}, 0.5f));
    g.backward(sum(g, rnn.forward(g, x).output));
    g.clear();  // returns the workspace to the Rnn
  }
  EXPECT_EQ(rnn.num_workspaces(), 1);
  {
    NoGradGuard<float> no_grad(g);
    (void)rnn.forward(g, g.input(Tensor<float>(Shape{6, 2, 3})));  // no closure: returned at once
  }
  EXPECT_EQ(rnn.num_workspaces(), 1);
  // Two forwards alive in one graph each hold a workspace.
  Var x = g.input(Tensor<float>(Shape{6, 2, 3}, 0.5f));
  const RnnOutputs first = rnn.forward(g, x);
  const RnnOutputs second = rnn.forward(g, x);
  EXPECT_EQ(rnn.num_workspaces(), 2);
  g.backward(add(g, sum(g, first.output), sum(g, second.output)));
  g.clear();
}

// Truncated BPTT: a detached state carries values, not gradients, into the next chunk. Chaining two
// chunks gives the same outputs as running the whole sequence at once; the gradient stops at the
// detach, and the two forwards in one graph keep separate caches.
TEST(Rnn, TruncatedBpttByDetachingTheState) {
  constexpr int64_t T1 = 3, T2 = 4, B = 2, I = 3, H = 4;
  ParameterStore<double> store;
  Rnn<double> rnn(store, {.cell = CellType::kLstm, .input_size = I, .hidden_size = H, .num_layers = 2});
  Rng rng(9);
  rnn.reset_parameters(rng);
  const Tensor<double> whole = random_tensor(rng, Shape{T1 + T2, B, I});
  Tensor<double> x1(Shape{T1, B, I}), x2(Shape{T2, B, I});
  std::copy(whole.data(), whole.data() + x1.numel(), x1.data());
  std::copy(whole.data() + x1.numel(), whole.data() + whole.numel(), x2.data());
  const Tensor<double> R = random_tensor(rng, Shape{T2, B, H});

  Graph<double> g;
  Var x1v = g.input(x1, true), x2v = g.input(x2, true);
  const RnnOutputs first = rnn.forward(g, x1v);
  const RnnOutputs second = rnn.forward(g, x2v, g.detach(first.h_n), g.detach(first.c_n));
  g.backward(sum(g, mul(g, second.output, g.input(R))));
  const Tensor<double> dx1 = g.grad_tensor(x1v);
  for (double v : dx1.span()) EXPECT_EQ(v, 0.0);
  const std::vector<double> chunk_grads(store.grads().begin(), store.grads().end());

  // The same loss from the second chunk alone, its initial state given as constants.
  store.zero_grads();
  Graph<double> g2;
  const RnnOutputs alone =
      rnn.forward(g2, g2.input(x2, true), g2.input(g.to_tensor(first.h_n)), g2.input(g.to_tensor(first.c_n)));
  g2.backward(sum(g2, mul(g2, alone.output, g2.input(R))));
  for (size_t i = 0; i < chunk_grads.size(); ++i) EXPECT_NEAR(chunk_grads[i], store.grads()[i], 1e-14);

  Graph<double> g3;
  const RnnOutputs full = rnn.forward(g3, g3.input(whole));
  const Tensor<double> y_full = g3.to_tensor(full.output), y2 = g.to_tensor(second.output);
  for (int64_t i = 0; i < y2.numel(); ++i) EXPECT_NEAR(y_full[T1 * B * H + i], y2[i], 1e-14);
}

TEST(Rnn, DropoutActsOnlyInTrainingAndFollowsTheSeed) {
  const RnnConfig cfg{
      .cell = CellType::kGru, .input_size = 3, .hidden_size = 8, .num_layers = 2, .dropout = 0.5};
  ParameterStore<float> store;
  Rnn<float> rnn(store, cfg);
  Rng rng(5);
  rnn.reset_parameters(rng);
  Tensor<float> x(Shape{5, 4, 3});
  for (float& v : x.span()) v = static_cast<float>(rng.uniform(-1, 1));
  auto run = [&](bool training, uint64_t seed) {
    Graph<float> g;
    Rng dropout_rng(seed);
    return g.to_tensor(rnn.forward(g, g.input(x), std::nullopt, std::nullopt, &dropout_rng, training).output);
  };
  ParameterStore<float> plain_store;
  RnnConfig no_dropout = cfg;
  no_dropout.dropout = 0;
  Rnn<float> plain(plain_store, no_dropout);
  std::copy(store.values().begin(), store.values().end(), plain_store.values().begin());
  Graph<float> g;
  const Tensor<float> reference = g.to_tensor(plain.forward(g, g.input(x)).output);

  const Tensor<float> eval = run(false, 1), train_a = run(true, 1), train_b = run(true, 1),
                      train_c = run(true, 2);
  EXPECT_TRUE(std::equal(eval.span().begin(), eval.span().end(), reference.span().begin()));
  EXPECT_TRUE(std::equal(train_a.span().begin(), train_a.span().end(), train_b.span().begin()));
  EXPECT_FALSE(std::equal(train_a.span().begin(), train_a.span().end(), eval.span().begin()));
  EXPECT_FALSE(std::equal(train_a.span().begin(), train_a.span().end(), train_c.span().begin()));
}

// The fused op composes with ops around it: embedding -> Rnn -> linear head -> cross-entropy, with
// the same gradients (embedding included) as the from-scratch stack.
TEST(Rnn, ComposesWithEmbeddingAndLinearHead) {
  constexpr int64_t T = 4, B = 2, V = 6, E = 3, H = 5;
  ParameterStore<double> store;
  Rnn<double> rnn(store, {.cell = CellType::kGru, .input_size = E, .hidden_size = H});
  const int emb = store.add("embedding.weight", Shape{V, E});
  const int head_w = store.add("head.weight", Shape{V, H});
  const int head_b = store.add("head.bias", Shape{V});
  Rng rng(8);
  for (double& v : store.values()) v = rng.uniform(-0.5, 0.5);
  const std::vector<int32_t> ids{0, 3, 5, 1, 2, 2, 4, 0}, targets{3, 5, 1, 2, 2, 4, 0, 1};
  const ScratchRnn<double> scratch(rnn);

  auto grads_of = [&](bool fused) {
    store.zero_grads();
    Graph<double> g;
    Var e = embedding(g, g.parameter(store.value(emb), store.grad(emb)), std::span<const int32_t>(ids));
    Var x = reshape(g, e, Shape{T, B, E});
    const RnnOutputs out = fused ? rnn.forward(g, x) : scratch.forward(g, x);
    Var logits = linear(g, reshape(g, out.output, Shape{T * B, H}),
                        g.parameter(store.value(head_w), store.grad(head_w)),
                        g.parameter(store.value(head_b), store.grad(head_b)));
    g.backward(softmax_cross_entropy(g, logits, std::span<const int32_t>(targets)));
    return std::vector<double>(store.grads().begin(), store.grads().end());
  };
  const std::vector<double> a = grads_of(true), b = grads_of(false);
  double embedding_norm = 0;
  for (int64_t i = 0; i < V * E; ++i)
    embedding_norm += std::abs(a[static_cast<size_t>(store.slot(emb).offset + i)]);
  EXPECT_GT(embedding_norm, 0.0);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-13) << i;
}

}  // namespace
}  // namespace recur
