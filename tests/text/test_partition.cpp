// Minibatch partitioning on The Time Machine: Y is X shifted by one, rows continue across
// sequential minibatches, random subsequences are disjoint and aligned, sliding windows cover their
// split, the same seed gives the same batches, and a saved position resumes mid-epoch.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "recur/core/error.h"
#include "recur/core/rng.h"
#include "recur/text/partition.h"
#include "recur/text/text_file.h"
#include "recur/text/tokenizer.h"
#include "recur/text/vocab.h"
#include "test_support.h"

using namespace recur;

namespace {
// d2l's character corpus of The Time Machine as token indices.
const std::vector<int32_t>& corpus() {
  static const std::vector<int32_t> ids = [] {
    const std::string raw = read_text_file(test::shared_data_dir() / "timemachine.txt");
    const TokenizedText chars = tokenize_text(raw, PreprocessMode::d2l, TokenLevel::character);
    return Vocab::build(chars.tokens()).encode(chars.tokens()).ids;
  }();
  return ids;
}

// x row `row` equals corpus[start, start + T) and y row equals corpus[start + 1, start + T + 1).
void expect_row_at(const TokenBatch& b, int32_t row, int64_t start) {
  const auto T = static_cast<size_t>(b.num_steps);
  const auto s = static_cast<size_t>(start);
  ASSERT_LE(s + T + 1, corpus().size());
  for (size_t t = 0; t < T; ++t) {
    ASSERT_EQ(b.x[static_cast<size_t>(row) * T + t], corpus()[s + t]) << "row " << row << " t " << t;
    ASSERT_EQ(b.y[static_cast<size_t>(row) * T + t], corpus()[s + t + 1]) << "row " << row << " t " << t;
  }
}

void expect_shifted_by_one(const TokenBatch& b) {
  const auto T = static_cast<size_t>(b.num_steps);
  for (size_t r = 0; r < static_cast<size_t>(b.batch_size); ++r)
    for (size_t t = 0; t + 1 < T; ++t)
      ASSERT_EQ(b.y[r * T + t], b.x[r * T + t + 1]) << "row " << r << " t " << t;
}
}  // namespace

TEST(Partition, CorpusIsTheBooksCharacterCorpus) { EXPECT_EQ(corpus().size(), 173428u); }

TEST(Partition, RandomSamplingSubsequencesAreAlignedDisjointAndShifted) {
  const PartitionOptions options{.batch_size = 32, .num_steps = 35};
  const RandomPartition part(corpus(), options);
  Rng rng(2024);
  std::set<int64_t> offsets;
  for (int epoch = 0; epoch < 4; ++epoch) {
    const EpochPlan plan = part.plan_epoch(rng);
    offsets.insert(plan.offset);
    ASSERT_GE(plan.offset, 0);
    ASSERT_LT(plan.offset, 35);
    // As d2l: (len - offset - 1) / T subsequences, batch_size of them per minibatch.
    const int64_t num_subsequences = (173428 - plan.offset - 1) / 35;
    EXPECT_EQ(plan.num_batches, num_subsequences / 32);
    std::set<int64_t> starts(plan.starts.begin(), plan.starts.end());
    EXPECT_EQ(starts.size(), plan.starts.size());  // no subsequence twice in an epoch
    for (int64_t s : starts) {
      ASSERT_EQ((s - plan.offset) % 35, 0);
      ASSERT_LT(s, plan.offset + num_subsequences * 35);
    }
    // Shuffled: batch order is not corpus order.
    EXPECT_FALSE(std::is_sorted(plan.starts.begin(), plan.starts.end()));
    TokenBatch batch;
    for (int64_t i = 0; i < plan.num_batches; i += 17) {
      part.fill_batch(plan, i, batch);
      ASSERT_EQ(batch.x.size(), 32u * 35u);
      expect_shifted_by_one(batch);
      for (int32_t r = 0; r < 32; ++r) expect_row_at(batch, r, plan.starts[static_cast<size_t>(i * 32 + r)]);
    }
  }
  EXPECT_GT(offsets.size(), 1u);  // the offset varies between epochs
}

TEST(Partition, SequentialRowsContinueAcrossMinibatches) {
  const PartitionOptions options{.batch_size = 8, .num_steps = 35};
  const SequentialPartition part(corpus(), options);
  Rng rng(7);
  for (int epoch = 0; epoch < 3; ++epoch) {
    const EpochPlan plan = part.plan_epoch(rng.next_u64());
    const int64_t L = part.row_length(plan.offset);
    EXPECT_EQ(L, (173428 - plan.offset - 1) / 8);
    EXPECT_EQ(plan.num_batches, L / 35);
    // Concatenating row r over all minibatches gives corpus[offset + r L, ...) without a gap.
    std::vector<std::vector<int32_t>> rows_x(8), rows_y(8);
    TokenBatch batch;
    for (int64_t i = 0; i < plan.num_batches; ++i) {
      part.fill_batch(plan, i, batch);
      expect_shifted_by_one(batch);
      for (size_t r = 0; r < 8; ++r) {
        rows_x[r].insert(rows_x[r].end(), batch.x.begin() + static_cast<std::ptrdiff_t>(r * 35),
                         batch.x.begin() + static_cast<std::ptrdiff_t>((r + 1) * 35));
        rows_y[r].insert(rows_y[r].end(), batch.y.begin() + static_cast<std::ptrdiff_t>(r * 35),
                         batch.y.begin() + static_cast<std::ptrdiff_t>((r + 1) * 35));
      }
    }
    for (size_t r = 0; r < 8; ++r) {
      const auto begin =
          corpus().begin() + static_cast<std::ptrdiff_t>(plan.offset + static_cast<int64_t>(r) * L);
      ASSERT_EQ(rows_x[r].size(), static_cast<size_t>(plan.num_batches * 35));
      EXPECT_TRUE(std::equal(rows_x[r].begin(), rows_x[r].end(), begin)) << "row " << r;
      EXPECT_TRUE(std::equal(rows_y[r].begin(), rows_y[r].end(), begin + 1)) << "row " << r;
    }
    // Coverage: the rows tile [offset, offset + 8 L) and everything used lies inside the corpus.
    EXPECT_LE(plan.offset + 8 * L + 1, 173428);
    EXPECT_GE(plan.offset + 8 * L + 1 + 7, 173428);  // at most batch_size - 1 tokens left over at the end
  }
}

TEST(Partition, SameSeedSameBatchesAndResumeMidEpoch) {
  const PartitionOptions options{.batch_size = 4, .num_steps = 10};
  const RandomPartition random(corpus(), options);
  const SequentialPartition sequential(corpus(), options);
  Rng a(99), b(99);
  TokenBatch x1, x2;
  const EpochPlan p1 = random.plan_epoch(a), p2 = random.plan_epoch(b);
  const uint64_t seed_a = p1.seed;
  ASSERT_EQ(p2.seed, seed_a);
  EXPECT_EQ(p1.starts, p2.starts);
  for (int64_t i : {int64_t{0}, int64_t{5}, p1.num_batches - 1}) {
    random.fill_batch(p1, i, x1);
    random.fill_batch(p2, i, x2);
    EXPECT_EQ(x1.x, x2.x);
    EXPECT_EQ(x1.y, x2.y);
  }
  EXPECT_NE(random.plan_epoch(seed_a + 1).starts, p1.starts);

  // Training stops after 3 minibatches of epoch 2 and saves its position; a fresh partition resumes.
  const BatchPosition saved{.epoch = 2, .epoch_seed = seed_a, .batch_index = 3};
  const EpochPlan original = sequential.plan_epoch(seed_a);
  const SequentialPartition restarted(corpus(), options);
  const EpochPlan replayed = restarted.plan_epoch(saved.epoch_seed);
  EXPECT_EQ(replayed.offset, original.offset);
  for (int64_t i = saved.batch_index; i < saved.batch_index + 5; ++i) {
    sequential.fill_batch(original, i, x1);
    restarted.fill_batch(replayed, i, x2);
    EXPECT_EQ(x1.x, x2.x);
  }
}

TEST(Partition, SlidingWindowsCoverTheirSplit) {
  const SlidingWindowOptions options{
      .batch_size = 64, .num_steps = 35, .num_train = 10000, .num_valid = 5000};
  const SlidingWindowDataset data(corpus(), options);
  EXPECT_EQ(data.num_windows(), 173428 - 35);
  const EpochPlan train = data.plan_epoch(Split::train, 5);
  const EpochPlan valid = data.plan_epoch(Split::valid, 5);
  EXPECT_EQ(train.num_batches, (10000 + 63) / 64);
  EXPECT_EQ(valid.num_batches, (5000 + 63) / 64);
  // Every training window once, shuffled; validation windows 10000..14999 in order.
  std::vector<int64_t> seen;
  TokenBatch batch;
  for (int64_t i = 0; i < train.num_batches; ++i) {
    data.fill_batch(train, i, batch);
    expect_shifted_by_one(batch);
    for (int32_t r = 0; r < batch.batch_size; ++r) {
      const int64_t w = train.starts[static_cast<size_t>(i * 64 + r)];
      if (i % 20 == 0) expect_row_at(batch, r, w);
      seen.push_back(w);
    }
  }
  EXPECT_EQ(batch.batch_size, 10000 % 64);  // the last batch is partial
  EXPECT_FALSE(std::is_sorted(seen.begin(), seen.end()));
  std::sort(seen.begin(), seen.end());
  for (int64_t i = 0; i < 10000; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)], i);
  data.fill_batch(valid, 0, batch);
  for (int32_t r = 0; r < 64; ++r) expect_row_at(batch, r, 10000 + r);
  EXPECT_EQ(data.plan_epoch(Split::valid, 6).starts, valid.starts);  // the seed does not shuffle validation

  SlidingWindowOptions dropping = options;
  dropping.drops_last = true;
  EXPECT_EQ(SlidingWindowDataset(corpus(), dropping).plan_epoch(Split::train, 5).num_batches, 10000 / 64);
}

TEST(Partition, BadSizesAreNamed) {
  const std::vector<int32_t> tiny(50, 1);
  try {
    (void)SequentialPartition(tiny, {.batch_size = 4, .num_steps = 35});
    FAIL();
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("50 tokens is too short"), std::string::npos) << msg;
    EXPECT_NE(msg.find("at least 175"), std::string::npos) << msg;
  }
  EXPECT_THROW((void)RandomPartition(corpus(), {.batch_size = 0, .num_steps = 35}), ValueError);
  EXPECT_THROW((void)RandomPartition(corpus(), {.batch_size = 2, .num_steps = -1}), ValueError);
  EXPECT_THROW((void)SlidingWindowDataset(tiny, {.num_steps = 10, .num_train = 30, .num_valid = 20}),
               ValueError);
  const RandomPartition part(corpus(), {.batch_size = 2, .num_steps = 5});
  const EpochPlan plan = part.plan_epoch(1);
  TokenBatch batch;
  EXPECT_THROW(part.fill_batch(plan, plan.num_batches, batch), ValueError);
  EXPECT_THROW(part.fill_batch(plan, -1, batch), ValueError);
}
