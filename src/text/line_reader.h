// Helpers the text file formats (vocabulary, n-gram model) share to parse their line-based content:
// a line splitter, a whole-string number parser, and a reader that numbers lines for its errors.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "recur/core/error.h"

namespace recur::text_format {

// Splits off the next line (without '\n'); false at the end of `text`.
inline bool next_line(std::string_view& text, std::string_view& line) {
  if (text.empty()) return false;
  const size_t end = text.find('\n');
  line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  return true;
}

// A copy of `text` with every CRLF turned into LF.
inline std::string lf_line_ends(std::string_view text) {
  std::string out(text);
  if (text.find('\r') == std::string_view::npos) return out;
  size_t kept = 0;
  for (size_t i = 0; i < out.size(); ++i)
    if (!(out[i] == '\r' && i + 1 < out.size() && out[i + 1] == '\n')) out[kept++] = out[i];
  out.resize(kept);
  return out;
}

// The whole of `text` as a number (integer or floating point); false for empty or trailing text.
template <typename Number>
bool parse_number(std::string_view text, Number& value) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size() && !text.empty();
}

// What a file's first line, "<magic> <version>", says about it, and how errors name it.
struct FileFormat {
  std::string_view magic;  // "recur-ngram"
  int version = 0;
  std::string_view title;  // "a recur n-gram model": the file is not one
  std::string_view name;   // "n-gram model": its format version is not supported
};

// Reads `text` line by line and builds IoErrors "'<source>' line <n>: <what>" for the line last read.
class LineReader {
 public:
  LineReader(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  // The next line (without '\n'); false at the end. Either way the line number moves on.
  bool next(std::string_view& line) {
    ++line_number_;
    return next_line(text_, line);
  }

  [[nodiscard]] IoError error(const std::string& what) const {
    return IoError("'" + source_ + "' line " + std::to_string(line_number_) + ": " + what);
  }

  // The first line, "<magic> <version>" with this build's version.
  void read_header(const FileFormat& format) {
    std::string_view line;
    if (!next(line) || line.substr(0, format.magic.size() + 1) != std::string(format.magic) + " ")
      throw error("not " + std::string(format.title) + " (the first line should be '" +
                  std::string(format.magic) + " " + std::to_string(format.version) + "')");
    const std::string_view version_text = line.substr(format.magic.size() + 1);
    int version = 0;
    if (!parse_number(version_text, version) || version != format.version)
      throw error(std::string(format.name) + " format version '" + std::string(version_text) +
                  "' is not supported (this build reads version " + std::to_string(format.version) + ")");
  }

  // The value of the next line, "<key> <value>".
  std::string_view read_field(std::string_view key) {
    std::string_view line;
    if (!next(line) || line.substr(0, key.size()) != key || line.size() <= key.size() ||
        line[key.size()] != ' ')
      throw error("expected '" + std::string(key) + " <value>'");
    return line.substr(key.size() + 1);
  }

  // Hands the next `bytes` bytes (at most what is left) to a nested parser, counting their lines.
  std::string_view take_bytes(size_t bytes) {
    const std::string_view taken = text_.substr(0, bytes);
    for (char c : taken) line_number_ += c == '\n' ? 1 : 0;
    text_.remove_prefix(taken.size());
    return taken;
  }

  [[nodiscard]] size_t bytes_left() const { return text_.size(); }

  // Throws `what` for the line after the last one read unless the text is used up.
  void expect_end(const std::string& what) {
    ++line_number_;
    if (!text_.empty()) throw error(what);
  }

 private:
  std::string_view text_;    // what is not read yet
  std::string source_;       // the path or name errors give
  int64_t line_number_ = 0;  // 1-based number of the line last read
};

}  // namespace recur::text_format
