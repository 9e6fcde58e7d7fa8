// Minibatches of (X, Y) from one long token sequence, Y being X shifted by one token (d2l 9.3,
// "Partitioning Sequences", and the sliding-window dataset of the book's later edition).
//
// Every random choice of an epoch comes from one 64-bit epoch seed, drawn from the caller's Rng (the
// only source of randomness), so an epoch is replayed from (seed, batch index) and training can
// resume mid-epoch:
//
//   SequentialPartition part(corpus, {.batch_size = 32, .num_steps = 35});
//   EpochPlan plan = part.plan_epoch(rng);   // draws plan.seed = rng.next_u64()
//   for (int64_t b = 0; b < plan.num_batches; ++b) {
//     part.fill_batch(plan, b, batch);       // batch.x, batch.y: [32, 35] int32, row-major
//     ...                                    // checkpoint BatchPosition{epoch, plan.seed, b + 1}
//   }
//
// The corpus is viewed, not copied: it must outlive the partition. It may be int32 ids in memory or
// 1, 2 or 4-byte ids of a memory-mapped token file (recur/text/token_view.h); the batches are the same.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recur/core/rng.h"
#include "recur/text/token_view.h"

namespace recur {

struct PartitionOptions {
  int32_t batch_size = 32;  // rows per minibatch, > 0
  int32_t num_steps = 35;   // tokens per row, > 0
};

// One minibatch. Row-major [batch_size, num_steps]; y[b][t] is the token after x[b][t].
struct TokenBatch {
  int32_t batch_size = 0;  // rows filled (the last sliding-window batch may hold fewer)
  int32_t num_steps = 0;
  std::vector<int32_t> x;  // [batch_size * num_steps]
  std::vector<int32_t> y;  // [batch_size * num_steps]
};

// Everything random about one epoch, decided by `seed`.
struct EpochPlan {
  uint64_t seed = 0;
  int64_t offset = 0;  // tokens skipped at the start, in [0, num_steps)
  int64_t num_batches = 0;
  std::vector<int64_t> starts;  // random sampling: [num_batches * batch_size] corpus position of each
                                // row, in batch order; sliding window: window indices; else empty
};

// Where training stands, enough to resume: replay plan_epoch(epoch_seed) and continue at batch_index.
struct BatchPosition {
  int64_t epoch = 0;
  uint64_t epoch_seed = 0;
  int64_t batch_index = 0;  // the next batch to fill
};

// d2l's seq_data_iter_random: drop a random offset in [0, num_steps), cut the rest into
// subsequences of num_steps (the last token is kept back as the final target), shuffle them, and
// take batch_size of them per minibatch. Adjacent minibatches are not adjacent in the text.
class RandomPartition {
 public:
  // Throws ValueError for non-positive sizes or a corpus shorter than (batch_size + 1) * num_steps,
  // the least that gives one minibatch whatever the offset.
  RandomPartition(TokenView corpus, const PartitionOptions& options);

  // The plan of a new epoch with a seed drawn from `rng`, or of the epoch with a known seed (resuming).
  [[nodiscard]] EpochPlan plan_epoch(Rng& rng) const { return plan_epoch(rng.next_u64()); }
  [[nodiscard]] EpochPlan plan_epoch(uint64_t seed) const;
  // Batch `index` in [0, plan.num_batches); `out` is resized as needed.
  void fill_batch(const EpochPlan& plan, int64_t index, TokenBatch& out) const;
  [[nodiscard]] const PartitionOptions& options() const { return options_; }

 private:
  TokenView corpus_;
  PartitionOptions options_;
};

// d2l's seq_data_iter_sequential: drop a random offset in [0, num_steps), split the rest into
// batch_size equal rows, and walk them num_steps at a time, so row i of a minibatch continues exactly
// where row i of the previous one ended and a hidden state can be carried across minibatches.
class SequentialPartition {
 public:
  // Same checks as RandomPartition.
  SequentialPartition(TokenView corpus, const PartitionOptions& options);

  [[nodiscard]] EpochPlan plan_epoch(Rng& rng) const { return plan_epoch(rng.next_u64()); }
  [[nodiscard]] EpochPlan plan_epoch(uint64_t seed) const;
  void fill_batch(const EpochPlan& plan, int64_t index, TokenBatch& out) const;
  // Tokens per row in an epoch with this offset: (len - offset - 1) / batch_size; the minibatches
  // use the first num_batches * num_steps of them.
  [[nodiscard]] int64_t row_length(int64_t offset) const;
  [[nodiscard]] const PartitionOptions& options() const { return options_; }

 private:
  TokenView corpus_;
  PartitionOptions options_;
};

enum class Split { train, valid };

struct SlidingWindowOptions {
  int32_t batch_size = 32;
  int32_t num_steps = 35;
  int64_t num_train = 10000;  // the first num_train windows train
  int64_t num_valid = 5000;   // the next num_valid windows validate
  bool drops_last = false;    // drop a final batch smaller than batch_size
};

// The later edition's TimeMachine dataset (d2l 9.3, new edition): window i is
// X = corpus[i, i + num_steps), Y = corpus[i + 1, i + num_steps + 1), for every i in
// [0, len - num_steps). Training windows are shuffled each epoch; validation windows keep their order.
class SlidingWindowDataset {
 public:
  // Throws ValueError for non-positive sizes, negative counts, or num_train + num_valid greater
  // than the len - num_steps windows the corpus holds (the message gives that number).
  SlidingWindowDataset(TokenView corpus, const SlidingWindowOptions& options);

  [[nodiscard]] int64_t num_windows() const;
  [[nodiscard]] int64_t split_size(Split split) const;
  // `seed` shuffles the training windows; the validation plan ignores it.
  [[nodiscard]] EpochPlan plan_epoch(Split split, Rng& rng) const {
    return plan_epoch(split, rng.next_u64());
  }
  [[nodiscard]] EpochPlan plan_epoch(Split split, uint64_t seed) const;
  void fill_batch(const EpochPlan& plan, int64_t index, TokenBatch& out) const;
  [[nodiscard]] const SlidingWindowOptions& options() const { return options_; }

 private:
  TokenView corpus_;
  SlidingWindowOptions options_;
};

}  // namespace recur
