// Distinct tokens numbered in order of first occurrence, in one open-addressing table over one byte
// arena: recur prepare looks up every token of a corpus twice, and std::unordered_map's node per
// token made those lookups most of its time.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace recur {

class TokenInterner {
 public:
  static constexpr int32_t kMissing = -1;

  TokenInterner() : slots_(kInitialSlots) {}

  // The token's number, adding it (next number) when new.
  int32_t intern(std::string_view token) {
    const Key key = make_key(token);
    size_t i = key.hash & (slots_.size() - 1);
    for (;; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& s = slots_[i];
      if (s.index == kMissing) break;
      if (matches(s, key, token)) return s.index;
    }
    const auto index = static_cast<int32_t>(starts_.size());
    slots_[i] = {.head = key.head, .tag = key.tag, .index = index};
    starts_.push_back(arena_.size());
    arena_.append(token);
    if (2 * starts_.size() > slots_.size()) grow();
    return index;
  }
  // The token's number, or kMissing.
  [[nodiscard]] int32_t find(std::string_view token) const {
    const Key key = make_key(token);
    for (size_t i = key.hash & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& s = slots_[i];
      if (s.index == kMissing) return kMissing;
      if (matches(s, key, token)) return s.index;
    }
  }
  [[nodiscard]] int64_t size() const { return static_cast<int64_t>(starts_.size()); }
  // Token number `i`; valid until the next intern().
  [[nodiscard]] std::string_view token(int32_t i) const {
    const size_t begin = starts_[static_cast<size_t>(i)];
    const size_t end =
        static_cast<size_t>(i) + 1 < starts_.size() ? starts_[static_cast<size_t>(i) + 1] : arena_.size();
    return std::string_view(arena_).substr(begin, end - begin);
  }

 private:
  // 16 bytes, so that the table of a 50,000-word vocabulary stays in L2. `head` holds the first 8
  // bytes (zero-padded) and `tag` the length (capped at 255) over 24 hash bits: tokens of at most 8
  // bytes compare without touching the arena.
  struct Slot {
    uint64_t head = 0;
    uint32_t tag = 0;
    int32_t index = kMissing;
  };
  struct Key {
    size_t hash;
    uint64_t head;
    uint32_t tag;
  };
  static constexpr size_t kInitialSlots = 1024;  // a power of two

  // A multiply-xorshift mix over 8-byte words: tokens are short, and this is a table, not a MAC.
  static Key make_key(std::string_view s) {
    const char* p = s.data();
    size_t n = s.size();
    uint64_t head = 0;
    std::memcpy(&head, p, n < 8 ? n : 8);
    uint64_t h = (head ^ (n * 0x9E3779B97F4A7C15ull)) * 0xC4CEB9FE1A85EC53ull;
    for (p += 8; n > 8; p += 8, n = n > 16 ? n - 8 : 8) {
      uint64_t w = 0;
      std::memcpy(&w, p, n - 8 < 8 ? n - 8 : 8);
      h = ((h ^ (h >> 29)) ^ w) * 0xFF51AFD7ED558CCDull;
    }
    h ^= h >> 32;
    const uint32_t length = s.size() < 255 ? static_cast<uint32_t>(s.size()) : 255;
    return {.hash = static_cast<size_t>(h),
            .head = head,
            .tag = (static_cast<uint32_t>(h >> 40) & 0xFFFFFF) | (length << 24)};
  }
  bool matches(const Slot& s, const Key& key, std::string_view token) const {
    if (s.tag != key.tag || s.head != key.head) return false;
    if (token.size() <= 8) return true;  // length (in the tag) and every byte (in head) agree
    return token == this->token(s.index);
  }
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.index == kMissing) continue;
      size_t i = make_key(token(s.index)).hash & (slots_.size() - 1);
      while (slots_[i].index != kMissing) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;     // [power of two], at most half full
  std::string arena_;           // the tokens back to back
  std::vector<size_t> starts_;  // [size()] where token i starts in arena_
};

}  // namespace recur
