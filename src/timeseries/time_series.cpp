// Building a TimeSeries from CSV columns.
#include "recur/timeseries/time_series.h"

#include <fmt/core.h>

#include "recur/core/error.h"

namespace recur {

TimeSeries make_time_series(const CsvTable& table, std::string_view value_column,
                            std::optional<std::string_view> date_column) {
  TimeSeries series;
  series.source = table.source;
  series.values = csv_numeric_column(table, value_column);
  series.value_column = table.header[static_cast<size_t>(csv_column_index(table, value_column))];
  series.lines = table.row_lines;
  if (series.values.empty()) {
    throw ValueError(fmt::format("{}: no data rows after the header", table.source));
  }
  if (date_column) {
    const auto column = static_cast<size_t>(csv_column_index(table, *date_column));
    series.date_column = table.header[column];
    for (size_t r = 0; r < table.rows.size(); ++r) {
      const std::string& cell = table.rows[r][column];
      auto date = parse_date(cell);
      if (!date) {
        throw ValueError(
            fmt::format("{}: data row {} (line {}), column '{}': '{}' is not a date (expected YYYY, YYYY-MM, "
                        "YYYY-MM-DD or "
                        "YYYY-MM-DD HH:MM[:SS])",
                        table.source, r + 1, table.row_lines[r], series.date_column, cell));
      }
      if (!series.dates.empty() && date->days() <= series.dates.back().days()) {
        throw ValueError(
            fmt::format("{}: data row {} (line {}), column '{}': date '{}' is not after the row before",
                        table.source, r + 1, table.row_lines[r], series.date_column, cell));
      }
      series.dates.push_back(*date);
    }
    series.spacing = infer_date_spacing(series.dates);
  }
  return series;
}

SeasonChoice choose_season(const TimeSeries& series, std::optional<int> requested) {
  if (requested) {
    if (*requested < 0) throw ValueError(fmt::format("season must be >= 0 (0 = none), got {}", *requested));
    return {*requested, "--season"};
  }
  if (!series.dates.empty()) {
    if (auto season = season_for_spacing(series.spacing, series.dates)) {
      return {*season, fmt::format("{} dates", date_spacing_name(series.spacing))};
    }
    return {kDefaultSeason, fmt::format("default; the dates are {}", date_spacing_name(series.spacing))};
  }
  return {kDefaultSeason, "default"};
}

}  // namespace recur
