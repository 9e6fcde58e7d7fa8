// Scoring text with an ARPA backoff model the way KenLM's query does (lm/model.cc FullScore and
// lm/ngram_query.hh): per sentence from <s>, log10 probabilities of the longest known n-gram plus
// the backoffs of the longer contexts, </s> scored at each line end, OOVs scored as <unk>.
//
// The model is one flat image: vocabulary strings and a hash table over them, then per order the
// n-grams' word ids, log10 probabilities and backoffs and an open-addressing hash table. Built
// from an ARPA file it lives in memory; save_binary() writes the same bytes to a file that
// load_binary() maps read-only (mmap), so a binary model loads without parsing.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
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
  explicit BackoffModel(const ArpaModel& arpa);
  // Maps a file written by save_binary(); IoError naming the path when it is not one, is of
  // another version or is inconsistent (every id and table entry is checked once).
  [[nodiscard]] static BackoffModel load_binary(const std::filesystem::path& path);
  // Writes the model's image atomically (magic "recurlm\0", format version, then the arrays).
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

 private:
  struct Storage;  // the image's owner: a vector, or a read-only mapping of a file
  struct OrderView {
    const uint32_t* word_ids = nullptr;  // [count * n]
    const float* log_prob = nullptr;     // [count]
    const float* log_backoff = nullptr;  // [count], n < order
    const uint8_t* extends = nullptr;    // [count], n < order: may be a context (KenLM's +0 backoff)
    const uint32_t* slots = nullptr;     // [mask + 1], n >= 2: entry index + 1, 0 when empty
    uint64_t mask = 0;
    int64_t count = 0;
  };

  BackoffModel() = default;
  // Points the views into `storage_`'s bytes; `source` names them in errors.
  void attach(const std::string& source);
  // Index of the n-gram `key` (n word ids, oldest first); -1 when absent.
  [[nodiscard]] int64_t find(int n, const uint32_t* key) const;

  std::unique_ptr<Storage> storage_;
  int order_ = 0;
  uint32_t vocab_size_ = 0;
  const uint64_t* vocab_offsets_ = nullptr;  // [vocab_size + 1] into vocab_blob_
  const char* vocab_blob_ = nullptr;
  const uint32_t* vocab_slots_ = nullptr;  // [vocab_mask_ + 1] id + 1, 0 when empty
  uint64_t vocab_mask_ = 0;
  std::vector<OrderView> orders_;  // [order]
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
