// Scoring text with an ARPA backoff model the way KenLM's query does (lm/model.cc FullScore and
// lm/ngram_query.hh): per sentence from <s>, log10 probabilities of the longest known n-gram plus
// the backoffs of the longer contexts, </s> scored at each line end, OOVs scored as <unk>.
//
// The model is one flat image laid out as KenLM's probing model (lm/search_hashed.hh): vocabulary
// strings and a hash table over them, unigrams indexed by word id, then per order an
// open-addressing table whose slots hold the n-gram's key beside its log10 probability and
// backoff, so that one lookup is one cache miss. A key is exact, not a hash: the slot of the
// n-gram's last n - 1 words one order down and its first word (a trie's edge in 64 bits), so two
// n-grams never share a key and a match needs no check of the words. Built from an ARPA file the
// image lives in memory; save_binary() writes the same bytes to a file that load_binary() maps
// read-only (mmap), so a binary model loads without parsing.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recur/ngram/arpa.h"

namespace recur {

class BackoffModel {
 public:
  static constexpr int kMaxOrder = 32;

  // KenLM's State: the context words (most recent first) that may still extend, and their backoffs.
  struct State {
    std::array<uint32_t, kMaxOrder> words = {};  // [length] context, words[0] the most recent
    std::array<float, kMaxOrder> backoff = {};   // [length] log10 backoff of words[0..k]
    int length = 0;
  };
  struct Score {
    float log_prob = 0;    // log10 p(word | state)
    int ngram_length = 0;  // order of the n-gram that matched
  };

  // From an ARPA model; one without <unk> gets one with log10 probability -100 (KenLM's default).
  // Throws IoError on an order above kMaxOrder or a duplicate n-gram.
  // Taken by value: pass an rvalue (std::move) and the parsed arrays are reused, not copied.
  explicit BackoffModel(ArpaModel arpa);
  // Maps a file written by save_binary(); IoError naming the path when it is not one, is of
  // another version or is inconsistent. Loading checks the header, the sizes against the file,
  // the vocabulary and that each table's last slot is empty, not every slot: a search starts
  // inside its table and stops at that slot at the latest, so no bytes send it outside the mapping.
  [[nodiscard]] static BackoffModel load_binary(const std::filesystem::path& path);
  // Writes the model's image atomically (magic "recurlm\0", format version 2, then the arrays).
  void save_binary(const std::filesystem::path& path) const;
  // True when `bytes` starts with the binary form's magic.
  [[nodiscard]] static bool is_binary(std::string_view bytes);

  BackoffModel(BackoffModel&&) noexcept;
  BackoffModel& operator=(BackoffModel&&) noexcept;
  ~BackoffModel();

  [[nodiscard]] int order() const { return order_; }
  [[nodiscard]] uint32_t vocab_size() const { return vocab_size_; }
  [[nodiscard]] std::string_view word(uint32_t id) const;
  // The id of `word`, or unk_id() when the model does not know it.
  [[nodiscard]] uint32_t word_id(std::string_view word) const;
  [[nodiscard]] uint32_t unk_id() const { return unk_id_; }
  [[nodiscard]] uint32_t bos_id() const { return bos_id_; }
  [[nodiscard]] uint32_t eos_id() const { return eos_id_; }

  [[nodiscard]] State begin_sentence_state() const;
  // Scores `word` after `in` and sets `out` to the state after it (KenLM's FullScore).
  [[nodiscard]] Score score(const State& in, uint32_t word, State& out) const;
  // A hint: starts loading the table slot of the bigram "previous word" (a cache miss that
  // score() would otherwise wait for). Word ids as from word_id().
  void prefetch_bigram(uint32_t previous, uint32_t word) const;

 private:
  struct Storage;  // the image's owner: a vector, or a read-only mapping of a file
  // Values carry KenLM's flags in their sign bits (backoff_model.cpp: stored_prob, stored_backoff).
  struct Weights {
    float log_prob;
    float log_backoff;
  };
  struct MiddleEntry {  // orders 2 .. order - 1
    uint64_t key;       // (suffix slot << 32) | first word; all ones when empty
    Weights weights;
  };
  struct TopEntry {  // the highest order: 12 bytes, the key read unaligned
    uint32_t key[2];
    float log_prob;
  };
  struct VocabSlot {       // a word's id and where its bytes are, so that a probe reads no other array
    uint32_t tag;          // the high half of the word's hash: strings are compared when it agrees
    uint32_t id_plus_one;  // 0 when empty
    uint32_t offset;       // into the vocabulary strings (under 4 GiB)
    uint32_t size;
  };
  struct Table {
    const char* entries = nullptr;  // [slots] MiddleEntry or TopEntry
    uint64_t buckets = 0;           // a search starts in [0, buckets)
  };

  BackoffModel() = default;
  // Points the views into `storage_`'s bytes; `source` names them in errors.
  void attach(const std::string& source);
  // The entry of `key` in the table of order n (2 <= n < order) or of the highest order; nullptr
  // when absent.
  [[nodiscard]] const MiddleEntry* find_middle(int n, uint64_t key) const;
  [[nodiscard]] const TopEntry* find_top(uint64_t key) const;

  std::unique_ptr<Storage> storage_;
  int order_ = 0;
  uint32_t vocab_size_ = 0;
  const uint64_t* vocab_offsets_ = nullptr;  // [vocab_size + 1] into vocab_blob_
  const char* vocab_blob_ = nullptr;
  const VocabSlot* vocab_slots_ = nullptr;  // [vocab_mask_ + 1]
  uint64_t vocab_mask_ = 0;
  const Weights* unigrams_ = nullptr;  // [vocab_size]
  std::vector<Table> tables_;          // [order], n >= 2
  uint32_t unk_id_ = 0, bos_id_ = 0, eos_id_ = 0;
};

// Totals of one line, as query -v sentence prints them ("Total: -12.3 OOV: 1").
struct SentenceScore {
  float log10_total = 0;
  uint64_t oovs = 0;
};

// query -v summary's numbers. Tokens count every word and each </s>; perplexity including OOVs
// is 10^(-total / tokens), excluding OOVs removes their log10 probabilities and counts.
struct QuerySummary {
  double perplexity_including_oovs = 0;
  double perplexity_excluding_oovs = 0;
  uint64_t oovs = 0;
  uint64_t tokens = 0;
  double log10_total = 0;
};

// Scores `text` line by line as KenLM's query does: words split on space, \t, \v, \f, \r; each
// line ends with </s>, an empty line too; a last line without a newline is scored without </s>
// and left out of the total (KenLM's quirk, kept so that the numbers agree). `per_line`, when
// given, receives one entry per scored line.
[[nodiscard]] QuerySummary query_text(const BackoffModel& model, std::string_view text,
                                      std::vector<SentenceScore>* per_line = nullptr);

// The four lines of query -v summary, "Perplexity including OOVs:\t..." to "Tokens:\t...".
[[nodiscard]] std::string format_query_summary(const QuerySummary& summary);

}  // namespace recur
