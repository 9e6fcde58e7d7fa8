// BLEU by clipped n-gram matching. Tokens become small integer ids (reference tokens first; a
// hypothesis token absent from the reference gets -1 and can never match), and n-grams are hashed
// as views into the id arrays, so no n-gram string is ever built.
#include "recur/seq2seq/bleu.h"

#include <algorithm>
#include <cmath>

#include "recur/core/error.h"

namespace recur {

namespace {

struct NgramKey {
  const int32_t* ids;  // [n] into a sentence's id array
  int n;
};

struct NgramHash {
  size_t operator()(const NgramKey& key) const noexcept {
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < key.n; ++i) {  // splitmix64's finalizer over each id
      h ^= static_cast<uint32_t>(key.ids[i]);
      h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
      h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
      h ^= h >> 31;
    }
    return static_cast<size_t>(h);
  }
};

struct NgramEqual {
  bool operator()(const NgramKey& a, const NgramKey& b) const noexcept {
    return a.n == b.n && std::equal(a.ids, a.ids + a.n, b.ids);
  }
};

using NgramCounts = std::unordered_map<NgramKey, int64_t, NgramHash, NgramEqual>;

// Ids of both sentences: reference tokens numbered by first occurrence, hypothesis tokens looked up.
template <typename Token>
void assign_ids(std::span<const Token> hypothesis, std::span<const Token> reference,
                std::unordered_map<std::string_view, int32_t>& token_ids,
                std::vector<int32_t>& hypothesis_ids, std::vector<int32_t>& reference_ids) {
  token_ids.clear();
  reference_ids.resize(reference.size());
  for (size_t i = 0; i < reference.size(); ++i)
    reference_ids[i] =
        token_ids.try_emplace(std::string_view(reference[i]), static_cast<int32_t>(token_ids.size()))
            .first->second;
  hypothesis_ids.resize(hypothesis.size());
  for (size_t i = 0; i < hypothesis.size(); ++i) {
    auto it = token_ids.find(std::string_view(hypothesis[i]));
    hypothesis_ids[i] = it == token_ids.end() ? -1 : it->second;
  }
}

// Hypothesis n-grams matched by reference n-grams, each reference n-gram used at most once
// (the clipped count: sum over n-grams of min(hypothesis count, reference count)).
int64_t clipped_matches(std::span<const int32_t> hypothesis, std::span<const int32_t> reference, int n,
                        NgramCounts& counts) {
  const auto order = static_cast<size_t>(n);
  if (hypothesis.size() < order || reference.size() < order) return 0;
  counts.clear();
  for (size_t i = 0; i + order <= reference.size(); ++i) ++counts[NgramKey{reference.data() + i, n}];
  int64_t matches = 0;
  for (size_t i = 0; i + order <= hypothesis.size(); ++i) {
    auto it = counts.find(NgramKey{hypothesis.data() + i, n});
    if (it != counts.end() && it->second > 0) {
      ++matches;
      --it->second;
    }
  }
  return matches;
}

template <typename Token>
double d2l_bleu_of(std::span<const Token> prediction, std::span<const Token> label, int k) {
  check(k >= 1, "d2l_bleu: k must be >= 1, got " + std::to_string(k));
  if (prediction.empty()) return 0.0;
  std::unordered_map<std::string_view, int32_t> token_ids;
  std::vector<int32_t> prediction_ids;
  std::vector<int32_t> label_ids;
  assign_ids(prediction, label, token_ids, prediction_ids, label_ids);
  NgramCounts counts;
  const auto len_pred = static_cast<int64_t>(prediction.size());
  const auto len_label = static_cast<int64_t>(label.size());
  double score =
      std::exp(std::min(0.0, 1.0 - static_cast<double>(len_label) / static_cast<double>(len_pred)));
  for (int64_t n = 1; n <= std::min<int64_t>(k, len_pred); ++n) {
    const int64_t matches = clipped_matches(prediction_ids, label_ids, static_cast<int>(n), counts);
    score *= std::pow(static_cast<double>(matches) / static_cast<double>(len_pred - n + 1),
                      std::pow(0.5, static_cast<double>(n)));
  }
  return score;
}

}  // namespace

double d2l_bleu(std::span<const std::string> prediction, std::span<const std::string> label, int k) {
  return d2l_bleu_of(prediction, label, k);
}

double d2l_bleu(std::span<const std::string_view> prediction, std::span<const std::string_view> label,
                int k) {
  return d2l_bleu_of(prediction, label, k);
}

CorpusBleuCounter::CorpusBleuCounter(int max_order) {
  check(max_order >= 1, "CorpusBleuCounter: max_order must be >= 1, got " + std::to_string(max_order));
  matches_.assign(static_cast<size_t>(max_order), 0);
  totals_.assign(static_cast<size_t>(max_order), 0);
}

template <typename Token>
void CorpusBleuCounter::add_tokens(std::span<const Token> hypothesis, std::span<const Token> reference) {
  assign_ids(hypothesis, reference, token_ids_, hypothesis_ids_, reference_ids_);
  NgramCounts counts;
  const auto length = static_cast<int64_t>(hypothesis.size());
  for (int n = 1; n <= max_order(); ++n) {
    matches_[static_cast<size_t>(n - 1)] += clipped_matches(hypothesis_ids_, reference_ids_, n, counts);
    totals_[static_cast<size_t>(n - 1)] += std::max<int64_t>(0, length - n + 1);
  }
  hypothesis_length_ += length;
  reference_length_ += static_cast<int64_t>(reference.size());
  ++num_sentences_;
}

void CorpusBleuCounter::add(std::span<const std::string> hypothesis, std::span<const std::string> reference) {
  add_tokens(hypothesis, reference);
}

void CorpusBleuCounter::add(std::span<const std::string_view> hypothesis,
                            std::span<const std::string_view> reference) {
  add_tokens(hypothesis, reference);
}

CorpusBleu CorpusBleuCounter::result(int max_n) const {
  check(max_n >= 1 && max_n <= max_order(), "CorpusBleuCounter::result: max_n must be in [1, " +
                                                std::to_string(max_order()) + "], got " +
                                                std::to_string(max_n));
  CorpusBleu out;
  out.hypothesis_length = hypothesis_length_;
  out.reference_length = reference_length_;
  const double c = static_cast<double>(hypothesis_length_);
  const double r = static_cast<double>(reference_length_);
  out.brevity_penalty = hypothesis_length_ > reference_length_ ? 1.0
                        : hypothesis_length_ == 0              ? 0.0
                                                               : std::exp(1.0 - r / c);
  out.matches.assign(matches_.begin(), matches_.begin() + max_n);
  out.totals.assign(totals_.begin(), totals_.begin() + max_n);
  bool has_zero = false;
  double log_sum = 0.0;  // sum of w_n log p_n with w_n = 1 / max_n, as nltk sums it
  for (size_t i = 0; i < static_cast<size_t>(max_n); ++i) {
    const double p =
        out.totals[i] == 0 ? 0.0 : static_cast<double>(out.matches[i]) / static_cast<double>(out.totals[i]);
    out.precisions.push_back(p);
    if (p == 0.0) {
      has_zero = true;
    } else {
      log_sum += (1.0 / max_n) * std::log(p);
    }
  }
  out.score = has_zero ? 0.0 : out.brevity_penalty * std::exp(log_sum);
  return out;
}

CorpusBleu corpus_bleu(std::span<const std::vector<std::string>> hypotheses,
                       std::span<const std::vector<std::string>> references, int max_n) {
  check(hypotheses.size() == references.size(), "corpus_bleu: " + std::to_string(hypotheses.size()) +
                                                    " hypotheses but " + std::to_string(references.size()) +
                                                    " references (expected one reference per hypothesis)");
  CorpusBleuCounter counter(max_n);
  for (size_t i = 0; i < hypotheses.size(); ++i) counter.add(hypotheses[i], references[i]);
  return counter.result(max_n);
}

}  // namespace recur
