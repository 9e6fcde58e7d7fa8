// Checked 64-bit size arithmetic.
#include "recur/core/checked_size.h"

#include <string>

#include "recur/core/error.h"

namespace recur {

namespace {
[[noreturn]] void fail(std::string_view what, int64_t a, char op, int64_t b) {
  throw ValueError(std::string(what) + ": " + std::to_string(a) + " " + op + " " + std::to_string(b) +
                   (a < 0 || b < 0 ? " has a negative size" : " is too large (overflows 64-bit sizes)"));
}
}  // namespace

int64_t checked_mul(int64_t a, int64_t b, std::string_view what) {
  int64_t out = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &out)) fail(what, a, '*', b);
  return out;
}

int64_t checked_add(int64_t a, int64_t b, std::string_view what) {
  int64_t out = 0;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &out)) fail(what, a, '+', b);
  return out;
}

void check_size_range(int64_t value, int64_t low, int64_t high, std::string_view what) {
  if (value < low)
    throw ValueError(std::string(what) + " must be >= " + std::to_string(low) + ", got " +
                     std::to_string(value));
  if (value > high)
    throw ValueError(std::string(what) + " must be <= " + std::to_string(high) + ", got " +
                     std::to_string(value));
}

}  // namespace recur
