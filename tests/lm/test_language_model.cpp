// LanguageModel::loss (the fused head training uses) against softmax_cross_entropy over forward's
// logits: the same loss, the same gradient on every parameter, the same carried state; for one-hot
// and embedding input, every cell, and with randomized truncation.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "recur/autograd/ops.h"
#include "recur/core/error.h"
#include "recur/lm/language_model.h"

namespace recur {
namespace {

struct Result {
  float loss = 0;
  std::vector<float> grads, h;
};

Result run(const LanguageModelConfig& config, bool fused, std::span<const float> carry_scales) {
  LanguageModel model(config);
  Rng rng(4);
  model.reset_parameters(rng);
  const int64_t T = 6, B = 5;
  std::vector<int32_t> ids(static_cast<size_t>(T * B)), targets(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(config.vocab_size)));
    targets[i] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(config.vocab_size)));
  }
  RecurrentState state = model.zero_state(B);
  for (float& v : state.h.span()) v = static_cast<float>(rng.uniform(-0.5, 0.5));
  Graph<float> g;
  model.parameters().zero_grads();
  Var loss = fused ? model.loss(g, ids, targets, T, B, state, nullptr, true, carry_scales)
                   : softmax_cross_entropy(g, model.forward(g, ids, T, B, state, nullptr, true, carry_scales),
                                           std::span<const int32_t>(targets));
  g.backward(loss);
  Result r;
  r.loss = g.item(loss);
  const auto grads = model.parameters().grads();
  r.grads.assign(grads.begin(), grads.end());
  r.h.assign(state.h.span().begin(), state.h.span().end());
  return r;
}

void expect_same(const LanguageModelConfig& config, std::span<const float> carry_scales,
                 const std::string& name) {
  const Result unfused = run(config, false, carry_scales);
  const Result fused = run(config, true, carry_scales);
  EXPECT_NEAR(fused.loss, unfused.loss, 1e-5f * std::abs(unfused.loss)) << name;
  ASSERT_EQ(fused.grads.size(), unfused.grads.size());
  for (size_t i = 0; i < fused.grads.size(); ++i)
    ASSERT_NEAR(fused.grads[i], unfused.grads[i], 1e-5f * (1 + std::abs(unfused.grads[i])))
        << name << ": gradient " << i;
  EXPECT_EQ(fused.h, unfused.h) << name;
}

TEST(LanguageModel, FusedLossMatchesLogitsThenCrossEntropy) {
  for (CellType cell : {CellType::kRnnTanh, CellType::kGru, CellType::kLstm}) {
    for (int64_t embedding : {int64_t{0}, int64_t{7}}) {
      const LanguageModelConfig config{
          .cell = cell, .num_layers = 2, .hidden_size = 16, .embedding_size = embedding, .vocab_size = 13};
      const std::string name = std::string(cell_name(cell)) + (embedding > 0 ? " embedding" : " one-hot");
      expect_same(config, {}, name);
      const std::vector<float> scales{1, 0, 2, 1, 0, 1.5f};  // randomized truncation: per-step path
      expect_same(config, scales, name + " truncated");
    }
  }
}

TEST(LanguageModel, LossRejectsMismatchedTargets) {
  LanguageModel model({.cell = CellType::kGru, .hidden_size = 4, .vocab_size = 5});
  RecurrentState state = model.zero_state(2);
  Graph<float> g;
  const std::vector<int32_t> ids{0, 1, 2, 3}, targets{0, 1, 2};
  EXPECT_THROW((void)model.loss(g, ids, targets, 2, 2, state, nullptr, true), ShapeError);
}

}  // namespace
}  // namespace recur
