// Whole-file reads with the corpus checks (empty, blank, binary, invalid UTF-8).
#include "recur/text/text_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "recur/core/error.h"
#include "recur/text/utf8.h"

namespace recur {

namespace {
struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

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
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw IoError("'" + path.string() + "' is a directory, not a text file");
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) throw IoError("cannot open '" + path.string() + "': " + std::strerror(errno));
  std::string bytes;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec) bytes.resize(size);
  size_t filled = 0;
  // Read once into a buffer of the file's size; keep going if the file grew meanwhile.
  while (true) {
    if (filled == bytes.size()) bytes.resize(bytes.size() + 65536);
    const size_t n = std::fread(bytes.data() + filled, 1, bytes.size() - filled, file.get());
    filled += n;
    if (n == 0) break;
  }
  if (std::ferror(file.get()))
    throw IoError("error reading '" + path.string() + "': " + std::strerror(errno));
  bytes.resize(filled);
  return check_text(std::move(bytes), path.string(), options);
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
                    std::to_string(*bad) +
                    " (is it a binary file? ask for replacement by U+FFFD to read it anyway)");
    }
    bytes = utf8_replace_invalid(bytes);
  }
  if (!options.allows_blank && is_blank(bytes))
    throw IoError("'" + source + "' contains only whitespace (" + std::to_string(bytes.size()) +
                  " bytes): there is no text to tokenize");
  return bytes;
}

}  // namespace recur
