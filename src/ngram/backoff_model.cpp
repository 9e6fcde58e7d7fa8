// KenLM-compatible scoring over hash tables of ARPA n-grams, in memory or mapped from the binary
// form (see backoff_model.h).
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

#include "recur/core/error.h"
#include "recur/io/atomic_file.h"

namespace recur {

namespace {
uint64_t hash_ids(const uint32_t* ids, int n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(n);
  for (int k = 0; k < n; ++k) {
    h ^= ids[k];
    h *= 0xBF58476D1CE4E5B9ull;  // splitmix64's mixing constants
    h ^= h >> 31;
  }
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 29);
}

uint64_t hash_word(std::string_view word) {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a, then a final mix
  for (char c : word) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ull;
  }
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  return h ^ (h >> 33);
}

// query's whitespace (util/spaces.cc kSpaces): \t \n \v \f \r and space.
bool is_query_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// a[0..n) == b[0..n) as a plain loop: n is at most 32 and usually 2 to 5, too short for memcmp's call.
bool same_ids(const uint32_t* a, const uint32_t* b, int n) {
  for (int k = 0; k < n; ++k)
    if (a[k] != b[k]) return false;
  return true;
}

// Index of `key` in an order's table (-1 when absent); the table always has an empty slot.
int64_t find_in(const uint32_t* slots, uint64_t mask, const uint32_t* ids, int n, const uint32_t* key) {
  for (uint64_t slot = hash_ids(key, n) & mask;; slot = (slot + 1) & mask) {
    const uint32_t entry = slots[slot];
    if (entry == 0) return -1;
    if (same_ids(key, ids + (entry - 1) * static_cast<uint64_t>(n), n)) return entry - 1;
  }
}

// The binary form. All arrays are 8-byte aligned; sizes follow from the header and the counts.
constexpr char kMagic[8] = {'r', 'e', 'c', 'u', 'r', 'l', 'm', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint32_t kByteOrderMark = 0x01020304;

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

uint64_t align8(uint64_t x) { return (x + 7) & ~uint64_t{7}; }
uint64_t table_capacity(uint64_t count) { return std::bit_ceil(count * 2 + 2); }

struct Layout {
  struct Order {
    uint64_t ids_at = 0, prob_at = 0, backoff_at = 0, extends_at = 0, slots_at = 0, capacity = 0;
  };
  uint64_t counts_at = 0, vocab_offsets_at = 0, blob_at = 0, vocab_slots_at = 0, vocab_capacity = 0;
  std::vector<Order> orders = {};
  uint64_t total = 0;
};

// Offsets of every array; counts must be bounded by the caller (at most 2^40 each).
Layout compute_layout(uint32_t order, uint64_t vocab_size, uint64_t blob_bytes, const uint64_t* counts) {
  Layout l;
  uint64_t at = sizeof(Header);
  l.counts_at = at;
  at += 8 * uint64_t{order};
  l.vocab_offsets_at = at;
  at += 8 * (vocab_size + 1);
  l.blob_at = at;
  at = align8(at + blob_bytes);
  l.vocab_capacity = table_capacity(vocab_size);
  l.vocab_slots_at = at;
  at = align8(at + 4 * l.vocab_capacity);
  for (uint32_t n = 1; n <= order; ++n) {
    Layout::Order o;
    const uint64_t count = counts[n - 1];
    o.ids_at = at;
    at = align8(at + 4 * count * n);
    o.prob_at = at;
    at = align8(at + 4 * count);
    if (n < order) {
      o.backoff_at = at;
      at = align8(at + 4 * count);
      o.extends_at = at;
      at = align8(at + count);
    }
    if (n >= 2) {
      o.capacity = table_capacity(count);
      o.slots_at = at;
      at = align8(at + 4 * o.capacity);
    }
    l.orders.push_back(o);
  }
  l.total = at;
  return l;
}
}  // namespace

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

BackoffModel::BackoffModel(BackoffModel&&) noexcept = default;
BackoffModel& BackoffModel::operator=(BackoffModel&&) noexcept = default;
BackoffModel::~BackoffModel() = default;

BackoffModel::BackoffModel(const ArpaModel& arpa) {
  check<IoError>(arpa.order() >= 1 && arpa.order() <= kMaxOrder,
                 fmt::format("ARPA model: order {} outside [1, {}]", arpa.order(), kMaxOrder));
  const auto order = static_cast<uint32_t>(arpa.order());
  check<IoError>(
      arpa.orders[0].count() == static_cast<int64_t>(arpa.vocab.size()),
      fmt::format("ARPA model: {} unigrams for {} words", arpa.orders[0].count(), arpa.vocab.size()));
  for (uint32_t n = 1; n <= order; ++n) {
    const ArpaOrder& grams = arpa.orders[n - 1];
    const auto count = static_cast<size_t>(grams.count());
    check<IoError>(grams.word_ids.size() == count * n && (n == order || grams.log_backoff.size() == count),
                   fmt::format("ARPA model: the {}-grams' arrays disagree in length", n));
    for (uint32_t id : grams.word_ids)
      if (id >= arpa.vocab.size())
        throw IoError(fmt::format("ARPA model: a {}-gram's word id {} is not a word", n, id));
    if (n == 1)
      for (size_t i = 0; i < count; ++i)
        if (grams.word_ids[i] != i) throw IoError("ARPA model: unigram i must be word i");
  }
  // KenLM: "The ARPA file is missing <unk>. Substituting log10 probability -100."
  bool has_unk = false;
  uint64_t blob_bytes = 0;
  for (const std::string& w : arpa.vocab) {
    has_unk = has_unk || w == "<unk>";
    blob_bytes += w.size();
  }
  if (!has_unk) blob_bytes += 5;
  const uint64_t vocab_size = arpa.vocab.size() + (has_unk ? 0 : 1);
  check<IoError>(vocab_size < (uint64_t{1} << 32) - 1, "ARPA model: more than 2^32 - 2 words");
  std::vector<uint64_t> counts(order);
  for (uint32_t n = 1; n <= order; ++n) counts[n - 1] = static_cast<uint64_t>(arpa.orders[n - 1].count());
  counts[0] = vocab_size;
  for (uint64_t c : counts)
    if (c >= (uint64_t{1} << 32) - 1) throw IoError("ARPA model: more than 2^32 - 2 n-grams in one order");
  const Layout layout = compute_layout(order, vocab_size, blob_bytes, counts.data());

  storage_ = std::make_unique<Storage>();
  storage_->owned.assign(layout.total / 8, 0);
  char* base = reinterpret_cast<char*>(storage_->owned.data());
  const auto at = [&]<typename T>(uint64_t offset, T*) { return reinterpret_cast<T*>(base + offset); };

  // Vocabulary: strings, offsets and the hash table over them.
  auto* offsets = at(layout.vocab_offsets_at, static_cast<uint64_t*>(nullptr));
  char* blob = base + layout.blob_at;
  uint64_t used = 0;
  for (uint64_t id = 0; id < vocab_size; ++id) {
    const std::string_view w =
        id < arpa.vocab.size() ? std::string_view(arpa.vocab[id]) : std::string_view("<unk>");
    offsets[id] = used;
    std::memcpy(blob + used, w.data(), w.size());
    used += w.size();
  }
  offsets[vocab_size] = used;
  auto* vocab_slots = at(layout.vocab_slots_at, static_cast<uint32_t*>(nullptr));
  const uint64_t vocab_mask = layout.vocab_capacity - 1;
  for (uint64_t id = 0; id < vocab_size; ++id) {
    const std::string_view w(blob + offsets[id], offsets[id + 1] - offsets[id]);
    for (uint64_t slot = hash_word(w) & vocab_mask;; slot = (slot + 1) & vocab_mask) {
      const uint32_t entry = vocab_slots[slot];
      if (entry == 0) {
        vocab_slots[slot] = static_cast<uint32_t>(id + 1);
        break;
      }
      if (std::string_view(blob + offsets[entry - 1], offsets[entry] - offsets[entry - 1]) == w)
        throw IoError(fmt::format("ARPA model: the unigram \"{}\" appears twice", w));
    }
  }

  // N-grams, their tables, then which of them extend (need the table of the order above).
  for (uint32_t n = 1; n <= order; ++n) {
    const ArpaOrder& grams = arpa.orders[n - 1];
    const Layout::Order& o = layout.orders[n - 1];
    auto* ids = at(o.ids_at, static_cast<uint32_t*>(nullptr));
    auto* prob = at(o.prob_at, static_cast<float*>(nullptr));
    std::copy(grams.word_ids.begin(), grams.word_ids.end(), ids);
    std::copy(grams.log_prob.begin(), grams.log_prob.end(), prob);
    if (n < order)
      std::copy(grams.log_backoff.begin(), grams.log_backoff.end(),
                at(o.backoff_at, static_cast<float*>(nullptr)));
    if (n == 1 && !has_unk) {
      ids[vocab_size - 1] = static_cast<uint32_t>(vocab_size - 1);
      prob[vocab_size - 1] = -100.0f;
    }
    if (n < 2) continue;
    auto* slots = at(o.slots_at, static_cast<uint32_t*>(nullptr));
    const uint64_t mask = o.capacity - 1;
    for (uint64_t i = 0; i < counts[n - 1]; ++i) {
      const uint32_t* key = ids + i * n;
      for (uint64_t slot = hash_ids(key, static_cast<int>(n)) & mask;; slot = (slot + 1) & mask) {
        const uint32_t entry = slots[slot];
        if (entry == 0) {
          slots[slot] = static_cast<uint32_t>(i + 1);
          break;
        }
        if (std::equal(key, key + n, ids + (entry - 1) * uint64_t{n})) {
          std::string words;
          for (uint32_t k = 0; k < n; ++k) words += fmt::format("{}{}", k ? " " : "", arpa.vocab[key[k]]);
          throw IoError(fmt::format("ARPA model: the {}-gram \"{}\" appears twice", n, words));
        }
      }
    }
  }
  // An n-gram may extend to the right when its backoff is non-zero or it is the context of an
  // (n+1)-gram; otherwise the state forgets it (KenLM's -0.0 backoff).
  for (uint32_t n = 1; n < order; ++n) {
    const Layout::Order& o = layout.orders[n - 1];
    auto* extends = at(o.extends_at, static_cast<uint8_t*>(nullptr));
    const auto* backoff = at(o.backoff_at, static_cast<float*>(nullptr));
    for (uint64_t i = 0; i < counts[n - 1]; ++i) extends[i] = backoff[i] != 0.0f;
    const Layout::Order& up = layout.orders[n];
    const auto* up_ids = at(up.ids_at, static_cast<uint32_t*>(nullptr));
    const auto* ids = at(o.ids_at, static_cast<uint32_t*>(nullptr));
    const auto* slots = n >= 2 ? at(o.slots_at, static_cast<uint32_t*>(nullptr)) : nullptr;
    for (uint64_t i = 0; i < counts[n]; ++i) {
      const uint32_t* context = up_ids + i * (n + 1);
      const int64_t found = n == 1 ? static_cast<int64_t>(context[0])
                                   : find_in(slots, o.capacity - 1, ids, static_cast<int>(n), context);
      if (found >= 0) extends[found] = 1;
    }
  }

  Header header{};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.version = kFormatVersion;
  header.byte_order = kByteOrderMark;
  header.order = order;
  header.vocab_size = static_cast<uint32_t>(vocab_size);
  header.blob_bytes = blob_bytes;
  const auto id_of = [&](std::string_view w) -> uint32_t {
    for (uint64_t id = 0; id < vocab_size; ++id)
      if (std::string_view(blob + offsets[id], offsets[id + 1] - offsets[id]) == w)
        return static_cast<uint32_t>(id);
    return UINT32_MAX;
  };
  header.unk_id = id_of("<unk>");
  // KenLM treats a missing <s> or </s> as <unk>.
  header.bos_id = id_of("<s>") == UINT32_MAX ? header.unk_id : id_of("<s>");
  header.eos_id = id_of("</s>") == UINT32_MAX ? header.unk_id : id_of("</s>");
  std::memcpy(base, &header, sizeof header);
  std::memcpy(base + layout.counts_at, counts.data(), 8 * counts.size());
  attach("ARPA model");
}

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
    void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
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
  if (size < sizeof(Header) + 8 * uint64_t{header.order}) fail("truncated");
  std::vector<uint64_t> counts(header.order);
  std::memcpy(counts.data(), base + sizeof(Header), 8 * counts.size());
  // Every n-gram takes at least 4 bytes, which bounds the counts before any arithmetic on them.
  for (uint64_t c : counts)
    if (c > size / 4) fail("n-gram counts larger than the file");
  if (header.blob_bytes > size) fail("vocabulary larger than the file");
  if (counts[0] != header.vocab_size) fail("unigram count differs from the vocabulary size");
  const Layout layout = compute_layout(header.order, header.vocab_size, header.blob_bytes, counts.data());
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
  vocab_slots_ = reinterpret_cast<const uint32_t*>(base + layout.vocab_slots_at);
  vocab_mask_ = layout.vocab_capacity - 1;
  // One pass over ids and tables, so that no lookup can leave the image.
  if (vocab_offsets_[0] != 0 || vocab_offsets_[vocab_size_] != header.blob_bytes) fail("vocabulary offsets");
  for (uint32_t i = 0; i < vocab_size_; ++i)
    if (vocab_offsets_[i] > vocab_offsets_[i + 1]) fail("vocabulary offsets");
  const auto check_table = [&](const uint32_t* slots, uint64_t capacity, uint64_t count) {
    uint64_t used = 0;
    for (uint64_t i = 0; i < capacity; ++i) {
      if (slots[i] > count) fail("hash table entry outside its array");
      used += slots[i] != 0;
    }
    if (used != count) fail("hash table does not hold every entry");
  };
  check_table(vocab_slots_, layout.vocab_capacity, vocab_size_);
  orders_.assign(header.order, {});
  for (uint32_t n = 1; n <= header.order; ++n) {
    const Layout::Order& o = layout.orders[n - 1];
    OrderView& v = orders_[n - 1];
    v.count = static_cast<int64_t>(counts[n - 1]);
    v.word_ids = reinterpret_cast<const uint32_t*>(base + o.ids_at);
    v.log_prob = reinterpret_cast<const float*>(base + o.prob_at);
    for (uint64_t i = 0; i < counts[n - 1] * n; ++i)
      if (v.word_ids[i] >= vocab_size_) fail(fmt::format("a {}-gram's word id is outside the vocabulary", n));
    if (n < header.order) {
      v.log_backoff = reinterpret_cast<const float*>(base + o.backoff_at);
      v.extends = reinterpret_cast<const uint8_t*>(base + o.extends_at);
    }
    if (n >= 2) {
      v.slots = reinterpret_cast<const uint32_t*>(base + o.slots_at);
      v.mask = o.capacity - 1;
      check_table(v.slots, o.capacity, counts[n - 1]);
    }
  }
  // Unigram i is word i: scoring indexes unigrams by word id.
  for (uint32_t i = 0; i < vocab_size_; ++i)
    if (orders_[0].word_ids[i] != i) fail("unigrams are not in word id order");
}

std::string_view BackoffModel::word(uint32_t id) const {
  if (id >= vocab_size_)
    throw ValueError(fmt::format("BackoffModel::word: id {} outside [0, {})", id, vocab_size_));
  return {vocab_blob_ + vocab_offsets_[id], vocab_offsets_[id + 1] - vocab_offsets_[id]};
}

int64_t BackoffModel::find(int n, const uint32_t* key) const {
  const OrderView& v = orders_[static_cast<size_t>(n - 1)];
  return find_in(v.slots, v.mask, v.word_ids, n, key);
}

uint32_t BackoffModel::word_id(std::string_view w) const {
  for (uint64_t slot = hash_word(w) & vocab_mask_;; slot = (slot + 1) & vocab_mask_) {
    const uint32_t entry = vocab_slots_[slot];
    if (entry == 0) return unk_id_;
    if (word(entry - 1) == w) return entry - 1;
  }
}

BackoffModel::State BackoffModel::begin_sentence_state() const {
  State state;
  state.length = 1;
  state.words[0] = bos_id_;
  state.backoff[0] = order_ > 1 ? orders_[0].log_backoff[bos_id_] : 0.0f;
  return state;
}

BackoffModel::Score BackoffModel::score(const State& in, uint32_t word, State& out) const {
  const OrderView& unigrams = orders_[0];
  Score result;
  result.log_prob = unigrams.log_prob[word];
  result.ngram_length = 1;
  out.words[0] = word;
  out.backoff[0] = order_ > 1 ? unigrams.log_backoff[word] : 0.0f;
  out.length = order_ > 1 && unigrams.extends[word] != 0 ? 1 : 0;
  // Extend to the left through the context: n-gram c_{k+1} .. c_1 w has order k + 2.
  std::array<uint32_t, kMaxOrder> key{};
  for (int k = 0; k < in.length && k + 2 <= order_; ++k) {
    const int n = k + 2;
    // key = c_{k+1} .. c_1 w, oldest first
    for (int i = 0; i <= k; ++i) key[static_cast<size_t>(i)] = in.words[static_cast<size_t>(k - i)];
    key[static_cast<size_t>(k + 1)] = word;
    const int64_t at = find(n, key.data());
    // KenLM fills n-grams missing under a longer one (SRILM pruning) with blanks that carry on the
    // search; looking past a miss gives the same longest match.
    if (at < 0) continue;
    const OrderView& grams = orders_[static_cast<size_t>(n - 1)];
    result.log_prob = grams.log_prob[at];
    result.ngram_length = n;
    if (n < order_) {
      out.backoff[static_cast<size_t>(k + 1)] = grams.log_backoff[at];
      if (grams.extends[at] != 0) out.length = n;
    }
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
  BackoffModel::State state, next;
  size_t i = 0;
  while (true) {
    state = model.begin_sentence_state();
    float total = 0;  // float per line, as query sums it
    uint64_t oovs = 0;
    // Words of this line.
    while (true) {
      while (i < text.size() && text[i] != '\n' && is_query_space(text[i])) ++i;
      if (i == text.size() || text[i] == '\n') break;
      const size_t start = i;
      while (i < text.size() && !is_query_space(text[i])) ++i;
      const std::string_view word = text.substr(start, i - start);
      const uint32_t id = model.word_id(word);
      const BackoffModel::Score s = model.score(state, id, next);
      // query counts a word as OOV when the vocabulary does not know it (also the literal <unk>).
      if (id == model.unk_id()) {
        ++oovs;
        total_oov_only += s.log_prob;
      }
      total += s.log_prob;
      ++summary.tokens;
      state = next;
    }
    if (i == text.size()) break;  // no newline: no </s>, and the line is left out of the total
    ++i;                          // the '\n'
    total += model.score(state, model.eos_id(), next).log_prob;
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
