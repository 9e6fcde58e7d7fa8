// The experiment of d2l 9.1 ("Working with Sequences"): a noisy sine, autoregressive models on the
// tau = 4 previous values, 1-step-ahead predictions, predictions fed back from t = 604 on, and
// k-step-ahead predictions for k = 1, 4, 16, 64, with the mean squared error of each.
//
//   x_t = sin(0.01 t) + eps_t,  eps_t ~ N(0, 0.2^2),  t = 1 .. 1000
//
// Indices below are 0-based positions in the series (position i holds x_{i+1}), as in the book's
// code. The first 600 examples (labels at positions 4 .. 603) train each model; the inputs are
// standardized with the mean and deviation of positions 0 .. 603 (see SeriesScaler) and all errors
// are in the series' own units, so a perfect model of the mean has 1-step MSE = 0.2^2 = 0.04 plus
// what it cannot learn from 4 noisy values.
#pragma once

#include <cstdint>
#include <vector>

#include "recur/core/tensor.h"
#include "recur/timeseries/forecaster.h"
#include "recur/timeseries/series_features.h"

namespace recur {

// The book's series: x at position i is sin(0.01 (i+1)) + N(0, noise_std^2) from `rng`.
[[nodiscard]] std::vector<double> make_noisy_sine(int64_t length, double noise_std, Rng& rng);

struct SyntheticExperimentOptions {
  int64_t length = 1000;         // T
  double noise_std = 0.2;        // standard deviation of eps
  int lags = 4;                  // tau
  int64_t train_examples = 600;  // n_train: examples with labels at positions tau .. tau + n_train - 1
  std::vector<int> k_steps = {1, 4, 16, 64};  // each >= 1; the largest is max_steps
  std::vector<ForecastModel> models = {ForecastModel::kLinear, ForecastModel::kMlp};
  int hidden_size = 10;  // mlp and gru
  ForecastTrainOptions train = {};
  uint64_t seed = 0;  // the series from Rng(seed), model m from Rng(seed + 1 + m)
};

struct SyntheticModelResult {
  ForecastModel model = ForecastModel::kLinear;
  ForecastTrainReport training;
  std::vector<double> one_step;    // [T - tau]: prediction for position tau + i from the observed window
  std::vector<double> multi_step;  // [T - origin]: position origin + i, own predictions fed back
  Tensor<double> k_step;           // [T - tau - max_steps + 1, max_steps]: row i, column k-1 predicts
                                   // position tau + i + k - 1 from observed tau + i - tau .. tau + i - 1
  double one_step_mse = 0.0;       // over all T - tau positions
  double one_step_test_mse = 0.0;  // over positions origin .. T-1 (not used in training)
  double multi_step_mse = 0.0;     // over positions origin .. T-1
  std::vector<double> k_step_mse;  // [k_steps.size()], each over its T - tau - max_steps + 1 rows
};

struct SyntheticExperiment {
  SyntheticExperimentOptions options;
  std::vector<double> series;     // [T]
  int64_t multi_step_origin = 0;  // tau + n_train: the first position predicted from predictions (604)
  std::vector<SyntheticModelResult> results;  // one per options.models, in order
};

// Throws ValueError for options that leave no room (train_examples + tau >= length, a k step past
// the series, a non-positive size, a negative noise).
[[nodiscard]] SyntheticExperiment run_synthetic_experiment(const SyntheticExperimentOptions& options);

}  // namespace recur
