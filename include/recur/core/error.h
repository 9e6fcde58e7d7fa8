// The one exception family the library throws, and the check helper that builds its messages.
// The library never exits or aborts; tools/ maps these to exit codes.
#pragma once

#include <source_location>
#include <stdexcept>
#include <string>
#include <string_view>

namespace recur {

// Base of everything recur throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Tensor shapes that do not fit an operation; the message names the op and both shapes.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// An argument or hyperparameter outside its domain (negative learning rate, order 0, ...).
class ValueError : public Error {
 public:
  using Error::Error;
};

// A file that cannot be read or written, or whose content is malformed; the message names the path.
class IoError : public Error {
 public:
  using Error::Error;
};

// A NaN or infinity where a finite number was required (loss, gradient norm).
class NumericError : public Error {
 public:
  using Error::Error;
};

// Throws E with `message` when `condition` is false. Internal invariants use the same helper so
// that a broken invariant names where it broke.
template <typename E = ValueError>
inline void check(bool condition, std::string_view message,
                  std::source_location where = std::source_location::current()) {
  if (!condition) {
    std::string text(message);
    if constexpr (std::is_same_v<E, Error>) {
      text += " (";
      text += where.file_name();
      text += ":" + std::to_string(where.line()) + ")";
    }
    throw E(text);
  }
}

}  // namespace recur
