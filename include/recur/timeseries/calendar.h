// Dates in a series' date column: parsing ISO-like stamps, the spacing between rows, the season
// length that spacing implies, and the stamps of the steps after the last row.
//
// Accepted forms: YYYY, YYYY-MM, YYYY-MM-DD, and YYYY-MM-DD followed by 'T' or ' ' and HH:MM[:SS]
// ('/' may stand for '-'). Days count from 1970-01-01 in the proleptic Gregorian calendar
// (H. Hinnant's days_from_civil).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace recur {

enum class DateForm { year, month, day, day_time };

struct DateStamp {
  DateForm form = DateForm::day;
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int seconds_of_day = 0;

  // Days since 1970-01-01 (fractional with a time of day).
  [[nodiscard]] double days() const;
};

// Parses one stamp; nullopt when `text` is not in an accepted form or names no real date.
[[nodiscard]] std::optional<DateStamp> parse_date(std::string_view text);

// How far apart consecutive rows are, from the median gap between them.
enum class DateSpacing { irregular, sub_daily, daily, weekly, monthly, quarterly, yearly };

[[nodiscard]] std::string_view date_spacing_name(DateSpacing spacing);

// The median gap of `dates` (at least two, in increasing order) classified. A median gap in days
// of 1 is daily, 7 weekly, 28..31 monthly, 89..92 quarterly, 365..366 yearly, under 1 sub-daily.
[[nodiscard]] DateSpacing infer_date_spacing(std::span<const DateStamp> dates);

// Steps in one seasonal cycle for a spacing: a year of steps for daily data and slower (365, 52,
// 12, 4, 1), a day of steps for sub-daily data (24 * 3600 / median gap in seconds). nullopt for
// irregular spacing. `dates` supplies the sub-daily gap.
[[nodiscard]] std::optional<int> season_for_spacing(DateSpacing spacing, std::span<const DateStamp> dates);

// Stamps for the `count` steps after the last of `dates`, in the same form, one spacing apart
// (monthly and slower steps move by calendar months). Empty when the spacing is irregular.
[[nodiscard]] std::vector<std::string> next_date_labels(std::span<const DateStamp> dates, DateSpacing spacing,
                                                        int count);

// Formats a stamp in its own form ("1961-01", "1991-01-01", "1991-01-01 06:00").
[[nodiscard]] std::string format_date(const DateStamp& date);

}  // namespace recur
