// The figures of the forecasting experiments as Charts (recur/io/svg_plot.h), like d2l 9.1's: the data with
// the 1-step and multi-step predictions, the k-step-ahead curves, and a real series with its test
// forecasts and the forecast past its end.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "recur/io/svg_plot.h"
#include "recur/timeseries/forecast_evaluation.h"
#include "recur/timeseries/synthetic_experiment.h"

namespace recur {

// x = time t (1-based), y = x_t: the data, the 1-step predictions and the multi-step predictions of
// ex.results[index] (ValueError for an index out of range).
[[nodiscard]] Chart synthetic_predictions_chart(const SyntheticExperiment& ex, size_t index);

// One curve per k: the k-step-ahead predictions of ex.results[index] over the time they predict.
[[nodiscard]] Chart synthetic_k_step_chart(const SyntheticExperiment& ex, size_t index);

// x = step index (1-based), y = the series: the data, the model's 1-step and H-th-step test
// forecasts, and the forecasts after the end (model, naive, and seasonal naive when present).
[[nodiscard]] Chart evaluation_chart(std::span<const double> series, const ForecastEvaluation& ev,
                                     const std::string& title, const std::string& value_label, int horizon);

}  // namespace recur
