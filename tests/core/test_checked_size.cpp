// Checked size arithmetic, Shape's element count, and ParameterStore's name index at scale.
#include <gtest/gtest.h>

#include <climits>
#include <string>

#include "expect_error.h"
#include "recur/core/checked_size.h"
#include "recur/core/error.h"
#include "recur/core/name_list.h"
#include "recur/core/parameters.h"

using namespace recur;

using test::expect_error_words;

TEST(CheckedSize, MulAndAddReturnExactValues) {
  EXPECT_EQ(checked_mul(3, 4, "x"), 12);
  EXPECT_EQ(checked_mul(0, INT64_MAX, "x"), 0);
  EXPECT_EQ(checked_add(INT64_MAX - 1, 1, "x"), INT64_MAX);
}

TEST(CheckedSize, OverflowNamesWhatWasComputed) {
  expect_error_words<ValueError>([] { (void)checked_mul(INT64_MAX / 2 + 1, 2, "table rows x cols"); },
                                 {"table rows x cols", "too large"});
  expect_error_words<ValueError>([] { (void)checked_add(INT64_MAX, 1, "lags + 1"); },
                                 {"lags + 1", "9223372036854775807"});
  expect_error_words<ValueError>([] { (void)checked_mul(-1, 2, "size"); }, {"size", "negative"});
}

TEST(CheckedSize, RangeNamesTheValueAndBounds) {
  check_size_range(5, 1, 10, "--lags");
  expect_error_words<ValueError>([] { check_size_range(0, 1, 10, "horizon"); },
                                 {"horizon must be >= 1, got 0"});
  expect_error_words<ValueError>([] { check_size_range(INT_MAX, 1, 10000, "--lags"); },
                                 {"--lags must be <= 10000, got 2147483647"});
}

TEST(CheckedSize, ShapeElementCountOverflowIsAShapeError) {
  const Shape big{INT64_MAX / 2, 3};
  expect_error_words<ShapeError>([&] { (void)big.numel(); }, {"overflows", "[4611686018427387903, 3]"});
}

TEST(NameList, ListsAFewNamesAndCountsTheRest) {
  const std::vector<std::string> names = {"a", "b", "c"};
  auto at = [&](size_t i) { return names[i]; };
  EXPECT_EQ(list_names(3, at), "'a', 'b', 'c'");
  EXPECT_EQ(list_names(3, at, 2), "'a', 'b', ... (and 1 more)");
  EXPECT_EQ(list_names(0, at), "(none)");
}

// 100,000 layers: adding was a linear scan per name (quadratic, minutes); now a hash lookup.
TEST(ParameterStore, ManyNamedSlotsStayIndexedAndUnique) {
  ParameterStore<float> store;
  constexpr int kCount = 100'000;
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(store.add("layer" + std::to_string(i) + ".weight", Shape{1}), i);
  EXPECT_EQ(store.size(), kCount);
  EXPECT_EQ(store.find("layer77777.weight"), 77777);
  EXPECT_EQ(store.find("layer100000.weight"), std::nullopt);
  EXPECT_EQ(store.num_values(), kCount);
  expect_error_words<ValueError>([&] { (void)store.add("layer5.weight", Shape{2}); },
                                 {"duplicate", "layer5.weight"});
  EXPECT_EQ(store.size(), kCount);  // a rejected name adds nothing
  EXPECT_EQ(store.num_values(), kCount);
  // The message for an unknown name lists a few names, not all 100,000.
  const std::string message = test::message_of_error<ValueError>([&] { (void)store.index_of("missing"); });
  EXPECT_NE(message.find("and 99990 more"), std::string::npos) << message.substr(0, 300);
  EXPECT_LT(message.size(), 400u);
}
