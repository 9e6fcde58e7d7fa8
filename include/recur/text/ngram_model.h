// N-gram language models with additive smoothing (d2l 9.3) and their perplexity.
//
// Each line is one sentence: it is padded with n-1 <bos> tokens in front and one <eos> at the end,
// and every token of the line plus the <eos> is predicted from the n-1 tokens before it:
//
//   p(w | h) = (c(h, w) + k) / (c(h) + k V'),   c(h) = sum over w of c(h, w),
//
// where V' = |vocabulary| - 1 counts every token but <bos> (which is never predicted, p = 0), so
// the probabilities over the vocabulary sum to one for every history, seen or not. Laplace
// smoothing is k = 1. (d2l 9.3's "Laplace smoothing" also mixes in lower orders with weights
// epsilon; this is the plain add-k form the book starts from.)
//
// Perplexity on held-out text is exp(-(1/N) sum ln p) over N = (tokens of its non-empty lines) +
// (one <eos> per line). A token outside the vocabulary is scored as <unk>, which has smoothed
// probability mass (plus the counts of training tokens below min_freq); such tokens are counted
// in N and reported as oov_count.
//
// Counts are kept over token indices packed into integer keys (NgramCounts), never strings.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "recur/text/ngram_counts.h"
#include "recur/text/preprocess.h"
#include "recur/text/tokenizer.h"
#include "recur/text/vocab.h"

namespace recur {

enum class Smoothing {
  laplace,  // add one
  add_k,    // add a chosen constant k > 0
};

// "laplace" or "add-k"; anything else throws ValueError.
[[nodiscard]] Smoothing parse_smoothing(std::string_view name);
[[nodiscard]] std::string_view smoothing_name(Smoothing smoothing);

// An n-gram key packs order x bit_width(V - 1) <= 128 bits, so no order above 128 can be counted.
inline constexpr int kMaxNgramOrder = 128;

struct NgramOptions {
  int order = 3;  // n in [1, kMaxNgramOrder]: a token is predicted from the n-1 before it
  Smoothing smoothing = Smoothing::laplace;
  double k = 1.0;                             // additive constant: finite, > 0; must be 1 for laplace
  int64_t min_freq = 0;                       // training tokens seen fewer times become <unk>
  PreprocessMode mode = PreprocessMode::raw;  // how raw text is prepared; stored so evaluation repeats it
  TokenLevel level = TokenLevel::word;
};

// Throws ValueError naming the bad option (order outside [1, kMaxNgramOrder], k <= 0 or not finite, laplace
// with k != 1, ...).
void validate_ngram_options(const NgramOptions& options);

struct PerplexityReport {
  int64_t num_lines = 0;        // non-empty lines scored
  int64_t num_tokens = 0;       // their tokens, out-of-vocabulary ones included
  int64_t num_predictions = 0;  // N = num_tokens + num_lines (one <eos> per line)
  int64_t oov_count = 0;        // tokens not in the vocabulary, scored as <unk>
  double log_likelihood = 0;    // sum of ln p over the N predictions
  double cross_entropy = 0;     // -log_likelihood / N, nats per prediction
  double perplexity = 0;        // exp(cross_entropy)
};

class NgramModel {
 public:
  static constexpr std::string_view kBosToken = "<bos>";
  static constexpr std::string_view kEosToken = "<eos>";
  static constexpr int32_t kBosIndex = 1;  // reserved right after <unk>
  static constexpr int32_t kEosIndex = 2;

  // Counts the lines of `text` (tokenize_lines); the vocabulary comes from the same tokens, with
  // <bos> and <eos> reserved and options.min_freq applied. Throws ValueError for bad options, a
  // text without tokens, or a min_freq that leaves only <unk>.
  [[nodiscard]] static NgramModel train(const TokenizedText& text, const NgramOptions& options);
  // tokenize_lines(raw_text, options.mode, options.level), then the above.
  [[nodiscard]] static NgramModel train(std::string_view raw_text, const NgramOptions& options);

  [[nodiscard]] const NgramOptions& options() const { return options_; }
  [[nodiscard]] int order() const { return options_.order; }
  [[nodiscard]] const Vocab& vocab() const { return vocab_; }
  // V': the tokens that can be predicted (all but <bos>).
  [[nodiscard]] int32_t num_predictable() const { return vocab_.size() - 1; }

  // c(h, w) for `ngram` = h followed by w (order() ids) and c(h) for a history of order() - 1 ids.
  [[nodiscard]] int64_t ngram_count(std::span<const int32_t> ngram) const;
  [[nodiscard]] int64_t history_count(std::span<const int32_t> history) const;

  // p(token | history), history of order() - 1 ids in [0, V). Throws ValueError on bad sizes or ids.
  [[nodiscard]] double probability(std::span<const int32_t> history, int32_t token) const;
  [[nodiscard]] double log_probability(std::span<const int32_t> history, int32_t token) const;

  // ln p of one sentence: its tokens and the closing <eos>, each given the n-1 before it.
  [[nodiscard]] double line_log_probability(std::span<const int32_t> ids) const;
  // The same for tokens (out-of-vocabulary ones become <unk>).
  [[nodiscard]] double line_log_probability(std::span<const std::string_view> tokens) const;

  // Perplexity over the lines of `text`. Throws ValueError when it has no tokens.
  [[nodiscard]] PerplexityReport evaluate(const TokenizedText& text) const;
  // tokenize_lines(raw_text, options().mode, options().level), then the above.
  [[nodiscard]] PerplexityReport evaluate(std::string_view raw_text) const;

  // Text file: "recur-ngram 1", the options, the embedded vocabulary (Vocab::serialize) and one line
  // "id ... id count" per n-gram. History counts are recomputed on load.
  [[nodiscard]] std::string serialize() const;
  // Throws IoError naming `source` and the line for a malformed file.
  [[nodiscard]] static NgramModel parse(std::string_view text, const std::string& source);
  void save(const std::filesystem::path& path) const;
  [[nodiscard]] static NgramModel load(const std::filesystem::path& path);

 private:
  NgramModel(const NgramOptions& options, Vocab vocab);
  void check_history(std::span<const int32_t> history, const char* operation) const;
  void count_line(std::span<const int32_t> ids, std::vector<int32_t>& padded);

  NgramOptions options_;
  Vocab vocab_;
  NgramCounts ngrams_;                    // c(h, w), order n
  std::optional<NgramCounts> histories_;  // c(h), order n - 1; none for n = 1 (c() = ngrams_.total())
};

}  // namespace recur
