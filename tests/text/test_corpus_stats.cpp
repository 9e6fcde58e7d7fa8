// Corpus statistics and Zipf's law: the figures d2l 9.3 prints for The Time Machine, exact fits
// on synthetic power laws, and the rank-frequency chart.
#include <gtest/gtest.h>

#include <cmath>

#include "recur/core/error.h"
#include "recur/text/corpus_stats.h"
#include "recur/text/text_file.h"
#include "recur/text/tokenizer.h"
#include "recur/text/zipf.h"
#include "test_support.h"

using namespace recur;

namespace {
struct Expected {
  std::vector<std::string> tokens;
  int64_t count;
};

void expect_top(const NgramSummary& s, const std::vector<Expected>& expected) {
  ASSERT_GE(s.top.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(s.top[i].tokens, expected[i].tokens) << "order " << s.order << " rank " << i + 1;
    EXPECT_EQ(s.top[i].count, expected[i].count) << "order " << s.order << " rank " << i + 1;
  }
}

const std::string& time_machine() {
  static const std::string text = read_text_file(test::shared_data_dir() / "timemachine.txt");
  return text;
}
}  // namespace

TEST(CorpusStats, TimeMachineWordsMatchTheBook) {
  // d2l 9.3 (and scripts/d2l_text_reference.py, a re-run of its code): 32775 words, vocabulary 4580.
  const TokenizedText words = tokenize_text(time_machine(), PreprocessMode::d2l, TokenLevel::word);
  const CorpusStats stats = compute_corpus_stats(words.tokens(), {.max_order = 3, .top_k = 10});
  EXPECT_EQ(stats.num_tokens, 32775);
  EXPECT_EQ(stats.distinct_tokens, 4579);
  EXPECT_EQ(stats.vocab_size, 4580);
  ASSERT_EQ(stats.ngrams.size(), 3u);
  expect_top(stats.ngrams[0], {{{"the"}, 2261},
                               {{"i"}, 1267},
                               {{"and"}, 1245},
                               {{"of"}, 1155},
                               {{"a"}, 816},
                               {{"to"}, 695},
                               {{"was"}, 552},
                               {{"in"}, 541},
                               {{"that"}, 443},
                               {{"my"}, 440}});
  expect_top(stats.ngrams[1], {{{"of", "the"}, 309},
                               {{"in", "the"}, 169},
                               {{"i", "had"}, 130},
                               {{"i", "was"}, 112},
                               {{"and", "the"}, 109},
                               {{"the", "time"}, 102},
                               {{"it", "was"}, 99},
                               {{"to", "the"}, 85},
                               {{"as", "i"}, 78},
                               {{"of", "a"}, 73}});
  // The book lists 'it was a' before 'here and there' (both 15): ties in order of first occurrence.
  expect_top(stats.ngrams[2], {{{"the", "time", "traveller"}, 59},
                               {{"the", "time", "machine"}, 30},
                               {{"the", "medical", "man"}, 24},
                               {{"it", "seemed", "to"}, 16},
                               {{"it", "was", "a"}, 15},
                               {{"here", "and", "there"}, 15},
                               {{"seemed", "to", "me"}, 14},
                               {{"i", "did", "not"}, 14},
                               {{"i", "saw", "the"}, 13},
                               {{"i", "began", "to"}, 13}});
  EXPECT_EQ(stats.ngrams[1].total, 32774);
  EXPECT_EQ(stats.ngrams[1].distinct, 20234);
  EXPECT_EQ(stats.ngrams[2].distinct, 29882);
  EXPECT_EQ(stats.ngrams[0].sorted_counts.front(), 2261);
  EXPECT_EQ(stats.ngrams[2].sorted_counts.size(), 29882u);
}

TEST(CorpusStats, TimeMachineCharactersMatchTheBook) {
  // d2l 9.2: 173428 character tokens, 28 with <unk>; ' ' 32775, 'e' 17838, 't' 13515.
  const TokenizedText chars = tokenize_text(time_machine(), PreprocessMode::d2l, TokenLevel::character);
  const CorpusStats stats = compute_corpus_stats(chars.tokens(), {.max_order = 2, .top_k = 3});
  EXPECT_EQ(stats.num_tokens, 173428);
  EXPECT_EQ(stats.vocab_size, 28);
  expect_top(stats.ngrams[0], {{{" "}, 32775}, {{"e"}, 17838}, {{"t"}, 13515}});
  expect_top(stats.ngrams[1], {{{"e", " "}, 6641}, {{" ", "t"}, 5570}, {{"t", "h"}, 4598}});
  EXPECT_EQ(stats.ngrams[1].distinct, 471);
}

TEST(CorpusStats, MinFreqChangesOnlyTheVocabularySize) {
  const TokenizedText words = tokenize_text(time_machine(), PreprocessMode::d2l, TokenLevel::word);
  CorpusStatsOptions options;
  options.max_order = 1;
  options.vocab.min_freq = 2;
  const CorpusStats stats = compute_corpus_stats(words.tokens(), options);
  EXPECT_EQ(stats.vocab_size, 2183);
  EXPECT_EQ(stats.distinct_tokens, 4579);
  options.vocab.min_freq = 3000;
  EXPECT_THROW((void)compute_corpus_stats(words.tokens(), options), ValueError);
}

TEST(CorpusStats, EmptyInputAndBadOrderAreErrors) {
  EXPECT_THROW((void)compute_corpus_stats({}), ValueError);
  const std::vector<std::string_view> one{"a"};
  EXPECT_THROW((void)compute_corpus_stats(one, {.max_order = 0}), ValueError);
  const CorpusStats s = compute_corpus_stats(one);  // a trigram table of a 1-token text is just empty
  EXPECT_EQ(s.ngrams[2].total, 0);
  EXPECT_TRUE(s.ngrams[2].top.empty());
}

TEST(Zipf, RecoversAnExactPowerLaw) {
  std::vector<int64_t> counts;
  for (int r = 1; r <= 1000; ++r)
    counts.push_back(static_cast<int64_t>(std::llround(1e9 * std::pow(r, -1.5))));
  const ZipfFit fit = fit_zipf(counts, {.min_rank = 1, .max_rank = 0, .min_count = 1});
  EXPECT_NEAR(fit.alpha, 1.5, 1e-6);
  EXPECT_NEAR(fit.log10_scale, 9.0, 1e-5);
  EXPECT_NEAR(fit.r_squared, 1.0, 1e-9);
  EXPECT_EQ(fit.num_points, 1000);
}

TEST(Zipf, RangeOptionsSelectTheRanks) {
  // Two points, ranks 1 and 2 with counts 1000 and 100: the line through them has alpha = 1 / log10(2).
  const std::vector<int64_t> counts{1000, 100, 10, 10, 1, 1};
  const ZipfFit a = fit_zipf(counts, {.min_rank = 1, .max_rank = 2, .min_count = 1});
  EXPECT_NEAR(a.alpha, 1.0 / std::log10(2.0), 1e-12);
  EXPECT_EQ(a.last_rank, 2);
  const ZipfFit b = fit_zipf(counts, {.min_rank = 2, .max_rank = 0, .min_count = 2});
  EXPECT_EQ(b.first_rank, 2);
  EXPECT_EQ(b.last_rank, 4);  // ranks 5 and 6 have count 1 < 2
  EXPECT_EQ(b.num_points, 3);
}

TEST(Zipf, TimeMachineExponents) {
  // The defaults (ranks >= 10, count >= 2) on d2l words; scripts/d2l_text_reference.py gives the same.
  const TokenizedText words = tokenize_text(time_machine(), PreprocessMode::d2l, TokenLevel::word);
  const CorpusStats stats = compute_corpus_stats(words.tokens(), {.max_order = 3, .top_k = 0});
  // Unigrams fall fastest, as the book's figure shows.
  EXPECT_NEAR(fit_zipf(stats.ngrams[0].sorted_counts).alpha, 1.0389, 1e-4);
  EXPECT_NEAR(fit_zipf(stats.ngrams[1].sorted_counts).alpha, 0.6521, 1e-4);
  EXPECT_NEAR(fit_zipf(stats.ngrams[2].sorted_counts).alpha, 0.3787, 1e-4);
}

TEST(Zipf, BadInputIsNamed) {
  const std::vector<int64_t> unsorted{3, 5, 1};
  EXPECT_THROW((void)fit_zipf(unsorted, {.min_rank = 1}), ValueError);
  const std::vector<int64_t> zero{3, 0};
  EXPECT_THROW((void)fit_zipf(zero, {.min_rank = 1}), ValueError);
  const std::vector<int64_t> short_list{5, 4, 3};
  try {
    (void)fit_zipf(short_list);  // min_rank 10
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("at least 2 are needed"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)fit_zipf(short_list, {.min_rank = 0}), ValueError);
  EXPECT_THROW((void)fit_zipf(short_list, {.min_rank = 2, .max_rank = 1}), ValueError);
}

TEST(Zipf, ChartKeepsTheEndsOfEachRunOfEqualCounts) {
  const std::vector<int64_t> uni{9, 5, 5, 5, 2, 1, 1, 1, 1};
  const std::vector<int64_t> bi{4, 1};
  const std::vector<ZipfCurve> curves{{.name = "unigram", .sorted_counts = uni},
                                      {.name = "bigram", .sorted_counts = bi}};
  const Chart chart = make_zipf_chart(curves, "t");
  ASSERT_EQ(chart.series.size(), 2u);
  EXPECT_EQ(chart.series[0].x, (std::vector<double>{1, 2, 4, 5, 6, 9}));
  EXPECT_EQ(chart.series[0].y, (std::vector<double>{9, 5, 5, 2, 1, 1}));
  EXPECT_EQ(chart.x_axis.scale, AxisScale::kLog10);
  EXPECT_EQ(chart.y_axis.scale, AxisScale::kLog10);
  const auto dir = test::make_temp_dir("zipf");
  write_zipf_chart(curves, "Zipf", dir / "zipf.svg");
  const std::string svg = read_text_file(dir / "zipf.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("bigram"), std::string::npos);
}
