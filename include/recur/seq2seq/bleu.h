// BLEU scores of translations: d2l's sentence-level variant (d2l 10.7) and the standard corpus
// BLEU-4 of Papineni et al. 2002 ("BLEU: a Method for Automatic Evaluation of Machine
// Translation"), one reference per hypothesis. Tokens are given without <eos>.
//
// d2l:    exp(min(0, 1 - len_label / len_pred)) * prod_{n=1}^{min(k, len_pred)} p_n^(1/2^n)
// corpus: BP * exp(sum_{n=1}^{N} log(p_n) / N),  BP = 1 if c > r else exp(1 - r / c)
// where p_n = clipped n-gram matches / hypothesis n-grams (per sentence for d2l, summed over the
// corpus for corpus BLEU), c and r the total hypothesis and reference lengths.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace recur {

// d2l's bleu(pred_seq, label_seq, k) on tokens. An empty prediction scores 0 (d2l divides by zero).
// Throws ValueError for k < 1.
[[nodiscard]] double d2l_bleu(std::span<const std::string> prediction, std::span<const std::string> label,
                              int k);
[[nodiscard]] double d2l_bleu(std::span<const std::string_view> prediction,
                              std::span<const std::string_view> label, int k);

struct CorpusBleu {
  double score = 0.0;              // in [0, 1]; 0 when any precision is 0 or there is no hypothesis
  std::vector<double> precisions;  // [max_n] matches[n-1] / totals[n-1] (0 when totals is 0)
  std::vector<int64_t> matches;    // [max_n] clipped n-gram matches summed over the corpus
  std::vector<int64_t> totals;     // [max_n] hypothesis n-grams summed over the corpus
  double brevity_penalty = 0.0;    // 1 when c > r, else exp(1 - r / c); 0 when c = 0
  int64_t hypothesis_length = 0;   // c, tokens
  int64_t reference_length = 0;    // r, tokens
};

// Corpus BLEU over streamed (hypothesis, reference) pairs: what multi-bleu.perl, sacrebleu (with
// tokenize='none', no smoothing) and nltk's corpus_bleu compute with one reference. (nltk counts
// max(1, n-grams) per sentence as the total, so it differs when a hypothesis is shorter than n,
// and returns ~1e-77 instead of 0 when a precision is 0.)
class CorpusBleuCounter {
 public:
  static constexpr int kDefaultMaxOrder = 4;

  // Counts n-grams for n = 1 .. max_order; throws ValueError for max_order < 1.
  explicit CorpusBleuCounter(int max_order = kDefaultMaxOrder);

  void add(std::span<const std::string> hypothesis, std::span<const std::string> reference);
  void add(std::span<const std::string_view> hypothesis, std::span<const std::string_view> reference);

  // BLEU-max_n of everything added; throws ValueError unless 1 <= max_n <= max_order().
  [[nodiscard]] CorpusBleu result(int max_n = kDefaultMaxOrder) const;

  [[nodiscard]] int max_order() const { return static_cast<int>(matches_.size()); }
  [[nodiscard]] int64_t num_sentences() const { return num_sentences_; }

 private:
  template <typename Token>
  void add_tokens(std::span<const Token> hypothesis, std::span<const Token> reference);

  std::vector<int64_t> matches_;  // [max_order]
  std::vector<int64_t> totals_;   // [max_order]
  int64_t hypothesis_length_ = 0;
  int64_t reference_length_ = 0;
  int64_t num_sentences_ = 0;
  // Scratch reused by add(): token ids of the current pair.
  std::unordered_map<std::string_view, int32_t> token_ids_;
  std::vector<int32_t> hypothesis_ids_;
  std::vector<int32_t> reference_ids_;
};

// corpus BLEU of whole lists (hypotheses[i] against references[i]); throws ValueError when the
// sizes differ.
[[nodiscard]] CorpusBleu corpus_bleu(std::span<const std::vector<std::string>> hypotheses,
                                     std::span<const std::vector<std::string>> references, int max_n = 4);

}  // namespace recur
