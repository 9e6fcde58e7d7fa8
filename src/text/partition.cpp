// Random, sequential and sliding-window minibatches over one token sequence.
#include "recur/text/partition.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "recur/core/error.h"
#include "recur/core/rng.h"

namespace recur {

namespace {
void check_sizes(TokenView corpus, int32_t batch_size, int32_t num_steps, const char* who) {
  check(batch_size > 0, std::string(who) + ": batch_size must be > 0, got " + std::to_string(batch_size));
  check(num_steps > 0, std::string(who) + ": num_steps must be > 0, got " + std::to_string(num_steps));
  const int64_t needed = (int64_t{batch_size} + 1) * num_steps;
  check(static_cast<int64_t>(corpus.size()) >= needed,
        std::string(who) + ": a corpus of " + std::to_string(corpus.size()) +
            " tokens is too short for batch_size " + std::to_string(batch_size) + " x num_steps " +
            std::to_string(num_steps) + "; it needs at least " + std::to_string(needed) +
            " tokens ((batch_size + 1) * num_steps)");
}

void resize_batch(TokenBatch& out, int32_t rows, int32_t num_steps) {
  out.batch_size = rows;
  out.num_steps = num_steps;
  out.x.resize(static_cast<size_t>(rows) * static_cast<size_t>(num_steps));
  out.y.resize(out.x.size());
}

// Row `row` of `out` from corpus[start, start + num_steps] (x) shifted by one (y).
void copy_row(TokenView corpus, int64_t start, int32_t row, TokenBatch& out) {
  const int64_t T = out.num_steps;
  corpus.copy_to(start, T, out.x.data() + row * T);
  corpus.copy_to(start + 1, T, out.y.data() + row * T);
}

void check_index(const EpochPlan& plan, int64_t index, const char* who) {
  if (!(index >= 0 && index < plan.num_batches))
    throw ValueError(std::string(who) + ": batch index " + std::to_string(index) + " outside [0, " +
                     std::to_string(plan.num_batches) + ")");
}
}  // namespace

RandomPartition::RandomPartition(TokenView corpus, const PartitionOptions& options)
    : corpus_(corpus), options_(options) {
  check_sizes(corpus, options.batch_size, options.num_steps, "RandomPartition");
}

EpochPlan RandomPartition::plan_epoch(uint64_t seed) const {
  Rng rng(seed);
  const int64_t T = options_.num_steps;
  EpochPlan plan;
  plan.seed = seed;
  plan.offset = static_cast<int64_t>(rng.below(static_cast<uint64_t>(T)));
  // As d2l: subsequences start at offset + j T for j < (len - offset - 1) / T, so the target of the
  // last one still lies in the corpus.
  const int64_t num_subsequences = (static_cast<int64_t>(corpus_.size()) - plan.offset - 1) / T;
  std::vector<int64_t> starts(static_cast<size_t>(num_subsequences));
  for (int64_t j = 0; j < num_subsequences; ++j) starts[static_cast<size_t>(j)] = plan.offset + j * T;
  rng.shuffle(std::span<int64_t>(starts));
  plan.num_batches = num_subsequences / options_.batch_size;
  starts.resize(static_cast<size_t>(plan.num_batches * options_.batch_size));
  plan.starts = std::move(starts);
  return plan;
}

void RandomPartition::fill_batch(const EpochPlan& plan, int64_t index, TokenBatch& out) const {
  check_index(plan, index, "RandomPartition::fill_batch");
  resize_batch(out, options_.batch_size, options_.num_steps);
  for (int32_t row = 0; row < options_.batch_size; ++row)
    copy_row(corpus_, plan.starts[static_cast<size_t>(index * options_.batch_size + row)], row, out);
}

SequentialPartition::SequentialPartition(TokenView corpus, const PartitionOptions& options)
    : corpus_(corpus), options_(options) {
  check_sizes(corpus, options.batch_size, options.num_steps, "SequentialPartition");
}

int64_t SequentialPartition::row_length(int64_t offset) const {
  return (static_cast<int64_t>(corpus_.size()) - offset - 1) / options_.batch_size;
}

EpochPlan SequentialPartition::plan_epoch(uint64_t seed) const {
  Rng rng(seed);
  EpochPlan plan;
  plan.seed = seed;
  plan.offset = static_cast<int64_t>(rng.below(static_cast<uint64_t>(options_.num_steps)));
  plan.num_batches = row_length(plan.offset) / options_.num_steps;
  return plan;
}

void SequentialPartition::fill_batch(const EpochPlan& plan, int64_t index, TokenBatch& out) const {
  check_index(plan, index, "SequentialPartition::fill_batch");
  resize_batch(out, options_.batch_size, options_.num_steps);
  // d2l reshapes corpus[offset, offset + B L) into B rows of L and takes columns [i T, (i + 1) T).
  const int64_t L = row_length(plan.offset);
  for (int32_t row = 0; row < options_.batch_size; ++row)
    copy_row(corpus_, plan.offset + row * L + index * options_.num_steps, row, out);
}

SlidingWindowDataset::SlidingWindowDataset(TokenView corpus, const SlidingWindowOptions& options)
    : corpus_(corpus), options_(options) {
  const char* who = "SlidingWindowDataset";
  check(options.batch_size > 0,
        std::string(who) + ": batch_size must be > 0, got " + std::to_string(options.batch_size));
  check(options.num_steps > 0,
        std::string(who) + ": num_steps must be > 0, got " + std::to_string(options.num_steps));
  check(options.num_train >= 0 && options.num_valid >= 0,
        std::string(who) + ": num_train and num_valid must be >= 0, got " +
            std::to_string(options.num_train) + " and " + std::to_string(options.num_valid));
  check(options.num_train + options.num_valid <= num_windows(),
        std::string(who) +
            ": num_train + num_valid = " + std::to_string(options.num_train + options.num_valid) +
            " windows, but a corpus of " + std::to_string(corpus.size()) + " tokens with num_steps " +
            std::to_string(options.num_steps) + " holds only " + std::to_string(num_windows()));
}

int64_t SlidingWindowDataset::num_windows() const {
  return std::max<int64_t>(0, static_cast<int64_t>(corpus_.size()) - options_.num_steps);
}

int64_t SlidingWindowDataset::split_size(Split split) const {
  return split == Split::train ? options_.num_train : options_.num_valid;
}

EpochPlan SlidingWindowDataset::plan_epoch(Split split, uint64_t seed) const {
  EpochPlan plan;
  plan.seed = seed;
  const int64_t first = split == Split::train ? 0 : options_.num_train;
  const int64_t count = split_size(split);
  plan.starts.resize(static_cast<size_t>(count));
  std::iota(plan.starts.begin(), plan.starts.end(), first);
  if (split == Split::train) {
    Rng rng(seed);
    rng.shuffle(std::span<int64_t>(plan.starts));
  }
  const int64_t B = options_.batch_size;
  plan.num_batches = options_.drops_last ? count / B : (count + B - 1) / B;
  return plan;
}

void SlidingWindowDataset::fill_batch(const EpochPlan& plan, int64_t index, TokenBatch& out) const {
  check_index(plan, index, "SlidingWindowDataset::fill_batch");
  const int64_t begin = index * options_.batch_size;
  const auto rows = static_cast<int32_t>(
      std::min<int64_t>(options_.batch_size, static_cast<int64_t>(plan.starts.size()) - begin));
  resize_batch(out, rows, options_.num_steps);
  for (int32_t row = 0; row < rows; ++row)
    copy_row(corpus_, plan.starts[static_cast<size_t>(begin + row)], row, out);
}

}  // namespace recur
