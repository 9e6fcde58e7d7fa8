// Modified Kneser-Ney estimation: discounts and one model worked by hand, lmplz's ARPA files
// reproduced from the same text (byte for byte and value by value), lmplz's reading of text, and
// the errors lmplz gives (discounts out of range, reserved words).
#include <gtest/gtest.h>

#include <cmath>

#include "expect_error.h"
#include "ngram_fixtures.h"
#include "recur/core/error.h"
#include "recur/ngram/arpa.h"
#include "recur/ngram/kneser_ney.h"
#include "recur/ngram/sentence_corpus.h"

using namespace recur;
using recur::test::read_ngram_fixture;

namespace {
KneserNeyOptions with_fallback(int order) { return {.order = order, .has_discount_fallback = true}; }

// log10 probability and backoff of the n-gram `words` ("a b"), or a failure when absent.
struct Entry {
  float log_prob = 0, log_backoff = 0;
  bool found = false;
};
Entry entry_of(const ArpaModel& model, const std::string& words) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= words.size()) {
    const size_t end = std::min(words.find(' ', start), words.size());
    parts.push_back(words.substr(start, end - start));
    start = end + 1;
  }
  const auto n = static_cast<int>(parts.size());
  const ArpaOrder& grams = model.orders[static_cast<size_t>(n - 1)];
  for (int64_t i = 0; i < grams.count(); ++i) {
    bool same = true;
    for (int k = 0; k < n && same; ++k)
      same = model.vocab[grams.word_ids[static_cast<size_t>(i * n + k)]] == parts[static_cast<size_t>(k)];
    if (same)
      return {grams.log_prob[static_cast<size_t>(i)], grams.log_backoff[static_cast<size_t>(i)], true};
  }
  ADD_FAILURE() << "no n-gram \"" << words << "\"";
  return {};
}

void expect_entry(const ArpaModel& model, const std::string& words, double prob, double backoff) {
  const Entry e = entry_of(model, words);
  EXPECT_NEAR(e.log_prob, std::log10(prob), 1e-6) << words;
  EXPECT_NEAR(e.log_backoff, std::log10(backoff), 1e-6) << words;
}
}  // namespace

// Chen & Goodman eq. 26 with t1..t4 = 10, 4, 2, 1: Y = 10 / 18 = 5/9,
// D1 = 1 - 2 Y 4/10 = 5/9, D2 = 2 - 3 Y 2/4 = 7/6, D3+ = 3 - 4 Y 1/2 = 17/9.
TEST(KneserNeyDiscount, ClosedFormByHand) {
  const KneserNeyDiscount d = compute_kneser_ney_discount(2, {0, 10, 4, 2, 1}, {});
  EXPECT_EQ(d.amount[0], 0.0f);
  EXPECT_NEAR(d.amount[1], 5.0 / 9.0, 1e-6);
  EXPECT_NEAR(d.amount[2], 7.0 / 6.0, 1e-6);
  EXPECT_NEAR(d.amount[3], 17.0 / 9.0, 1e-6);
  EXPECT_EQ(d.get(7), d.amount[3]);
  EXPECT_NEAR(d.apply(2), 2.0 - 7.0 / 6.0, 1e-6);
}

TEST(KneserNeyDiscount, OutOfRangeNamesOrderAndCountUnlessFallback) {
  // t3 = 1 and t4 = 5: D3+ = 3 - 4 Y 5 < 0.
  test::expect_error_words<ValueError>(
      [] {
        (void)compute_kneser_ney_discount(4, {0, 10, 4, 1, 5}, {});
      },
      {"D3", "4-grams", "outside [0, 3]", "--discount-fallback"});
  // No n-gram seen twice: D2 undefined.
  test::expect_error_words<ValueError>(
      [] {
        (void)compute_kneser_ney_discount(2, {0, 10, 0, 1, 1}, {});
      },
      {"D2", "2-grams", "adjusted count 2"});
  bool is_fallback = false;
  const KneserNeyDiscount d =
      compute_kneser_ney_discount(4, {0, 10, 4, 1, 5}, with_fallback(4), &is_fallback);
  EXPECT_TRUE(is_fallback);
  EXPECT_EQ(d.amount[1], 0.5f);
  EXPECT_EQ(d.amount[2], 1.0f);
  EXPECT_EQ(d.amount[3], 1.5f);
}

// "a b\na c\n", order 2, D = 0.5, 1, 1.5. Adjusted unigram counts (left extensions): a 1 (<s>),
// b 1, c 1, </s> 2, so sum = 5, gamma() = (0.5 * 3 + 1 * 1) / 5 = 0.5, uniform 1/(6-1) = 0.2:
//   p(a) = (1 - 0.5)/5 + 0.5 * 0.2 = 0.2 (b, c too), p(</s>) = (2 - 1)/5 + 0.1 = 0.3, p(<unk>) = 0.1.
// Bigrams keep raw counts: "<s> a" 2 gives gamma(<s>) = 1 * 1/2 = 0.5 and
//   p(a | <s>) = (2 - 1)/2 + 0.5 * 0.2 = 0.6; "a b", "a c": gamma(a) = 0.5 * 2/2 = 0.5,
//   p(b | a) = 0.5/2 + 0.5 * 0.2 = 0.35; "b </s>": gamma(b) = 0.5, p(</s> | b) = 0.5 + 0.5 * 0.3 = 0.65.
TEST(KneserNey, BigramModelByHand) {
  const SentenceCorpus corpus = read_sentence_corpus("a b\na c\n", "hand");
  const KneserNeyModel m = estimate_kneser_ney(corpus, with_fallback(2));
  ASSERT_EQ(m.arpa.order(), 2);
  EXPECT_EQ(m.stats[0].num_ngrams, 6);
  EXPECT_EQ(m.stats[1].num_ngrams, 5);
  EXPECT_EQ(m.stats[0].counts_of_counts[1], 3u);  // a, b, c
  EXPECT_EQ(m.stats[0].counts_of_counts[2], 1u);  // </s>
  EXPECT_EQ(m.stats[1].counts_of_counts[2], 1u);  // <s> a
  expect_entry(m.arpa, "<unk>", 0.1, 1.0);
  expect_entry(m.arpa, "<s>", 1.0, 0.5);
  expect_entry(m.arpa, "</s>", 0.3, 1.0);
  expect_entry(m.arpa, "a", 0.2, 0.5);
  expect_entry(m.arpa, "b", 0.2, 0.5);
  expect_entry(m.arpa, "<s> a", 0.6, 1.0);
  expect_entry(m.arpa, "a b", 0.35, 1.0);
  expect_entry(m.arpa, "a c", 0.35, 1.0);
  expect_entry(m.arpa, "b </s>", 0.65, 1.0);
  // Each context's distribution sums to one: p(w | a) = 0.35 for b, c and 0.5 p(w) otherwise.
  double sum = 0.35 + 0.35;
  for (const char* w : {"<unk>", "</s>", "a"}) sum += 0.5 * std::pow(10.0, entry_of(m.arpa, w).log_prob);
  EXPECT_NEAR(sum, 1.0, 1e-6);
}

// Continuation counts below the top order, raw counts at the top and for n-grams after <s>.
TEST(KneserNey, AdjustedCountsAreLeftExtensionsExceptAfterBos) {
  // Order 2 on "a / x a / x a / y a / a": the unigram a has the left extensions <s>, x, y (3;
  // its raw count is 5); x and y only <s>; </s> only a. Bigrams keep raw counts: "<s> a" 2,
  // "<s> x" 2, "x a" 2, "<s> y" 1, "y a" 1, "a </s>" 5.
  const SentenceCorpus corpus = read_sentence_corpus("a\nx a\nx a\ny a\na\n", "hand");
  const KneserNeyModel m = estimate_kneser_ney(corpus, with_fallback(2));
  EXPECT_EQ(m.stats[0].counts_of_counts, (std::array<uint64_t, 5>{2, 3, 0, 1, 0}));  // <unk> <s>; x y </s>; a
  EXPECT_EQ(m.stats[1].counts_of_counts, (std::array<uint64_t, 5>{0, 2, 3, 0, 0}));
  // Order 3: bigrams below the top count left extensions ("x a" 1: <s>; "a </s>" 3: <s>, x, y),
  // except those after <s> ("<s> a" 2, "<s> x" 2, "<s> y" 1).
  const KneserNeyModel m3 = estimate_kneser_ney(corpus, with_fallback(3));
  EXPECT_EQ(m3.stats[1].counts_of_counts, (std::array<uint64_t, 5>{0, 3, 2, 1, 0}));
}

TEST(KneserNey, ReproducesLmplzArpaByteForByte) {
  struct Case {
    const char* text;
    const char* arpa;
    int order;
    bool fallback;
  };
  for (const Case& c :
       {Case{"tiny.txt", "tiny.o3.fallback.arpa", 3, true}, Case{"tm120.txt", "tm120.o2.arpa", 2, false},
        Case{"tm120.txt", "tm120.o3.arpa", 3, false}, Case{"edge.txt", "edge.o2.fallback.arpa", 2, true}}) {
    SCOPED_TRACE(c.arpa);
    const SentenceCorpus corpus = read_sentence_corpus(read_ngram_fixture(c.text), c.text);
    const KneserNeyModel m =
        estimate_kneser_ney(corpus, {.order = c.order, .has_discount_fallback = c.fallback});
    const std::string expected = read_ngram_fixture(c.arpa);
    const std::string got = format_arpa(m.arpa);
    // Value by value first (a clear message), then the text itself.
    const ArpaModel lmplz = parse_arpa(expected, c.arpa);
    ASSERT_EQ(lmplz.order(), m.arpa.order());
    EXPECT_EQ(lmplz.vocab, m.arpa.vocab);
    for (int n = 1; n <= lmplz.order(); ++n) {
      const ArpaOrder& want = lmplz.orders[static_cast<size_t>(n - 1)];
      const ArpaOrder& have = m.arpa.orders[static_cast<size_t>(n - 1)];
      ASSERT_EQ(want.count(), have.count()) << n << "-grams";
      EXPECT_EQ(want.word_ids, have.word_ids) << n << "-grams";
      for (int64_t i = 0; i < want.count(); ++i) {
        const auto at = static_cast<size_t>(i);
        ASSERT_NEAR(want.log_prob[at], have.log_prob[at], 1e-6 * std::max(1.0f, std::abs(want.log_prob[at])))
            << n << "-gram " << i;
        ASSERT_NEAR(want.log_backoff[at], have.log_backoff[at], 1e-6) << n << "-gram " << i;
      }
    }
    EXPECT_EQ(got, expected);
  }
}

// lmplz -o 4 on tm120.txt: "ERROR: 3-gram discount out of range for adjusted count 3: -2.7949553".
TEST(KneserNey, DiscountErrorMatchesLmplz) {
  const SentenceCorpus corpus = read_sentence_corpus(read_ngram_fixture("tm120.txt"), "tm120.txt");
  test::expect_error_words<ValueError>([&] { (void)estimate_kneser_ney(corpus, {.order = 4}); },
                                       {"D3", "3-grams", "-2.7949553", "outside [0, 3]"});
  const KneserNeyModel m = estimate_kneser_ney(corpus, with_fallback(4));
  EXPECT_TRUE(m.stats[2].is_fallback);
  EXPECT_FALSE(m.stats[1].is_fallback);
}

TEST(SentenceCorpus, SplitsAsLmplz) {
  // Tab, CR and space split; \v and \f do not; an empty line is a sentence; no newline, no </s>.
  const SentenceCorpus c = read_sentence_corpus("a\tb\r\n\n c\vd  a\nb", "t");
  ASSERT_EQ(c.num_sentences(), 4);
  EXPECT_EQ(c.vocab, (std::vector<std::string>{"<unk>", "<s>", "</s>", "a", "b", "c\vd"}));
  EXPECT_EQ(std::vector<uint32_t>(c.sentence(0).begin(), c.sentence(0).end()),
            (std::vector<uint32_t>{3, 4, 2}));
  EXPECT_EQ(std::vector<uint32_t>(c.sentence(1).begin(), c.sentence(1).end()), (std::vector<uint32_t>{2}));
  EXPECT_EQ(std::vector<uint32_t>(c.sentence(2).begin(), c.sentence(2).end()),
            (std::vector<uint32_t>{5, 3, 2}));
  EXPECT_EQ(std::vector<uint32_t>(c.sentence(3).begin(), c.sentence(3).end()), (std::vector<uint32_t>{4}));
  EXPECT_EQ(c.num_words, 5);
  const SentenceCorpus skipped = read_sentence_corpus("a\n\nb\n", "t", {.skips_empty_lines = true});
  EXPECT_EQ(skipped.num_sentences(), 2);
}

TEST(SentenceCorpus, PreprocessingModes) {
  const SentenceCorpus c = read_sentence_corpus("The Time-Machine!\n", "t", {.mode = PreprocessMode::d2l});
  EXPECT_EQ(c.vocab, (std::vector<std::string>{"<unk>", "<s>", "</s>", "the", "time", "machine"}));
  const SentenceCorpus lower = read_sentence_corpus("ÉTÉ Été\n", "t", {.mode = PreprocessMode::lower});
  EXPECT_EQ(lower.vocab.size(), 4u);
}

TEST(SentenceCorpus, ReservedWordsNameFileAndLine) {
  for (const char* word : {"<s>", "</s>", "<unk>"}) {
    SCOPED_TRACE(word);
    const std::string text = std::string("a b\nc ") + word + " d\n";
    test::expect_error_words<ValueError>([&] { (void)read_sentence_corpus(text, "train.txt"); },
                                         {"train.txt:2", word, "--skip-symbols"});
    const SentenceCorpus c = read_sentence_corpus(text, "train.txt", {.skips_symbols = true});
    EXPECT_EQ(c.num_words, 4);  // a b c d: the symbol is whitespace
  }
}

// Pruning: order 2 on "a b\na c\na c\n". Bigram counts <s> a 3, a b 1, a c 2, b </s> 1, c </s> 2:
// t1..t4 = 2, 2, 1, 0, so Y = 1/3, D1 = 1 - 2 Y 2/2 = 1/3, D2 = 2 - 3 Y 1/2 = 3/2. Without pruning
// gamma(a) = (D1 + D2) / 3 = 11/18; --prune 0 1 drops "a b" and "b </s>" (seen once), whose whole
// count joins gamma: gamma(a) = (D2 + 1) / 3 = 5/6, and p(c | a) = (2 - 3/2) / 3 + 5/6 p(c).
TEST(KneserNey, PruningMovesMassToTheBackoff) {
  const SentenceCorpus corpus = read_sentence_corpus("a b\na c\na c\n", "hand");
  const KneserNeyModel full = estimate_kneser_ney(corpus, {.order = 2, .has_discount_fallback = true});
  const KneserNeyModel pruned =
      estimate_kneser_ney(corpus, {.order = 2, .has_discount_fallback = true, .prune_thresholds = {0, 1}});
  EXPECT_EQ(full.stats[1].num_ngrams, 5);  // <s> a, a b, a c, b </s>, c </s>
  EXPECT_EQ(pruned.stats[1].num_ngrams, 3);
  EXPECT_EQ(pruned.stats[1].num_pruned, 2);                                     // a b, b </s>
  EXPECT_EQ(pruned.stats[1].counts_of_counts, full.stats[1].counts_of_counts);  // pruned ones still count
  EXPECT_FALSE(pruned.stats[1].is_fallback);
  EXPECT_NEAR(pruned.stats[1].discount.amount[1], 1.0 / 3.0, 1e-6);
  EXPECT_NEAR(pruned.stats[1].discount.amount[2], 1.5, 1e-6);
  EXPECT_NEAR(entry_of(full.arpa, "a").log_backoff, std::log10(11.0 / 18.0), 1e-6);
  EXPECT_NEAR(entry_of(pruned.arpa, "a").log_backoff, std::log10(5.0 / 6.0), 1e-6);
  const double p_c = std::pow(10.0, entry_of(pruned.arpa, "c").log_prob);
  EXPECT_NEAR(entry_of(pruned.arpa, "a c").log_prob, std::log10(1.0 / 6.0 + 5.0 / 6.0 * p_c), 1e-6);
  test::expect_error_words<ValueError>(
      [&] {
        (void)estimate_kneser_ney(corpus, {.order = 3, .prune_thresholds = {0, 2, 1}});
      },
      {"decrease", "3-grams"});
  test::expect_error_words<ValueError>(
      [&] { (void)estimate_kneser_ney(corpus, {.order = 2, .prune_thresholds = {1}}); }, {"unigrams", "0"});
  test::expect_error_words<ValueError>(
      [&] {
        (void)estimate_kneser_ney(corpus, {.order = 2, .prune_thresholds = {0, 1, 1}});
      },
      {"3 pruning thresholds"});
}

TEST(KneserNey, BadOptions) {
  const SentenceCorpus corpus = read_sentence_corpus("a b\n", "t");
  test::expect_error_words<ValueError>([&] { (void)estimate_kneser_ney(corpus, with_fallback(0)); },
                                       {"order", "0"});
  test::expect_error_words<ValueError>([&] { (void)estimate_kneser_ney(corpus, with_fallback(33)); },
                                       {"order", "33"});
  const SentenceCorpus empty = read_sentence_corpus("", "t");
  test::expect_error_words<ValueError>([&] { (void)estimate_kneser_ney(empty, with_fallback(2)); },
                                       {"no sentences"});
}
