// Packed-key n-gram counting: linear probing over a power-of-two slot array, load factor <= 1/2.
#include "recur/text/ngram_counts.h"

#include <algorithm>
#include <bit>
#include <numeric>
#include <string>

#include "recur/core/error.h"

namespace recur {

namespace {
uint64_t mix64(uint64_t z) {  // splitmix64's finalizer
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

NgramCounts::NgramCounts(int order, int32_t vocab_size) : order_(order), vocab_size_(vocab_size) {
  check(order >= 1, "NgramCounts: n-gram order must be at least 1, got " + std::to_string(order));
  check(vocab_size >= 1, "NgramCounts: vocab_size must be at least 1, got " + std::to_string(vocab_size));
  bits_ = std::max(1, static_cast<int>(std::bit_width(static_cast<uint32_t>(vocab_size - 1))));
  const int64_t key_bits = int64_t{order} * bits_;  // 64-bit: a user-given order must not wrap
  check(key_bits <= 128, "NgramCounts: order " + std::to_string(order) + " with a vocabulary of " +
                             std::to_string(vocab_size) + " tokens needs " + std::to_string(order) + " x " +
                             std::to_string(bits_) + " = " + std::to_string(key_bits) +
                             " bits per key; the limit is 128 (lower the order or raise min_freq)");
  slots_.assign(64, 0);
}

NgramCounts::Key NgramCounts::pack(std::span<const int32_t> ngram) const {
  Key key;
  for (int32_t id : ngram) {
    // key = (key << bits) | id over the two 64-bit halves; bits_ is in [1, 31].
    key.high = (key.high << bits_) | (key.low >> (64 - bits_));
    key.low = (key.low << bits_) | static_cast<uint32_t>(id);
  }
  return key;
}

void NgramCounts::ngram_at(int64_t i, std::span<int32_t> ids) const {
  if (!(i >= 0 && i < distinct()))
    throw ValueError("NgramCounts::ngram_at: index " + std::to_string(i) + " outside [0, " +
                     std::to_string(distinct()) + ")");
  if (ids.size() != static_cast<size_t>(order_))
    throw ValueError("NgramCounts::ngram_at: output must hold " + std::to_string(order_) + " ids, has " +
                     std::to_string(ids.size()));
  Key key = keys_[static_cast<size_t>(i)];
  const uint64_t mask = (uint64_t{1} << bits_) - 1;
  for (int j = order_ - 1; j >= 0; --j) {
    ids[static_cast<size_t>(j)] = static_cast<int32_t>(key.low & mask);
    key.low = (key.low >> bits_) | (key.high << (64 - bits_));
    key.high >>= bits_;
  }
}

size_t NgramCounts::slot_of(const Key& key) const {
  const size_t mask = slots_.size() - 1;
  size_t s = static_cast<size_t>(mix64(key.low ^ mix64(key.high + 0x9e3779b97f4a7c15ULL))) & mask;
  while (slots_[s] != 0 && !(keys_[slots_[s] - 1] == key)) s = (s + 1) & mask;
  return s;
}

void NgramCounts::grow() {
  slots_.assign(slots_.size() * 2, 0);
  for (size_t i = 0; i < keys_.size(); ++i) slots_[slot_of(keys_[i])] = static_cast<uint32_t>(i + 1);
}

void NgramCounts::check_ngram(std::span<const int32_t> ngram, const char* operation) const {
  if (ngram.size() != static_cast<size_t>(order_))
    throw ValueError(std::string("NgramCounts::") + operation + ": expected " + std::to_string(order_) +
                     " token ids, got " + std::to_string(ngram.size()));
  for (int32_t id : ngram)
    if (id < 0 || id >= vocab_size_)
      throw ValueError(std::string("NgramCounts::") + operation + ": token id " + std::to_string(id) +
                       " outside [0, " + std::to_string(vocab_size_) + ")");
}

void NgramCounts::add_key(const Key& key, int64_t times) {
  size_t s = slot_of(key);
  if (slots_[s] == 0) {
    check(keys_.size() < UINT32_MAX - 1, "NgramCounts::add: more than 2^32 distinct n-grams");
    keys_.push_back(key);
    counts_.push_back(0);
    slots_[s] = static_cast<uint32_t>(keys_.size());
    if (keys_.size() * 2 > slots_.size()) {
      grow();
      s = slot_of(key);
    }
  }
  counts_[slots_[s] - 1] += times;
  total_ += times;
}

void NgramCounts::add(std::span<const int32_t> ngram, int64_t times) {
  check_ngram(ngram, "add");
  if (times < 0) throw ValueError("NgramCounts::add: times must be >= 0, got " + std::to_string(times));
  add_key(pack(ngram), times);
}

void NgramCounts::add_windows(std::span<const int32_t> sequence) {
  for (int32_t id : sequence)
    if (!(id >= 0 && id < vocab_size_))
      throw ValueError("NgramCounts::add_windows: token id " + std::to_string(id) + " outside [0, " +
                       std::to_string(vocab_size_) + ")");
  const auto n = static_cast<size_t>(order_);
  for (size_t i = 0; i + n <= sequence.size(); ++i) add_key(pack(sequence.subspan(i, n)), 1);
}

int64_t NgramCounts::count(std::span<const int32_t> ngram) const {
  check_ngram(ngram, "count");
  const size_t s = slot_of(pack(ngram));
  return slots_[s] == 0 ? 0 : counts_[slots_[s] - 1];
}

std::vector<NgramFrequency> NgramCounts::most_common(size_t k) const {
  std::vector<int64_t> order(counts_.size());
  std::iota(order.begin(), order.end(), int64_t{0});
  k = std::min(k, order.size());
  // Ties by first addition: the entry index breaks them, which partial_sort needs to be stable.
  std::partial_sort(
      order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(), [&](int64_t a, int64_t b) {
        const int64_t ca = counts_[static_cast<size_t>(a)], cb = counts_[static_cast<size_t>(b)];
        return ca > cb || (ca == cb && a < b);
      });
  std::vector<NgramFrequency> out(k);
  for (size_t i = 0; i < k; ++i) {
    out[i].ids.resize(static_cast<size_t>(order_));
    ngram_at(order[i], out[i].ids);
    out[i].count = counts_[static_cast<size_t>(order[i])];
  }
  return out;
}

std::vector<int64_t> NgramCounts::sorted_counts() const {
  std::vector<int64_t> out = counts_;
  std::sort(out.begin(), out.end(), std::greater<>());
  return out;
}

}  // namespace recur
