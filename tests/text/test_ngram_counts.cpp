// Packed-key n-gram counting: counts against a plain map of vectors, ties by first addition, keys
// that straddle the two 64-bit halves, and the bit budget.
#include <gtest/gtest.h>

#include <map>

#include "recur/core/error.h"
#include "recur/core/rng.h"
#include "recur/text/ngram_counts.h"

using namespace recur;

TEST(NgramCounts, MatchesAPlainMapOnRandomSequences) {
  Rng rng(11);
  for (int order : {1, 2, 3, 5}) {
    const int32_t V = 37;
    std::vector<int32_t> seq(3000);
    for (auto& id : seq)
      id = static_cast<int32_t>(rng.below(order == 1 ? 37 : 6));  // few distinct ids: repeats
    NgramCounts counts(order, V);
    counts.add_windows(seq);
    std::map<std::vector<int32_t>, int64_t> reference;
    for (size_t i = 0; i + static_cast<size_t>(order) <= seq.size(); ++i)
      reference[std::vector<int32_t>(seq.begin() + static_cast<std::ptrdiff_t>(i),
                                     seq.begin() + static_cast<std::ptrdiff_t>(i) + order)]++;
    EXPECT_EQ(counts.distinct(), static_cast<int64_t>(reference.size())) << order;
    EXPECT_EQ(counts.total(), static_cast<int64_t>(seq.size()) - order + 1);
    for (const auto& [ngram, c] : reference) EXPECT_EQ(counts.count(ngram), c);
    std::vector<int32_t> ids(static_cast<size_t>(order));
    for (int64_t i = 0; i < counts.distinct(); ++i) {
      counts.ngram_at(i, ids);
      EXPECT_EQ(counts.count_at(i), reference.at(ids));
    }
  }
}

TEST(NgramCounts, MostCommonBreaksTiesByFirstAddition) {
  NgramCounts counts(2, 10);
  counts.add_windows(std::vector<int32_t>{5, 6, 1, 2, 5, 6, 1, 2, 3, 4});
  // (5,6):2 (6,1):2 (1,2):2 (2,5):1 (2,3):1 (3,4):1
  const auto top = counts.most_common(4);
  ASSERT_EQ(top.size(), 4u);
  EXPECT_EQ(top[0].ids, (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(top[1].ids, (std::vector<int32_t>{6, 1}));
  EXPECT_EQ(top[2].ids, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(top[3].ids, (std::vector<int32_t>{2, 5}));
  EXPECT_EQ(top[3].count, 1);
  EXPECT_EQ(counts.sorted_counts(), (std::vector<int64_t>{2, 2, 2, 1, 1, 1}));
  EXPECT_EQ(counts.most_common(100).size(), 6u);
}

TEST(NgramCounts, KeysUseBothHalvesForLargeVocabularies) {
  // 2^20 tokens: 20 bits per id, so a 6-gram needs 120 bits.
  const int32_t V = 1 << 20;
  NgramCounts counts(6, V);
  const std::vector<int32_t> a{V - 1, 0, V - 1, 12345, V - 2, 7};
  const std::vector<int32_t> b{V - 1, 0, V - 1, 12345, V - 2, 6};
  counts.add(a, 3);
  counts.add(b);
  EXPECT_EQ(counts.count(a), 3);
  EXPECT_EQ(counts.count(b), 1);
  std::vector<int32_t> back(6);
  counts.ngram_at(0, back);
  EXPECT_EQ(back, a);
  EXPECT_THROW(NgramCounts(7, V), ValueError);  // 140 bits
}

TEST(NgramCounts, BadArgumentsAreNamed) {
  try {
    NgramCounts(0, 10);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("order must be at least 1, got 0"), std::string::npos);
  }
  NgramCounts counts(2, 4);
  EXPECT_THROW(counts.add(std::vector<int32_t>{1}), ValueError);
  EXPECT_THROW(counts.add(std::vector<int32_t>{1, 4}), ValueError);
  EXPECT_THROW((void)counts.count(std::vector<int32_t>{-1, 0}), ValueError);
  EXPECT_THROW(counts.add_windows(std::vector<int32_t>{0, 1, 9}), ValueError);
  EXPECT_EQ(counts.total(), 0);
}

TEST(NgramCounts, GrowsPastManyEntries) {
  NgramCounts counts(2, 1000);
  for (int32_t i = 0; i < 1000; ++i)
    for (int32_t j = 0; j < 50; ++j) counts.add(std::vector<int32_t>{i, j});
  EXPECT_EQ(counts.distinct(), 50000);
  EXPECT_EQ(counts.count(std::vector<int32_t>{999, 49}), 1);
  EXPECT_EQ(counts.count(std::vector<int32_t>{999, 50}), 0);
}
