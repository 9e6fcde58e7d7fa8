// Train-test evaluation of a forecaster on a real series against the naive and seasonal-naive
// baselines, and the forecast past the end of the data.
//
// Split: the last round(n * test_fraction) values (at least 1) are the test part, the first
// n_train the training part. The transform (optional natural log, then standardization) is fitted
// on the training part only, the model trained on the windows whose label lies in it.
//
// Errors, all in the series' own units:
//   1-step:  for each test time t, the forecast of y_t from the observed y_{t-L} .. y_{t-1}
//            (baselines: naive y_{t-1}, seasonal naive y_{t-S}).
//   H-step:  for each origin o in [n_train, n - H] (rolling origin), the recursive forecasts of
//            y_o .. y_{o+H-1} from the observations before o (model: predictions fed back; the
//            baselines as in recur/timeseries/baselines.h); the error averages all H steps of all
//            origins.
// The forecast after the data runs the trained model from the end of the whole series.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "recur/timeseries/forecaster.h"
#include "recur/timeseries/series_features.h"

namespace recur {

inline constexpr int kMaxForecastHorizon = 100'000;

struct ForecastEvaluationOptions {
  int lags = 12;                // L, in [1, kMaxForecastLags]
  int horizon = 12;             // H, in [1, kMaxForecastHorizon]
  double test_fraction = 0.2;   // in (0, 1)
  bool log = false;             // model log(y) (needs y > 0); errors stay in y's units
  int season = 0;               // S for the seasonal-naive baseline; 0 = none
  ForecasterConfig model = {};  // lags is taken from `lags`
  ForecastTrainOptions train = {};
  uint64_t seed = 0;                       // model initialization and shuffling: Rng(seed)
  std::string series_name = "the series";  // names the data in messages: "file.csv, column 'x'"
};

struct ForecastErrors {
  double mse = 0.0;
  double mape = 0.0;  // percent; NaN when every actual value is 0
};

struct ForecastEvaluation {
  int64_t train_size = 0;  // n_train
  int64_t test_size = 0;   // n - n_train
  SeriesScaler scaler;
  ForecastTrainReport training;
  bool has_seasonal = false;  // false when season is 0 or longer than the training part

  ForecastErrors model_one_step, naive_one_step, seasonal_one_step;
  int64_t num_origins = 0;  // n - H - n_train + 1
  ForecastErrors model_multi_step, naive_multi_step, seasonal_multi_step;

  std::vector<double> one_step;         // [test_size]: the model's 1-step forecasts of y at n_train + i
  std::vector<double> last_step;        // [num_origins]: the model's H-th step from origin n_train + i,
                                        // a forecast of y at n_train + i + H - 1
  std::vector<double> future;           // [H]: the model's forecast of y at n .. n + H - 1
  std::vector<double> future_naive;     // [H]
  std::vector<double> future_seasonal;  // [H] (empty without a season)
};

// Throws ValueError naming the numbers for lags or horizon out of range, a test fraction outside (0, 1), a
// series shorter than lags + 1, a training part shorter than lags + 1, a test part shorter than the
// horizon, and (with log) a value that is not positive, naming its position. Throws NumericError
// naming series_name and the data row or forecast when a value, its scaled form (double, then the
// models' float), a forecast or an error is not finite.
[[nodiscard]] ForecastEvaluation evaluate_forecaster(std::span<const double> series,
                                                     const ForecastEvaluationOptions& options);

}  // namespace recur
