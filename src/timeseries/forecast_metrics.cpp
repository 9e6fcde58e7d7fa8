// MSE and MAPE.
#include "recur/timeseries/forecast_metrics.h"

#include <fmt/core.h>

#include <cmath>
#include <limits>
#include <string_view>

#include "recur/core/error.h"

namespace recur {

namespace {
void check_pair(std::string_view op, std::span<const double> actual, std::span<const double> predicted) {
  if (actual.size() != predicted.size()) {
    throw ShapeError(
        fmt::format("{}: actual has {} values, predicted {}", op, actual.size(), predicted.size()));
  }
  if (actual.empty()) throw ValueError(fmt::format("{}: no values", op));
}
}  // namespace

double mean_squared_error(std::span<const double> actual, std::span<const double> predicted) {
  check_pair("mean_squared_error", actual, predicted);
  double sum = 0.0;
  for (size_t i = 0; i < actual.size(); ++i) sum += (actual[i] - predicted[i]) * (actual[i] - predicted[i]);
  return sum / static_cast<double>(actual.size());
}

double mean_absolute_percentage_error(std::span<const double> actual, std::span<const double> predicted) {
  check_pair("mean_absolute_percentage_error", actual, predicted);
  double sum = 0.0;
  size_t counted = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    if (actual[i] == 0.0) continue;
    sum += std::abs(actual[i] - predicted[i]) / std::abs(actual[i]);
    ++counted;
  }
  return counted == 0 ? std::numeric_limits<double>::quiet_NaN() : 100.0 * sum / static_cast<double>(counted);
}

}  // namespace recur
