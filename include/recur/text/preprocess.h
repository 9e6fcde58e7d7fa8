// Text normalization before tokenizing. `d2l` is exactly the book's preprocessing of The Time
// Machine (d2l 9.2): re.sub('[^A-Za-z]+', ' ', text).lower().
#pragma once

#include <string>
#include <string_view>

namespace recur {

enum class PreprocessMode {
  d2l,    // every run of characters other than A-Z/a-z becomes one space, then ASCII lowercase
  lower,  // lowercase: ASCII, Latin-1, Latin Extended-A, modern Greek and basic Cyrillic (others unchanged)
  raw,    // unchanged
};

// "d2l", "lower" or "raw"; anything else throws ValueError listing the three.
[[nodiscard]] PreprocessMode parse_preprocess_mode(std::string_view name);
[[nodiscard]] std::string_view preprocess_mode_name(PreprocessMode mode);

// `text` must be valid UTF-8; the result is valid UTF-8.
[[nodiscard]] std::string preprocess(std::string_view text, PreprocessMode mode);

// Simple (one-to-one) lowercase mapping over the scripts listed for `lower`; no locale.
[[nodiscard]] char32_t to_lower_code_point(char32_t code_point) noexcept;

}  // namespace recur
