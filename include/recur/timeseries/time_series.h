// A univariate series read from a CSV column, with the optional date column beside it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "recur/timeseries/calendar.h"
#include "recur/timeseries/csv.h"

namespace recur {

struct TimeSeries {
  std::string source;            // file the series came from
  std::string value_column;      // header name of the values
  std::vector<double> values;    // [n]
  std::vector<int64_t> lines;    // [n]: line in the file of each value (for messages)
  std::string date_column;       // empty without a date column
  std::vector<DateStamp> dates;  // [n] with a date column, else empty
  DateSpacing spacing = DateSpacing::irregular;

  [[nodiscard]] int64_t size() const { return static_cast<int64_t>(values.size()); }
};

// Takes `value_column` (numbers) and, when given, `date_column` (stamps parse_date accepts, strictly
// increasing) from `table`. Throws ValueError naming the source, row, line, column and cell for a
// cell that does not parse or a date not after the one before, and for a table with no data rows.
[[nodiscard]] TimeSeries make_time_series(const CsvTable& table, std::string_view value_column,
                                          std::optional<std::string_view> date_column = std::nullopt);

// The season length S for the seasonal-naive baseline and where it came from.
struct SeasonChoice {
  int season = 0;      // 0 = no seasonal baseline
  std::string source;  // "--season", "monthly dates", "default"
};

// `requested` when given (>= 0, else ValueError); otherwise from the spacing of the dates
// (season_for_spacing: 12 for monthly, 365 for daily, ...); otherwise kDefaultSeason.
inline constexpr int kDefaultSeason = 12;
[[nodiscard]] SeasonChoice choose_season(const TimeSeries& series, std::optional<int> requested);

}  // namespace recur
