// Token id files: the streaming writer and the read-only memory map with its header checks.
#include "recur/text/token_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "recur/core/error.h"

namespace recur {

namespace fs = std::filesystem;

namespace {
void put_le(std::string& out, uint64_t v, int bytes) {
  for (int b = 0; b < bytes; ++b) out.push_back(static_cast<char>((v >> (8 * b)) & 0xFF));
}

uint64_t get_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int b = bytes - 1; b >= 0; --b) v = (v << 8) | p[b];
  return v;
}

std::string header_bytes(int width, int64_t count, int64_t vocab_size) {
  std::string h(kTokenFileMagic, sizeof kTokenFileMagic);
  put_le(h, kTokenFileVersion, 4);
  put_le(h, static_cast<uint64_t>(width), 4);
  put_le(h, static_cast<uint64_t>(count), 8);
  put_le(h, static_cast<uint64_t>(vocab_size), 8);
  return h;
}

constexpr size_t kWriteBufferBytes = size_t{1} << 20;
}  // namespace

int token_id_width(int64_t vocab_size) {
  check(vocab_size >= 1, fmt::format("token_id_width: vocab_size must be >= 1, got {}", vocab_size));
  if (vocab_size <= (int64_t{1} << 8)) return 1;
  if (vocab_size <= (int64_t{1} << 16)) return 2;
  return 4;
}

TokenFileWriter::TokenFileWriter(fs::path path, int64_t vocab_size)
    : path_(std::move(path)), vocab_size_(vocab_size), width_(token_id_width(vocab_size)) {
  check(vocab_size <= INT32_MAX, fmt::format("TokenFileWriter: vocab_size {} exceeds int32", vocab_size));
  temp_path_ = path_;
  temp_path_ += fmt::format(".tmp.{}", ::getpid());
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (!file_) throw IoError(fmt::format("cannot write '{}': {}", temp_path_.string(), std::strerror(errno)));
  buffer_ = header_bytes(width_, 0, vocab_size_);  // the count is filled in by finish()
}

TokenFileWriter::~TokenFileWriter() {
  if (file_) {
    std::fclose(file_);
    std::error_code ec;
    fs::remove(temp_path_, ec);
  }
}

void TokenFileWriter::write_bytes(const void* data, size_t n) {
  if (n > 0 && std::fwrite(data, 1, n, file_) != n)
    throw IoError(fmt::format("cannot write '{}': {}", temp_path_.string(), std::strerror(errno)));
}

void TokenFileWriter::append(std::span<const int32_t> ids) {
  check(file_ != nullptr, "TokenFileWriter::append: the file is already finished");
  size_t at = buffer_.size();
  buffer_.resize(at + ids.size() * static_cast<size_t>(width_));
  char* out = buffer_.data();
  for (int32_t id : ids) {
    if (!(id >= 0 && id < vocab_size_)) {
      buffer_.resize(buffer_.size() - ids.size() * static_cast<size_t>(width_));
      throw ValueError(
          fmt::format("'{}': token id {} outside the vocabulary [0, {})", path_.string(), id, vocab_size_));
    }
    for (int b = 0; b < width_; ++b)
      out[at++] = static_cast<char>((static_cast<uint32_t>(id) >> (8 * b)) & 0xFF);
  }
  count_ += static_cast<int64_t>(ids.size());
  if (buffer_.size() >= kWriteBufferBytes) {
    write_bytes(buffer_.data(), buffer_.size());
    buffer_.clear();
  }
}

void TokenFileWriter::finish() {
  check(file_ != nullptr, "TokenFileWriter::finish: the file is already finished");
  write_bytes(buffer_.data(), buffer_.size());
  buffer_.clear();
  const std::string header = header_bytes(width_, count_, vocab_size_);
  if (std::fseek(file_, 0, SEEK_SET) != 0)
    throw IoError(fmt::format("cannot write '{}': {}", temp_path_.string(), std::strerror(errno)));
  write_bytes(header.data(), header.size());
  const bool flushed = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  const int saved_errno = errno;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  std::error_code ec;
  if (!flushed || !closed) {
    fs::remove(temp_path_, ec);
    throw IoError(fmt::format("cannot write '{}': {}", temp_path_.string(), std::strerror(saved_errno)));
  }
  fs::rename(temp_path_, path_, ec);
  if (ec) {
    fs::remove(temp_path_, ec);
    throw IoError(
        fmt::format("cannot rename '{}' to '{}': {}", temp_path_.string(), path_.string(), ec.message()));
  }
}

namespace {
// Closes a descriptor on every path out of the constructor.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Scans the ids with pread in blocks; throws IoError naming the first id >= vocab_size.
void check_ids(int fd, const fs::path& path, int width, int64_t count, int64_t vocab_size) {
  constexpr int64_t kBlockIds = int64_t{1} << 18;
  std::vector<unsigned char> block(static_cast<size_t>(kBlockIds * width));
  for (int64_t first = 0; first < count; first += kBlockIds) {
    const int64_t n = std::min(kBlockIds, count - first);
    const auto bytes = static_cast<size_t>(n * width);
    size_t got = 0;
    while (got < bytes) {
      const ssize_t r =
          ::pread(fd, block.data() + got, bytes - got,
                  static_cast<off_t>(kTokenFileHeaderBytes + first * width) + static_cast<off_t>(got));
      if (r <= 0)
        throw IoError(fmt::format("cannot read '{}': {}", path.string(),
                                  r < 0 ? std::strerror(errno) : "unexpected end of file"));
      got += static_cast<size_t>(r);
    }
    const TokenView ids(block.data(), n, width);
    for (int64_t i = 0; i < n; ++i)
      if (ids[i] < 0 || ids[i] >= vocab_size)
        throw IoError(fmt::format("'{}': token {} has id {}, outside the vocabulary [0, {})", path.string(),
                                  first + i, static_cast<uint32_t>(ids[i]), vocab_size));
  }
}
}  // namespace

MappedTokenFile::MappedTokenFile(const fs::path& path, const OpenOptions& options) : path_(path) {
  const std::string name = path.string();
  Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) throw IoError(fmt::format("cannot open token file '{}': {}", name, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0)
    throw IoError(fmt::format("cannot read token file '{}': {}", name, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw IoError(fmt::format("'{}' is not a regular file, not a token file", name));
  const auto file_bytes = static_cast<uint64_t>(st.st_size);
  unsigned char header[kTokenFileHeaderBytes];
  if (file_bytes < static_cast<uint64_t>(kTokenFileHeaderBytes))
    throw IoError(fmt::format("'{}' is not a recur token file: {} bytes, shorter than the {}-byte header",
                              name, file_bytes, kTokenFileHeaderBytes));
  if (::pread(fd.fd, header, sizeof header, 0) != static_cast<ssize_t>(sizeof header))
    throw IoError(fmt::format("cannot read the header of '{}': {}", name, std::strerror(errno)));
  if (std::memcmp(header, kTokenFileMagic, sizeof kTokenFileMagic) != 0)
    throw IoError(fmt::format("'{}' is not a recur token file (no \"RECURTOK\" magic)", name));
  const uint64_t version = get_le(header + 8, 4);
  if (version != kTokenFileVersion)
    throw IoError(fmt::format("'{}': token file version {} is not supported (this build reads version {})",
                              name, version, kTokenFileVersion));
  const uint64_t width = get_le(header + 12, 4);
  const uint64_t count = get_le(header + 16, 8);
  const uint64_t vocab_size = get_le(header + 24, 8);
  if (width != 1 && width != 2 && width != 4)
    throw IoError(fmt::format("'{}': id width {} bytes; expected 1, 2 or 4", name, width));
  if (vocab_size < 1 || vocab_size > static_cast<uint64_t>(INT32_MAX))
    throw IoError(fmt::format("'{}': vocabulary size {} outside [1, 2^31)", name, vocab_size));
  if (vocab_size - 1 > (width == 4 ? uint64_t{0xFFFFFFFF} : (uint64_t{1} << (8 * width)) - 1))
    throw IoError(fmt::format("'{}': a width of {} byte(s) cannot hold the ids of a vocabulary of {} tokens",
                              name, width, vocab_size));
  const uint64_t data_bytes = file_bytes - kTokenFileHeaderBytes;
  if (count > data_bytes / width || count * width != data_bytes)
    throw IoError(
        fmt::format("'{}' is truncated or has trailing bytes: the header says {} ids of {} byte(s) ({} "
                    "bytes after the header), the file has {}",
                    name, count, width, count <= data_bytes ? count * width : count, data_bytes));
  width_ = static_cast<int>(width);
  vocab_size_ = static_cast<int64_t>(vocab_size);
  if (options.checks_ids) check_ids(fd.fd, path, width_, static_cast<int64_t>(count), vocab_size_);
  map_bytes_ = static_cast<size_t>(file_bytes);
  map_ = ::mmap(nullptr, map_bytes_, PROT_READ, MAP_PRIVATE, fd.fd, 0);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw IoError(fmt::format("cannot map token file '{}': {}", name, std::strerror(errno)));
  }
  view_ = TokenView(static_cast<const unsigned char*>(map_) + kTokenFileHeaderBytes,
                    static_cast<int64_t>(count), width_);
}

MappedTokenFile::~MappedTokenFile() {
  if (map_) ::munmap(map_, map_bytes_);
}

}  // namespace recur
