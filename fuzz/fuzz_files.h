// For fuzz targets whose input is a folder of files (a model folder, a training state): one input
// is split into two files by a 2-byte little-endian length of the first, and both are written into
// a scratch folder of this process, which the loader then reads as a user's folder.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace recur::fuzz {

// The folder lives as long as the process and is removed at a normal exit (libFuzzer exits
// normally at -max_total_time; after a crash it stays, next to the crash input).
inline const std::filesystem::path& scratch_dir() {
  struct Scratch {
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("recur-fuzz-" + std::to_string(::getpid()));
    Scratch() { std::filesystem::create_directories(dir); }
    ~Scratch() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  };
  static const Scratch scratch;
  return scratch.dir;
}

// Writes data[2 .. 2+n) to `first` and the rest to `second` (n = the first two bytes, clamped).
inline void write_two_files(const uint8_t* data, size_t size, const std::string& first,
                            const std::string& second) {
  size_t n = size >= 2 ? static_cast<size_t>(data[0] | (data[1] << 8)) : 0;
  const size_t body = size >= 2 ? size - 2 : 0;
  if (n > body) n = body;
  const char* bytes = reinterpret_cast<const char*>(data) + (size >= 2 ? 2 : size);
  std::ofstream(scratch_dir() / first, std::ios::binary | std::ios::trunc)
      .write(bytes, static_cast<std::streamsize>(n));
  std::ofstream(scratch_dir() / second, std::ios::binary | std::ios::trunc)
      .write(bytes + n, static_cast<std::streamsize>(body - n));
}

}  // namespace recur::fuzz
