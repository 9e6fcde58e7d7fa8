// d2l 9.1's experiment: data, training, 1-step, multi-step and k-step predictions, and their errors.
#include "recur/timeseries/synthetic_experiment.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "recur/core/checked_size.h"
#include "recur/core/error.h"
#include "recur/timeseries/forecast_metrics.h"
#include "recur/timeseries/multi_step.h"

namespace recur {

std::vector<double> make_noisy_sine(int64_t length, double noise_std, Rng& rng) {
  if (length < 1) throw ValueError(fmt::format("make_noisy_sine: length must be >= 1, got {}", length));
  if (!(noise_std >= 0.0) || !std::isfinite(noise_std)) {
    throw ValueError(fmt::format("make_noisy_sine: noise_std must be finite and >= 0, got {}", noise_std));
  }
  std::vector<double> x(static_cast<size_t>(length));
  for (int64_t i = 0; i < length; ++i) {
    x[static_cast<size_t>(i)] = std::sin(0.01 * static_cast<double>(i + 1)) + rng.normal(0.0, noise_std);
  }
  return x;
}

SyntheticExperiment run_synthetic_experiment(const SyntheticExperimentOptions& options) {
  const int64_t T = options.length;
  const int tau = options.lags;
  check_size_range(tau, 1, kMaxForecastLags, "synthetic experiment: lags");
  if (options.train_examples < 1 || options.train_examples + tau >= T) {
    throw ValueError(
        fmt::format("synthetic experiment: need 1 <= train_examples < length - lags, got {} with "
                    "length {} and lags {}",
                    options.train_examples, T, tau));
  }
  if (options.k_steps.empty()) throw ValueError("synthetic experiment: k_steps is empty");
  const int max_steps = *std::max_element(options.k_steps.begin(), options.k_steps.end());
  for (int k : options.k_steps) {
    if (k < 1) throw ValueError(fmt::format("synthetic experiment: every k step must be >= 1, got {}", k));
  }
  if (int64_t{tau} + max_steps > T) {
    throw ValueError(fmt::format(
        "synthetic experiment: the largest k step {} plus lags {} exceeds the length {}", max_steps, tau, T));
  }

  SyntheticExperiment ex;
  ex.options = options;
  Rng data_rng(options.seed);
  ex.series = make_noisy_sine(T, options.noise_std, data_rng);
  ex.multi_step_origin = tau + options.train_examples;
  const std::span<const double> x = ex.series;
  const auto origin = static_cast<size_t>(ex.multi_step_origin);

  // Standardize with the training part (positions 0 .. origin-1) only.
  const SeriesScaler scaler = SeriesScaler::fit(x.first(origin), /*log=*/false);
  const std::vector<double> z = scaler.transform_all(x, "synthetic series");
  const LagExamples train = make_lag_examples(z, tau, tau, ex.multi_step_origin);

  for (ForecastModel kind : options.models) {
    SyntheticModelResult r;
    r.model = kind;
    Rng rng(options.seed + 1 + static_cast<uint64_t>(kind));
    Forecaster model({.model = kind, .lags = tau, .hidden_size = options.hidden_size}, rng);
    r.training = model.fit(train, options.train, rng);

    // 1-step: every window of observed values.
    r.one_step = scaler.inverse_all(model.predict(make_lag_examples(z, tau, tau, T).features),
                                    "synthetic experiment: 1-step forecasts");
    r.one_step_mse = mean_squared_error(x.subspan(static_cast<size_t>(tau)), r.one_step);
    r.one_step_test_mse = mean_squared_error(
        x.subspan(origin), std::span<const double>(r.one_step).subspan(origin - static_cast<size_t>(tau)));

    // Multi-step: one origin, predictions fed back to the end of the series.
    const Tensor<double> path = unscaled_recursive_forecasts(
        model, scaler, z, tau, ex.multi_step_origin, ex.multi_step_origin + 1,
        static_cast<int>(T - ex.multi_step_origin), "synthetic experiment: multi-step");
    r.multi_step.assign(path.data(), path.data() + path.numel());
    r.multi_step_mse = mean_squared_error(x.subspan(origin), r.multi_step);

    // k-step: origins tau .. T - max_steps, each run max_steps steps ahead.
    r.k_step = unscaled_recursive_forecasts(model, scaler, z, tau, tau, T - max_steps + 1, max_steps,
                                            "synthetic experiment: k-step");
    const int64_t rows = r.k_step.shape()[0];
    for (int k : options.k_steps) {
      std::vector<double> predicted(static_cast<size_t>(rows));
      for (int64_t i = 0; i < rows; ++i) predicted[static_cast<size_t>(i)] = r.k_step.at(i, k - 1);
      r.k_step_mse.push_back(mean_squared_error(
          x.subspan(static_cast<size_t>(tau + k - 1), static_cast<size_t>(rows)), predicted));
    }
    ex.results.push_back(std::move(r));
  }
  return ex;
}

}  // namespace recur
