// Lag windows and the series scaler.
#include "recur/timeseries/series_features.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "recur/core/error.h"

namespace recur {

LagExamples make_lag_examples(std::span<const double> series, int lags, int64_t first, int64_t end) {
  const auto n = static_cast<int64_t>(series.size());
  if (lags < 1) throw ValueError(fmt::format("make_lag_examples: lags must be >= 1, got {}", lags));
  if (first < lags || first >= end || end > n) {
    throw ValueError(
        fmt::format("make_lag_examples: need lags <= first < end <= series length, got lags {}, first {}, "
                    "end {}, length {}",
                    lags, first, end, n));
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
  std::vector<double> v(values.begin(), values.end());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i]))
      throw NumericError(
          fmt::format("SeriesScaler::fit: value {} at position {} is not finite", v[i], i + 1));
    if (log && !(v[i] > 0.0)) {
      throw ValueError(fmt::format(
          "log transform: value {} at position {} is not positive (--log needs values > 0)", v[i], i + 1));
    }
    if (log) v[i] = std::log(v[i]);
  }
  // Sums of v / m and of squared deviations in units of m, the power of two just above max |v|: no
  // overflow near the largest double (the plain sum of squares of 1e300 is infinite), and dividing
  // by a power of two is exact, so ordinary series get the same bits as the plain formula.
  double largest = 0.0;
  for (double x : v) largest = std::max(largest, std::abs(x));
  int exponent = 0;
  (void)std::frexp(largest, &exponent);
  const double m = std::ldexp(1.0, std::min(exponent, 1023));
  const auto n = static_cast<double>(v.size());
  double sum = 0.0;
  for (double x : v) sum += x / m;
  const double mean_m = sum / n;
  double squares = 0.0;
  for (double x : v) squares += (x / m - mean_m) * (x / m - mean_m);
  SeriesScaler s;
  s.log = log;
  s.mean = mean_m * m;
  const double std_dev = std::sqrt(squares / n) * m;
  s.scale = std_dev > 1e-12 * std::max(1.0, std::abs(s.mean)) ? std_dev : 1.0;
  if (!std::isfinite(s.mean) || !std::isfinite(s.scale))
    throw NumericError(
        fmt::format("SeriesScaler::fit: the mean {} or standard deviation {} of the values is not "
                    "finite (values up to {})",
                    s.mean, s.scale, largest));
  return s;
}

double SeriesScaler::transform(double y) const { return ((log ? std::log(y) : y) - mean) / scale; }

double SeriesScaler::inverse(double z) const {
  const double v = z * scale + mean;
  return log ? std::exp(v) : v;
}

std::vector<double> SeriesScaler::transform_all(std::span<const double> values, std::string_view name) const {
  std::vector<double> z(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    z[i] = transform(values[i]);
    // The models compute in float: a scaled value past its range would become infinite there.
    if (!std::isfinite(values[i]) || !(std::abs(z[i]) <= std::numeric_limits<float>::max()))
      throw NumericError(
          fmt::format("{}: data row {}: value {} scales to {} (mean {}, scale {}), outside the "
                      "models' float range; rescale the column or remove the outlier",
                      name, i + 1, values[i], z[i], mean, scale));
  }
  return z;
}

std::vector<double> SeriesScaler::inverse_all(std::span<const double> z, std::string_view what) const {
  std::vector<double> y(z.size());
  for (size_t i = 0; i < z.size(); ++i) {
    y[i] = inverse(z[i]);
    if (!std::isfinite(y[i]))
      throw NumericError(fmt::format("{}: forecast {} of {} is {} (scaled value {}), not a finite number",
                                     what, i + 1, z.size(), y[i], z[i]));
  }
  return y;
}

}  // namespace recur
