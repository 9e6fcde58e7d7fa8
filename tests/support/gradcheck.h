// Central finite-difference gradient checks in double precision.
//
// expect_grad_close perturbs each element of a buffer in place (x_i ± eps), re-evaluates the loss
// through `loss_at_current_values` and compares (L(x+eps) - L(x-eps)) / 2eps with the analytic
// gradient. Error measure: |a - n| / max(|a| + |n|, floor), so tiny gradients are judged
// absolutely. With eps = 1e-6 in double precision the truncation error is O(eps^2) ~ 1e-12 and
// the rounding error ~1e-16/eps ~ 1e-10, hence the default bound 1e-6 has wide margin; kinks
// (relu at 0) must be avoided by the caller's choice of inputs.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <span>
#include <string>

namespace recur::test {

inline void expect_grad_close(std::span<double> x, std::span<const double> analytic,
                              const std::function<double()>& loss_at_current_values, const std::string& label,
                              double eps = 1e-6, double tolerance = 1e-6, double floor = 1e-7) {
  ASSERT_EQ(x.size(), analytic.size()) << label;
  int failures = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + eps;
    const double plus = loss_at_current_values();
    x[i] = saved - eps;
    const double minus = loss_at_current_values();
    x[i] = saved;
    const double numeric = (plus - minus) / (2 * eps);
    const double error =
        std::abs(analytic[i] - numeric) / std::max(std::abs(analytic[i]) + std::abs(numeric), floor);
    if (error > tolerance && failures++ < 5) {
      ADD_FAILURE() << label << "[" << i << "]: analytic " << analytic[i] << ", numeric " << numeric
                    << ", relative error " << error << " > " << tolerance;
    }
  }
}

}  // namespace recur::test
