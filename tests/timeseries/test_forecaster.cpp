// Forecasters (closed-form forwards with set weights, training on a known rule), recursive
// multi-step forecasts with a fixed rule, the d2l 9.1 experiment's qualitative result, and the
// evaluation on the airline series against the baselines.
// GCC 12 at -O3 reports the std::string inside ForecastTrainOptions as maybe-uninitialized when
// ForecastEvaluationOptions is built from designated initializers in these tests (a false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "expect_error.h"
#include "recur/autograd/graph.h"
#include "recur/core/error.h"
#include "recur/timeseries/csv.h"
#include "recur/timeseries/forecast_charts.h"
#include "recur/timeseries/forecast_evaluation.h"
#include "recur/timeseries/forecaster.h"
#include "recur/timeseries/multi_step.h"
#include "recur/timeseries/synthetic_experiment.h"
#include "recur/timeseries/time_series.h"
#include "test_support.h"

using namespace recur;

namespace {

void set_values(Forecaster& f, const std::string& name, std::vector<float> values) {
  auto view = f.parameters().value(name);
  ASSERT_EQ(view.numel(), static_cast<int64_t>(values.size())) << name;
  std::copy(values.begin(), values.end(), view.data);
}

Tensor<float> windows_of(std::vector<float> values, int64_t cols) {
  const auto rows = static_cast<int64_t>(values.size()) / cols;
  return Tensor<float>(Shape{rows, cols}, std::move(values));
}

// Predicts mean(window) + 1: easy to follow by hand through the recursion.
struct MeanPlusOne {
  int calls = 0;
  std::vector<double> predict(const Tensor<float>& w) {
    ++calls;
    std::vector<double> out;
    for (int64_t r = 0; r < w.shape()[0]; ++r) {
      double s = 0;
      for (int64_t j = 0; j < w.shape()[1]; ++j) s += w.at(r, j);
      out.push_back(s / static_cast<double>(w.shape()[1]) + 1.0);
    }
    return out;
  }
};

}  // namespace

TEST(Forecaster, ModelNamesRoundTrip) {
  for (auto m : {ForecastModel::kLinear, ForecastModel::kMlp, ForecastModel::kGru}) {
    EXPECT_EQ(parse_forecast_model(forecast_model_name(m)), m);
  }
  try {
    (void)parse_forecast_model("arima");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("linear, mlp, gru"), std::string::npos);
  }
}

TEST(Forecaster, LinearForwardIsDotPlusBias) {
  Rng rng(1);
  Forecaster f({.model = ForecastModel::kLinear, .lags = 3}, rng);
  set_values(f, "linear.weight", {0.5f, -1.0f, 2.0f});
  set_values(f, "linear.bias", {0.25f});
  auto y = f.predict(windows_of({1, 2, 3, 0, 0, 1}, 3));
  ASSERT_EQ(y.size(), 2u);
  EXPECT_FLOAT_EQ(y[0], 0.5f - 2.0f + 6.0f + 0.25f);
  EXPECT_FLOAT_EQ(y[1], 2.0f + 0.25f);
}

TEST(Forecaster, MlpForwardMatchesHandComputation) {
  Rng rng(2);
  Forecaster f({.model = ForecastModel::kMlp, .lags = 2, .hidden_size = 2}, rng);
  set_values(f, "hidden.weight", {1.0f, 1.0f, 1.0f, -1.0f});  // rows: x1 + x2, x1 - x2
  set_values(f, "hidden.bias", {0.0f, -0.5f});
  set_values(f, "output.weight", {2.0f, 3.0f});
  set_values(f, "output.bias", {0.1f});
  auto y = f.predict(windows_of({1, 2, 3, 1}, 2));
  // Row 1: h = relu(3, -1.5) = (3, 0) -> 6.1. Row 2: h = relu(4, 1.5) -> 8 + 4.5 + 0.1.
  EXPECT_FLOAT_EQ(y[0], 6.1f);
  EXPECT_FLOAT_EQ(y[1], 12.6f);
}

TEST(Forecaster, GruReadsTheWindowOldestFirst) {
  // Only the candidate's input weight is non-zero: r = z = sigmoid(0) = 1/2, n_t = tanh(a x_t),
  // h_t = n_t / 2 + h_{t-1} / 2 from h_0 = 0; the output is w h_L + b. Gate order r, z, n.
  Rng rng(3);
  Forecaster f({.model = ForecastModel::kGru, .lags = 3, .hidden_size = 1}, rng);
  const float a = 0.7f;
  set_values(f, "rnn.weight_ih_l0", {0.0f, 0.0f, a});
  set_values(f, "rnn.weight_hh_l0", {0.0f, 0.0f, 0.0f});
  set_values(f, "rnn.bias_ih_l0", {0.0f, 0.0f, 0.0f});
  set_values(f, "rnn.bias_hh_l0", {0.0f, 0.0f, 0.0f});
  set_values(f, "head.weight", {2.0f});
  set_values(f, "head.bias", {-0.5f});
  const std::vector<float> x = {0.3f, -1.0f, 2.0f, 1.0f, 0.0f, 0.0f};
  auto y = f.predict(windows_of(x, 3));
  for (int r = 0; r < 2; ++r) {
    double h = 0;
    for (int t = 0; t < 3; ++t) h = 0.5 * std::tanh(a * x[static_cast<size_t>(r * 3 + t)]) + 0.5 * h;
    EXPECT_NEAR(y[static_cast<size_t>(r)], 2.0 * h - 0.5, 1e-5) << "row " << r;
  }
}

TEST(Forecaster, WrongWindowWidthIsAShapeError) {
  Rng rng(4);
  Forecaster f({.model = ForecastModel::kLinear, .lags = 3}, rng);
  EXPECT_THROW((void)f.predict(windows_of({1, 2}, 2)), ShapeError);
  EXPECT_THROW(Forecaster({.model = ForecastModel::kMlp, .lags = 0}, rng), ValueError);
}

TEST(Forecaster, LinearTrainingRecoversAnExactRule) {
  // y = 0.6 x_{t-1} + 0.3 x_{t-2} - 0.2 on random windows: the squared loss has its minimum there.
  Rng data(5);
  const int64_t N = 256;
  LagExamples ex{Tensor<float>(Shape{N, 2}), Tensor<float>(Shape{N, 1})};
  for (int64_t i = 0; i < N; ++i) {
    ex.features.at(i, 0) = static_cast<float>(data.normal());
    ex.features.at(i, 1) = static_cast<float>(data.normal());
    ex.labels[i] = 0.3f * ex.features.at(i, 0) + 0.6f * ex.features.at(i, 1) - 0.2f;
  }
  Rng rng(6);
  Forecaster f({.model = ForecastModel::kLinear, .lags = 2}, rng);
  auto report = f.fit(ex, {.epochs = 60, .batch_size = 16, .lr = 0.05}, rng);
  ASSERT_EQ(report.epoch_losses.size(), 60u);
  EXPECT_EQ(report.steps, 60 * 16);
  EXPECT_LT(report.epoch_losses.back(), 1e-4);
  EXPECT_LT(report.epoch_losses.back(), report.epoch_losses.front());
  auto w = f.parameters().value("linear.weight");
  EXPECT_NEAR(w[0], 0.3, 0.01);
  EXPECT_NEAR(w[1], 0.6, 0.01);
  EXPECT_NEAR(f.parameters().value("linear.bias")[0], -0.2, 0.01);
}

TEST(Forecaster, SameSeedSameBits) {
  auto run = [] {
    Rng data(7);
    std::vector<double> x(80);
    for (auto& v : x) v = data.normal();
    LagExamples ex = make_lag_examples(x, 3, 3, 80);
    Rng rng(8);
    Forecaster f({.model = ForecastModel::kMlp, .lags = 3, .hidden_size = 5}, rng);
    (void)f.fit(ex, {.epochs = 3, .batch_size = 8}, rng);
    return f.predict(ex.features);
  };
  EXPECT_EQ(run(), run());
}

TEST(Forecaster, BadTrainingOptions) {
  Rng rng(9);
  Forecaster f({.model = ForecastModel::kLinear, .lags = 2}, rng);
  LagExamples ex{Tensor<float>(Shape{4, 2}), Tensor<float>(Shape{4, 1})};
  EXPECT_THROW((void)f.fit(ex, {.epochs = 0}, rng), ValueError);
  EXPECT_THROW((void)f.fit(ex, {.batch_size = 0}, rng), ValueError);
  EXPECT_THROW((void)f.fit(ex, {.optimizer = "lbfgs"}, rng), ValueError);
  LagExamples wrong{Tensor<float>(Shape{4, 3}), Tensor<float>(Shape{4, 1})};
  EXPECT_THROW((void)f.fit(wrong, {}, rng), ShapeError);
  ex.labels[0] = std::nanf("");
  EXPECT_THROW((void)f.fit(ex, {.epochs = 1}, rng), NumericError);
}

TEST(RecursiveForecasts, FeedsPredictionsBack) {
  const std::vector<double> x = {1, 3, 5, 7};
  MeanPlusOne rule;
  // Origins 2 and 3, L = 2, horizon 3. Origin 2: (1, 3) -> 3, (3, 3) -> 4, (3, 4) -> 4.5.
  // Origin 3: (3, 5) -> 5, (5, 5) -> 6, (5, 6) -> 6.5.
  Tensor<double> out = recursive_forecasts(rule, x, 2, 2, 4, 3);
  ASSERT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(std::vector<double>(out.span().begin(), out.span().end()),
            (std::vector<double>{3, 4, 4.5, 5, 6, 6.5}));
  EXPECT_EQ(rule.calls, 3);  // one batched call per step, all origins at once
  // Past the end: origin 4 = x.size().
  Tensor<double> future = recursive_forecasts(rule, x, 2, 4, 5, 2);
  EXPECT_EQ(std::vector<double>(future.span().begin(), future.span().end()), (std::vector<double>{7, 8}));
  EXPECT_THROW((void)recursive_forecasts(rule, x, 2, 1, 3, 1), ValueError);
  EXPECT_THROW((void)recursive_forecasts(rule, x, 2, 2, 6, 1), ValueError);
  EXPECT_THROW((void)recursive_forecasts(rule, x, 2, 2, 3, 0), ValueError);
}

TEST(SyntheticExperiment, ReproducesTheBooksResult) {
  SyntheticExperiment ex = run_synthetic_experiment({});
  ASSERT_EQ(ex.series.size(), 1000u);
  EXPECT_EQ(ex.multi_step_origin, 604);
  ASSERT_EQ(ex.results.size(), 2u);
  for (const auto& r : ex.results) {
    SCOPED_TRACE(std::string(forecast_model_name(r.model)));
    EXPECT_EQ(r.one_step.size(), 996u);
    EXPECT_EQ(r.multi_step.size(), 396u);
    EXPECT_EQ(r.k_step.shape(), (Shape{933, 64}));
    // 1-step error near the noise variance 0.2^2 = 0.04 (a little above: 4 noisy inputs).
    EXPECT_GT(r.one_step_mse, 0.03);
    EXPECT_LT(r.one_step_mse, 0.07);
    EXPECT_LT(r.one_step_test_mse, 0.07);
    EXPECT_NEAR(r.k_step_mse[0], r.one_step_mse, 0.01);
    // The k-step error rises with k, and feeding predictions back drifts far from the data.
    for (size_t k = 1; k < r.k_step_mse.size(); ++k)
      EXPECT_GT(r.k_step_mse[k], r.k_step_mse[k - 1]) << "k index " << k;
    EXPECT_GT(r.k_step_mse.back(), 3.0 * r.k_step_mse.front());
    EXPECT_GT(r.multi_step_mse, 3.0 * r.one_step_test_mse);
  }
  // The k = 1 column is the 1-step prediction.
  EXPECT_DOUBLE_EQ(ex.results[0].k_step.at(10, 0), ex.results[0].one_step[10]);
  // The charts hold what they say.
  Chart c = synthetic_predictions_chart(ex, 0);
  ASSERT_EQ(c.series.size(), 3u);
  EXPECT_EQ(c.series[2].x.front(), 605.0);
  Chart k = synthetic_k_step_chart(ex, 1);
  ASSERT_EQ(k.series.size(), 4u);
  EXPECT_EQ(k.series[3].x.front(), 4.0 + 64.0);
  EXPECT_THROW((void)synthetic_k_step_chart(ex, 2), ValueError);
}

TEST(SyntheticExperiment, SameSeedSameSeries) {
  Rng a(3), b(3);
  EXPECT_EQ(make_noisy_sine(50, 0.2, a), make_noisy_sine(50, 0.2, b));
  EXPECT_THROW((void)run_synthetic_experiment({.length = 100}), ValueError);  // 600 examples do not fit
}

TEST(ForecastEvaluation, AirlineModelBeatsNaive) {
  CsvTable t = read_csv(test::shared_data_dir() / "timeseries" / "airline-passengers.csv");
  TimeSeries s = make_time_series(t, "Passengers", "Month");
  ForecastEvaluationOptions options;
  options.lags = 12;
  options.horizon = 12;
  options.log = true;
  options.season = choose_season(s, std::nullopt).season;
  ForecastEvaluation ev = evaluate_forecaster(s.values, options);
  EXPECT_EQ(ev.test_size, 29);
  EXPECT_EQ(ev.train_size, 115);
  EXPECT_EQ(ev.num_origins, 18);
  EXPECT_TRUE(ev.has_seasonal);
  EXPECT_LT(ev.model_one_step.mse, ev.naive_one_step.mse);
  EXPECT_LT(ev.model_one_step.mape, ev.naive_one_step.mape);
  EXPECT_LT(ev.model_multi_step.mse, ev.naive_multi_step.mse);
  EXPECT_LT(ev.model_multi_step.mse, ev.seasonal_multi_step.mse);
  EXPECT_EQ(ev.future.size(), 12u);
  EXPECT_EQ(ev.future_seasonal.front(), 417.0);  // 1960-01
  EXPECT_EQ(ev.future_naive.front(), 432.0);     // 1960-12
  // The test part's naive 1-step error, by hand from the file: mean of (y_t - y_{t-1})^2.
  double naive = 0;
  for (size_t i = 115; i < 144; ++i) naive += std::pow(s.values[i] - s.values[i - 1], 2);
  EXPECT_NEAR(ev.naive_one_step.mse, naive / 29, 1e-9);
}

TEST(ForecastEvaluation, BadOptionsNameTheNumbers) {
  const std::vector<double> y(20, 1.0);
  auto message = [&](ForecastEvaluationOptions o) {
    try {
      (void)evaluate_forecaster(y, o);
    } catch (const ValueError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({.lags = 2, .horizon = 0}).find("horizon must be >= 1, got 0"), std::string::npos);
  EXPECT_NE(message({.lags = 20}).find("20 values, fewer than lags + 1 = 21"), std::string::npos);
  EXPECT_NE(message({.lags = 16, .horizon = 1}).find("training part has 16 values"), std::string::npos);
  EXPECT_NE(message({.lags = 2, .horizon = 5}).find("test part has 4 values, fewer than the horizon 5"),
            std::string::npos);
  EXPECT_NE(message({.lags = 2, .horizon = 1, .test_fraction = 1.0}).find("test fraction"),
            std::string::npos);
  std::vector<double> with_zero(20, 1.0);
  with_zero[6] = 0.0;
  EXPECT_THROW((void)evaluate_forecaster(with_zero, {.lags = 2, .horizon = 1, .log = true}), ValueError);
  // L + 1 wrapped in int: 2^31 - 1 lags passed every check and sized the model from it.
  EXPECT_NE(message({.lags = 2147483647}).find("lags must be <= 10000, got 2147483647"), std::string::npos);
  EXPECT_NE(message({.lags = 2, .horizon = 2147483647}).find("horizon must be <= 100000"), std::string::npos);
  Rng rng(0);
  EXPECT_THROW(Forecaster({.model = ForecastModel::kMlp, .lags = 4, .hidden_size = 1 << 30}, rng),
               ValueError);
  SyntheticExperimentOptions synthetic;
  synthetic.lags = 2147483647;
  EXPECT_THROW((void)run_synthetic_experiment(synthetic), ValueError);
}

// One value of 1e300 made every error and forecast NaN (float windows in the series' units, and a
// sum of squares that overflowed); now scaling is in double and anything non-finite is named.
TEST(ForecastEvaluation, HugeValuesFailByNameInsteadOfNan) {
  std::vector<double> y(40);
  for (size_t i = 0; i < y.size(); ++i) y[i] = 10.0 + std::sin(0.5 * static_cast<double>(i));
  ForecastEvaluationOptions o{.lags = 2, .horizon = 2, .series_name = "s.csv, column 'v'"};
  o.train.epochs = 2;
  y[37] = 1e300;  // in the test part: scaled by the training part, it is far past float's range
  test::expect_error_words<NumericError>([&] { (void)evaluate_forecaster(y, o); },
                                         {"s.csv, column 'v': data row 38: value 1e+300"});
  y[37] = 10.0;
  y[5] = 1e300;  // in the training part: the scaler stays finite, the squared errors overflow
  test::expect_error_words<NumericError>([&] { (void)evaluate_forecaster(y, o); }, {"s.csv, column 'v'"});
}
