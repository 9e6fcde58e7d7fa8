// Train-test split, training, 1-step and rolling H-step errors against the baselines, and the
// forecast past the end.
#include "recur/timeseries/forecast_evaluation.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "recur/core/error.h"
#include "recur/timeseries/baselines.h"
#include "recur/timeseries/forecast_metrics.h"
#include "recur/timeseries/multi_step.h"

namespace recur {

namespace {

ForecastErrors errors_of(std::span<const double> actual, std::span<const double> predicted) {
  return {mean_squared_error(actual, predicted), mean_absolute_percentage_error(actual, predicted)};
}

}  // namespace

ForecastEvaluation evaluate_forecaster(std::span<const double> y, const ForecastEvaluationOptions& options) {
  const auto n = static_cast<int64_t>(y.size());
  const int L = options.lags;
  const int H = options.horizon;
  if (L < 1) throw ValueError(fmt::format("forecast: lags must be >= 1, got {}", L));
  if (H < 1) throw ValueError(fmt::format("forecast: horizon must be >= 1, got {}", H));
  if (!(options.test_fraction > 0.0 && options.test_fraction < 1.0)) {
    throw ValueError(fmt::format("forecast: test fraction must be in (0, 1), got {}", options.test_fraction));
  }
  if (options.season < 0) throw ValueError(fmt::format("forecast: season must be >= 0, got {}", options.season));
  if (n < L + 1) {
    throw ValueError(fmt::format("forecast: the series has {} values, fewer than lags + 1 = {} (one window and the "
                                 "value after it); use fewer lags",
                                 n, L + 1));
  }
  if (options.log) {
    for (int64_t i = 0; i < n; ++i) {
      if (!(y[static_cast<size_t>(i)] > 0.0)) {
        throw ValueError(fmt::format("forecast: the log transform needs positive values, but data row {} holds {}",
                                     i + 1, y[static_cast<size_t>(i)]));
      }
    }
  }

  ForecastEvaluation ev;
  ev.test_size = std::max<int64_t>(1, std::llround(static_cast<double>(n) * options.test_fraction));
  ev.train_size = n - ev.test_size;
  if (ev.train_size < L + 1) {
    throw ValueError(fmt::format("forecast: the training part has {} values (of {}, test fraction {}), fewer than "
                                 "lags + 1 = {}; use fewer lags or a smaller test fraction",
                                 ev.train_size, n, options.test_fraction, L + 1));
  }
  if (ev.test_size < H) {
    throw ValueError(fmt::format("forecast: the test part has {} values, fewer than the horizon {}; use a shorter "
                                 "horizon or a larger test fraction",
                                 ev.test_size, H));
  }
  const auto n_train = static_cast<size_t>(ev.train_size);
  const int S = options.season;
  ev.has_seasonal = S > 0 && ev.train_size >= S;

  // Transform fitted on the training part, model trained on windows labelled in it.
  ev.scaler = SeriesScaler::fit(y.first(n_train), options.log);
  std::vector<double> z(y.size());
  std::transform(y.begin(), y.end(), z.begin(), [&](double v) { return ev.scaler.transform(v); });
  ForecasterConfig config = options.model;
  config.lags = L;
  Rng rng(options.seed);
  Forecaster model(config, rng);
  ev.training = model.fit(make_lag_examples(z, L, L, ev.train_size), options.train, rng);
  ScaledForecaster scaled{model, ev.scaler};

  // 1-step errors on the test part.
  const std::span<const double> test = y.subspan(n_train);
  ev.one_step = scaled.predict(make_lag_examples(y, L, ev.train_size, n).features);
  std::vector<double> naive(test.size()), seasonal(test.size());
  for (size_t i = 0; i < test.size(); ++i) {
    naive[i] = y[n_train + i - 1];
    if (ev.has_seasonal) seasonal[i] = y[n_train + i - static_cast<size_t>(S)];
  }
  ev.model_one_step = errors_of(test, ev.one_step);
  ev.naive_one_step = errors_of(test, naive);
  if (ev.has_seasonal) ev.seasonal_one_step = errors_of(test, seasonal);

  // H-step errors from every origin whose H targets lie in the test part.
  ev.num_origins = n - H - ev.train_size + 1;
  const Tensor<double> paths = recursive_forecasts(scaled, y, L, ev.train_size, ev.train_size + ev.num_origins, H);
  std::vector<double> actual, model_path, naive_path, seasonal_path;
  for (int64_t i = 0; i < ev.num_origins; ++i) {
    const size_t o = n_train + static_cast<size_t>(i);
    const std::span<const double> history = y.first(o);
    const std::vector<double> nv = naive_forecast(history, H);
    const std::vector<double> sv = ev.has_seasonal ? seasonal_naive_forecast(history, S, H) : std::vector<double>{};
    for (int h = 0; h < H; ++h) {
      actual.push_back(y[o + static_cast<size_t>(h)]);
      model_path.push_back(paths.at(i, h));
      naive_path.push_back(nv[static_cast<size_t>(h)]);
      if (ev.has_seasonal) seasonal_path.push_back(sv[static_cast<size_t>(h)]);
    }
    ev.last_step.push_back(paths.at(i, H - 1));
  }
  ev.model_multi_step = errors_of(actual, model_path);
  ev.naive_multi_step = errors_of(actual, naive_path);
  if (ev.has_seasonal) ev.seasonal_multi_step = errors_of(actual, seasonal_path);

  // After the data: one origin at n.
  const Tensor<double> future = recursive_forecasts(scaled, y, L, n, n + 1, H);
  ev.future.assign(future.data(), future.data() + future.numel());
  ev.future_naive = naive_forecast(y, H);
  if (S > 0 && n >= S) ev.future_seasonal = seasonal_naive_forecast(y, S, H);
  return ev;
}

}  // namespace recur
