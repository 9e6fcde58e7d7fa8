// check_finite: the guard a training loop puts on its loss and gradient norm.
#include <cmath>
#include <string>

#include "recur/autograd/ops.h"
#include "recur/core/error.h"

namespace recur {

void check_finite(double value, std::string_view what, std::string_view where) {
  if (std::isfinite(value)) return;
  const char* shown = std::isnan(value) ? "NaN" : (value > 0 ? "inf" : "-inf");
  std::string message = "check_finite: " + std::string(what) + " is " + shown + " (not finite)";
  if (!where.empty()) message += " at " + std::string(where);
  throw NumericError(message);
}

}  // namespace recur
