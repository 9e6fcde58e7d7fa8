// KenLM-compatible scoring over probing hash tables of ARPA n-grams, in memory or mapped from the
// binary form (see backoff_model.h; the image is built in backoff_model_build.cpp).
#include "recur/ngram/backoff_model.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "ngram/probing_format.h"
#include "recur/core/error.h"
#include "recur/io/atomic_file.h"

namespace recur {

namespace {
using namespace ngram_detail;

// a == b for short strings without a call to memcmp (words are a few bytes; the call was a tenth
// of scoring).
bool same_word(const char* a, const char* b, size_t size) {
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t x = 0, y = 0;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    if (x != y) return false;
  }
  for (; i < size; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// query's whitespace (util/spaces.cc kSpaces): \t \n \v \f \r and space.
bool is_query_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
}  // namespace

BackoffModel::BackoffModel(BackoffModel&&) noexcept = default;
BackoffModel& BackoffModel::operator=(BackoffModel&&) noexcept = default;
BackoffModel::~BackoffModel() = default;

bool BackoffModel::is_binary(std::string_view bytes) {
  return bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0;
}

void BackoffModel::save_binary(const std::filesystem::path& path) const {
  write_file_atomically(path, std::string_view(storage_->data(), storage_->size()));
}

BackoffModel BackoffModel::load_binary(const std::filesystem::path& path) {
  const std::string name = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(fmt::format("cannot open '{}': {}", name, std::strerror(errno)));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw IoError(fmt::format("'{}' is not a regular file", name));
  }
  BackoffModel model;
  model.storage_ = std::make_unique<Storage>();
  const auto size = static_cast<size_t>(info.st_size);
  if (size > 0) {
    // Pages are read in up front (KenLM's default load method too): scoring touches most of them,
    // and one sequential read is cheaper than a page fault per first touch.
#ifdef MAP_POPULATE
    constexpr int kFlags = MAP_PRIVATE | MAP_POPULATE;
#else
    constexpr int kFlags = MAP_PRIVATE;
#endif
    void* mapped = ::mmap(nullptr, size, PROT_READ, kFlags, fd, 0);
    ::close(fd);
    if (mapped == MAP_FAILED) throw IoError(fmt::format("cannot map '{}': {}", name, std::strerror(errno)));
    model.storage_->mapped = mapped;
    model.storage_->mapped_size = size;
  } else {
    ::close(fd);
  }
  model.attach(name);
  return model;
}

void BackoffModel::attach(const std::string& source) {
  const char* base = storage_->data();
  const uint64_t size = storage_->size();
  const auto fail = [&](std::string_view what) -> void {
    throw IoError(fmt::format("{}: not a usable recur binary n-gram model: {}", source, what));
  };
  if (size < sizeof(Header) || std::memcmp(base, kMagic, sizeof kMagic) != 0) fail("no \"recurlm\" magic");
  Header header{};
  std::memcpy(&header, base, sizeof header);
  if (header.byte_order != kByteOrderMark) fail("written on a machine of the other byte order");
  if (header.version != kFormatVersion)
    fail(fmt::format("format version {}, this recur reads {}", header.version, kFormatVersion));
  if (header.order < 1 || header.order > static_cast<uint32_t>(kMaxOrder))
    fail(fmt::format("order {} outside [1, {}]", header.order, kMaxOrder));
  if (size < sizeof(Header) + sizeof(TableSize) * uint64_t{header.order}) fail("truncated");
  std::vector<TableSize> sizes(header.order);
  std::memcpy(sizes.data(), base + sizeof(Header), sizeof(TableSize) * sizes.size());
  // Every slot takes at least 12 bytes, which bounds the sizes before any arithmetic on them.
  if (sizes[0].entries != header.vocab_size) fail("unigram count differs from the vocabulary size");
  for (uint32_t n = 2; n <= header.order; ++n) {
    const TableSize& t = sizes[n - 1];
    if (t.slots > size / 12 || t.slots >= (uint64_t{1} << 32) - 1) fail("hash table larger than the file");
    if (t.buckets == 0 || t.buckets >= t.slots || t.entries >= t.slots)
      fail(fmt::format("{}-gram table of {} slots for {} buckets and {} entries", n, t.slots, t.buckets,
                       t.entries));
  }
  if (header.blob_bytes > size) fail("vocabulary larger than the file");
  if (header.vocab_size > size / 8) fail("vocabulary larger than the file");
  const Layout layout = compute_layout(header.order, header.vocab_size, header.blob_bytes, sizes.data());
  if (layout.total != size) fail(fmt::format("{} bytes, the header implies {}", size, layout.total));

  order_ = static_cast<int>(header.order);
  vocab_size_ = header.vocab_size;
  if (header.unk_id >= vocab_size_ || header.bos_id >= vocab_size_ || header.eos_id >= vocab_size_)
    fail("special word ids outside the vocabulary");
  unk_id_ = header.unk_id;
  bos_id_ = header.bos_id;
  eos_id_ = header.eos_id;
  vocab_offsets_ = reinterpret_cast<const uint64_t*>(base + layout.vocab_offsets_at);
  vocab_blob_ = base + layout.blob_at;
  vocab_slots_ = reinterpret_cast<const VocabSlot*>(base + layout.vocab_slots_at);
  vocab_mask_ = layout.vocab_capacity - 1;
  unigrams_ = reinterpret_cast<const Weights*>(base + layout.unigrams_at);
  // The vocabulary's offsets and table are checked one by one (they are small); the n-gram tables
  // need no pass: a search starts in [0, buckets) and stops at the latest at the last slot, which
  // must be empty, and it only compares keys, so any bytes in between give wrong numbers at worst.
  if (vocab_offsets_[0] != 0 || vocab_offsets_[vocab_size_] != header.blob_bytes) fail("vocabulary offsets");
  for (uint32_t i = 0; i < vocab_size_; ++i)
    if (vocab_offsets_[i] > vocab_offsets_[i + 1]) fail("vocabulary offsets");
  uint64_t used = 0;
  for (uint64_t i = 0; i < layout.vocab_capacity; ++i) {
    const VocabSlot& entry = vocab_slots_[i];
    if (entry.id_plus_one > vocab_size_ || uint64_t{entry.offset} + entry.size > header.blob_bytes)
      fail("vocabulary table entry outside the vocabulary");
    used += entry.id_plus_one != 0;
  }
  if (used != vocab_size_) fail("vocabulary table does not hold every word");
  tables_.assign(header.order, {});
  for (uint32_t n = 2; n <= header.order; ++n) {
    Table& t = tables_[n - 1];
    t.entries = base + layout.table_at[n - 1];
    t.buckets = sizes[n - 1].buckets;
    uint64_t last_key = 0;
    const uint64_t entry_bytes = n < header.order ? sizeof(MiddleEntry) : sizeof(TopEntry);
    std::memcpy(&last_key, t.entries + (sizes[n - 1].slots - 1) * entry_bytes, sizeof last_key);
    if (last_key != kEmptyKey) fail(fmt::format("the {}-gram table's last slot is not empty", n));
  }
}

std::string_view BackoffModel::word(uint32_t id) const {
  if (id >= vocab_size_)
    throw ValueError(fmt::format("BackoffModel::word: id {} outside [0, {})", id, vocab_size_));
  return {vocab_blob_ + vocab_offsets_[id], vocab_offsets_[id + 1] - vocab_offsets_[id]};
}

uint32_t BackoffModel::word_id(std::string_view w) const {
  const uint64_t hash = hash_word(w);
  const auto tag = static_cast<uint32_t>(hash >> 32);
  for (uint64_t slot = hash & vocab_mask_;; slot = (slot + 1) & vocab_mask_) {
    const VocabSlot& entry = vocab_slots_[slot];
    if (entry.id_plus_one == 0) return unk_id_;
    if (entry.tag == tag && entry.size == w.size() &&
        same_word(vocab_blob_ + entry.offset, w.data(), w.size()))
      return entry.id_plus_one - 1;
  }
}

BackoffModel::State BackoffModel::begin_sentence_state() const {
  State state;
  state.length = 1;
  state.words[0] = bos_id_;
  state.backoff[0] = order_ > 1 ? unigrams_[bos_id_].log_backoff : 0.0f;
  return state;
}

const BackoffModel::MiddleEntry* BackoffModel::find_middle(int n, uint64_t key) const {
  const Table& t = tables_[static_cast<size_t>(n - 1)];
  const auto* entries = reinterpret_cast<const MiddleEntry*>(t.entries);
  for (uint64_t slot = bucket_of(key, t.buckets);; ++slot) {
    const uint64_t found = entries[slot].key;
    if (found == key) return &entries[slot];
    if (found == kEmptyKey) return nullptr;
  }
}

const BackoffModel::TopEntry* BackoffModel::find_top(uint64_t key) const {
  const Table& t = tables_[static_cast<size_t>(order_ - 1)];
  const auto* entries = reinterpret_cast<const TopEntry*>(t.entries);
  for (uint64_t slot = bucket_of(key, t.buckets);; ++slot) {
    uint64_t found = 0;
    std::memcpy(&found, entries[slot].key, sizeof found);
    if (found == key) return &entries[slot];
    if (found == kEmptyKey) return nullptr;
  }
}

void BackoffModel::prefetch_bigram(uint32_t previous, uint32_t word) const {
  if (order_ < 2) return;
  const Table& t = tables_[1];
  const uint64_t entry_bytes = order_ > 2 ? sizeof(MiddleEntry) : sizeof(TopEntry);
  __builtin_prefetch(t.entries + bucket_of(make_key(word, previous), t.buckets) * entry_bytes);
}

// KenLM's ScoreExceptBackoff and FullScore (lm/model.cc): the search extends the match to the
// left one context word at a time and stops at the first n-gram it does not find (blanks stand
// in for missing suffixes) or at one that no longer n-gram ends with.
BackoffModel::Score BackoffModel::score(const State& in, uint32_t word, State& out) const {
  const Weights& unigram = unigrams_[word];
  Score result;
  result.log_prob = prob_of(unigram.log_prob);
  result.ngram_length = 1;
  out.words[0] = word;
  out.backoff[0] = unigram.log_backoff;
  out.length = order_ > 1 && has_extension(unigram.log_backoff) ? 1 : 0;
  bool is_independent = is_independent_left(unigram.log_prob);
  uint64_t suffix_slot = word;
  const int max_context = std::min(in.length, order_ - 1);
  for (int k = 0; k < max_context && !is_independent; ++k) {
    const int n = k + 2;  // the n-gram c_{k+1} .. c_1 w
    const uint64_t key = make_key(suffix_slot, in.words[static_cast<size_t>(k)]);
    if (n == order_) {
      if (const TopEntry* top = find_top(key); top != nullptr) {
        result.log_prob = top->log_prob;
        result.ngram_length = n;
      }
      break;
    }
    const MiddleEntry* entry = find_middle(n, key);
    if (entry == nullptr) break;
    out.backoff[static_cast<size_t>(k + 1)] = entry->weights.log_backoff;
    result.log_prob = prob_of(entry->weights.log_prob);
    result.ngram_length = n;
    if (has_extension(entry->weights.log_backoff)) out.length = n;
    is_independent = is_independent_left(entry->weights.log_prob);
    const auto* entries = reinterpret_cast<const MiddleEntry*>(tables_[static_cast<size_t>(n - 1)].entries);
    suffix_slot = static_cast<uint64_t>(entry - entries);
  }
  for (int i = 1; i < out.length; ++i)
    out.words[static_cast<size_t>(i)] = in.words[static_cast<size_t>(i - 1)];
  // Backoffs of the contexts longer than the match (FullScore).
  for (int i = result.ngram_length - 1; i < in.length; ++i)
    result.log_prob += in.backoff[static_cast<size_t>(i)];
  return result;
}

QuerySummary query_text(const BackoffModel& model, std::string_view text,
                        std::vector<SentenceScore>* per_line) {
  QuerySummary summary;
  double total_oov_only = 0;
  // Two states used in turn: copying one (260 bytes) per word showed in profiles.
  BackoffModel::State states[2];
  std::vector<uint32_t> ids;  // [words of the line]
  size_t i = 0;
  while (true) {
    // The line's word ids first: the look-ups do not depend on one another, so their cache misses
    // overlap; scoring then prefetches each next word's bigram while it scores the current one.
    ids.clear();
    while (true) {
      while (i < text.size() && text[i] != '\n' && is_query_space(text[i])) ++i;
      if (i == text.size() || text[i] == '\n') break;
      const size_t start = i;
      while (i < text.size() && !is_query_space(text[i])) ++i;
      ids.push_back(model.word_id(text.substr(start, i - start)));
    }
    int current = 0;
    states[0] = model.begin_sentence_state();
    float total = 0;  // float per line, as query sums it
    uint64_t oovs = 0;
    for (size_t t = 0; t < ids.size(); ++t) {
      const uint32_t id = ids[t];
      model.prefetch_bigram(id, t + 1 < ids.size() ? ids[t + 1] : model.eos_id());
      const BackoffModel::Score s = model.score(states[current], id, states[1 - current]);
      // query counts a word as OOV when the vocabulary does not know it (also the literal <unk>).
      if (id == model.unk_id()) {
        ++oovs;
        total_oov_only += s.log_prob;
      }
      total += s.log_prob;
      ++summary.tokens;
      current = 1 - current;
    }
    if (i == text.size()) break;  // no newline: no </s>, and the line is left out of the total
    ++i;                          // the '\n'
    total += model.score(states[current], model.eos_id(), states[1 - current]).log_prob;
    ++summary.tokens;
    if (per_line != nullptr) per_line->push_back({.log10_total = total, .oovs = oovs});
    summary.log10_total += total;
    summary.oovs += oovs;
  }
  const auto tokens = static_cast<double>(summary.tokens);
  summary.perplexity_including_oovs = std::pow(10.0, -(summary.log10_total / tokens));
  summary.perplexity_excluding_oovs = std::pow(
      10.0, -((summary.log10_total - total_oov_only) / static_cast<double>(summary.tokens - summary.oovs)));
  return summary;
}

std::string format_query_summary(const QuerySummary& s) {
  return fmt::format(
      "Perplexity including OOVs:\t{}\nPerplexity excluding OOVs:\t{}\nOOVs:\t{}\nTokens:\t{}\n",
      format_shortest_double(s.perplexity_including_oovs),
      format_shortest_double(s.perplexity_excluding_oovs), s.oovs, s.tokens);
}

}  // namespace recur
