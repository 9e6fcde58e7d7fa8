// Padded minibatches of sentence pairs: the time-major layout worked out by hand, every pair once per
// epoch, plans fixed by the seed, and little padding on fra-eng-like lengths compared with random
// batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/core/rng.h"
#include "recur/seq2seq/translation_batches.h"

using namespace recur;

namespace {

constexpr int32_t kPad = 1;
constexpr int32_t kBos = 2;

// Pairs of the given lengths with ids 4, 5, ... (so no id is <pad> or <bos>).
std::vector<EncodedPair> pairs_of_lengths(const std::vector<std::pair<int, int>>& lengths) {
  std::vector<EncodedPair> pairs;
  for (size_t i = 0; i < lengths.size(); ++i) {
    EncodedPair p;
    for (int t = 0; t < lengths[i].first; ++t) p.source.push_back(4 + t);
    for (int t = 0; t < lengths[i].second; ++t) p.target.push_back(4 + t);
    p.line = static_cast<int64_t>(i) + 1;
    pairs.push_back(std::move(p));
  }
  return pairs;
}

// Lengths like fra-eng's with steps 20: source 2..20 tokens (short ones most common), the target
// within a few tokens of it.
std::vector<EncodedPair> fra_eng_like_pairs(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<std::pair<int, int>> lengths;
  for (int64_t i = 0; i < n; ++i) {
    const int source = 2 + static_cast<int>(rng.below(10) + rng.below(10));
    const int target = std::clamp(source + static_cast<int>(rng.below(7)) - 2, 2, 20);
    lengths.emplace_back(source, target);
  }
  return pairs_of_lengths(lengths);
}

std::vector<std::vector<int64_t>> plan_of(const TranslationBatcher& batcher) {
  std::vector<std::vector<int64_t>> plan;
  for (int64_t b = 0; b < batcher.num_batches(); ++b) {
    const auto rows = batcher.batch_pairs(b);
    plan.emplace_back(rows.begin(), rows.end());
  }
  return plan;
}

}  // namespace

TEST(TranslationBatches, PaddedLayoutByHand) {
  std::vector<EncodedPair> pairs(4);
  pairs[0] = {.source = {5, 6, 3}, .target = {7, 3}, .line = 1};
  pairs[1] = {.source = {5, 3}, .target = {8, 9, 10, 3}, .line = 2};
  pairs[2] = {.source = {4, 5, 6, 7}, .target = {9, 3}, .line = 3};
  pairs[3] = {.source = {6, 3}, .target = {3}, .line = 4};
  TranslationBatch batch;
  const std::vector<int64_t> indices{0, 1, 2};
  make_padded_batch(pairs, indices, kPad, kBos, batch);
  // Rows by source length, longest first: pair 2 (4), pair 0 (3), pair 1 (2).
  EXPECT_EQ(batch.batch, 3);
  EXPECT_EQ(batch.source_steps, 4);
  EXPECT_EQ(batch.target_steps, 4);
  EXPECT_EQ(batch.pair_index, (std::vector<int64_t>{2, 0, 1}));
  EXPECT_EQ(batch.source_lengths, (std::vector<int64_t>{4, 3, 2}));
  // [t * 3 + b]
  EXPECT_EQ(batch.source, (std::vector<int32_t>{4, 5, 5,  //
                                                5, 6, 3,  //
                                                6, 3, 1,  //
                                                7, 1, 1}));
  EXPECT_EQ(batch.decoder_input, (std::vector<int32_t>{2, 2, 2,  //
                                                       9, 7, 8,  //
                                                       1, 1, 9,  //
                                                       1, 1, 10}));
  EXPECT_EQ(batch.target, (std::vector<int32_t>{9, 7, 8,   //
                                                3, 3, 9,   //
                                                1, 1, 10,  //
                                                1, 1, 3}));
  EXPECT_EQ(batch.target_mask, (std::vector<float>{1, 1, 1,  //
                                                   1, 1, 1,  //
                                                   0, 0, 1,  //
                                                   0, 0, 1}));
  EXPECT_EQ(batch.source_tokens, 9);
  EXPECT_EQ(batch.target_tokens, 8);

  // Ties keep the order given; the buffers are refilled, not appended to.
  const std::vector<int64_t> tied{3, 1};
  make_padded_batch(pairs, tied, kPad, kBos, batch);
  EXPECT_EQ(batch.pair_index, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(batch.source, (std::vector<int32_t>{6, 5, 3, 3}));
  EXPECT_EQ(batch.decoder_input, (std::vector<int32_t>{2, 2, 1, 8, 1, 9, 1, 10}));
  EXPECT_EQ(batch.target, (std::vector<int32_t>{3, 8, 1, 9, 1, 10, 1, 3}));
  EXPECT_EQ(batch.target_mask, (std::vector<float>{1, 1, 0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(batch.target_tokens, 5);
}

TEST(TranslationBatches, BadArgumentsAreNamed) {
  std::vector<EncodedPair> pairs = pairs_of_lengths({{2, 2}, {3, 1}});
  TranslationBatch batch;
  using test::expect_error_words;
  expect_error_words<ValueError>([&] { make_padded_batch(pairs, {}, kPad, kBos, batch); },
                                 {"no pair indices"});
  const std::vector<int64_t> outside{0, 2};
  expect_error_words<ValueError>([&] { make_padded_batch(pairs, outside, kPad, kBos, batch); },
                                 {"[0, 2)", "got 2"});
  pairs[1].target.clear();
  const std::vector<int64_t> both{0, 1};
  expect_error_words<ValueError>([&] { make_padded_batch(pairs, both, kPad, kBos, batch); },
                                 {"pair 1 (line 2) has an empty target"});
  expect_error_words<ValueError>([&] { TranslationBatcher(pairs, 0, kPad, kBos); },
                                 {"batch_size must be >= 1"});
  expect_error_words<ValueError>([&] { TranslationBatcher(pairs, 2, kPad, kBos, 0); },
                                 {"pool_batches must be >= 1", "got 0"});
  TranslationBatcher batcher(pairs, 2, kPad, kBos);
  EXPECT_EQ(batcher.num_batches(), 0);
  expect_error_words<ValueError>([&] { batcher.fill_batch(0, batch); }, {"batch index must be in [0, 0)"});
}

TEST(TranslationBatches, EveryPairOncePerEpochInSortedRows) {
  const std::vector<EncodedPair> pairs = fra_eng_like_pairs(1003, 5);
  TranslationBatcher batcher(pairs, 16, kPad, kBos);
  for (uint64_t seed : {1u, 2u}) {
    ASSERT_EQ(batcher.plan_epoch(seed), 63);  // ceil(1003 / 16)
    std::vector<int64_t> seen;
    TranslationBatch batch;
    for (int64_t b = 0; b < batcher.num_batches(); ++b) {
      batcher.fill_batch(b, batch);
      EXPECT_EQ(batch.batch, b + 1 < batcher.num_batches() ? 16 : 1003 % 16) << "batch " << b;
      for (int64_t row = 0; row < batch.batch; ++row) {
        const EncodedPair& pair = pairs[static_cast<size_t>(batch.pair_index[static_cast<size_t>(row)])];
        EXPECT_EQ(batch.source_lengths[static_cast<size_t>(row)], static_cast<int64_t>(pair.source.size()));
        if (row > 0) {
          EXPECT_LE(batch.source_lengths[static_cast<size_t>(row)],
                    batch.source_lengths[static_cast<size_t>(row - 1)]);
        }
      }
      EXPECT_EQ(batch.source_steps, batch.source_lengths[0]);
      const double mask_sum = std::accumulate(batch.target_mask.begin(), batch.target_mask.end(), 0.0);
      EXPECT_EQ(mask_sum, static_cast<double>(batch.target_tokens));
      seen.insert(seen.end(), batch.pair_index.begin(), batch.pair_index.end());
    }
    std::sort(seen.begin(), seen.end());
    std::vector<int64_t> all(pairs.size());
    std::iota(all.begin(), all.end(), int64_t{0});
    EXPECT_EQ(seen, all) << "seed " << seed;
  }
}

TEST(TranslationBatches, PlanIsFixedBySeed) {
  const std::vector<EncodedPair> pairs = fra_eng_like_pairs(500, 6);
  TranslationBatcher a(pairs, 8, kPad, kBos);
  TranslationBatcher b(pairs, 8, kPad, kBos);
  a.plan_epoch(42);
  b.plan_epoch(7);
  b.plan_epoch(42);  // replanning forgets the previous plan
  EXPECT_EQ(plan_of(a), plan_of(b));
  b.plan_epoch(43);
  EXPECT_NE(plan_of(a), plan_of(b));

  // The same bits on every machine: recur's Rng and a stable sort decide everything.
  const std::vector<EncodedPair> small =
      pairs_of_lengths({{3, 2}, {2, 2}, {2, 2}, {3, 2}, {2, 2}, {4, 4}, {3, 2}});
  TranslationBatcher batcher(small, 3, kPad, kBos);
  ASSERT_EQ(batcher.plan_epoch(2024), 3);
  // One pool sorted by (source, target) length, ties in the seed's shuffled order: 1 2 4 | 3 6 0 | 5;
  // the two full batches swapped by the seed, the smaller one last.
  EXPECT_EQ(plan_of(batcher), (std::vector<std::vector<int64_t>>{{3, 6, 0}, {1, 2, 4}, {5}}));
}

TEST(TranslationBatches, BucketingWastesLittlePadding) {
  const std::vector<EncodedPair> pairs = fra_eng_like_pairs(6400, 8);
  constexpr int64_t kBatch = 64;
  int64_t real = 0;
  for (const EncodedPair& p : pairs) real += static_cast<int64_t>(p.source.size() + p.target.size());

  TranslationBatcher batcher(pairs, kBatch, kPad, kBos);
  batcher.plan_epoch(3);
  TranslationBatch batch;
  int64_t bucketed_slots = 0;
  for (int64_t b = 0; b < batcher.num_batches(); ++b) {
    batcher.fill_batch(b, batch);
    bucketed_slots += (batch.source_steps + batch.target_steps) * batch.batch;
  }

  // Random batches: shuffled pairs cut in order.
  std::vector<int64_t> order(pairs.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  Rng rng(3);
  rng.shuffle(std::span<int64_t>(order));
  int64_t random_slots = 0;
  for (size_t begin = 0; begin < order.size(); begin += kBatch) {
    make_padded_batch(pairs, std::span<const int64_t>(order).subspan(begin, kBatch), kPad, kBos, batch);
    random_slots += (batch.source_steps + batch.target_steps) * batch.batch;
  }
  const double bucketed_ratio = static_cast<double>(bucketed_slots) / static_cast<double>(real);
  const double random_ratio = static_cast<double>(random_slots) / static_cast<double>(real);
  EXPECT_LT(bucketed_ratio, 1.3) << "random batches: " << random_ratio;
  EXPECT_GT(random_ratio, 1.4) << "the synthetic lengths should spread enough to tell the two apart";
}

// Pools of one batch are d2l's shuffled batches: each batch is a run of the seed's shuffle (a pool
// sorted inside one batch changes only the order of its rows), full batches in shuffled order.
// A pool larger than the data sorts the whole epoch, without overflowing pool * batch.
TEST(TranslationBatches, PoolOfOneBatchIsShuffledBatches) {
  const std::vector<EncodedPair> pairs = fra_eng_like_pairs(1003, 9);
  constexpr int64_t kBatch = 16;
  TranslationBatcher batcher(pairs, kBatch, kPad, kBos, 1);
  ASSERT_EQ(batcher.plan_epoch(11), 63);
  std::vector<int64_t> order(pairs.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  Rng rng(11);
  rng.shuffle(std::span<int64_t>(order));
  std::vector<std::vector<int64_t>> shuffled_runs;
  for (size_t begin = 0; begin < order.size(); begin += kBatch) {
    std::vector<int64_t> run(
        order.begin() + static_cast<std::ptrdiff_t>(begin),
        order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), begin + kBatch)));
    std::sort(run.begin(), run.end());
    shuffled_runs.push_back(std::move(run));
  }
  std::vector<std::vector<int64_t>> planned;
  for (int64_t b = 0; b < batcher.num_batches(); ++b) {
    const auto pairs_of_b = batcher.batch_pairs(b);
    std::vector<int64_t> run(pairs_of_b.begin(), pairs_of_b.end());
    std::sort(run.begin(), run.end());
    planned.push_back(std::move(run));
  }
  EXPECT_EQ(planned.back(), shuffled_runs.back());  // the smaller batch stays last
  std::sort(planned.begin(), planned.end());
  std::sort(shuffled_runs.begin(), shuffled_runs.end());
  EXPECT_EQ(planned, shuffled_runs);

  // The shortest and longest source in batch i.
  auto length_range = [&](const TranslationBatcher& b, int64_t i) {
    int64_t lo = INT64_MAX, hi = 0;
    for (int64_t p : b.batch_pairs(i)) {
      const auto len = static_cast<int64_t>(pairs[static_cast<size_t>(p)].source.size());
      lo = std::min(lo, len);
      hi = std::max(hi, len);
    }
    return std::pair{lo, hi};
  };
  // Length spread inside batches: wide for shuffled batches, narrow for pools of 50.
  auto mean_spread = [&](const TranslationBatcher& b) {
    double spread = 0;
    for (int64_t i = 0; i < b.num_batches(); ++i) {
      const auto [lo, hi] = length_range(b, i);
      spread += static_cast<double>(hi - lo);
    }
    return spread / static_cast<double>(b.num_batches());
  };
  TranslationBatcher pooled(pairs, kBatch, kPad, kBos);
  pooled.plan_epoch(11);
  EXPECT_GT(mean_spread(batcher), 3 * mean_spread(pooled));

  TranslationBatcher whole(pairs, kBatch, kPad, kBos, INT64_MAX);
  ASSERT_EQ(whole.plan_epoch(11), 63);
  int64_t previous_longest = 0;  // one pool: consecutive runs of one sorted order, whatever their order
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int64_t i = 0; i + 1 < whole.num_batches(); ++i) ranges.push_back(length_range(whole, i));
  std::sort(ranges.begin(), ranges.end());
  for (const auto& [lo, hi] : ranges) {
    EXPECT_GE(lo, previous_longest);
    previous_longest = hi;
  }
}

TEST(TranslationBatches, BatchLargerThanTheDataAndInOrderPlans) {
  const std::vector<EncodedPair> pairs = pairs_of_lengths({{2, 3}, {4, 2}, {3, 3}, {4, 4}, {2, 2}});
  TranslationBatcher big(pairs, 64, kPad, kBos);
  ASSERT_EQ(big.plan_epoch(9), 1);
  TranslationBatch batch;
  big.fill_batch(0, batch);
  EXPECT_EQ(batch.batch, 5);
  EXPECT_EQ(batch.source_lengths, (std::vector<int64_t>{4, 4, 3, 2, 2}));

  TranslationBatcher in_order(pairs, 2, kPad, kBos);
  ASSERT_EQ(in_order.plan_in_order(), 3);
  EXPECT_EQ(plan_of(in_order), (std::vector<std::vector<int64_t>>{{0, 1}, {2, 3}, {4}}));
  in_order.fill_batch(0, batch);
  EXPECT_EQ(batch.pair_index, (std::vector<int64_t>{1, 0}));  // sorted inside: pair 1 is longer

  const std::vector<EncodedPair> none;
  TranslationBatcher empty(none, 4, kPad, kBos);
  EXPECT_EQ(empty.plan_epoch(1), 0);
  EXPECT_EQ(empty.plan_in_order(), 0);
}
