// Whole-file reads with the corpus checks (empty, blank, binary, invalid UTF-8).
#include "recur/text/text_file.h"

#include <cstdio>
#include <cstring>

#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "recur/text/utf8.h"

namespace recur {

namespace {
bool is_blank(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const Utf8Step step = utf8_decode_step(text, i);
    if (!is_unicode_space(step.code_point)) return false;
    i += static_cast<size_t>(step.length);
  }
  return true;
}
}  // namespace

std::string read_text_file(const std::filesystem::path& path, const TextReadOptions& options) {
  return check_text(read_file_bounded(path, kMaxTextFileBytes, "a text file"), path.string(), options);
}

std::string check_text(std::string bytes, const std::string& source, const TextReadOptions& options) {
  if (bytes.size() >= 3 && bytes.compare(0, 3, "\xEF\xBB\xBF") == 0) bytes.erase(0, 3);
  if (bytes.empty() && !options.allows_blank)
    throw IoError("'" + source + "' is empty: there is no text to read");
  if (const void* nul = std::memchr(bytes.data(), 0, bytes.size())) {
    const auto offset = static_cast<size_t>(static_cast<const char*>(nul) - bytes.data());
    throw IoError("'" + source + "' looks like a binary file, not text: NUL byte at byte offset " +
                  std::to_string(offset));
  }
  if (auto bad = utf8_find_invalid(bytes)) {
    if (options.invalid_utf8 == InvalidUtf8::error) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X",
                    static_cast<unsigned>(static_cast<unsigned char>(bytes[*bad])));
      throw IoError("'" + source + "' is not valid UTF-8: bad byte " + hex + " at byte offset " +
                    std::to_string(*bad) + " (is it a binary file?" +
                    (options.replace_hint.empty() ? "" : " " + std::string(options.replace_hint)) + ")");
    }
    bytes = utf8_replace_invalid(bytes);
  }
  if (!options.allows_blank && is_blank(bytes))
    throw IoError("'" + source + "' contains only whitespace (" + std::to_string(bytes.size()) +
                  " bytes): there is no text to tokenize");
  return bytes;
}

}  // namespace recur
