// What every fuzz target shares: input bytes as text, and the rule that decides a finding. A
// recur::Error is the library rejecting bad input with a message (expected); any other exception
// escapes, and libFuzzer reports it (with crashes, sanitizer reports, timeouts and allocations
// past -malloc_limit_mb) as a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "recur/core/error.h"

namespace recur::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

template <typename Fn>
void expect_recur_errors_only(Fn&& fn) {
  try {
    fn();
  } catch (const recur::Error&) {
    // A clear rejection: what the library promises for bad input.
  }
}

}  // namespace recur::fuzz
