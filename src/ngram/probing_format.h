// recur's binary n-gram format (version 2) and the pieces of it that building (backoff_model_build.cpp)
// and loading and scoring (backoff_model.cpp) share: the header, the layout, keys, KenLM's flags.
#pragma once

#include <sys/mman.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "recur/ngram/backoff_model.h"

namespace recur {

namespace ngram_detail {

// Eight bytes at a time, then the tail: words are short, and a byte loop was a tenth of scoring.
inline uint64_t hash_word(std::string_view word) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ word.size();
  size_t i = 0;
  for (; i + 8 <= word.size(); i += 8) {
    uint64_t v = 0;
    std::memcpy(&v, word.data() + i, 8);
    h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
  }
  uint64_t v = 0;
  std::memcpy(&v, word.data() + i, word.size() - i);
  h = (h ^ v) * 0x94D049BB133111EBull;
  return h ^ (h >> 32);
}

// KenLM's flags in the sign bits of values that are never positive (lm/blank.hh, lm/value.hh):
// a log10 probability with the sign bit clear belongs to an n-gram that is the suffix of a longer
// one (the search may go on), and a backoff of -0.0 to one that no longer n-gram has as its
// context (the state may forget it).
inline constexpr uint32_t kSignBit = 0x80000000u;
inline float stored_prob(float log_prob, bool extends_left) {
  const uint32_t bits = std::bit_cast<uint32_t>(log_prob) | kSignBit;
  return std::bit_cast<float>(extends_left ? bits & ~kSignBit : bits);
}
inline float stored_backoff(float log_backoff, bool extends_right) {
  if (log_backoff != 0.0f) return log_backoff;
  return extends_right ? 0.0f : -0.0f;
}
inline float prob_of(float stored) {
  return std::bit_cast<float>(std::bit_cast<uint32_t>(stored) | kSignBit);
}
inline bool is_independent_left(float stored) { return (std::bit_cast<uint32_t>(stored) & kSignBit) != 0; }
inline bool has_extension(float stored) { return std::bit_cast<uint32_t>(stored) != kSignBit; }

// A table slot's key: the slot of the n-gram's suffix (its last n - 1 words) in the table one
// order down (the word id for bigrams) in the high half, its first word in the low half. Distinct
// n-grams have distinct keys, so a key match is an exact match; all ones marks an empty slot
// (no word id or slot reaches 2^32 - 1).
inline constexpr uint64_t kEmptyKey = ~uint64_t{0};
inline uint64_t make_key(uint64_t suffix_slot, uint32_t first_word) {
  return (suffix_slot << 32) | first_word;
}
// The slot where the search for `key` starts, in [0, buckets): a multiply, not a division.
inline uint64_t bucket_of(uint64_t key, uint64_t buckets) {
  key ^= key >> 33;  // murmur3's finalizer
  key *= 0xFF51AFD7ED558CCDull;
  key ^= key >> 33;
  key *= 0xC4CEB9FE1A85EC53ull;
  key ^= key >> 33;
  __extension__ using U128 = unsigned __int128;
  return static_cast<uint64_t>((static_cast<U128>(key) * buckets) >> 64);
}
// KenLM's probing_multiplier: buckets per entry.
inline uint64_t bucket_count(uint64_t entries) { return entries + entries / 2 + 1; }

// The binary form. All arrays are 8-byte aligned; sizes follow from the header and the table sizes.
inline constexpr char kMagic[8] = {'r', 'e', 'c', 'u', 'r', 'l', 'm', '\0'};
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kByteOrderMark = 0x01020304;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t byte_order;  // kByteOrderMark as written by this machine
  uint32_t order;
  uint32_t vocab_size;
  uint64_t blob_bytes;  // vocabulary strings, concatenated
  uint32_t unk_id, bos_id, eos_id;
  uint32_t reserved0;
  uint64_t reserved[2];
};
static_assert(sizeof(Header) == 64);

// Per order after the header: entries (with KenLM's blanks), buckets, slots (buckets plus the
// overflow of the last buckets: linear probing never wraps, and the last slot is always empty).
struct TableSize {
  uint64_t entries = 0, buckets = 0, slots = 0;
};
static_assert(sizeof(TableSize) == 24);

inline uint64_t align8(uint64_t x) { return (x + 7) & ~uint64_t{7}; }
inline uint64_t vocab_capacity(uint64_t count) { return std::bit_ceil(count * 2 + 2); }

struct Layout {
  uint64_t vocab_offsets_at = 0, blob_at = 0, vocab_slots_at = 0, vocab_capacity = 0, unigrams_at = 0;
  std::vector<uint64_t> table_at = {};  // [order], n >= 2
  uint64_t total = 0;
};

// Offsets of every array; sizes must be bounded by the caller (at most 2^40 each).
inline Layout compute_layout(uint32_t order, uint64_t vocab_size, uint64_t blob_bytes,
                             const TableSize* sizes) {
  Layout l;
  uint64_t at = sizeof(Header) + sizeof(TableSize) * order;
  l.vocab_offsets_at = at;
  at += 8 * (vocab_size + 1);
  l.blob_at = at;
  at = align8(at + blob_bytes);
  l.vocab_capacity = vocab_capacity(vocab_size);
  l.vocab_slots_at = at;
  at += 16 * l.vocab_capacity;
  l.unigrams_at = at;
  at += sizeof(float) * 2 * vocab_size;
  l.table_at.assign(order, 0);
  for (uint32_t n = 2; n <= order; ++n) {
    l.table_at[n - 1] = at;
    const uint64_t entry_bytes = n < order ? 16 : 12;
    at = align8(at + entry_bytes * sizes[n - 1].slots);
  }
  l.total = at;
  return l;
}

}  // namespace ngram_detail

struct BackoffModel::Storage {
  std::vector<uint64_t> owned;  // an image built in memory
  void* mapped = nullptr;       // or a file mapped read-only
  size_t mapped_size = 0;

  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    if (mapped != nullptr) ::munmap(mapped, mapped_size);
  }
  [[nodiscard]] const char* data() const {
    return mapped != nullptr ? static_cast<const char*>(mapped) : reinterpret_cast<const char*>(owned.data());
  }
  [[nodiscard]] size_t size() const {
    return mapped != nullptr ? mapped_size : owned.size() * sizeof(uint64_t);
  }
};

}  // namespace recur
