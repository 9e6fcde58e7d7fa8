// Token id files (recur prepare's train.bin, valid.bin): a corpus tokenized once, read back through a
// read-only memory map so that training never holds the text or its ids in memory. The convention
// is nanoGPT's train.bin and llm.c's token shards, with a header that says what the file holds.
//
// Layout, every integer little-endian:
//   offset  0  8 bytes   magic "RECURTOK"
//   offset  8  uint32    format version, kTokenFileVersion (1)
//   offset 12  uint32    width: bytes per id, 1, 2 or 4 (the narrowest that holds vocab_size - 1)
//   offset 16  uint64    token count N
//   offset 24  uint64    vocab_size: every id is in [0, vocab_size)
//   offset 32  N ids, unsigned, `width` bytes each; the file ends there (32 + N * width bytes)
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>

#include "recur/text/token_view.h"

namespace recur {

inline constexpr char kTokenFileMagic[8] = {'R', 'E', 'C', 'U', 'R', 'T', 'O', 'K'};
inline constexpr uint32_t kTokenFileVersion = 1;
inline constexpr int64_t kTokenFileHeaderBytes = 32;

// The narrowest id width in bytes (1, 2 or 4) that holds ids [0, vocab_size); vocab_size >= 1.
[[nodiscard]] int token_id_width(int64_t vocab_size);

// Writes a token file as ids arrive: to a temporary name beside `path`, renamed into place by
// finish(), so a reader never sees a half-written file. Throws IoError naming the path.
class TokenFileWriter {
 public:
  TokenFileWriter(std::filesystem::path path, int64_t vocab_size);
  ~TokenFileWriter();  // removes the temporary file unless finish() ran
  TokenFileWriter(const TokenFileWriter&) = delete;
  TokenFileWriter& operator=(const TokenFileWriter&) = delete;

  // Appends ids; each must be in [0, vocab_size) (ValueError otherwise).
  void append(std::span<const int32_t> ids);
  void append(int32_t id) { append(std::span<const int32_t>(&id, 1)); }
  // Writes the count into the header, flushes and renames the file into place.
  void finish();
  [[nodiscard]] int64_t count() const { return count_; }
  [[nodiscard]] int width() const { return width_; }

 private:
  void write_bytes(const void* data, size_t n);

  std::filesystem::path path_, temp_path_;
  std::FILE* file_ = nullptr;
  int64_t vocab_size_ = 0;
  int width_ = 1;
  int64_t count_ = 0;
  std::string buffer_;  // encoded ids not yet written
};

// A token file mapped read-only (POSIX mmap). Opening checks the magic, the version, the width
// against vocab_size, the file's size against the count and, unless told not to, that every id is
// below vocab_size (read in blocks with pread, so the check does not make the map resident). Every
// error is an IoError naming the file.
class MappedTokenFile {
 public:
  struct OpenOptions {
    bool checks_ids = true;  // scan every id once (one sequential read of the file)
  };
  explicit MappedTokenFile(const std::filesystem::path& path) : MappedTokenFile(path, OpenOptions{}) {}
  MappedTokenFile(const std::filesystem::path& path, const OpenOptions& options);
  ~MappedTokenFile();
  MappedTokenFile(const MappedTokenFile&) = delete;
  MappedTokenFile& operator=(const MappedTokenFile&) = delete;

  [[nodiscard]] TokenView view() const { return view_; }
  [[nodiscard]] int64_t size() const { return view_.size(); }
  [[nodiscard]] int width() const { return width_; }
  [[nodiscard]] int64_t vocab_size() const { return vocab_size_; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  void* map_ = nullptr;  // [map_bytes_], PROT_READ
  size_t map_bytes_ = 0;
  int width_ = 1;
  int64_t vocab_size_ = 0;
  TokenView view_;
};

}  // namespace recur
