// Padded, time-major minibatches of sentence pairs, bucketed by length so that little of a batch is
// padding (the usual practice of NMT toolkits, e.g. OpenNMT's pooled batching; d2l 10.5 instead pads
// every sentence to num_steps).
//
//   TranslationBatcher batcher(encoded.pairs, 64, ids.pad, ids.bos);
//   for (int64_t epoch = 0; ...; ++epoch) {
//     const int64_t n = batcher.plan_epoch(rng.next_u64());
//     for (int64_t b = 0; b < n; ++b) { batcher.fill_batch(b, batch); ... }
//   }
//
// Epoch plan (every random choice comes from the epoch seed through recur's Rng, so a plan is the
// same bit for bit on every machine): shuffle the pair indices, cut them into pools of
// pool_batches * batch_size pairs, sort each pool by (source length, target length) (stable, so
// ties keep the shuffled order), cut each pool into batches of batch_size, and shuffle the order of
// the full batches. The one smaller batch, when the pair count is not a multiple of batch_size,
// comes last. Every pair is in exactly one batch per epoch. pool_batches = 1 gives d2l's shuffled
// batches (each batch a random draw of pairs).
//
// What bucketing costs: a batch's loss is the mean over its own target tokens, so a batch of short
// pairs weighs each of its tokens more than a mixed batch would, and batches are correlated in
// length. On fra-eng's 96,000 shortest pairs (GRU 2 x 256, Adam 0.005, 2 epochs, seed 0; bench/README)
// pools of 50 batches trained 10% faster than shuffled batches but reached validation perplexity
// 5.61 against 5.31 and test BLEU-4 20.1 against 21.0 (seed 1: 5.89 against 5.42, 19.3 against
// 21.2), so recur's trainer draws shuffled batches unless told otherwise (`--bucket-pool`).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recur/seq2seq/translation_data.h"

namespace recur {

// One minibatch, time-major (element [t, b] at t * batch + b). Rows are sorted by source length,
// longest first (stable), as packed-sequence encoders want.
struct TranslationBatch {
  int64_t batch = 0;                    // rows B
  int64_t source_steps = 0;             // Ts = longest source in the batch
  int64_t target_steps = 0;             // Tt = longest target in the batch
  std::vector<int32_t> source;          // [Ts * B] source ids, <pad> after each row's end
  std::vector<int64_t> source_lengths;  // [B] non-increasing
  std::vector<int32_t> decoder_input;   // [Tt * B] <bos>, y0, ..., y(L-2), then <pad> (teacher forcing)
  std::vector<int32_t> target;          // [Tt * B] y0, ..., y(L-1), then <pad>
  std::vector<float> target_mask;       // [Tt * B] 1 where target is a real token, 0 on padding
  std::vector<int64_t> pair_index;      // [B] index of each row's pair in the span given
  int64_t source_tokens = 0;            // real (non-pad) source tokens, <eos> included
  int64_t target_tokens = 0;            // real target tokens = sum of target_mask
};

// Pads pairs[indices[0]], pairs[indices[1]], ... into `out` (its buffers are reused), rows sorted
// by source length, longest first, ties in the order of `indices`. Throws ValueError for no
// indices, an index outside [0, pairs.size()), or a pair with an empty side (naming its line).
void make_padded_batch(std::span<const EncodedPair> pairs, std::span<const int64_t> indices, int32_t pad_id,
                       int32_t bos_id, TranslationBatch& out);

class TranslationBatcher {
 public:
  static constexpr int64_t kPoolBatches = 50;  // batches per sorting pool unless told (--bucket-pool 50)

  // `pairs` is viewed, not copied: it must outlive the batcher. Throws ValueError for batch_size < 1,
  // pool_batches < 1 or negative ids. Before the first plan_*() call there are no batches.
  TranslationBatcher(std::span<const EncodedPair> pairs, int64_t batch_size, int32_t pad_id, int32_t bos_id,
                     int64_t pool_batches = kPoolBatches);

  // Plans a bucketed training epoch from `seed` (see the top of this file); returns num_batches().
  int64_t plan_epoch(uint64_t seed);
  // Plans batches of consecutive pairs in their given order, no shuffling: pairs [0, batch_size)
  // form batch 0, and so on (each still sorted by source length inside; pair_index maps rows back).
  // For validation and translation. Returns num_batches().
  int64_t plan_in_order();

  [[nodiscard]] int64_t num_batches() const { return static_cast<int64_t>(batch_begins_.size()); }
  [[nodiscard]] int64_t batch_size() const { return batch_size_; }
  [[nodiscard]] int64_t num_pairs() const { return static_cast<int64_t>(pairs_.size()); }
  // Pair indices of batch `index` of the current plan, in plan order (before the length sort).
  [[nodiscard]] std::span<const int64_t> batch_pairs(int64_t index) const;
  // Fills `out` with batch `index` in [0, num_batches()) of the current plan.
  void fill_batch(int64_t index, TranslationBatch& out) const;

 private:
  std::span<const EncodedPair> pairs_;
  int64_t batch_size_;
  int64_t pool_batches_;
  int32_t pad_id_;
  int32_t bos_id_;
  std::vector<int64_t> order_;         // [num_pairs] pair indices; each batch is a contiguous run
  std::vector<int64_t> batch_begins_;  // [num_batches] start of each batch in order_, in batch order
  std::vector<int64_t> batch_sizes_;   // [num_batches] rows of each batch
};

}  // namespace recur
