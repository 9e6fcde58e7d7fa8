// Building the forecasting charts from experiment results.
#include "recur/timeseries/forecast_charts.h"

#include <fmt/core.h>

#include "recur/core/error.h"

namespace recur {

namespace {

const SyntheticModelResult& result_at(const SyntheticExperiment& ex, size_t index) {
  if (index >= ex.results.size()) {
    throw ValueError(
        fmt::format("synthetic chart: result index {} out of range [0, {})", index, ex.results.size()));
  }
  return ex.results[index];
}

// Series of y against 1-based times first + 1 .. first + y.size().
Series series_from(std::string name, std::span<const double> y, int64_t first,
                   LineStyle style = LineStyle::kSolid) {
  Series s{.name = std::move(name), .style = style};
  for (size_t i = 0; i < y.size(); ++i) {
    s.x.push_back(static_cast<double>(first + static_cast<int64_t>(i) + 1));
    s.y.push_back(y[i]);
  }
  return s;
}

}  // namespace

namespace {

// An empty chart of x over time titled "<model> model, tau = <lags>: <what>".
Chart synthetic_chart(const SyntheticExperiment& ex, const SyntheticModelResult& r, std::string_view what) {
  return Chart{
      .title = fmt::format("{} model, tau = {}: {}", forecast_model_name(r.model), ex.options.lags, what),
      .x_axis = {.label = "time"},
      .y_axis = {.label = "x"}};
}

}  // namespace

Chart synthetic_predictions_chart(const SyntheticExperiment& ex, size_t index) {
  const SyntheticModelResult& r = result_at(ex, index);
  Chart chart = synthetic_chart(ex, r, "1-step and multi-step predictions");
  chart.series.push_back(series_from("data", ex.series, 0));
  chart.series.push_back(series_from("1-step preds", r.one_step, ex.options.lags));
  chart.series.push_back(series_from(fmt::format("multistep preds (from t = {})", ex.multi_step_origin + 1),
                                     r.multi_step, ex.multi_step_origin, LineStyle::kDashed));
  return chart;
}

Chart synthetic_k_step_chart(const SyntheticExperiment& ex, size_t index) {
  const SyntheticModelResult& r = result_at(ex, index);
  Chart chart = synthetic_chart(ex, r, "k-step-ahead predictions");
  const int64_t rows = r.k_step.shape()[0];
  for (int k : ex.options.k_steps) {
    std::vector<double> column(static_cast<size_t>(rows));
    for (int64_t i = 0; i < rows; ++i) column[static_cast<size_t>(i)] = r.k_step.at(i, k - 1);
    chart.series.push_back(series_from(fmt::format("{}-step preds", k), column, ex.options.lags + k - 1));
  }
  return chart;
}

Chart evaluation_chart(std::span<const double> series, const ForecastEvaluation& ev, const std::string& title,
                       const std::string& value_label, int horizon) {
  Chart chart{.title = title, .x_axis = {.label = "step"}, .y_axis = {.label = value_label}};
  const auto n = static_cast<int64_t>(series.size());
  chart.series.push_back(series_from("data", series, 0));
  chart.series.push_back(series_from("1-step forecast (test)", ev.one_step, ev.train_size));
  if (horizon > 1) {
    chart.series.push_back(series_from(fmt::format("{}-step forecast (test)", horizon), ev.last_step,
                                       ev.train_size + horizon - 1, LineStyle::kDashed));
  }
  chart.series.push_back(series_from("forecast", ev.future, n));
  chart.series.push_back(series_from("naive", ev.future_naive, n, LineStyle::kDashed));
  if (!ev.future_seasonal.empty()) {
    chart.series.push_back(series_from("seasonal naive", ev.future_seasonal, n, LineStyle::kDashed));
  }
  for (Series& s : chart.series) s.has_markers = s.x.size() <= 1;
  return chart;
}

}  // namespace recur
