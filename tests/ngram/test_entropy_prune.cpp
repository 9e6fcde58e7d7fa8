// Relative-entropy pruning: Stolcke's closed form against the relative entropy summed over the
// whole vocabulary, the pruned model's well-formedness and normalization, thresholds and targets.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "expect_error.h"
#include "ngram_fixtures.h"
#include "recur/core/error.h"
#include "recur/ngram/arpa.h"
#include "recur/ngram/backoff_model.h"
#include "recur/ngram/entropy_prune.h"
#include "recur/ngram/kneser_ney.h"
#include "recur/ngram/sentence_corpus.h"

using namespace recur;
using recur::test::probability_mass_after;
using recur::test::read_ngram_fixture;

namespace {
using Ids = std::vector<uint32_t>;

// The trigram model of a hand-made corpus (fallback discounts: the text is too small for closed form).
ArpaModel tiny_model() {
  const char* text = "a b c\na b d\nb c a\nc a b d\na c\nd a b\nb d c a\n";
  return estimate_kneser_ney(read_sentence_corpus(text, "tiny"), {.order = 3, .has_discount_fallback = true})
      .arpa;
}

// A backoff model as a map from word ids to (log10 p, log10 backoff), scored the textbook way:
// independent of PruningView and of BackoffModel.
struct BruteModel {
  std::map<Ids, std::pair<double, double>> grams;
  explicit BruteModel(const ArpaModel& m) {
    for (int n = 1; n <= m.order(); ++n) {
      const ArpaOrder& o = m.orders[static_cast<size_t>(n - 1)];
      for (int64_t i = 0; i < o.count(); ++i) {
        const auto at = static_cast<size_t>(i);
        grams[Ids(o.word_ids.begin() + static_cast<std::ptrdiff_t>(at * n),
                  o.word_ids.begin() + static_cast<std::ptrdiff_t>((at + 1) * n))] = {o.log_prob[at],
                                                                                      o.log_backoff[at]};
      }
    }
  }
  // log10 p(w | h): the longest n-gram (suffix of h) w plus the backoffs of the longer contexts.
  [[nodiscard]] double log_prob(const Ids& h, uint32_t w) const {
    double backoff = 0;
    for (size_t m = h.size() + 1; m-- > 0;) {
      Ids g(h.end() - static_cast<std::ptrdiff_t>(m), h.end());
      g.push_back(w);
      if (const auto it = grams.find(g); it != grams.end()) return it->second.first + backoff;
      if (m == 0) break;
      if (const auto it = grams.find(Ids(h.end() - static_cast<std::ptrdiff_t>(m), h.end()));
          it != grams.end())
        backoff += it->second.second;
    }
    ADD_FAILURE() << "no unigram " << w;
    return 0;
  }
};

std::vector<uint32_t> predicted_words(const ArpaModel& m) {
  std::vector<uint32_t> words;
  for (uint32_t v = 0; v < m.vocab.size(); ++v)
    if (m.vocab[v] != "<s>") words.push_back(v);
  return words;
}

int64_t total_size(const ArpaModel& m) {
  int64_t size = 0;
  for (const ArpaOrder& o : m.orders) size += o.count();
  return size;
}

// Every kept n-gram's context (its first n - 1 words) is kept.
void expect_well_formed(const ArpaModel& m) {
  const BruteModel brute(m);
  for (const auto& [ids, values] : brute.grams) {
    if (ids.size() > 1) {
      EXPECT_TRUE(brute.grams.contains(Ids(ids.begin(), ids.end() - 1)))
          << "context missing, n = " << ids.size();
    }
  }
}
}  // namespace

// For every bigram and trigram: D(h, w) from the closed form equals P(h) * sum over the
// vocabulary of p(v|h) log10(p(v|h) / p'(v|h)), where p' drops (h, w) and renormalizes bo(h).
TEST(EntropyPrune, ClosedFormMatchesBruteForceRelativeEntropy) {
  const ArpaModel model = tiny_model();
  const std::vector<std::vector<double>> entropy = compute_pruning_entropy(model);
  const BruteModel before(model);
  const std::vector<uint32_t> vocab = predicted_words(model);
  const auto bos =
      static_cast<uint32_t>(std::find(model.vocab.begin(), model.vocab.end(), "<s>") - model.vocab.begin());
  const auto eos =
      static_cast<uint32_t>(std::find(model.vocab.begin(), model.vocab.end(), "</s>") - model.vocab.begin());
  int checked = 0;
  for (int n = 2; n <= model.order(); ++n) {
    const ArpaOrder& o = model.orders[static_cast<size_t>(n - 1)];
    ASSERT_EQ(entropy[static_cast<size_t>(n - 1)].size(), static_cast<size_t>(o.count()));
    for (int64_t i = 0; i < o.count(); ++i) {
      const auto at = static_cast<size_t>(i);
      const Ids gram(o.word_ids.begin() + static_cast<std::ptrdiff_t>(at * n),
                     o.word_ids.begin() + static_cast<std::ptrdiff_t>((at + 1) * n));
      const Ids h(gram.begin(), gram.end() - 1);
      const Ids lower_context(h.begin() + 1, h.end());
      // p': without (h, w), bo(h) = (1 - sum of h's other n-grams) / (1 - the same words one order down).
      BruteModel after = before;
      after.grams.erase(gram);
      double numerator = 1, denominator = 1;
      for (const auto& [ids, values] : after.grams) {
        if (ids.size() != gram.size() || !std::equal(h.begin(), h.end(), ids.begin())) continue;
        numerator -= std::pow(10.0, values.first);
        denominator -= std::pow(10.0, after.log_prob(lower_context, ids.back()));
      }
      after.grams[h].second = std::log10(numerator / denominator);
      // log10 P(h) by the chain rule, </s> for a leading <s> (SRILM's contextProb).
      double log_p_h = 0;
      for (size_t j = 0; j < h.size(); ++j)
        log_p_h += before.log_prob(Ids(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(j)),
                                   j == 0 && h[0] == bos ? eos : h[j]);
      double kl = 0;
      for (uint32_t v : vocab) {
        const double p = before.log_prob(h, v), q = after.log_prob(h, v);
        kl += std::pow(10.0, p) * (p - q);
      }
      kl *= std::pow(10.0, log_p_h);
      const double closed = entropy[static_cast<size_t>(n - 1)][at];
      EXPECT_NEAR(closed, kl, 1e-4 * std::abs(kl) + 1e-9) << "n = " << n << " index " << i;
      EXPECT_GT(closed, -1e-8);  // a relative entropy, up to the rounding of the model's backoffs
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
}

// The pruned model keeps every context, loads, and each distribution still sums to one.
TEST(EntropyPrune, PrunedModelIsWellFormedAndNormalized) {
  const ArpaModel model =
      estimate_kneser_ney(read_sentence_corpus(read_ngram_fixture("tm120.txt"), "tm120"), {.order = 3}).arpa;
  const EntropyPruneResult pruned = prune_by_entropy(model, {.threshold = 1e-4});
  ASSERT_GT(pruned.num_pruned[1] + pruned.num_pruned[2], 100);
  EXPECT_EQ(pruned.num_pruned[0], 0);
  EXPECT_EQ(total_size(pruned.model) + pruned.num_pruned[1] + pruned.num_pruned[2], total_size(model));
  expect_well_formed(pruned.model);
  // Round trip through the ARPA text, as a user would load it.
  const BackoffModel m(parse_arpa(format_arpa(pruned.model), "pruned"));
  const std::vector<std::vector<std::string>> contexts = {{"<s>"},       {"the", "time"},  {"<s>", "the"},
                                                          {"of", "the"}, {"zebra", "the"}, {"in", "a"},
                                                          {"it", "was"}, {"the"},          {"and"}};
  for (const auto& context : contexts)
    EXPECT_NEAR(probability_mass_after(m, context), 1.0, 1e-4) << context[0] << " " << context.back();
}

// SRILM's rule: an n-gram goes when 10^D - 1 is below the threshold and it is no kept n-gram's
// context; threshold 0 keeps the model as it was, byte for byte.
TEST(EntropyPrune, ThresholdDecidesEachNgram) {
  const ArpaModel model = tiny_model();
  EXPECT_EQ(format_arpa(prune_by_entropy(model, {}).model), format_arpa(model));
  const std::vector<std::vector<double>> entropy = compute_pruning_entropy(model);
  const double threshold = 0.01;
  const EntropyPruneResult pruned = prune_by_entropy(model, {.threshold = threshold});
  const BruteModel kept(pruned.model);
  int num_pruned = 0;
  for (int n = 2; n <= model.order(); ++n) {
    const ArpaOrder& o = model.orders[static_cast<size_t>(n - 1)];
    for (int64_t i = 0; i < o.count(); ++i) {
      const auto at = static_cast<size_t>(i);
      const Ids gram(o.word_ids.begin() + static_cast<std::ptrdiff_t>(at * n),
                     o.word_ids.begin() + static_cast<std::ptrdiff_t>((at + 1) * n));
      const double cost = std::pow(10.0, entropy[static_cast<size_t>(n - 1)][at]) - 1;
      bool is_context = false;
      for (const auto& [ids, values] : kept.grams)
        is_context = is_context ||
                     (ids.size() == gram.size() + 1 && std::equal(gram.begin(), gram.end(), ids.begin()));
      const bool should_go = cost < threshold && !is_context;
      EXPECT_EQ(!kept.grams.contains(gram), should_go) << "n = " << n << " index " << i << " cost " << cost;
      num_pruned += should_go ? 1 : 0;
    }
  }
  EXPECT_GT(num_pruned, 0);
  EXPECT_LE(pruned.threshold, threshold);
}

TEST(EntropyPrune, TargetSizeIsReachedExactly) {
  const ArpaModel model =
      estimate_kneser_ney(read_sentence_corpus(read_ngram_fixture("tm120.txt"), "tm120"), {.order = 3}).arpa;
  const int64_t full = total_size(model);
  for (int64_t target : {full, full - 1, full - 500, model.orders[0].count() + 10}) {
    const EntropyPruneResult pruned = prune_by_entropy(model, {.target_size = target});
    EXPECT_EQ(total_size(pruned.model), target);
    expect_well_formed(pruned.model);
  }
  test::expect_error_words<ValueError>([&] { (void)prune_by_entropy(model, {.target_size = 3}); },
                                       {"target", "3", "unigrams"});
  test::expect_error_words<ValueError>([&] { (void)prune_by_entropy(model, {.threshold = -1}); },
                                       {"threshold", "-1"});
}
