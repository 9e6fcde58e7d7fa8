// Size arithmetic on numbers a user gave (flags, config fields, file headers): 64-bit, checked, and
// an error that names what was being computed instead of a wrapped value or a huge allocation.
#pragma once

#include <cstdint>
#include <string_view>

namespace recur {

// a * b; throws ValueError "<what>: a * b = ... overflows 64-bit sizes" when it does not fit or a
// factor is negative.
[[nodiscard]] int64_t checked_mul(int64_t a, int64_t b, std::string_view what);
// a + b; throws ValueError naming `what` when it does not fit or a term is negative.
[[nodiscard]] int64_t checked_add(int64_t a, int64_t b, std::string_view what);
// Throws ValueError "<what> must be >= low, got value" (or "<= high") unless low <= value <= high.
void check_size_range(int64_t value, int64_t low, int64_t high, std::string_view what);

}  // namespace recur
