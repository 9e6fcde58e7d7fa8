// Id tuples of one n-gram order -> their index in a flat array, for building and pruning models
// (not for scoring: BackoffModel's probing tables are laid out for that).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace recur::ngram_detail {

inline uint64_t hash_ids(const uint32_t* ids, int n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(n);
  for (int k = 0; k < n; ++k) {
    h ^= ids[k];
    h *= 0xBF58476D1CE4E5B9ull;  // splitmix64's mixing constants
    h ^= h >> 31;
  }
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 29);
}

// Open addressing over index + 1 into `ids` ([count * n], passed to each call because the caller
// appends to it); grows at half full.
class NgramIndex {
 public:
  explicit NgramIndex(int n) : n_(n) {}
  // The index of the tuple key[0..n) among those inserted; -1 when absent.
  [[nodiscard]] int64_t find(const std::vector<uint32_t>& ids, const uint32_t* key) const {
    if (slots_.empty()) return -1;
    const uint64_t mask = slots_.size() - 1;
    for (uint64_t slot = hash_ids(key, n_) & mask;; slot = (slot + 1) & mask) {
      const uint32_t entry = slots_[slot];
      if (entry == 0) return -1;
      if (std::equal(key, key + n_, ids.data() + (entry - 1) * static_cast<uint64_t>(n_))) return entry - 1;
    }
  }
  // Adds tuple `index` of `ids`; returns the index of an equal tuple already there (not adding
  // this one), or -1.
  int64_t insert(const std::vector<uint32_t>& ids, uint32_t index) {
    if (2 * (used_ + 1) > slots_.size()) grow(ids);
    const int64_t existing = place(ids, index);
    if (existing < 0) ++used_;
    return existing;
  }
  // Room for `count` tuples without growing.
  void reserve(const std::vector<uint32_t>& ids, uint64_t count) {
    if (2 * count > slots_.size()) grow(ids, count);
  }

 private:
  int64_t place(const std::vector<uint32_t>& ids, uint32_t index) {
    const uint64_t mask = slots_.size() - 1;
    const uint32_t* key = ids.data() + uint64_t{index} * static_cast<uint64_t>(n_);
    for (uint64_t slot = hash_ids(key, n_) & mask;; slot = (slot + 1) & mask) {
      const uint32_t entry = slots_[slot];
      if (entry == 0) {
        slots_[slot] = index + 1;
        return -1;
      }
      if (std::equal(key, key + n_, ids.data() + (entry - 1) * static_cast<uint64_t>(n_))) return entry - 1;
    }
  }
  void grow(const std::vector<uint32_t>& ids, uint64_t at_least = 0) {
    std::vector<uint32_t> old;
    old.swap(slots_);
    uint64_t capacity = std::max<uint64_t>(64, old.size() * 2);
    while (capacity < 2 * at_least) capacity *= 2;
    slots_.assign(capacity, 0);
    for (uint32_t entry : old)
      if (entry != 0) (void)place(ids, entry - 1);
  }
  int n_;
  uint64_t used_ = 0;
  std::vector<uint32_t> slots_;  // [power of two] index + 1, 0 when empty
};

}  // namespace recur::ngram_detail
