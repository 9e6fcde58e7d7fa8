// Sampling: greedy ties, truncation rules and distributions that match the softmax.
#include <gtest/gtest.h>

#include <cmath>

#include "recur/core/error.h"
#include "recur/lm/sampler.h"

using namespace recur;

TEST(Sampler, GreedyPicksArgmaxLowestIndexOnTie) {
  Rng rng(1);
  SamplerWorkspace ws;
  std::vector<float> logits{0.1f, 2.0f, 2.0f, -1.0f};
  EXPECT_EQ(sample_token(logits, {.greedy = true}, rng, ws), 1);
}

TEST(Sampler, FrequenciesFollowSoftmaxWithTemperature) {
  Rng rng(7);
  SamplerWorkspace ws;
  std::vector<float> logits{0.0f, 1.0f, 2.0f};
  const double T = 2.0;
  std::vector<int> counts(3, 0);
  const int n = 60000;
  for (int i = 0; i < n; ++i) counts[static_cast<size_t>(sample_token(logits, {.temperature = T}, rng, ws))]++;
  double z = 0;
  for (float l : logits) z += std::exp(l / T);
  for (int k = 0; k < 3; ++k) {
    const double p = std::exp(logits[static_cast<size_t>(k)] / T) / z;
    // 5 standard deviations of a binomial proportion: fails by chance with probability ~1e-6.
    EXPECT_NEAR(counts[static_cast<size_t>(k)] / double(n), p, 5 * std::sqrt(p * (1 - p) / n)) << k;
  }
}

TEST(Sampler, TopKNeverPicksOutsideTheK) {
  Rng rng(3);
  SamplerWorkspace ws;
  std::vector<float> logits{5.0f, 0.0f, 4.9f, 4.8f, 1.0f};
  for (int i = 0; i < 2000; ++i) {
    int t = sample_token(logits, {.top_k = 2}, rng, ws);
    EXPECT_TRUE(t == 0 || t == 2) << t;
  }
}

TEST(Sampler, TopPKeepsSmallestNucleus) {
  Rng rng(5);
  SamplerWorkspace ws;
  // probabilities ~ 0.665, 0.245, 0.090: p = 0.6 keeps only the first, p = 0.8 the first two.
  std::vector<float> logits{2.0f, 1.0f, 0.0f};
  for (int i = 0; i < 500; ++i) EXPECT_EQ(sample_token(logits, {.top_p = 0.6}, rng, ws), 0);
  bool saw_second = false;
  for (int i = 0; i < 2000; ++i) {
    int t = sample_token(logits, {.top_p = 0.8}, rng, ws);
    EXPECT_NE(t, 2);
    saw_second = saw_second || t == 1;
  }
  EXPECT_TRUE(saw_second);
}

TEST(Sampler, SameSeedSameSequence) {
  std::vector<float> logits{0.3f, 0.2f, 0.1f, 0.4f};
  SamplerWorkspace ws;
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sample_token(logits, {}, a, ws), sample_token(logits, {}, b, ws));
}

TEST(Sampler, RejectsBadOptions) {
  EXPECT_THROW(validate({.temperature = 0}), ValueError);
  EXPECT_THROW(validate({.top_k = -1}), ValueError);
  EXPECT_THROW(validate({.top_p = 0}), ValueError);
  EXPECT_THROW(validate({.top_p = 1.5}), ValueError);
  try {
    validate({.temperature = -2});
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("temperature"), std::string::npos);
  }
}
