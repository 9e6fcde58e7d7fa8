// Naive and seasonal-naive forecasts.
#include "recur/timeseries/baselines.h"

#include <fmt/core.h>

#include "recur/core/error.h"

namespace recur {

std::vector<double> naive_forecast(std::span<const double> history, int horizon) {
  if (horizon < 1) throw ValueError(fmt::format("naive_forecast: horizon must be >= 1, got {}", horizon));
  if (history.empty()) throw ValueError("naive_forecast: history is empty");
  return std::vector<double>(static_cast<size_t>(horizon), history.back());
}

std::vector<double> seasonal_naive_forecast(std::span<const double> history, int season, int horizon) {
  if (horizon < 1)
    throw ValueError(fmt::format("seasonal_naive_forecast: horizon must be >= 1, got {}", horizon));
  if (season < 1)
    throw ValueError(fmt::format("seasonal_naive_forecast: season must be >= 1, got {}", season));
  if (history.size() < static_cast<size_t>(season)) {
    throw ValueError(
        fmt::format("seasonal_naive_forecast: history of {} values is shorter than the season {}",
                    history.size(), season));
  }
  const size_t n = history.size();
  const auto s = static_cast<size_t>(season);
  std::vector<double> out(static_cast<size_t>(horizon));
  // With h counted from 1, the value one whole cycle back is n - s + (h-1) mod s (0-based index).
  for (size_t h = 0; h < out.size(); ++h) out[h] = history[n - s + h % s];
  return out;
}

}  // namespace recur
