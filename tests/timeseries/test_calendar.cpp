// Date stamps: parsing, spacing, the season it implies and the dates after the last row.
#include <gtest/gtest.h>

#include "recur/timeseries/calendar.h"

using namespace recur;

namespace {
std::vector<DateStamp> parse_all(std::initializer_list<const char*> texts) {
  std::vector<DateStamp> out;
  for (const char* t : texts) out.push_back(parse_date(t).value());
  return out;
}
}  // namespace

TEST(Calendar, ParsesAcceptedForms) {
  auto month = parse_date("1949-01").value();
  EXPECT_EQ(month.form, DateForm::month);
  EXPECT_EQ(month.year, 1949);
  EXPECT_EQ(month.month, 1);
  EXPECT_DOUBLE_EQ(parse_date("1970-01-01")->days(), 0.0);
  EXPECT_DOUBLE_EQ(parse_date("1970-01-02")->days(), 1.0);
  EXPECT_DOUBLE_EQ(parse_date("2000-03-01")->days(), 11017.0);  // date -d 2000-03-01 +%s / 86400
  EXPECT_DOUBLE_EQ(parse_date("1970-01-01 06:00")->days(), 0.25);
  EXPECT_DOUBLE_EQ(parse_date("1970/01/01T12:00:00")->days(), 0.5);
  EXPECT_EQ(parse_date("1999")->form, DateForm::year);
  EXPECT_EQ(parse_date(" 2000-02-29 ")->day, 29);
}

TEST(Calendar, RejectsMalformedAndImpossibleDates) {
  for (const char* bad : {"", "abc", "19-01", "1999-13", "1999-02-29", "2000-01-32", "2000-01-01 25:00",
                          "2000-1-1", "2000-01-01x", "2000-01-01 10"}) {
    EXPECT_FALSE(parse_date(bad).has_value()) << bad;
  }
}

TEST(Calendar, SpacingAndSeason) {
  auto monthly = parse_all({"1949-01", "1949-02", "1949-03", "1949-04"});
  EXPECT_EQ(infer_date_spacing(monthly), DateSpacing::monthly);
  EXPECT_EQ(season_for_spacing(DateSpacing::monthly, monthly), 12);
  auto daily =
      parse_all({"1981-01-01", "1981-01-02", "1981-01-03", "1981-01-05"});  // one gap of 2: median is 1
  EXPECT_EQ(infer_date_spacing(daily), DateSpacing::daily);
  EXPECT_EQ(season_for_spacing(DateSpacing::daily, daily), 365);
  auto hourly = parse_all({"2000-01-01 00:00", "2000-01-01 01:00", "2000-01-01 02:00"});
  EXPECT_EQ(infer_date_spacing(hourly), DateSpacing::sub_daily);
  EXPECT_EQ(season_for_spacing(DateSpacing::sub_daily, hourly), 24);
  auto quarterly = parse_all({"2000-01-01", "2000-04-01", "2000-07-01"});
  EXPECT_EQ(infer_date_spacing(quarterly), DateSpacing::quarterly);
  auto odd = parse_all({"2000-01-01", "2000-01-11", "2000-01-21"});
  EXPECT_EQ(infer_date_spacing(odd), DateSpacing::irregular);
  EXPECT_FALSE(season_for_spacing(DateSpacing::irregular, odd).has_value());
}

TEST(Calendar, NextDates) {
  auto monthly = parse_all({"1960-11", "1960-12"});
  EXPECT_EQ(next_date_labels(monthly, DateSpacing::monthly, 3),
            (std::vector<std::string>{"1961-01", "1961-02", "1961-03"}));
  auto daily = parse_all({"1990-12-30", "1990-12-31"});
  EXPECT_EQ(next_date_labels(daily, DateSpacing::daily, 2),
            (std::vector<std::string>{"1991-01-01", "1991-01-02"}));
  auto month_end = parse_all({"2000-12-31", "2001-01-31"});
  EXPECT_EQ(next_date_labels(month_end, DateSpacing::monthly, 1), (std::vector<std::string>{"2001-02-28"}));
  auto hourly = parse_all({"2000-12-31 22:00", "2000-12-31 23:00"});
  EXPECT_EQ(next_date_labels(hourly, DateSpacing::sub_daily, 1),
            (std::vector<std::string>{"2001-01-01 00:00"}));
  EXPECT_TRUE(next_date_labels(monthly, DateSpacing::irregular, 3).empty());
}
