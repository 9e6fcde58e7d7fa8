// Modified Kneser-Ney estimation in memory: count, adjust, discount, interpolate, as lmplz's
// pipeline does on disk (lm/builder/{corpus_count,adjust_counts,initial_probabilities,interpolate}.cc).
// N-grams of each order are kept sorted in lmplz's suffix order (last word first), so a lower
// order's entries line up with the suffixes of the next order's, and the ARPA comes out in lmplz's order.
#include "recur/ngram/kneser_ney.h"

#include <fmt/core.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

#include "recur/core/error.h"

namespace recur {

namespace {

using WordId = uint32_t;
constexpr WordId kUnk = SentenceCorpus::kUnk, kBos = SentenceCorpus::kBos, kEos = SentenceCorpus::kEos;

// lmplz's SuffixOrder: compare the last words first.
bool suffix_less(const WordId* a, const WordId* b, int n) {
  for (int k = n - 1; k >= 0; --k)
    if (a[k] != b[k]) return a[k] < b[k];
  return false;
}

// Order by context (the first n - 1 words) in the context's own suffix order, then by last word:
// n-grams that share a context are adjacent, and contexts come in the order of the level below.
bool context_less(const WordId* a, const WordId* b, int n) {
  for (int k = n - 2; k >= 0; --k)
    if (a[k] != b[k]) return a[k] < b[k];
  return a[n - 1] < b[n - 1];
}

// N-grams packed into one 128-bit integer whose order is suffix order (the last word in the top
// bits), so that sorting compares integers instead of chasing indices. Used when n * bits <= 128.
__extension__ using Packed = unsigned __int128;

struct Packing {
  int bits = 0;  // bits per word id
  [[nodiscard]] bool fits(int n) const { return n * bits <= 128; }
  // Fields from most to least significant: words[order[0]], words[order[1]], ...
  [[nodiscard]] Packed pack_suffix(const WordId* g, int n) const {
    Packed key = 0;
    for (int k = n - 1; k >= 0; --k) key = (key << bits) | g[k];
    return key;
  }
  void unpack_suffix(Packed key, int n, WordId* g) const {
    const Packed mask = (Packed{1} << bits) - 1;
    for (int k = 0; k < n; ++k) {
      g[k] = static_cast<WordId>(key & mask);
      key >>= bits;
    }
  }
  // context_less's order: the context in suffix order, then the last word.
  [[nodiscard]] Packed pack_context(const WordId* g, int n) const {
    return (pack_suffix(g, n - 1) << bits) | g[n - 1];
  }
};

bool same_context(const WordId* a, const WordId* b, int n) { return std::equal(a, a + n - 1, b); }

// The distinct n-grams of one order in suffix order, with their adjusted counts.
struct Grams {
  int n = 0;
  std::vector<WordId> ids = {};       // [size * n]
  std::vector<uint64_t> counts = {};  // [size] adjusted counts
  std::vector<uint64_t> raw = {};     // [size] raw counts, kept only when pruning needs them
  [[nodiscard]] size_t size() const { return counts.size(); }
  [[nodiscard]] const WordId* at(size_t i) const { return ids.data() + i * static_cast<size_t>(n); }
};

// Sorts `records` (stride n, one each) in suffix order and merges equal ones: the adjusted count
// is how many records merged, the raw count (when `weights` is given) the sum of their weights.
Grams count_unique(int n, const std::vector<WordId>& records, const std::vector<uint64_t>* weights,
                   const Packing& packing) {
  const size_t stride = static_cast<size_t>(n);
  const size_t num = records.size() / stride;
  Grams grams;
  grams.n = n;
  const auto add = [&](bool is_same, uint64_t weight, auto&& write_ids) {
    if (is_same) {
      ++grams.counts.back();
      if (weights != nullptr) grams.raw.back() += weight;
      return;
    }
    grams.ids.resize(grams.ids.size() + stride);
    write_ids(grams.ids.data() + grams.ids.size() - stride);
    grams.counts.push_back(1);
    if (weights != nullptr) grams.raw.push_back(weight);
  };
  if (packing.fits(n)) {
    struct Keyed {
      Packed key;
      uint64_t weight;
    };
    std::vector<Keyed> keys(num);
    for (size_t i = 0; i < num; ++i)
      keys[i] = {packing.pack_suffix(records.data() + i * stride, n), weights != nullptr ? (*weights)[i] : 0};
    std::sort(keys.begin(), keys.end(), [](const Keyed& a, const Keyed& b) { return a.key < b.key; });
    for (size_t i = 0; i < num; ++i)
      add(i > 0 && keys[i].key == keys[i - 1].key, keys[i].weight,
          [&](WordId* out) { packing.unpack_suffix(keys[i].key, n, out); });
    return grams;
  }
  std::vector<uint32_t> order(num);
  std::iota(order.begin(), order.end(), 0u);
  const WordId* base = records.data();
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return suffix_less(base + a * stride, base + b * stride, n); });
  for (size_t i = 0; i < num; ++i) {
    const WordId* gram = base + order[i] * stride;
    add(grams.size() > 0 && std::equal(gram, gram + n, grams.at(grams.size() - 1)),
        weights != nullptr ? (*weights)[order[i]] : 0, [&](WordId* out) { std::copy(gram, gram + n, out); });
  }
  return grams;
}

// Moves the words of the kept n-grams (all when `kept` is empty) into `out`.
void move_kept_ids(Grams& grams, const std::vector<uint8_t>& kept, ArpaOrder& out) {
  if (kept.empty()) {
    out.word_ids = std::move(grams.ids);
    return;
  }
  const auto n = static_cast<size_t>(grams.n);
  out.word_ids.clear();
  for (size_t i = 0; i < grams.size(); ++i)
    if (kept[i] != 0) out.word_ids.insert(out.word_ids.end(), grams.at(i), grams.at(i) + n);
  std::vector<WordId>().swap(grams.ids);
}

}  // namespace

KneserNeyDiscount compute_kneser_ney_discount(int order, const std::array<uint64_t, 5>& t,
                                              const KneserNeyOptions& options, bool* is_fallback) {
  if (is_fallback != nullptr) *is_fallback = false;
  const auto fallback = [&](const std::string& why) {
    if (!options.has_discount_fallback)
      throw ValueError(fmt::format(
          "{}; modified Kneser-Ney needs n-grams seen once, twice and three times "
          "(small or duplicated text?). --discount-fallback uses D1={} D2={} D3+={} "
          "for such an order instead, as lmplz --discount_fallback does",
          why, options.fallback_discounts[0], options.fallback_discounts[1], options.fallback_discounts[2]));
    if (is_fallback != nullptr) *is_fallback = true;
    KneserNeyDiscount d;
    d.amount = {0.0f, options.fallback_discounts[0], options.fallback_discounts[1],
                options.fallback_discounts[2]};
    return d;
  };
  for (unsigned k = 1; k < 4; ++k)
    if (t[k] == 0)
      return fallback(fmt::format(
          "Kneser-Ney discount D{} of the {}-grams is undefined: no {}-gram has adjusted count {}", k, order,
          order, k));
  // Chen & Goodman eq. 26, in lmplz's float arithmetic (adjust_counts.cc, CalculateDiscounts).
  KneserNeyDiscount d;
  const float y = static_cast<float>(t[1]) /
                  static_cast<float>(static_cast<double>(t[1]) + 2.0 * static_cast<double>(t[2]));
  for (unsigned k = 1; k < 4; ++k) {
    d.amount[k] = static_cast<float>(k) -
                  static_cast<float>(k + 1) * y * static_cast<float>(t[k + 1]) / static_cast<float>(t[k]);
    if (d.amount[k] < 0.0f || d.amount[k] > static_cast<float>(k))
      return fallback(
          fmt::format("Kneser-Ney discount D{} of the {}-grams is {}, outside [0, {}] (counts of adjusted "
                      "counts t1..t4 = {}, {}, {}, {})",
                      k, order, d.amount[k], k, t[1], t[2], t[3], t[4]));
  }
  return d;
}

KneserNeyModel estimate_kneser_ney(const SentenceCorpus& corpus, const KneserNeyOptions& options) {
  const int order = options.order;
  check(order >= 1 && order <= KneserNeyOptions::kMaxOrder,
        fmt::format("Kneser-Ney: order must be in [1, {}], got {}", KneserNeyOptions::kMaxOrder, order));
  check(corpus.num_sentences() > 0, "Kneser-Ney: the training text has no sentences");
  const auto vocab_size = static_cast<WordId>(corpus.vocab.size());
  const auto max_n = static_cast<size_t>(order);
  const Packing packing{.bits = std::max(1, static_cast<int>(std::bit_width(vocab_size - 1)))};
  // lmplz --prune: per order, the last value repeated; an n-gram whose raw count is at most its
  // order's threshold leaves the model (its mass goes to its context's backoff).
  const std::vector<uint64_t>& prune = options.prune_thresholds;
  check(prune.size() <= max_n,
        fmt::format("Kneser-Ney: {} pruning thresholds for an order-{} model", prune.size(), order));
  check(prune.empty() || prune[0] == 0,
        fmt::format("Kneser-Ney: unigrams are never pruned: the first pruning threshold must be 0, got {}",
                    prune.empty() ? 0 : prune[0]));
  std::vector<uint64_t> threshold(max_n + 1, 0);  // [order + 1], threshold[n]
  for (size_t n = 1; n <= max_n; ++n) {
    threshold[n] = prune.empty() ? 0 : prune[std::min(n, prune.size()) - 1];
    check(n == 1 || threshold[n] >= threshold[n - 1],
          fmt::format(
              "Kneser-Ney: pruning thresholds must not decrease with the order (a kept n-gram needs its "
              "shorter parts), got {} for {}-grams after {}",
              threshold[n], n, threshold[n - 1]));
  }
  const bool is_pruning = std::any_of(threshold.begin(), threshold.end(), [](uint64_t t) { return t > 0; });

  // 1. Raw counts. Sentence t = <s> w_1 .. w_k </s>; the n-gram predicting t_j is t_{j-N+1..j},
  // cut at <s>. Full-length ones are order N; shorter ones start with <s> and keep raw counts
  // at their order (lmplz pads N-1 <s> and collapses "<s> <s> ..." the same way).
  std::vector<std::vector<WordId>> records(max_n + 1);  // [order + 1][occurrences * n]
  std::vector<WordId> padded;
  for (int64_t s = 0; s < corpus.num_sentences(); ++s) {
    const auto sentence = corpus.sentence(s);
    padded.assign(1, kBos);
    padded.insert(padded.end(), sentence.begin(), sentence.end());
    for (size_t j = 1; j < padded.size(); ++j) {
      const size_t start = j + 1 >= max_n ? j + 1 - max_n : 0;
      const size_t length = j - start + 1;
      records[length].insert(records[length].end(), padded.begin() + static_cast<std::ptrdiff_t>(start),
                             padded.begin() + static_cast<std::ptrdiff_t>(j + 1));
    }
  }

  // 2. Adjusted counts, from the top down: an n-gram's count is its number of distinct left
  // extensions among the (n+1)-grams, plus its raw count when it starts with <s> (the two never
  // meet: only position 0 holds <s>).
  std::vector<Grams> grams(max_n + 1);  // [order + 1], grams[n]
  // Pruning also needs raw counts below the top: the sum of the raw counts of the left extensions,
  // plus the occurrences after <s> (lmplz's actual_counts).
  if (order > 1) {
    grams[max_n] = count_unique(order, records[max_n], nullptr, packing);
    if (is_pruning) grams[max_n].raw = grams[max_n].counts;
    std::vector<WordId>().swap(records[max_n]);
  }
  // kept[n][i]: the n-gram survives pruning (unigrams always do; empty: all of the order do).
  std::vector<std::vector<uint8_t>> kept(max_n + 1);
  const auto decide_kept = [&](size_t n) {
    if (!is_pruning || n < 2) return;
    kept[n].resize(grams[n].size());
    for (size_t i = 0; i < grams[n].size(); ++i) kept[n][i] = grams[n].raw[i] > threshold[n];
  };
  std::vector<uint64_t> weights;
  for (size_t n = max_n - 1; n >= 2; --n) {
    const Grams& upper = grams[n + 1];
    std::vector<WordId>& level = records[n];
    if (is_pruning) {
      weights.assign(level.size() / n, 1);  // the occurrences after <s>
      weights.insert(weights.end(), upper.raw.begin(), upper.raw.end());
    }
    for (size_t i = 0; i < upper.size(); ++i) level.insert(level.end(), upper.at(i) + 1, upper.at(i) + n + 1);
    grams[n] = count_unique(static_cast<int>(n), level, is_pruning ? &weights : nullptr, packing);
    std::vector<WordId>().swap(level);
    decide_kept(n + 1);  // the raw counts of the order above are used up
    std::vector<uint64_t>().swap(grams[n + 1].raw);
  }
  std::vector<uint64_t>().swap(weights);
  decide_kept(std::min<size_t>(2, max_n));
  const auto is_kept = [&](size_t n, size_t i) { return kept[n].empty() || kept[n][i] != 0; };
  {  // Unigrams: every id, in id order (lmplz's vocabulary order); <unk> and <s> have count 0.
    Grams& uni = grams[1];
    uni.n = 1;
    uni.ids.resize(vocab_size);
    std::iota(uni.ids.begin(), uni.ids.end(), 0u);
    uni.counts.assign(vocab_size, 0);
    if (order == 1) {
      for (WordId w : records[1]) ++uni.counts[w];
    } else {
      const Grams& bigrams = grams[2];
      for (size_t i = 0; i < bigrams.size(); ++i) ++uni.counts[bigrams.at(i)[1]];
    }
    uni.counts[kUnk] = 0;
    uni.counts[kBos] = 0;
  }

  // 3. Discounts per order from counts of adjusted counts.
  KneserNeyModel result;
  result.stats.resize(max_n);
  for (size_t n = 1; n <= max_n; ++n) {
    KneserNeyOrderStats& stats = result.stats[n - 1];
    // Counts of counts include pruned n-grams, as lmplz's do.
    for (size_t i = 0; i < grams[n].size(); ++i) {
      const uint64_t c = grams[n].counts[i];
      if (c < 5) ++stats.counts_of_counts[c];
      if (is_kept(n, i))
        ++stats.num_ngrams;
      else
        ++stats.num_pruned;
    }
    stats.discount =
        compute_kneser_ney_discount(static_cast<int>(n), stats.counts_of_counts, options, &stats.is_fallback);
  }

  // 4. Uninterpolated probabilities u and the context's gamma for each n-gram; each context's
  // gamma is also the backoff of that (n-1)-gram.
  std::vector<std::vector<float>> uninterp(max_n + 1), gamma_of(max_n + 1), context_gamma(max_n + 1);
  for (size_t n = 1; n <= max_n; ++n) {
    const Grams& g = grams[n];
    const KneserNeyDiscount& d = result.stats[n - 1].discount;
    uninterp[n].resize(g.size());
    gamma_of[n].resize(g.size());
    context_gamma[n].assign(g.size(), 1.0f);
    // N-grams grouped by context, contexts in the order of the level below (walked by `context`).
    std::vector<uint32_t> by_context(g.size());
    std::iota(by_context.begin(), by_context.end(), 0u);
    const int width = static_cast<int>(n);
    if (n > 1 && packing.fits(width)) {
      struct Keyed {
        Packed key;
        uint32_t index;
      };
      std::vector<Keyed> keyed(g.size());
      for (uint32_t i = 0; i < g.size(); ++i) keyed[i] = {packing.pack_context(g.at(i), width), i};
      std::sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) { return a.key < b.key; });
      for (size_t i = 0; i < keyed.size(); ++i) by_context[i] = keyed[i].index;
    } else if (n > 1) {
      std::sort(by_context.begin(), by_context.end(),
                [&](uint32_t a, uint32_t b) { return context_less(g.at(a), g.at(b), width); });
    }
    size_t context = 0;  // index into grams[n - 1]
    size_t begin = 0;
    while (begin < by_context.size()) {
      size_t end = begin + 1;
      while (end < by_context.size() &&
             (n == 1 || same_context(g.at(by_context[begin]), g.at(by_context[end]), static_cast<int>(n))))
        ++end;
      // Pruned n-grams stay in the denominator and hand their whole count to gamma.
      uint64_t denominator = 0;
      uint64_t pruned_mass = 0;
      std::array<uint64_t, 4> with_count = {};
      for (size_t i = begin; i < end; ++i) {
        const uint64_t c = g.counts[by_context[i]];
        denominator += c;
        if (!is_kept(n, by_context[i]))
          pruned_mass += c;
        else if (c > 0)
          ++with_count[std::min<uint64_t>(c, 3)];
      }
      const auto denominator_f = static_cast<float>(denominator);
      float gamma = 0.0f;
      for (unsigned k = 1; k <= 3; ++k) gamma += d.get(k) * static_cast<float>(with_count[k]);
      gamma += static_cast<float>(pruned_mass);
      gamma /= denominator_f;
      for (size_t i = begin; i < end; ++i) {
        const uint32_t at = by_context[i];
        uninterp[n][at] = d.apply(g.counts[at]) / denominator_f;
        gamma_of[n][at] = gamma;
      }
      if (n == 1) {  // <unk> gets only the interpolation mass; <s> is certain (never predicted).
        uninterp[1][kUnk] = 0.0f;
        uninterp[1][kBos] = 1.0f;
        gamma_of[1][kBos] = 0.0f;
      } else {
        const Grams& below = grams[n - 1];
        const WordId* wanted = g.at(by_context[begin]);
        while (context < below.size() && suffix_less(below.at(context), wanted, width - 1)) ++context;
        check<Error>(context < below.size() && std::equal(wanted, wanted + n - 1, below.at(context)),
                     "Kneser-Ney: an n-gram's context is missing one order down");
        context_gamma[n - 1][context] = gamma;
      }
      begin = end;
    }
  }

  // 5. Interpolate order by order: p(g) = u(g) + gamma(context) p(suffix). Suffixes of a
  // suffix-ordered list are themselves in suffix order, so one pointer walks the order below.
  ArpaModel& arpa = result.arpa;
  arpa.vocab = corpus.vocab;
  arpa.orders.resize(max_n);
  std::vector<float> lower_prob;  // [grams[n-1].size()] interpolated p of the order below
  std::vector<float> prob;
  const float uniform = static_cast<float>(1.0 / static_cast<float>(vocab_size - 1));
  for (size_t n = 1; n <= max_n; ++n) {
    const Grams& g = grams[n];
    prob.resize(g.size());
    size_t suffix = 0;
    for (size_t i = 0; i < g.size(); ++i) {
      float lower = uniform;
      if (n > 1) {
        const Grams& below = grams[n - 1];
        while (suffix < below.size() && suffix_less(below.at(suffix), g.at(i) + 1, static_cast<int>(n - 1)))
          ++suffix;
        check<Error>(suffix < below.size() && std::equal(g.at(i) + 1, g.at(i) + n, below.at(suffix)),
                     "Kneser-Ney: an n-gram's suffix is missing one order down");
        lower = lower_prob[suffix];
      }
      prob[i] = uninterp[n][i] + gamma_of[n][i] * lower;
    }
    ArpaOrder& out = arpa.orders[n - 1];
    out.log_prob.reserve(g.size());
    out.log_backoff.reserve(g.size());
    for (size_t i = 0; i < g.size(); ++i) {
      if (!is_kept(n, i)) continue;
      // lmplz clamps at 0 against rounding ("Take that IRST").
      out.log_prob.push_back(std::min(0.0f, std::log10(prob[i])));
      const WordId last = g.at(i)[n - 1];
      const bool has_backoff = n < max_n && last != kUnk && last != kEos;
      out.log_backoff.push_back(has_backoff ? std::log10(context_gamma[n][i]) : 0.0f);
    }
    lower_prob.swap(prob);
    std::vector<float>().swap(uninterp[n]);
    std::vector<float>().swap(gamma_of[n]);
    std::vector<float>().swap(context_gamma[n]);
    // The order below is no longer needed: hand its kept words to the ARPA table.
    if (n > 1) move_kept_ids(grams[n - 1], kept[n - 1], arpa.orders[n - 2]);
  }
  move_kept_ids(grams[max_n], kept[max_n], arpa.orders[max_n - 1]);
  return result;
}

}  // namespace recur
