// Length-bucketed epoch plans and the padding of one minibatch. Glossary: B rows, Ts source steps,
// Tt target steps; every buffer is time-major, [t * B + b].
#include "recur/seq2seq/translation_batches.h"

#include <algorithm>
#include <numeric>

#include "recur/core/error.h"
#include "recur/core/rng.h"

namespace recur {

void make_padded_batch(std::span<const EncodedPair> pairs, std::span<const int64_t> indices, int32_t pad_id,
                       int32_t bos_id, TranslationBatch& out) {
  check(!indices.empty(), "make_padded_batch: no pair indices (a batch needs at least one row)");
  const auto num_pairs = static_cast<int64_t>(pairs.size());
  for (int64_t index : indices) {
    check(index >= 0 && index < num_pairs, "make_padded_batch: pair index must be in [0, " +
                                               std::to_string(num_pairs) + "), got " + std::to_string(index));
    const EncodedPair& pair = pairs[static_cast<size_t>(index)];
    check(!pair.source.empty() && !pair.target.empty(),
          "make_padded_batch: pair " + std::to_string(index) + " (line " + std::to_string(pair.line) +
              ") has an empty " + (pair.source.empty() ? "source" : "target"));
  }
  auto source_of = [&](int64_t index) -> const std::vector<int32_t>& {
    return pairs[static_cast<size_t>(index)].source;
  };
  auto target_of = [&](int64_t index) -> const std::vector<int32_t>& {
    return pairs[static_cast<size_t>(index)].target;
  };

  const auto B = static_cast<int64_t>(indices.size());
  out.batch = B;
  out.pair_index.assign(indices.begin(), indices.end());
  std::stable_sort(out.pair_index.begin(), out.pair_index.end(),
                   [&](int64_t a, int64_t b) { return source_of(a).size() > source_of(b).size(); });

  int64_t Ts = 0;
  int64_t Tt = 0;
  for (int64_t index : out.pair_index) {
    Ts = std::max(Ts, static_cast<int64_t>(source_of(index).size()));
    Tt = std::max(Tt, static_cast<int64_t>(target_of(index).size()));
  }
  out.source_steps = Ts;
  out.target_steps = Tt;
  out.source.assign(static_cast<size_t>(Ts * B), pad_id);
  out.source_lengths.resize(static_cast<size_t>(B));
  out.decoder_input.assign(static_cast<size_t>(Tt * B), pad_id);
  out.target.assign(static_cast<size_t>(Tt * B), pad_id);
  out.target_mask.assign(static_cast<size_t>(Tt * B), 0.0f);
  out.source_tokens = 0;
  out.target_tokens = 0;
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int32_t>& x = source_of(out.pair_index[static_cast<size_t>(b)]);
    const std::vector<int32_t>& y = target_of(out.pair_index[static_cast<size_t>(b)]);
    const auto source_length = static_cast<int64_t>(x.size());
    const auto target_length = static_cast<int64_t>(y.size());
    for (int64_t t = 0; t < source_length; ++t)
      out.source[static_cast<size_t>(t * B + b)] = x[static_cast<size_t>(t)];
    for (int64_t t = 0; t < target_length; ++t) {
      const auto at = static_cast<size_t>(t * B + b);
      out.decoder_input[at] = t == 0 ? bos_id : y[static_cast<size_t>(t - 1)];
      out.target[at] = y[static_cast<size_t>(t)];
      out.target_mask[at] = 1.0f;
    }
    out.source_lengths[static_cast<size_t>(b)] = source_length;
    out.source_tokens += source_length;
    out.target_tokens += target_length;
  }
}

TranslationBatcher::TranslationBatcher(std::span<const EncodedPair> pairs, int64_t batch_size, int32_t pad_id,
                                       int32_t bos_id, int64_t pool_batches)
    : pairs_(pairs), batch_size_(batch_size), pool_batches_(pool_batches), pad_id_(pad_id), bos_id_(bos_id) {
  check(batch_size >= 1, "TranslationBatcher: batch_size must be >= 1, got " + std::to_string(batch_size));
  check(pool_batches >= 1, "TranslationBatcher: pool_batches must be >= 1 (1: shuffled batches), got " +
                               std::to_string(pool_batches));
  check(pad_id >= 0 && bos_id >= 0, "TranslationBatcher: pad_id and bos_id must be >= 0, got " +
                                        std::to_string(pad_id) + " and " + std::to_string(bos_id));
}

int64_t TranslationBatcher::plan_epoch(uint64_t seed) {
  const auto n = static_cast<int64_t>(pairs_.size());
  order_.resize(static_cast<size_t>(n));
  std::iota(order_.begin(), order_.end(), int64_t{0});
  Rng rng(seed);
  rng.shuffle(std::span<int64_t>(order_));

  // Sort each pool by length; ties keep the shuffled order, so the plan depends on the seed only.
  const int64_t batches_needed = (n + batch_size_ - 1) / batch_size_;
  const int64_t pool = pool_batches_ >= batches_needed ? n : pool_batches_ * batch_size_;  // no overflow
  auto by_length = [&](int64_t a, int64_t b) {
    const EncodedPair& pa = pairs_[static_cast<size_t>(a)];
    const EncodedPair& pb = pairs_[static_cast<size_t>(b)];
    if (pa.source.size() != pb.source.size()) return pa.source.size() < pb.source.size();
    return pa.target.size() < pb.target.size();
  };
  for (int64_t begin = 0; begin < n; begin += pool) {
    const int64_t end = std::min(n, begin + pool);
    std::stable_sort(order_.begin() + begin, order_.begin() + end, by_length);
  }

  // Pools hold whole batches, so only the epoch's last batch can be smaller; it stays last.
  batch_begins_.clear();
  batch_sizes_.clear();
  const int64_t full = n / batch_size_;
  for (int64_t b = 0; b < full; ++b) batch_begins_.push_back(b * batch_size_);
  rng.shuffle(std::span<int64_t>(batch_begins_));
  batch_sizes_.assign(static_cast<size_t>(full), batch_size_);
  if (n % batch_size_ != 0) {
    batch_begins_.push_back(full * batch_size_);
    batch_sizes_.push_back(n % batch_size_);
  }
  return num_batches();
}

int64_t TranslationBatcher::plan_in_order() {
  const auto n = static_cast<int64_t>(pairs_.size());
  order_.resize(static_cast<size_t>(n));
  std::iota(order_.begin(), order_.end(), int64_t{0});
  batch_begins_.clear();
  batch_sizes_.clear();
  for (int64_t begin = 0; begin < n; begin += batch_size_) {
    batch_begins_.push_back(begin);
    batch_sizes_.push_back(std::min(batch_size_, n - begin));
  }
  return num_batches();
}

std::span<const int64_t> TranslationBatcher::batch_pairs(int64_t index) const {
  check(index >= 0 && index < num_batches(), "TranslationBatcher: batch index must be in [0, " +
                                                 std::to_string(num_batches()) + "), got " +
                                                 std::to_string(index));
  return std::span<const int64_t>(order_).subspan(
      static_cast<size_t>(batch_begins_[static_cast<size_t>(index)]),
      static_cast<size_t>(batch_sizes_[static_cast<size_t>(index)]));
}

void TranslationBatcher::fill_batch(int64_t index, TranslationBatch& out) const {
  make_padded_batch(pairs_, batch_pairs(index), pad_id_, bos_id_, out);
}

}  // namespace recur
