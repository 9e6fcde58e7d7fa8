// Corpus statistics of d2l 9.3: token count, vocabulary size and the most frequent unigrams,
// bigrams and trigrams, counted over the token sequence as one stream (as the book does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "recur/text/vocab.h"

namespace recur {

struct CorpusStatsOptions {
  int max_order = 3;     // count 1-grams up to max_order-grams, >= 1
  size_t top_k = 10;     // how many of the most frequent n-grams of each order to keep
  VocabOptions vocab{};  // for the reported vocabulary size (min_freq, reserved tokens)
};

struct NgramEntry {
  std::vector<std::string> tokens;  // [order]
  int64_t count = 0;
};

struct NgramSummary {
  int order = 0;
  int64_t total = 0;  // number of n-grams in the stream: num_tokens - order + 1
  int64_t distinct = 0;
  std::vector<NgramEntry> top;  // [min(top_k, distinct)], highest count first, ties by first occurrence
  std::vector<int64_t> sorted_counts;  // [distinct], highest first: frequency by rank, for Zipf's law
};

struct CorpusStats {
  int64_t num_tokens = 0;
  int64_t distinct_tokens = 0;
  int32_t vocab_size = 0;            // Vocab::build with options.vocab: <unk> and reserved tokens included
  std::vector<NgramSummary> ngrams;  // [max_order]; ngrams[n - 1] holds the n-grams
};

// Throws ValueError when `tokens` is empty, max_order < 1, or the vocabulary options fail (a
// min_freq that leaves only <unk>).
[[nodiscard]] CorpusStats compute_corpus_stats(std::span<const std::string_view> tokens,
                                               const CorpusStatsOptions& options = {});

}  // namespace recur
