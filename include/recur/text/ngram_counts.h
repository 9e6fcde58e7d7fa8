// Counts of n-grams of one order over token indices. Each n-gram is packed into one 128-bit key
// (bit_width(V - 1) bits per index), and the counts sit in an open-addressing table over dense
// arrays kept in insertion order, so nothing is a string and ties can go to the first seen.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace recur {

struct NgramFrequency {
  std::vector<int32_t> ids;  // [order]
  int64_t count = 0;
};

class NgramCounts {
 public:
  // Throws ValueError when order < 1, vocab_size < 1, or order * bit_width(vocab_size - 1) > 128.
  NgramCounts(int order, int32_t vocab_size);

  [[nodiscard]] int order() const { return order_; }
  [[nodiscard]] int32_t vocab_size() const { return vocab_size_; }

  // Adds `times` to the count of `ngram` (size order(), ids in [0, vocab_size)); checked.
  void add(std::span<const int32_t> ngram, int64_t times = 1);
  // Adds every window of order() consecutive ids of `sequence` (none when it is shorter).
  void add_windows(std::span<const int32_t> sequence);

  // 0 for an n-gram never added. `ngram` must have order() ids in [0, vocab_size).
  [[nodiscard]] int64_t count(std::span<const int32_t> ngram) const;
  // Sum of all counts.
  [[nodiscard]] int64_t total() const { return total_; }
  // Number of different n-grams.
  [[nodiscard]] int64_t distinct() const { return static_cast<int64_t>(counts_.size()); }

  // The `k` most frequent n-grams, highest count first, ties in order of first addition.
  [[nodiscard]] std::vector<NgramFrequency> most_common(size_t k) const;
  // Every count, highest first (the frequency-by-rank curve of Zipf's law).
  [[nodiscard]] std::vector<int64_t> sorted_counts() const;

  // The i-th n-gram in order of first addition, i in [0, distinct()).
  void ngram_at(int64_t i, std::span<int32_t> ids) const;
  [[nodiscard]] int64_t count_at(int64_t i) const { return counts_[static_cast<size_t>(i)]; }

 private:
  struct Key {
    uint64_t low = 0;
    uint64_t high = 0;
    friend bool operator==(const Key&, const Key&) = default;
  };
  [[nodiscard]] Key pack(std::span<const int32_t> ngram) const;
  [[nodiscard]] size_t slot_of(const Key& key) const;  // the slot holding key, or the empty slot for it
  void check_ngram(std::span<const int32_t> ngram, const char* operation) const;
  void add_key(const Key& key, int64_t times);
  void grow();

  int order_;
  int32_t vocab_size_;
  int bits_;                     // per index
  std::vector<Key> keys_;        // [distinct], in order of first addition
  std::vector<int64_t> counts_;  // [distinct]
  std::vector<uint32_t> slots_;  // [capacity, a power of two]: entry index + 1, 0 = empty
  int64_t total_ = 0;
};

}  // namespace recur
