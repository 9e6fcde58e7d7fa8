// Token and n-gram statistics: tokens become indices once, then each order is counted with packed keys.
#include "recur/text/corpus_stats.h"

#include "recur/core/error.h"
#include "recur/text/ngram_counts.h"

namespace recur {

CorpusStats compute_corpus_stats(std::span<const std::string_view> tokens,
                                 const CorpusStatsOptions& options) {
  check(!tokens.empty(), "corpus statistics: the corpus has no tokens");
  check(options.max_order >= 1,
        "corpus statistics: max_order must be at least 1, got " + std::to_string(options.max_order));
  const Vocab all = Vocab::build(tokens);  // every distinct token, for counting
  const bool is_default_vocab = options.vocab.min_freq <= 1 && options.vocab.reserved_tokens.empty();
  CorpusStats stats;
  stats.num_tokens = static_cast<int64_t>(tokens.size());
  stats.distinct_tokens = all.size() - 1 + (all.count(Vocab::kUnkIndex) > 0 ? 1 : 0);
  stats.vocab_size = is_default_vocab ? all.size() : Vocab::build(tokens, options.vocab).size();

  const EncodedTokens encoded = all.encode(tokens);
  for (int n = 1; n <= options.max_order; ++n) {
    NgramCounts counts(n, all.size());
    counts.add_windows(encoded.ids);
    NgramSummary summary;
    summary.order = n;
    summary.total = counts.total();
    summary.distinct = counts.distinct();
    for (const NgramFrequency& f : counts.most_common(options.top_k)) {
      NgramEntry entry;
      entry.count = f.count;
      for (int32_t id : f.ids) entry.tokens.push_back(all.token(id));
      summary.top.push_back(std::move(entry));
    }
    summary.sorted_counts = counts.sorted_counts();
    stats.ngrams.push_back(std::move(summary));
  }
  return stats;
}

}  // namespace recur
