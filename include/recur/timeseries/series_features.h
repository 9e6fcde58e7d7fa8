// Autoregressive examples from a series (d2l 9.1): the features of example t are the `lags` values
// before it, x_{t-L} .. x_{t-1}, and its label is x_t.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "recur/core/tensor.h"

namespace recur {

struct LagExamples {
  Tensor<float> features;  // [N, L], row i = series[t-L .. t-1] for t = first + i
  Tensor<float> labels;    // [N, 1], row i = series[t]
};

// Examples for the labels t in [first, end). Throws ValueError unless lags >= 1,
// lags <= first < end <= series.size().
[[nodiscard]] LagExamples make_lag_examples(std::span<const double> series, int lags, int64_t first,
                                            int64_t end);

// Shift-and-scale that makes the fitted values mean 0 and standard deviation 1, optionally after a
// natural log: z = (log? ln y : y - mean) / scale. Fitted on the training part only, so nothing from
// the test part leaks into training.
struct SeriesScaler {
  bool log = false;
  double mean = 0.0;
  double scale = 1.0;  // the population standard deviation, or 1 for a constant series

  // Throws ValueError when `log` and a value is not positive (naming its position), or when
  // `values` is empty; NumericError for a value that is not finite. Computed in double precision
  // without overflow for any finite values (1e300 included).
  [[nodiscard]] static SeriesScaler fit(std::span<const double> values, bool log);
  [[nodiscard]] double transform(double y) const;
  [[nodiscard]] double inverse(double z) const;
  // transform of each value; NumericError naming `name` (the file and column), the data row and the
  // value when a value or its scaled form is not finite or past float's range (the models are float).
  [[nodiscard]] std::vector<double> transform_all(std::span<const double> values,
                                                  std::string_view name) const;
  // inverse of each scaled forecast; NumericError naming `what` and the forecast when one is not finite.
  [[nodiscard]] std::vector<double> inverse_all(std::span<const double> z, std::string_view what) const;
};

}  // namespace recur
