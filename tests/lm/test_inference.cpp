// The graph-free inference step against its reference, LanguageModel::forward on the graph.
#include <gtest/gtest.h>

#include <cmath>

#include "recur/autograd/ops.h"
#include "recur/core/error.h"
#include "recur/lm/evaluate.h"
#include "recur/lm/inference.h"

using namespace recur;

namespace {

struct Case {
  CellType cell;
  int layers;
  int64_t hidden, embed, vocab;
};

std::string describe(const Case& c) {
  return std::string(cell_name(c.cell)) + " layers=" + std::to_string(c.layers) +
         " H=" + std::to_string(c.hidden) + " E=" + std::to_string(c.embed) + " V=" + std::to_string(c.vocab);
}

}  // namespace

TEST(InferenceSession, MatchesGraphForwardStepByStep) {
  const Case cases[] = {{CellType::kRnnTanh, 1, 7, 0, 5},  {CellType::kRnnRelu, 2, 9, 0, 4},
                        {CellType::kGru, 1, 17, 0, 11},    {CellType::kGru, 2, 8, 5, 6},
                        {CellType::kLstm, 1, 1, 0, 3},     {CellType::kLstm, 2, 33, 0, 28},
                        {CellType::kRnnTanh, 1, 16, 4, 9}, {CellType::kLstm, 3, 5, 3, 7}};
  for (const Case& c : cases) {
    LanguageModel model({.cell = c.cell,
                         .num_layers = c.layers,
                         .hidden_size = c.hidden,
                         .embedding_size = c.embed,
                         .vocab_size = c.vocab});
    Rng rng(3);
    model.reset_parameters(rng);
    InferenceSession session(model);
    Graph<float> g;
    NoGradGuard<float> no_grad(g);
    RecurrentState state = model.zero_state(1);
    for (int step = 0; step < 12; ++step) {
      const int32_t token = static_cast<int32_t>((step * 5 + 1) % c.vocab);
      g.clear();
      Var logits = model.forward(g, std::span<const int32_t>(&token, 1), 1, 1, state, nullptr, false);
      const float* want = g.value(logits);
      std::span<const float> got = session.step(token);
      ASSERT_EQ(static_cast<int64_t>(got.size()), c.vocab);
      for (int64_t v = 0; v < c.vocab; ++v)
        ASSERT_NEAR(got[static_cast<size_t>(v)], want[v], 1e-5f * (1 + std::abs(want[v])))
            << describe(c) << " step " << step << " logit " << v;
    }
    // reset() starts over from the zero state.
    session.reset();
    RecurrentState fresh = model.zero_state(1);
    const int32_t token = 0;
    g.clear();
    Var logits = model.forward(g, std::span<const int32_t>(&token, 1), 1, 1, fresh, nullptr, false);
    std::span<const float> got = session.step(token);
    for (int64_t v = 0; v < c.vocab; ++v)
      ASSERT_NEAR(got[static_cast<size_t>(v)], g.value(logits)[v], 1e-5f * (1 + std::abs(g.value(logits)[v])))
          << describe(c) << " after reset, logit " << v;
  }
}

TEST(InferenceSession, GreedyGenerationMatchesGraphPath) {
  LanguageModel model({.cell = CellType::kGru, .num_layers = 2, .hidden_size = 24, .vocab_size = 10});
  Rng rng(9);
  model.reset_parameters(rng);
  const std::vector<int32_t> prefix{1, 2, 3};
  Rng unused(1);
  const std::vector<int32_t> fast = generate_tokens(model, prefix, 40, {.greedy = true}, unused);
  // The same with the graph, one token at a time.
  Graph<float> g;
  NoGradGuard<float> no_grad(g);
  RecurrentState state = model.zero_state(1);
  Var logits = model.forward(g, prefix, 3, 1, state, nullptr, false);
  const float* last = g.value(logits) + 2 * 10;
  std::vector<int32_t> slow;
  for (int i = 0; i < 40; ++i) {
    const int32_t next = static_cast<int32_t>(std::max_element(last, last + 10) - last);
    slow.push_back(next);
    g.clear();
    logits = model.forward(g, std::span<const int32_t>(&slow.back(), 1), 1, 1, state, nullptr, false);
    last = g.value(logits);
  }
  EXPECT_EQ(fast, slow);
}

TEST(InferenceSession, RejectsTokenOutsideVocabulary) {
  LanguageModel model({.cell = CellType::kLstm, .num_layers = 1, .hidden_size = 4, .vocab_size = 5});
  InferenceSession session(model);
  try {
    (void)session.step(5);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("token id 5"), std::string::npos) << e.what();
  }
}

TEST(InferenceSession, TwoThreadsGiveTheSameLogits) {
  // Large enough that the GEMVs are split between the threads; each row is still one dot product
  // computed the same way, so the results are identical.
  for (CellType cell : {CellType::kRnnTanh, CellType::kGru, CellType::kLstm}) {
    LanguageModel model({.cell = cell, .num_layers = 2, .hidden_size = 200, .vocab_size = 300});
    Rng rng(4);
    model.reset_parameters(rng);
    InferenceSession one(model, {.threads = 1});
    InferenceSession two(model, {.threads = 2});
    for (int step = 0; step < 5; ++step) {
      const int32_t token = step * 37 % 300;
      std::span<const float> a = one.step(token);
      std::span<const float> b = two.step(token);
      for (size_t v = 0; v < a.size(); ++v)
        ASSERT_EQ(a[v], b[v]) << cell_name(cell) << " step " << step << " logit " << v;
    }
  }
}
