// The thread count is a property of a Graph (its ComputeContext), not of the process: two graphs
// with 1 and 2 threads, used in turn or at the same time on two threads, give the results each
// gives alone, and the same results as each other up to the order of the split sums. The model is
// a small character LM's training step: a one-hot GRU stack large enough to split into row blocks
// (row_block_count) and the fused head (linear_cross_entropy, split rows).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "recur/autograd/ops.h"
#include "recur/core/parameters.h"
#include "recur/nn/rnn.h"

namespace recur {
namespace {

constexpr int64_t kSteps = 10, kBatch = 32, kVocab = 28, kHidden = 128;  // T*B*3H*H >= 2^22: split

// A GRU over one-hot ids and an output head, with its own parameters and gradients.
struct TinyLm {
  ParameterStore<float> store;
  Rnn<float> rnn{store, {.cell = CellType::kGru, .input_size = kVocab, .hidden_size = kHidden}};
  int head_weight = store.add("head.weight", Shape{kVocab, kHidden});  // [V, H]
  int head_bias = store.add("head.bias", Shape{kVocab});               // [V]

  TinyLm() {
    Rng rng(3);
    rnn.reset_parameters(rng);
    for (float& v : store.value(head_weight).span()) v = static_cast<float>(rng.uniform(-0.2, 0.2));
    for (float& v : store.value(head_bias).span()) v = static_cast<float>(rng.uniform(-0.1, 0.1));
  }
};

struct StepResult {
  float loss = 0;
  std::vector<float> grads;  // every parameter's gradient, in the store's flat order
};

// One training step's loss and gradients on graph g (which keeps its scratch from call to call).
StepResult train_step(TinyLm& m, Graph<float>& g, const std::vector<int32_t>& ids,
                      const std::vector<int32_t>& next) {
  g.clear();
  m.store.zero_grads();
  const RnnOutputs out =
      m.rnn.forward_one_hot(g, ids, kSteps, kBatch, std::nullopt, std::nullopt, nullptr, true);
  Var hidden = reshape(g, out.output, Shape{kSteps * kBatch, kHidden});
  Var w = g.parameter(m.store.value(m.head_weight), m.store.grad(m.head_weight));
  Var b = g.parameter(m.store.value(m.head_bias), m.store.grad(m.head_bias));
  Var loss = linear_cross_entropy(g, hidden, w, b, std::span<const int32_t>(next));
  g.backward(loss);
  const auto grads = m.store.grads();
  return {g.item(loss), std::vector<float>(grads.begin(), grads.end())};
}

std::vector<int32_t> random_ids(uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(kSteps * kBatch));
  for (int32_t& id : ids) id = static_cast<int32_t>(rng.below(kVocab));
  return ids;
}

void expect_same_bits(const StepResult& a, const StepResult& b, const std::string& what) {
  EXPECT_EQ(a.loss, b.loss) << what;
  ASSERT_EQ(a.grads.size(), b.grads.size()) << what;
  for (size_t i = 0; i < a.grads.size(); ++i)
    ASSERT_EQ(a.grads[i], b.grads[i]) << what << ": first difference at " << i;
}

void expect_close(const StepResult& a, const StepResult& b, const std::string& what) {
  EXPECT_NEAR(a.loss, b.loss, 1e-6f * std::abs(b.loss)) << what;
  ASSERT_EQ(a.grads.size(), b.grads.size()) << what;
  for (size_t i = 0; i < a.grads.size(); ++i)
    ASSERT_NEAR(a.grads[i], b.grads[i], 1e-5f * (1e-3f + std::abs(b.grads[i])))
        << what << ": first difference at " << i;
}

TEST(GraphContext, TwoGraphsInTurnKeepTheirOwnThreadCounts) {
  const std::vector<int32_t> ids = random_ids(1), next = random_ids(2);
  TinyLm model;
  Graph<float> one(ComputeContext{.threads = 1});
  Graph<float> two(ComputeContext{.threads = 2});
  const StepResult first_one = train_step(model, one, ids, next);
  const StepResult first_two = train_step(model, two, ids, next);
  const StepResult again_one = train_step(model, one, ids, next);
  const StepResult again_two = train_step(model, two, ids, next);
  EXPECT_EQ(one.context().threads, 1);
  EXPECT_EQ(two.context().threads, 2);
  expect_same_bits(again_one, first_one, "1-thread graph after a 2-thread step");
  expect_same_bits(again_two, first_two, "2-thread graph after a 1-thread step");
  expect_close(first_two, first_one, "2 threads vs 1");
}

TEST(GraphContext, TwoGraphsAtTheSameTimeGiveWhatEachGivesAlone) {
  const std::vector<int32_t> ids = random_ids(4), next = random_ids(5);
  // One model per graph: an Rnn's workspace pool serves one caller at a time.
  TinyLm model_one, model_two;
  StepResult alone_one, alone_two, together_one, together_two;
  {
    Graph<float> one(ComputeContext{.threads = 1});
    Graph<float> two(ComputeContext{.threads = 2});
    alone_one = train_step(model_one, one, ids, next);
    alone_two = train_step(model_two, two, ids, next);
  }
  std::thread worker([&] {
    Graph<float> two(ComputeContext{.threads = 2});
    for (int i = 0; i < 3; ++i) together_two = train_step(model_two, two, ids, next);
  });
  {
    Graph<float> one(ComputeContext{.threads = 1});
    for (int i = 0; i < 3; ++i) together_one = train_step(model_one, one, ids, next);
  }
  worker.join();
  expect_same_bits(together_one, alone_one, "1-thread graph beside a 2-thread one");
  expect_same_bits(together_two, alone_two, "2-thread graph beside a 1-thread one");
  expect_close(alone_two, alone_one, "2 threads vs 1");
}

}  // namespace
}  // namespace recur
