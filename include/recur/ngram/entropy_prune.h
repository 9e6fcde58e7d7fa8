// Relative-entropy pruning of a backoff n-gram model (Stolcke 1998, "Entropy-based pruning of
// backoff language models"), as SRILM's `ngram -prune` does it (lm/src/NgramLM.cc pruneProbs):
// dropping the n-gram (h, w) replaces p(w | h) by the backoff estimate bo'(h) p(w | h') and
// renormalizes h's backoff weight, which moves the model away from itself by
//
//   D(h, w) = -P(h) [ p(w|h) (log p(w|h') + log bo'(h) - log p(w|h)) + num(h) (log bo'(h) - log bo(h)) ]
//   bo'(h)  = (num(h) + p(w|h)) / (den(h) + p(w|h')),
//   num(h)  = 1 - sum_{v: (h,v) in the model} p(v|h),  den(h) = 1 - sum_{v: (h,v) in the model} p(v|h'),
//
// logs base 10, P(h) the product of the model's own conditional probabilities of h's words (</s>
// standing in for a leading <s>). An n-gram goes when 10^D - 1, the relative increase in
// perplexity, is below the threshold, unless it is the context of a longer n-gram that stays (the
// model stays well-formed: every context is an n-gram). Candidates are judged one by one against
// the unpruned model, as SRILM judges them; afterwards the backoff weights of the contexts whose
// distributions changed are recomputed as num(h) / den(h) over the kept n-grams.
#pragma once

#include <cstdint>
#include <vector>

#include "recur/ngram/arpa.h"

namespace recur {

struct EntropyPruneOptions {
  // SRILM -prune: drop n-grams whose removal raises perplexity by a relative amount below this.
  double threshold = 0;
  // > 0: instead, drop the n-grams of least D one at a time (never a context of a kept longer
  // one) until the model holds this many n-grams, all orders together.
  int64_t target_size = 0;
};

struct EntropyPruneResult {
  ArpaModel model = {};
  std::vector<int64_t> num_pruned = {};  // [order] per order
  // The largest relative perplexity increase 10^D - 1 among the pruned n-grams (0 when none).
  double threshold = 0;
};

// D(h, w) in log10 units for every n-gram of order 2 and above of `model`: [order][index],
// orders[0] empty. NaN where SRILM skips a context (its backoff cannot be recomputed: all mass on
// the n-grams of h and none left for the backoff).
[[nodiscard]] std::vector<std::vector<double>> compute_pruning_entropy(const ArpaModel& model);

// The model pruned as above. ValueError when the threshold is negative or not finite, or the
// target is below the number of unigrams.
[[nodiscard]] EntropyPruneResult prune_by_entropy(const ArpaModel& model, const EntropyPruneOptions& options);

}  // namespace recur
