// UTF-8 decoding, encoding and validation. Character tokens are Unicode code points, so every text
// routine works on validated UTF-8; invalid input is located by byte offset or replaced by U+FFFD.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace recur {

inline constexpr char32_t kReplacementCharacter = U'\uFFFD';

// One decoding step. When `is_valid` is false, `length` is the maximal invalid subpart to skip
// (Unicode 15, section 3.9, "U+FFFD substitution of maximal subparts"), at least 1.
struct Utf8Step {
  char32_t code_point = 0;
  int length = 0;  // bytes consumed, 1 to 4
  bool is_valid = false;
};

// Decodes the code point that starts at `text[offset]` (offset < text.size()). Strict: overlong
// forms, surrogates and values above U+10FFFF are invalid, as in Unicode Table 3-7.
[[nodiscard]] Utf8Step utf8_decode_step(std::string_view text, size_t offset) noexcept;

// Byte offset of the first invalid sequence, or nothing when `text` is valid UTF-8.
[[nodiscard]] std::optional<size_t> utf8_find_invalid(std::string_view text) noexcept;

// `text` with each maximal invalid subpart replaced by U+FFFD (what Python's
// bytes.decode('utf-8', 'replace') does).
[[nodiscard]] std::string utf8_replace_invalid(std::string_view text);

// Appends the UTF-8 form of `code_point` (at most U+10FFFF, not a surrogate; others become U+FFFD).
void utf8_append(char32_t code_point, std::string& out);

// Number of code points in valid UTF-8 text. Throws ValueError with the byte offset when invalid.
[[nodiscard]] size_t utf8_length(std::string_view text);

// Code points of valid UTF-8 text. Throws ValueError with the byte offset when invalid.
[[nodiscard]] std::u32string utf8_to_code_points(std::string_view text);

// Python's str.isspace() set: ASCII \t \n \v \f \r space, U+001C..U+001F, U+0085, U+00A0, U+1680,
// U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
[[nodiscard]] bool is_unicode_space(char32_t code_point) noexcept;

}  // namespace recur
