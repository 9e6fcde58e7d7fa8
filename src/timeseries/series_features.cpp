// Lag windows and the series scaler.
#include "recur/timeseries/series_features.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "recur/core/error.h"

namespace recur {

LagExamples make_lag_examples(std::span<const double> series, int lags, int64_t first, int64_t end) {
  const auto n = static_cast<int64_t>(series.size());
  if (lags < 1) throw ValueError(fmt::format("make_lag_examples: lags must be >= 1, got {}", lags));
  if (first < lags || first >= end || end > n) {
    throw ValueError(fmt::format(
        "make_lag_examples: need lags <= first < end <= series length, got lags {}, first {}, end {}, length {}", lags,
        first, end, n));
  }
  LagExamples out{Tensor<float>(Shape{end - first, lags}), Tensor<float>(Shape{end - first, 1})};
  for (int64_t t = first; t < end; ++t) {
    for (int64_t j = 0; j < lags; ++j) {
      out.features.at(t - first, j) = static_cast<float>(series[static_cast<size_t>(t - lags + j)]);
    }
    out.labels[t - first] = static_cast<float>(series[static_cast<size_t>(t)]);
  }
  return out;
}

SeriesScaler SeriesScaler::fit(std::span<const double> values, bool log) {
  if (values.empty()) throw ValueError("SeriesScaler::fit: no values to fit");
  SeriesScaler s;
  s.log = log;
  double sum = 0.0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (log && !(values[i] > 0.0)) {
      throw ValueError(fmt::format("log transform: value {} at position {} is not positive (--log needs values > 0)",
                                   values[i], i + 1));
    }
    sum += log ? std::log(values[i]) : values[i];
  }
  s.mean = sum / static_cast<double>(values.size());
  double squares = 0.0;
  for (double v : values) {
    const double d = (log ? std::log(v) : v) - s.mean;
    squares += d * d;
  }
  const double std_dev = std::sqrt(squares / static_cast<double>(values.size()));
  s.scale = std_dev > 1e-12 * std::max(1.0, std::abs(s.mean)) ? std_dev : 1.0;
  return s;
}

double SeriesScaler::transform(double y) const { return ((log ? std::log(y) : y) - mean) / scale; }

double SeriesScaler::inverse(double z) const {
  const double v = z * scale + mean;
  return log ? std::exp(v) : v;
}

}  // namespace recur
