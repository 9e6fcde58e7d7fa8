// Whole-file reads bounded by the file's size: every reader of a user-given path goes through here,
// so a directory, a device such as /dev/zero (or a symlink to one) or a FIFO is an error naming the
// path, never an endless read.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace recur {

inline constexpr uint64_t kMaxTextFileBytes = uint64_t{4} << 30;  // 4 GiB: corpora, CSV, n-gram models

// Throws IoError naming the path unless it is a regular file after following symlinks: "'p' is a
// directory, not <what>", "'p' is not a regular file (a character device) ...", or why it cannot
// be opened. `what` names the expected content with its article ("a text file", "an n-gram model file").
void check_regular_file(const std::filesystem::path& path, std::string_view what);

// The whole file, at most its size when opened. Throws IoError naming the path as
// check_regular_file does, when it holds more than `max_bytes`, or when reading fails.
[[nodiscard]] std::string read_file_bounded(const std::filesystem::path& path, uint64_t max_bytes,
                                            std::string_view what);

}  // namespace recur
