// Helpers the text file formats (vocabulary, n-gram model) share to parse their line-based content.
#pragma once

#include <charconv>
#include <string_view>
#include <system_error>

namespace recur::text_format {

// Splits off the next line (without '\n'); false at the end of `text`.
inline bool next_line(std::string_view& text, std::string_view& line) {
  if (text.empty()) return false;
  const size_t end = text.find('\n');
  line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  return true;
}

// The whole of `text` as a number (integer or floating point); false for empty or trailing text.
template <typename Number>
bool parse_number(std::string_view text, Number& value) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size() && !text.empty();
}

}  // namespace recur::text_format
