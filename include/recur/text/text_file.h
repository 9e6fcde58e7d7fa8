// Reading a corpus file as UTF-8 text, with the checks every text command needs: a missing,
// empty, blank or binary file and invalid UTF-8 are errors that name the file (and the byte offset).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace recur {

enum class InvalidUtf8 {
  error,    // throw IoError naming the file and the byte offset of the first bad sequence
  replace,  // substitute U+FFFD for each maximal invalid subpart
};

struct TextReadOptions {
  // Appended to the invalid UTF-8 message when the caller offers replacement, e.g. "use
  // --replace-invalid to read it anyway"; empty (no hint) where the caller has no such option.
  // First, so that initializers naming only the fields below leave it empty without a warning.
  std::string_view replace_hint{};
  InvalidUtf8 invalid_utf8 = InvalidUtf8::error;
  bool allows_blank = false;  // accept an empty or whitespace-only file
};

// The whole file as UTF-8, with a leading byte-order mark (EF BB BF) dropped. Throws IoError
// naming the path when the file cannot be read, is empty or only whitespace (unless
// `allows_blank`), holds a NUL byte (a binary file, even with `replace`) or is not valid UTF-8
// (unless `replace`). The path must be a regular file (a directory or a device is an IoError saying
// so) of at most kMaxTextFileBytes; it is read up to its size.
[[nodiscard]] std::string read_text_file(const std::filesystem::path& path,
                                         const TextReadOptions& options = {});

// The same checks on text already in memory; `source` names it in messages (a path or "<stdin>").
[[nodiscard]] std::string check_text(std::string bytes, const std::string& source,
                                     const TextReadOptions& options = {});

}  // namespace recur
