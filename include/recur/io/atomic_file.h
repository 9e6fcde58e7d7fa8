// Writing files so that a crash or a full disk never leaves a half-written file where a good one
// was: write to a temporary name beside the target, flush, then rename over it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace recur {

// Replaces `path` with `bytes` atomically. Throws IoError naming the path on failure; the previous
// content of `path`, if any, is untouched then.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// Reads a whole regular file of at most kMaxTextFileBytes (recur/core/file_read.h); throws IoError
// naming the path, also for a directory or a device.
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

}  // namespace recur
