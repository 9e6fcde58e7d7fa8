// Stolcke's relative-entropy pruning over an ARPA model, following SRILM's Ngram::pruneProbs and
// Ngram::computeBOW (see entropy_prune.h for the formulas).
#include "recur/ngram/entropy_prune.h"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <queue>

#include "ngram/ngram_index.h"
#include "recur/core/error.h"

namespace recur {

namespace {
using ngram_detail::NgramIndex;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// SRILM's Prob_Epsilon: sums of probabilities this close below 0 count as 0.
constexpr double kProbEpsilon = 3e-6;

// An ARPA model with look-ups by word ids, a kept flag per n-gram and backoffs that pruning may
// change; probabilities with backoff as SRILM's wordProbBO computes them.
class PruningView {
 public:
  explicit PruningView(const ArpaModel& model) : model_(model) {
    const int order = model.order();
    check<ValueError>(order >= 1 && order <= 32,
                      fmt::format("entropy pruning: order {} outside [1, 32]", order));
    index_.reserve(static_cast<size_t>(order) + 1);
    for (int n = 0; n <= order; ++n) index_.emplace_back(std::max(1, n));
    kept_.resize(static_cast<size_t>(order) + 1);
    backoff_.resize(static_cast<size_t>(order) + 1);
    for (int n = 1; n <= order; ++n) {
      const ArpaOrder& grams = model.orders[static_cast<size_t>(n - 1)];
      kept_[static_cast<size_t>(n)].assign(static_cast<size_t>(grams.count()), 1);
      backoff_[static_cast<size_t>(n)].assign(grams.log_backoff.begin(), grams.log_backoff.end());
      backoff_[static_cast<size_t>(n)].resize(static_cast<size_t>(grams.count()), 0.0);
      if (n == 1) continue;
      NgramIndex& index = index_[static_cast<size_t>(n)];
      index.reserve(grams.word_ids, static_cast<uint64_t>(grams.count()));
      for (int64_t i = 0; i < grams.count(); ++i)
        if (index.insert(grams.word_ids, static_cast<uint32_t>(i)) >= 0)
          throw ValueError(fmt::format("entropy pruning: a {}-gram appears twice in the model", n));
    }
    for (uint32_t id = 0; id < model.vocab.size(); ++id) {
      if (model.vocab[id] == "<s>") bos_ = id;
      if (model.vocab[id] == "</s>") eos_ = id;
    }
  }
  [[nodiscard]] int order() const { return model_.order(); }
  [[nodiscard]] const ArpaOrder& grams(int n) const { return model_.orders[static_cast<size_t>(n - 1)]; }
  [[nodiscard]] const uint32_t* ids(int n, int64_t i) const {
    return grams(n).word_ids.data() + static_cast<size_t>(i) * static_cast<size_t>(n);
  }
  // Index of ids[0..n) among the kept n-grams of order n (a unigram's is its word id); -1 when absent.
  [[nodiscard]] int64_t find(const uint32_t* ids, int n) const {
    if (n == 1) return ids[0];
    const int64_t at = index_[static_cast<size_t>(n)].find(grams(n).word_ids, ids);
    return at >= 0 && kept_[static_cast<size_t>(n)][static_cast<size_t>(at)] != 0 ? at : -1;
  }
  [[nodiscard]] bool is_kept(int n, int64_t i) const {
    return kept_[static_cast<size_t>(n)][static_cast<size_t>(i)] != 0;
  }
  void set_pruned(int n, int64_t i) { kept_[static_cast<size_t>(n)][static_cast<size_t>(i)] = 0; }
  [[nodiscard]] double backoff(int n, int64_t i) const {
    return backoff_[static_cast<size_t>(n)][static_cast<size_t>(i)];
  }
  void set_backoff(int n, int64_t i, double value) {
    backoff_[static_cast<size_t>(n)][static_cast<size_t>(i)] = value;
  }
  // log10 p(w | context[0..length)), context oldest first: the longest kept n-gram ending in w,
  // plus the backoffs of the longer contexts that are n-grams (SRILM's wordProbBO).
  [[nodiscard]] double log_prob(const uint32_t* context, int length, uint32_t w) const {
    std::array<uint32_t, 33> gram{};
    std::copy(context, context + length, gram.begin());
    gram[static_cast<size_t>(length)] = w;
    double backoff_sum = 0;
    for (int m = length; m >= 0; --m) {  // m context words
      const int64_t at = find(gram.data() + (length - m), m + 1);
      if (at >= 0) return static_cast<double>(grams(m + 1).log_prob[static_cast<size_t>(at)]) + backoff_sum;
      if (m == 0) break;
      const int64_t c = find(context + (length - m), m);
      if (c >= 0) backoff_sum += backoff(m, c);
    }
    return -std::numeric_limits<double>::infinity();  // w is no unigram: not reached from the callers
  }
  // log10 P(h) of the context h = ids[0..length): the chain of the model's own conditional
  // probabilities, </s> standing in for a leading <s> (SRILM's LM::contextProb).
  [[nodiscard]] double log_context_prob(const uint32_t* ids, int length) const {
    double sum = 0;
    for (int j = 0; j < length; ++j) {
      const uint32_t w = j == 0 && ids[0] == bos_ && eos_ != UINT32_MAX ? eos_ : ids[j];
      sum += log_prob(ids, j, w);
    }
    return sum;
  }

 private:
  const ArpaModel& model_;
  std::vector<NgramIndex> index_;             // [order + 1], n >= 2
  std::vector<std::vector<uint8_t>> kept_;    // [order + 1][count]
  std::vector<std::vector<double>> backoff_;  // [order + 1][count], log10
  uint32_t bos_ = UINT32_MAX, eos_ = UINT32_MAX;
};

// SRILM's computeBOW from the two sums; false when the backoff weight is undefined.
bool backoff_from_sums(double numerator, double denominator, double& log_backoff) {
  if (numerator < 0 && numerator > -kProbEpsilon) numerator = 0;
  if (denominator < 0 && denominator > -kProbEpsilon) denominator = 0;
  if (numerator < 0) return false;
  if (denominator <= 0) {
    if (numerator > kProbEpsilon) return false;
    log_backoff = 0;
    return true;
  }
  if (numerator == 0) return false;  // log10 0: every word of h is an n-gram, nothing backs off
  log_backoff = std::log10(numerator) - std::log10(denominator);
  return true;
}

// Per n-gram of order n its context's index one order down (-1 when the context is no n-gram).
std::vector<int64_t> context_indices(const PruningView& view, int n) {
  const int64_t count = view.grams(n).count();
  std::vector<int64_t> context(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) context[static_cast<size_t>(i)] = view.find(view.ids(n, i), n - 1);
  return context;
}

// Numerator and denominator of every context's backoff over its kept n-grams of order n.
struct ContextSums {
  std::vector<double> numerator, denominator;  // [count of order n - 1]
  std::vector<double> lower;                   // [count of order n] log10 p(w | h') of each n-gram
};
ContextSums sum_contexts(const PruningView& view, int n, const std::vector<int64_t>& context) {
  ContextSums sums;
  const size_t num_contexts = static_cast<size_t>(view.grams(n - 1).count());
  sums.numerator.assign(num_contexts, 1.0);
  sums.denominator.assign(num_contexts, 1.0);
  const ArpaOrder& grams = view.grams(n);
  sums.lower.assign(static_cast<size_t>(grams.count()), kNaN);
  for (int64_t i = 0; i < grams.count(); ++i) {
    const auto c = context[static_cast<size_t>(i)];
    if (c < 0 || !view.is_kept(n, i)) continue;
    const uint32_t* g = view.ids(n, i);
    const double lower = view.log_prob(g + 1, n - 2, g[n - 1]);
    sums.lower[static_cast<size_t>(i)] = lower;
    sums.numerator[static_cast<size_t>(c)] -=
        std::pow(10.0, static_cast<double>(grams.log_prob[static_cast<size_t>(i)]));
    sums.denominator[static_cast<size_t>(c)] -= std::pow(10.0, lower);
  }
  return sums;
}
}  // namespace

std::vector<std::vector<double>> compute_pruning_entropy(const ArpaModel& model) {
  const PruningView view(model);
  std::vector<std::vector<double>> result(static_cast<size_t>(model.order()));
  for (int n = 2; n <= model.order(); ++n) {
    const std::vector<int64_t> context = context_indices(view, n);
    const ContextSums sums = sum_contexts(view, n, context);
    std::vector<double> context_prob(sums.numerator.size(), kNaN);  // log10 P(h), when needed
    const ArpaOrder& grams = view.grams(n);
    std::vector<double>& out = result[static_cast<size_t>(n - 1)];
    out.assign(static_cast<size_t>(grams.count()), kNaN);
    for (int64_t i = 0; i < grams.count(); ++i) {
      const auto c = context[static_cast<size_t>(i)];
      if (c < 0) continue;
      double numerator = sums.numerator[static_cast<size_t>(c)];
      double denominator = sums.denominator[static_cast<size_t>(c)];
      double old_backoff = 0;
      if (!backoff_from_sums(numerator, denominator, old_backoff)) continue;
      // SRILM clamps the sums as computeBOW does before using them.
      if (numerator < 0) numerator = 0;
      if (denominator < 0) denominator = 0;
      double& p_h = context_prob[static_cast<size_t>(c)];
      if (std::isnan(p_h)) p_h = view.log_context_prob(view.ids(n, i), n - 1);
      const double log_p = grams.log_prob[static_cast<size_t>(i)];
      const double lower = sums.lower[static_cast<size_t>(i)];
      const double backoff = view.backoff(n - 1, c);  // the model's, as SRILM uses node->bow
      const double new_backoff =
          std::log10(numerator + std::pow(10.0, log_p)) - std::log10(denominator + std::pow(10.0, lower));
      const double delta_prob = lower + new_backoff - log_p;
      out[static_cast<size_t>(i)] =
          -std::pow(10.0, p_h) * (std::pow(10.0, log_p) * delta_prob + numerator * (new_backoff - backoff));
    }
  }
  return result;
}

EntropyPruneResult prune_by_entropy(const ArpaModel& model, const EntropyPruneOptions& options) {
  check<ValueError>(
      std::isfinite(options.threshold) && options.threshold >= 0,
      fmt::format("entropy pruning: the threshold must be finite and >= 0, got {}", options.threshold));
  const int order = model.order();
  check<ValueError>(order >= 1, "entropy pruning: the model has no n-gram orders");
  check<ValueError>(
      options.target_size <= 0 || options.target_size >= model.orders[0].count(),
      fmt::format("entropy pruning: a target of {} n-grams is below the {} unigrams, which stay",
                  options.target_size, model.orders[0].count()));
  const std::vector<std::vector<double>> entropy = compute_pruning_entropy(model);
  PruningView view(model);
  // Per n-gram: the relative perplexity increase of dropping it (NaN: never dropped), its
  // context's index and how many kept longer n-grams have it as context.
  std::vector<std::vector<double>> cost(static_cast<size_t>(order) + 1);
  std::vector<std::vector<int64_t>> context(static_cast<size_t>(order) + 1);
  std::vector<std::vector<uint32_t>> children(static_cast<size_t>(order) + 1);
  for (int n = 1; n <= order; ++n) {
    children[static_cast<size_t>(n)].assign(static_cast<size_t>(view.grams(n).count()), 0);
    if (n == 1) continue;
    context[static_cast<size_t>(n)] = context_indices(view, n);
    cost[static_cast<size_t>(n)].resize(entropy[static_cast<size_t>(n - 1)].size());
    for (size_t i = 0; i < cost[static_cast<size_t>(n)].size(); ++i)
      cost[static_cast<size_t>(n)][i] = std::pow(10.0, entropy[static_cast<size_t>(n - 1)][i]) - 1.0;
  }
  for (int n = 2; n <= order; ++n)
    for (int64_t c : context[static_cast<size_t>(n)])
      if (c >= 0) ++children[static_cast<size_t>(n - 1)][static_cast<size_t>(c)];

  EntropyPruneResult result;
  result.num_pruned.assign(static_cast<size_t>(order), 0);
  const auto prune = [&](int n, int64_t i) {
    view.set_pruned(n, i);
    ++result.num_pruned[static_cast<size_t>(n - 1)];
    result.threshold = std::max(result.threshold, cost[static_cast<size_t>(n)][static_cast<size_t>(i)]);
    const int64_t c = context[static_cast<size_t>(n)][static_cast<size_t>(i)];
    if (c >= 0) --children[static_cast<size_t>(n - 1)][static_cast<size_t>(c)];
  };
  const auto is_prunable = [&](int n, int64_t i) {
    return children[static_cast<size_t>(n)][static_cast<size_t>(i)] == 0 &&
           !std::isnan(cost[static_cast<size_t>(n)][static_cast<size_t>(i)]);
  };
  if (options.target_size > 0) {
    // Least cost first; a context becomes a candidate when its last kept child goes.
    struct Candidate {
      double cost;
      int n;
      int64_t index;
      bool operator>(const Candidate& other) const {
        if (cost != other.cost) return cost > other.cost;
        if (n != other.n) return n < other.n;  // ties: the longer n-gram first, then file order
        return index > other.index;
      }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    int64_t size = 0;
    for (int n = 1; n <= order; ++n) size += view.grams(n).count();
    for (int n = 2; n <= order; ++n)
      for (int64_t i = 0; i < view.grams(n).count(); ++i)
        if (is_prunable(n, i)) queue.push({cost[static_cast<size_t>(n)][static_cast<size_t>(i)], n, i});
    while (size > options.target_size && !queue.empty()) {
      const Candidate next = queue.top();
      queue.pop();
      prune(next.n, next.index);
      --size;
      const int64_t c = context[static_cast<size_t>(next.n)][static_cast<size_t>(next.index)];
      if (next.n > 2 && c >= 0 && is_prunable(next.n - 1, c))
        queue.push({cost[static_cast<size_t>(next.n - 1)][static_cast<size_t>(c)], next.n - 1, c});
    }
  } else if (options.threshold > 0) {
    // From the highest order down, so that a context knows whether a child stayed (SRILM).
    for (int n = order; n >= 2; --n)
      for (int64_t i = 0; i < view.grams(n).count(); ++i)
        if (is_prunable(n, i) && cost[static_cast<size_t>(n)][static_cast<size_t>(i)] < options.threshold)
          prune(n, i);
  }

  // Backoffs of the contexts whose distribution changed: a child pruned, or the context one word
  // shorter (through which it backs off) changed. Shorter contexts first: a backoff's denominator
  // uses the probabilities one order down, with their new backoffs.
  std::vector<std::vector<uint8_t>> changed(static_cast<size_t>(order) + 1);
  for (int n = 1; n < order; ++n)
    changed[static_cast<size_t>(n)].assign(static_cast<size_t>(view.grams(n).count()), 0);
  for (int n = 2; n <= order; ++n)
    for (int64_t i = 0; i < view.grams(n).count(); ++i) {
      const int64_t c = context[static_cast<size_t>(n)][static_cast<size_t>(i)];
      if (!view.is_kept(n, i) && c >= 0) changed[static_cast<size_t>(n - 1)][static_cast<size_t>(c)] = 1;
    }
  for (int n = 2; n < order; ++n) {  // contexts of order n: the shorter one is the longest kept suffix
    for (int64_t c = 0; c < view.grams(n).count(); ++c) {
      uint8_t& flag = changed[static_cast<size_t>(n)][static_cast<size_t>(c)];
      if (flag != 0 || !view.is_kept(n, c)) continue;
      const uint32_t* ids = view.ids(n, c);
      for (int m = n - 1; m >= 1; --m) {
        const int64_t s = view.find(ids + (n - m), m);
        if (s < 0) continue;
        flag = changed[static_cast<size_t>(m)][static_cast<size_t>(s)];
        break;
      }
    }
    // (Unigram contexts back off to the unigram distribution, which never changes.)
  }
  for (int n = 2; n <= order; ++n) {  // backoffs of the contexts of order n - 1
    const ContextSums sums = sum_contexts(view, n, context[static_cast<size_t>(n)]);
    const std::vector<uint8_t>& flags = changed[static_cast<size_t>(n - 1)];
    for (size_t c = 0; c < flags.size(); ++c) {
      if (flags[c] == 0) continue;
      double backoff = 0;
      if (backoff_from_sums(sums.numerator[c], sums.denominator[c], backoff))
        view.set_backoff(n - 1, static_cast<int64_t>(c), static_cast<double>(static_cast<float>(backoff)));
    }
  }

  ArpaModel& out = result.model;
  out.vocab = model.vocab;
  out.orders.resize(static_cast<size_t>(order));
  for (int n = 1; n <= order; ++n) {
    const ArpaOrder& grams = view.grams(n);
    ArpaOrder& kept = out.orders[static_cast<size_t>(n - 1)];
    for (int64_t i = 0; i < grams.count(); ++i) {
      if (!view.is_kept(n, i)) continue;
      const uint32_t* ids = view.ids(n, i);
      kept.word_ids.insert(kept.word_ids.end(), ids, ids + n);
      kept.log_prob.push_back(grams.log_prob[static_cast<size_t>(i)]);
      kept.log_backoff.push_back(n < order ? static_cast<float>(view.backoff(n, i)) : 0.0f);
    }
  }
  return result;
}

}  // namespace recur
