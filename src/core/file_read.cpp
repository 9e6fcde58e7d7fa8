// Regular-file checks and size-bounded whole-file reads (POSIX open/fstat/read).
#include "recur/core/file_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "recur/core/error.h"

namespace recur {

namespace {

std::string quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

// The message for a path that exists but is not a regular file.
IoError not_regular(const std::filesystem::path& path, mode_t mode, std::string_view what) {
  if (S_ISDIR(mode)) return IoError(quoted(path) + " is a directory, not " + std::string(what));
  const char* kind = S_ISCHR(mode)    ? "a character device"
                     : S_ISBLK(mode)  ? "a block device"
                     : S_ISFIFO(mode) ? "a pipe (FIFO)"
                     : S_ISSOCK(mode) ? "a socket"
                                      : "not a file";
  return IoError(quoted(path) + " is not a regular file (" + kind + "); " + std::string(what) +
                 " must be a regular file");
}

IoError cannot_open(const std::filesystem::path& path, int err) {
  return IoError("cannot open " + quoted(path) + ": " + std::strerror(err));
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

void check_regular_file(const std::filesystem::path& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw cannot_open(path, errno);
  if (!S_ISREG(st.st_mode)) throw not_regular(path, st.st_mode, what);
}

std::string read_file_bounded(const std::filesystem::path& path, uint64_t max_bytes, std::string_view what) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is rejected below.
  const FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (file.get() < 0) throw cannot_open(path, errno);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) throw cannot_open(path, errno);
  if (!S_ISREG(st.st_mode)) throw not_regular(path, st.st_mode, what);
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    throw IoError(quoted(path) + " is " + std::to_string(size) + " bytes, more than the " +
                  std::to_string(max_bytes) + " bytes " + std::string(what) + " may have");
  std::string bytes;
  try {
    bytes.resize(static_cast<size_t>(size));
  } catch (const std::bad_alloc&) {
    throw IoError(quoted(path) + " (" + std::to_string(size) + " bytes) does not fit in memory");
  }
  size_t filled = 0;
  while (filled < bytes.size()) {  // a file that grows meanwhile is read up to its size at open
    const ssize_t n = ::read(file.get(), bytes.data() + filled, bytes.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw IoError("error reading " + quoted(path) + ": " + std::strerror(errno));
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  bytes.resize(filled);
  return bytes;
}

}  // namespace recur
