// Forecasting beyond one step by feeding predictions back (d2l 9.1, "k-step-ahead prediction").
//
// From an origin o (the first time not given to the model) the recursive forecast is
//   xhat_{o+h} = f(x~_{o+h-L}, .., x~_{o+h-1}),  h = 0, 1, .., horizon-1,
// where x~_s is the observed x_s for s < o and the model's own xhat_s for s >= o. Errors compound
// with h: the book's lesson that the multi-step predictions drift away from the data.
//
// recursive_forecasts runs many origins at once as d2l does: a matrix with one row per origin and
// L + horizon columns, whose first L columns are observed and each later column is one batched
// model call on the L columns before it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "recur/core/checked_size.h"
#include "recur/core/error.h"
#include "recur/core/tensor.h"
#include "recur/timeseries/forecaster.h"

namespace recur {

// Row i, column h: the (h+1)-step-ahead forecast of x_{o+h} for the origin o = first_origin + i,
// for origins in [first_origin, end_origin). Reads only series[o-L .. o-1] for each origin, so an
// origin may be series.size() (forecasting past the end). Throws ValueError unless
// lags <= first_origin < end_origin <= series.size() + 1 and horizon >= 1.
template <WindowPredictor P>
[[nodiscard]] Tensor<double> recursive_forecasts(P& model, std::span<const double> series, int lags,
                                                 int64_t first_origin, int64_t end_origin, int horizon) {
  const auto n = static_cast<int64_t>(series.size());
  if (lags < 1 || horizon < 1 || first_origin < lags || first_origin >= end_origin || end_origin > n + 1) {
    throw ValueError(
        "recursive_forecasts: need lags >= 1, horizon >= 1 and lags <= first_origin < end_origin <= "
        "series length + 1, got lags " +
        std::to_string(lags) + ", horizon " + std::to_string(horizon) + ", origins [" +
        std::to_string(first_origin) + ", " + std::to_string(end_origin) + "), length " + std::to_string(n));
  }
  const int64_t R = end_origin - first_origin;  // rows: origins
  const int64_t C =
      checked_add(lags, horizon, "recursive_forecasts: lags + horizon");  // L observed, then forecasts
  std::vector<double> table(
      static_cast<size_t>(checked_mul(R, C, "recursive_forecasts: origins x (lags + horizon)")));  // [R, C]
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t j = 0; j < lags; ++j) {
      table[static_cast<size_t>(r * C + j)] = series[static_cast<size_t>(first_origin + r - lags + j)];
    }
  }
  Tensor<float> windows(Shape{R, lags});  // [R, L]
  for (int64_t h = 0; h < horizon; ++h) {
    for (int64_t r = 0; r < R; ++r) {
      for (int64_t j = 0; j < lags; ++j) {
        windows.at(r, j) = static_cast<float>(table[static_cast<size_t>(r * C + h + j)]);
      }
    }
    std::vector<double> next = model.predict(windows);
    for (int64_t r = 0; r < R; ++r)
      table[static_cast<size_t>(r * C + lags + h)] = next[static_cast<size_t>(r)];
  }
  Tensor<double> out(Shape{R, static_cast<int64_t>(horizon)});  // [R, horizon]
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t h = 0; h < horizon; ++h) out.at(r, h) = table[static_cast<size_t>(r * C + lags + h)];
  }
  return out;
}

// recursive_forecasts of a model trained on scaled values, run on the scaled series `z` and mapped
// back to the series' units; NumericError naming `what` when a forecast is not finite there.
template <WindowPredictor P>
[[nodiscard]] Tensor<double> unscaled_recursive_forecasts(P& model, const SeriesScaler& scaler,
                                                          std::span<const double> z, int lags,
                                                          int64_t first_origin, int64_t end_origin,
                                                          int horizon, std::string_view what) {
  Tensor<double> paths = recursive_forecasts(model, z, lags, first_origin, end_origin, horizon);
  const std::vector<double> y = scaler.inverse_all(paths.span(), what);
  std::copy(y.begin(), y.end(), paths.data());
  return paths;
}

}  // namespace recur
