// Sampling: greedy ties, truncation rules and distributions that match the softmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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
  for (int i = 0; i < n; ++i)
    counts[static_cast<size_t>(sample_token(logits, {.temperature = T}, rng, ws))]++;
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

namespace {
// Random logits in [-scale, scale] with the maximum repeated at a random second place.
std::vector<float> random_logits(Rng& rng, int V, double scale) {
  std::vector<float> z(static_cast<size_t>(V));
  for (float& v : z) v = static_cast<float>((2 * rng.uniform() - 1) * scale);
  if (V > 2) z[static_cast<size_t>(rng.uniform() * V)] = *std::max_element(z.begin(), z.end());
  return z;
}
}  // namespace

TEST(SamplerProperties, DistributionIsNormalizedAndFiniteForEveryTemperature) {
  Rng rng(5);
  SamplerWorkspace ws;
  for (int V : {1, 2, 7, 64})
    for (double scale : {1e-3, 1.0, 80.0, 3e38})
      for (double temperature : {1e-30, 1e-8, 0.01, 1.0, 1e3, 1e30, 1e300})
        for (int top_k : {0, 1, V - 1, V, V + 3})
          for (double top_p : {1.0, 0.9, 0.3, 1e-9}) {
            const auto z = random_logits(rng, V, scale);
            const SamplerOptions o{.temperature = temperature, .top_k = std::max(top_k, 0), .top_p = top_p};
            const int32_t n = token_distribution(z, o, ws);
            ASSERT_GE(n, 1);
            double sum = 0;
            for (int32_t i = 0; i < n; ++i) {
              ASSERT_TRUE(std::isfinite(ws.probs[static_cast<size_t>(i)]) &&
                          ws.probs[static_cast<size_t>(i)] >= 0)
                  << "V " << V << " T " << temperature << " k " << top_k << " p " << top_p;
              sum += ws.probs[static_cast<size_t>(i)];
            }
            ASSERT_NEAR(sum, 1.0, 1e-9)
                << "V " << V << " T " << temperature << " k " << top_k << " p " << top_p;
            const int32_t token = sample_token(z, o, rng, ws);
            ASSERT_TRUE(token >= 0 && token < V);
          }
}

TEST(SamplerProperties, TinyTemperatureDrawsAMaximalLogit) {
  // The bug: with top-k >= V the order is unsorted, the "maximum" was the first logit, and the
  // exponentials overflowed to inf, so every draw was the last token.
  Rng rng(9);
  SamplerWorkspace ws;
  for (int V : {2, 5, 28, 300})
    for (double temperature : {1e-30, 1e-6, 1e-3})
      for (int top_k : {0, 1, V / 2 + 1, V, V + 10})
        for (double top_p : {1.0, 0.5}) {
          const auto z = random_logits(rng, V, 10.0);
          const float best = *std::max_element(z.begin(), z.end());
          const SamplerOptions o{.temperature = temperature, .top_k = top_k, .top_p = top_p};
          for (int draw = 0; draw < 20; ++draw)
            ASSERT_EQ(z[static_cast<size_t>(sample_token(z, o, rng, ws))], best)
                << "V " << V << " T " << temperature << " k " << top_k << " p " << top_p;
        }
}

TEST(SamplerProperties, HugeTemperatureIsNearlyUniformAndInfiniteLogitsAreSafe) {
  Rng rng(3);
  SamplerWorkspace ws;
  const std::vector<float> z = {5, -20, 0.5f, 9};
  ASSERT_EQ(token_distribution(z, {.temperature = 1e300}, ws), 4);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(ws.probs[static_cast<size_t>(i)], 0.25, 1e-12);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> extreme = {-inf, inf, 3e38f, -3e38f, inf};
  for (int draw = 0; draw < 50; ++draw) {
    const int32_t t = sample_token(extreme, {.temperature = 0.7, .top_k = 5}, rng, ws);
    EXPECT_TRUE(t == 1 || t == 4) << t;
  }
  const std::vector<float> with_nan = {1, std::numeric_limits<float>::quiet_NaN(), 2};
  EXPECT_THROW((void)sample_token(with_nan, {}, rng, ws), NumericError);
  EXPECT_THROW((void)sample_token(with_nan, {.greedy = true}, rng, ws), NumericError);
}
