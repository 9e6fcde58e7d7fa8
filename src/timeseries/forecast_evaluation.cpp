// Train-test split, training, 1-step and rolling H-step errors against the baselines, and the
// forecast past the end.
#include "recur/timeseries/forecast_evaluation.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>

#include "recur/core/checked_size.h"
#include "recur/core/error.h"
#include "recur/timeseries/baselines.h"
#include "recur/timeseries/forecast_metrics.h"
#include "recur/timeseries/multi_step.h"

namespace recur {

namespace {

ForecastErrors errors_of(std::span<const double> actual, std::span<const double> predicted) {
  return {mean_squared_error(actual, predicted), mean_absolute_percentage_error(actual, predicted)};
}

void check_options(std::span<const double> y, const ForecastEvaluationOptions& options) {
  const auto n = static_cast<int64_t>(y.size());
  const int64_t L = options.lags;  // 64-bit: L + 1 below must not wrap
  check_size_range(L, 1, kMaxForecastLags, "forecast: lags");
  check_size_range(options.horizon, 1, kMaxForecastHorizon, "forecast: horizon");
  if (!(options.test_fraction > 0.0 && options.test_fraction < 1.0)) {
    throw ValueError(fmt::format("forecast: test fraction must be in (0, 1), got {}", options.test_fraction));
  }
  if (options.season < 0)
    throw ValueError(fmt::format("forecast: season must be >= 0, got {}", options.season));
  if (n < L + 1) {
    throw ValueError(
        fmt::format("forecast: the series has {} values, fewer than lags + 1 = {} (one window and the "
                    "value after it); use fewer lags",
                    n, L + 1));
  }
  if (options.log) {
    for (int64_t i = 0; i < n; ++i) {
      if (!(y[static_cast<size_t>(i)] > 0.0)) {
        throw ValueError(fmt::format("{}: the log transform needs positive values, but data row {} holds {}",
                                     options.series_name, i + 1, y[static_cast<size_t>(i)]));
      }
    }
  }
}

// The train and test sizes, checked against the lags and the horizon.
ForecastEvaluation split_series(int64_t n, const ForecastEvaluationOptions& options) {
  const int64_t L = options.lags;
  ForecastEvaluation ev;
  ev.test_size = std::max<int64_t>(1, std::llround(static_cast<double>(n) * options.test_fraction));
  ev.train_size = n - ev.test_size;
  if (ev.train_size < L + 1) {
    throw ValueError(
        fmt::format("forecast: the training part has {} values (of {}, test fraction {}), fewer than "
                    "lags + 1 = {}; use fewer lags or a smaller test fraction",
                    ev.train_size, n, options.test_fraction, L + 1));
  }
  if (ev.test_size < options.horizon) {
    throw ValueError(
        fmt::format("forecast: the test part has {} values, fewer than the horizon {}; use a shorter "
                    "horizon or a larger test fraction",
                    ev.test_size, options.horizon));
  }
  ev.has_seasonal = options.season > 0 && ev.train_size >= options.season;
  return ev;
}

// The model trained on the scaled windows labelled in the training part.
Forecaster train_model(std::span<const double> z, const ForecastEvaluationOptions& options,
                       ForecastEvaluation& ev) {
  const int L = options.lags;
  ForecasterConfig config = options.model;
  config.lags = L;
  Rng rng(options.seed);
  Forecaster model(config, rng);
  ev.training = model.fit(make_lag_examples(z, L, L, ev.train_size), options.train, rng);
  return model;
}

// The model runs on the scaled series z (double, checked to fit float) and its forecasts map back
// to the series' units; `name` says whose data it is in messages.
struct ScaledModel {
  Forecaster& model;
  std::span<const double> z;  // [n]: scaler.transform of the series
  const SeriesScaler& scaler;
  const std::string& name;
};

// Forecasts of the same actual values by the model and the two baselines.
struct ForecastPaths {
  std::vector<double> actual, model, naive;
  std::vector<double> seasonal;  // empty without a seasonal baseline
};

void score_paths(const ForecastPaths& paths, std::string_view name, ForecastErrors& model,
                 ForecastErrors& naive, ForecastErrors& seasonal) {
  model = errors_of(paths.actual, paths.model);
  naive = errors_of(paths.actual, paths.naive);
  if (!paths.seasonal.empty()) seasonal = errors_of(paths.actual, paths.seasonal);
  for (double mse : {model.mse, naive.mse, paths.seasonal.empty() ? 0.0 : seasonal.mse})
    if (!std::isfinite(mse))
      throw NumericError(
          fmt::format("{}: the squared forecast errors overflow a double (the values are too large); "
                      "rescale the column",
                      name));
}

// 1-step forecasts of each test value from the observations before it.
ForecastPaths one_step_paths(std::span<const double> y, const ForecastEvaluationOptions& options,
                             const ScaledModel& scaled, const ForecastEvaluation& ev) {
  const auto n_train = static_cast<size_t>(ev.train_size);
  ForecastPaths paths;
  paths.actual.assign(y.begin() + static_cast<std::ptrdiff_t>(n_train), y.end());
  paths.model = scaled.scaler.inverse_all(
      scaled.model.predict(
          make_lag_examples(scaled.z, options.lags, ev.train_size, static_cast<int64_t>(y.size())).features),
      scaled.name + ": 1-step model forecasts of the test part");
  for (size_t i = 0; i < paths.actual.size(); ++i) {
    paths.naive.push_back(y[n_train + i - 1]);
    if (ev.has_seasonal) paths.seasonal.push_back(y[n_train + i - static_cast<size_t>(options.season)]);
  }
  return paths;
}

// Recursive forecasts on the scaled series, in the series' units.
Tensor<double> unscaled_forecasts(const ScaledModel& scaled, int64_t first_origin, int64_t end_origin,
                                  int horizon, const std::string& what) {
  return unscaled_recursive_forecasts(scaled.model, scaled.scaler, scaled.z, scaled.model.config().lags,
                                      first_origin, end_origin, horizon, scaled.name + ": " + what);
}

// H-step forecasts from every origin whose H targets lie in the test part, all H steps of each
// origin in turn; ev.last_step gets the model's H-th step from each origin.
ForecastPaths multi_step_paths(std::span<const double> y, const ForecastEvaluationOptions& options,
                               const ScaledModel& scaled, ForecastEvaluation& ev) {
  const int H = options.horizon;
  const auto n_train = static_cast<size_t>(ev.train_size);
  ev.num_origins = static_cast<int64_t>(y.size()) - H - ev.train_size + 1;
  const Tensor<double> model_paths = unscaled_forecasts(scaled, ev.train_size, ev.train_size + ev.num_origins,
                                                        H, fmt::format("{}-step model forecasts", H));
  ForecastPaths paths;
  for (int64_t i = 0; i < ev.num_origins; ++i) {
    const size_t o = n_train + static_cast<size_t>(i);
    const std::span<const double> history = y.first(o);
    const std::vector<double> nv = naive_forecast(history, H);
    const std::vector<double> sv =
        ev.has_seasonal ? seasonal_naive_forecast(history, options.season, H) : std::vector<double>{};
    for (int h = 0; h < H; ++h) {
      paths.actual.push_back(y[o + static_cast<size_t>(h)]);
      paths.model.push_back(model_paths.at(i, h));
      paths.naive.push_back(nv[static_cast<size_t>(h)]);
      if (ev.has_seasonal) paths.seasonal.push_back(sv[static_cast<size_t>(h)]);
    }
    ev.last_step.push_back(model_paths.at(i, H - 1));
  }
  return paths;
}

// After the data: one origin at n.
void forecast_future(std::span<const double> y, const ForecastEvaluationOptions& options,
                     const ScaledModel& scaled, ForecastEvaluation& ev) {
  const auto n = static_cast<int64_t>(y.size());
  const Tensor<double> future =
      unscaled_forecasts(scaled, n, n + 1, options.horizon, "forecasts after the end of the data");
  ev.future.assign(future.data(), future.data() + future.numel());
  ev.future_naive = naive_forecast(y, options.horizon);
  if (options.season > 0 && n >= options.season)
    ev.future_seasonal = seasonal_naive_forecast(y, options.season, options.horizon);
}

}  // namespace

ForecastEvaluation evaluate_forecaster(std::span<const double> y, const ForecastEvaluationOptions& options) {
  check_options(y, options);
  ForecastEvaluation ev = split_series(static_cast<int64_t>(y.size()), options);
  // Transform fitted on the training part only; every value scaled in double precision.
  ev.scaler = SeriesScaler::fit(y.first(static_cast<size_t>(ev.train_size)), options.log);
  const std::vector<double> z = ev.scaler.transform_all(y, options.series_name);
  Forecaster model = train_model(z, options, ev);
  const ScaledModel scaled{model, z, ev.scaler, options.series_name};
  const ForecastPaths one_step = one_step_paths(y, options, scaled, ev);
  ev.one_step = one_step.model;
  score_paths(one_step, options.series_name, ev.model_one_step, ev.naive_one_step, ev.seasonal_one_step);
  const ForecastPaths multi_step = multi_step_paths(y, options, scaled, ev);
  score_paths(multi_step, options.series_name, ev.model_multi_step, ev.naive_multi_step,
              ev.seasonal_multi_step);
  forecast_future(y, options, scaled, ev);
  return ev;
}

}  // namespace recur
