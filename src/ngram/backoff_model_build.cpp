// Building a BackoffModel's image from an ARPA model: KenLM's blanks for missing suffixes, the
// extension flags, and the probing tables from the lowest order up (a key needs its suffix's slot).
#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "ngram/ngram_index.h"
#include "ngram/probing_format.h"
#include "recur/core/error.h"
#include "recur/ngram/backoff_model.h"

namespace recur {

namespace {
using namespace ngram_detail;

// One order while building: the ARPA's n-grams, then KenLM's blanks (n-grams missing under a
// longer one, as SRILM's pruning leaves them).
struct Level {
  int n = 0;
  std::vector<uint32_t> ids = {};       // [size * n]
  std::vector<float> log_prob = {};     // [size]
  std::vector<float> log_backoff = {};  // [size]
  size_t num_real = 0;                  // entries before the blanks
  std::vector<uint32_t> suffix = {};    // [size] index of the last n - 1 words one order down
  std::vector<uint8_t> extends_left = {}, extends_right = {};  // [size]
  std::vector<uint64_t> slot = {};                             // [size] slot in the final table
  [[nodiscard]] size_t size() const { return log_prob.size(); }
  [[nodiscard]] const uint32_t* at(size_t i) const { return ids.data() + i * static_cast<size_t>(n); }
};
}  // namespace

BackoffModel::BackoffModel(ArpaModel arpa) {
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
  for (uint32_t n = 2; n <= order; ++n)
    if (static_cast<uint64_t>(arpa.orders[n - 1].count()) >= (uint64_t{1} << 31))
      throw IoError("ARPA model: more than 2^31 n-grams in one order");
  const auto words_of = [&](const uint32_t* ids, int n) {
    std::string words;
    for (int k = 0; k < n; ++k) words += fmt::format("{}{}", k ? " " : "", arpa.vocab[ids[k]]);
    return words;
  };

  // 1. Per order the ARPA's n-grams and an index over them.
  std::vector<Level> levels(order + 1);  // levels[n]
  std::vector<NgramIndex> index;         // index[n], n >= 2
  for (uint32_t n = 0; n <= order; ++n) index.emplace_back(static_cast<int>(std::max(1u, n)));
  for (uint32_t n = 1; n <= order; ++n) {
    ArpaOrder& grams = arpa.orders[n - 1];  // moved from: the arrays are not held twice
    Level& level = levels[n];
    level.n = static_cast<int>(n);
    const size_t count = grams.log_prob.size();
    level.ids = std::move(grams.word_ids);
    level.log_prob = std::move(grams.log_prob);
    level.log_backoff = n < order ? std::move(grams.log_backoff) : std::vector<float>(count, 0.0f);
    if (n == 1 && !has_unk) {
      level.ids.push_back(static_cast<uint32_t>(vocab_size - 1));
      level.log_prob.push_back(-100.0f);
      level.log_backoff.push_back(0.0f);
    }
    level.num_real = level.size();
    if (n < 2) continue;
    index[n].reserve(level.ids, level.size());
    for (size_t i = 0; i < level.size(); ++i)
      if (index[n].insert(level.ids, static_cast<uint32_t>(i)) >= 0)
        throw IoError(
            fmt::format("ARPA model: the {}-gram \"{}\" appears twice", n, words_of(level.at(i), n)));
  }
  // 2. Suffixes, from the top down: an n-gram whose suffix is missing gets a blank for it (KenLM's
  // FindLower), so that a search can stop at the first n-gram it does not find.
  for (uint32_t n = order; n >= 2; --n) {
    Level& level = levels[n];
    level.suffix.resize(level.size());
    for (size_t i = 0; i < level.size(); ++i) {
      const uint32_t* suffix = level.at(i) + 1;
      if (n == 2) {
        level.suffix[i] = suffix[0];
        continue;
      }
      Level& lower = levels[n - 1];
      int64_t found = index[n - 1].find(lower.ids, suffix);
      if (found < 0) {
        found = static_cast<int64_t>(lower.size());
        lower.ids.insert(lower.ids.end(), suffix, suffix + n - 1);
        lower.log_prob.push_back(0.0f);
        lower.log_backoff.push_back(0.0f);
        (void)index[n - 1].insert(lower.ids, static_cast<uint32_t>(found));
      }
      level.suffix[i] = static_cast<uint32_t>(found);
    }
  }
  // 3. A blank's probability is its suffix's plus its context's backoff, summed in the order the
  // search would sum them (KenLM's AdjustLower).
  const auto find_context = [&](uint32_t n, size_t i) -> int64_t {  // the first n - 1 words of levels[n][i]
    const uint32_t* ids = levels[n].at(i);
    return n == 2 ? static_cast<int64_t>(ids[0]) : index[n - 1].find(levels[n - 1].ids, ids);
  };
  for (uint32_t n = 2; n < order; ++n) {
    Level& level = levels[n];
    for (size_t i = level.num_real; i < level.size(); ++i) {
      float p = prob_of(levels[n - 1].log_prob[level.suffix[i]]);
      const int64_t context = find_context(n, i);
      if (context >= 0) p += levels[n - 1].log_backoff[static_cast<size_t>(context)];
      level.log_prob[i] = p;
    }
  }
  // 4. Flags: an n-gram extends left when it is the suffix of a longer one, and right when its
  // backoff is not zero or it is the context of a longer one.
  for (uint32_t n = 1; n <= order; ++n) {
    Level& level = levels[n];
    level.extends_left.assign(level.size(), 0);
    level.extends_right.assign(level.size(), 0);
    for (size_t i = 0; i < level.size(); ++i) level.extends_right[i] = level.log_backoff[i] != 0.0f;
  }
  for (uint32_t n = 2; n <= order; ++n) {
    const Level& level = levels[n];
    Level& lower = levels[n - 1];
    for (size_t i = 0; i < level.size(); ++i) {
      lower.extends_left[level.suffix[i]] = 1;
      const int64_t context = find_context(n, i);
      if (context >= 0) lower.extends_right[static_cast<size_t>(context)] = 1;
    }
  }
  std::vector<NgramIndex>().swap(index);
  // 5. The probing tables, from the bottom up: a key needs its suffix's slot.
  std::vector<TableSize> sizes(order);
  sizes[0] = {.entries = vocab_size, .buckets = 0, .slots = 0};
  std::vector<std::vector<uint64_t>> keys(order + 1);  // keys[n][slot], kEmptyKey when empty
  for (uint32_t n = 2; n <= order; ++n) {
    Level& level = levels[n];
    const uint64_t buckets = bucket_count(level.size());
    std::vector<uint64_t>& table = keys[n];
    table.assign(buckets + level.size() + 1, kEmptyKey);
    level.slot.resize(level.size());
    uint64_t last = 0;
    for (size_t i = 0; i < level.size(); ++i) {
      const uint64_t suffix_slot = n == 2 ? level.suffix[i] : levels[n - 1].slot[level.suffix[i]];
      const uint64_t key = make_key(suffix_slot, level.at(i)[0]);
      uint64_t slot = bucket_of(key, buckets);
      while (table[slot] != kEmptyKey) ++slot;
      table[slot] = key;
      level.slot[i] = slot;
      last = std::max(last, slot);
    }
    check<IoError>(last + 2 < (uint64_t{1} << 32) - 1, "ARPA model: a hash table of more than 2^32 slots");
    // At least one slot past the buckets, and past the last used one: the last slot stays empty.
    sizes[n - 1] = {.entries = level.size(), .buckets = buckets, .slots = std::max(last + 2, buckets + 1)};
  }

  // 6. The image.
  const Layout layout = compute_layout(order, vocab_size, blob_bytes, sizes.data());
  storage_ = std::make_unique<Storage>();
  storage_->owned.assign(layout.total / 8, 0);
  char* base = reinterpret_cast<char*>(storage_->owned.data());
  auto* offsets = reinterpret_cast<uint64_t*>(base + layout.vocab_offsets_at);
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
  check<IoError>(blob_bytes < (uint64_t{1} << 32), "ARPA model: the words take more than 4 GiB");
  auto* vocab_slots = reinterpret_cast<VocabSlot*>(base + layout.vocab_slots_at);
  const uint64_t vocab_mask = layout.vocab_capacity - 1;
  for (uint64_t id = 0; id < vocab_size; ++id) {
    const std::string_view w(blob + offsets[id], offsets[id + 1] - offsets[id]);
    const uint64_t hash = hash_word(w);
    for (uint64_t slot = hash & vocab_mask;; slot = (slot + 1) & vocab_mask) {
      const VocabSlot& entry = vocab_slots[slot];
      if (entry.id_plus_one == 0) {
        vocab_slots[slot] = {.tag = static_cast<uint32_t>(hash >> 32),
                             .id_plus_one = static_cast<uint32_t>(id + 1),
                             .offset = static_cast<uint32_t>(offsets[id]),
                             .size = static_cast<uint32_t>(w.size())};
        break;
      }
      if (std::string_view(blob + entry.offset, entry.size) == w)
        throw IoError(fmt::format("ARPA model: the unigram \"{}\" appears twice", w));
    }
  }
  {
    const Level& uni = levels[1];
    auto* weights = reinterpret_cast<Weights*>(base + layout.unigrams_at);
    for (uint64_t id = 0; id < vocab_size; ++id)
      weights[id] = {
          .log_prob = stored_prob(uni.log_prob[id], uni.extends_left[id] != 0),
          .log_backoff = stored_backoff(uni.log_backoff[id], order > 1 && uni.extends_right[id] != 0)};
  }
  for (uint32_t n = 2; n <= order; ++n) {
    const Level& level = levels[n];
    char* table = base + layout.table_at[n - 1];
    const std::vector<uint64_t>& table_keys = keys[n];
    if (n < order) {
      auto* entries = reinterpret_cast<MiddleEntry*>(table);
      for (uint64_t s = 0; s < sizes[n - 1].slots; ++s) entries[s].key = table_keys[s];
      for (size_t i = 0; i < level.size(); ++i) {
        MiddleEntry& e = entries[level.slot[i]];
        e.weights = {.log_prob = stored_prob(level.log_prob[i], level.extends_left[i] != 0),
                     .log_backoff = stored_backoff(level.log_backoff[i], level.extends_right[i] != 0)};
      }
    } else {
      auto* entries = reinterpret_cast<TopEntry*>(table);
      for (uint64_t s = 0; s < sizes[n - 1].slots; ++s)
        std::memcpy(entries[s].key, &table_keys[s], sizeof(uint64_t));
      for (size_t i = 0; i < level.size(); ++i)
        entries[level.slot[i]].log_prob = stored_prob(level.log_prob[i], false);
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
  std::memcpy(base + sizeof(Header), sizes.data(), sizeof(TableSize) * sizes.size());
  attach("ARPA model");
}

}  // namespace recur
