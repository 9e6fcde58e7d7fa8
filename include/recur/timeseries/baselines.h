// Forecasts that need no training, the yardsticks a model must beat (Hyndman and Athanasopoulos,
// "Forecasting: Principles and Practice", 5.2):
//   naive:           yhat_{T+h} = y_T
//   seasonal naive:  yhat_{T+h} = y_{T+h-S(k+1)}, k = floor((h-1)/S), the same season one cycle ago
// where y_1..y_T is the history and S the season length.
#pragma once

#include <span>
#include <vector>

namespace recur {

// `horizon` values after `history` (horizon >= 1, history non-empty; else ValueError).
[[nodiscard]] std::vector<double> naive_forecast(std::span<const double> history, int horizon);
// Needs season >= 1 and at least `season` values of history (else ValueError).
[[nodiscard]] std::vector<double> seasonal_naive_forecast(std::span<const double> history, int season,
                                                          int horizon);

}  // namespace recur
