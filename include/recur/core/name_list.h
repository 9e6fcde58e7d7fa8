// Short lists of names for error messages: a CSV with 100,000 columns or a model with 20,000
// parameters names the first few and says how many more there are.
#pragma once

#include <cstddef>
#include <string>

namespace recur {

inline constexpr size_t kMaxListedNames = 10;

// "'a', 'b', 'c'" for names name_at(0) .. name_at(count - 1), or "'a', 'b', ... (and 97 more)" past
// max_shown; "(none)" when count is 0.
template <typename NameAt>
[[nodiscard]] std::string list_names(size_t count, NameAt name_at, size_t max_shown = kMaxListedNames) {
  if (count == 0) return "(none)";
  std::string out;
  const size_t shown = count < max_shown ? count : max_shown;
  for (size_t i = 0; i < shown; ++i) out += (i == 0 ? "'" : ", '") + std::string(name_at(i)) + "'";
  if (shown < count) out += ", ... (and " + std::to_string(count - shown) + " more)";
  return out;
}

}  // namespace recur
