// Forecast errors: mean squared error and mean absolute percentage error.
//   MSE  = 1/n sum (y_i - yhat_i)^2
//   MAPE = 100/m sum |y_i - yhat_i| / |y_i| over the m points with y_i != 0 (percent)
#pragma once

#include <span>

namespace recur {

// Throws ShapeError when the sizes differ and ValueError when they are empty.
[[nodiscard]] double mean_squared_error(std::span<const double> actual, std::span<const double> predicted);
// Points whose actual value is 0 are left out (their percentage error is undefined); NaN when
// every actual value is 0.
[[nodiscard]] double mean_absolute_percentage_error(std::span<const double> actual,
                                                    std::span<const double> predicted);

}  // namespace recur
