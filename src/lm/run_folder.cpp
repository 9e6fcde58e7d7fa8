// Run-folder lock, recoverable folder replacement and the repair of folders left mid-swap.
#include "recur/lm/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "recur/core/error.h"

namespace recur {

namespace fs = std::filesystem;

bool process_is_alive(long pid) {
  if (pid <= 0 || pid > 0x7fffffffL) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

void replace_folder_atomically(const fs::path& target, const std::function<void(const fs::path&)>& write) {
  const std::string suffix = std::to_string(::getpid());
  const fs::path tmp = target.string() + ".tmp-" + suffix;
  const fs::path old = target.string() + ".old-" + suffix;
  std::error_code ec;
  fs::remove_all(tmp, ec);
  try {
    fs::create_directories(tmp);
    write(tmp);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    throw IoError("cannot write checkpoint folder '" + tmp.string() + "': " + e.code().message());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  // One atomic step: target is at every instant either the old or the new complete folder.
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(tmp, ec);
    return;
  }
  const bool had_old = fs::exists(target);
  if (had_old) {
    fs::rename(target, old, ec);
    if (ec) throw IoError("cannot move '" + target.string() + "' aside: " + ec.message());
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignored;
    if (had_old) fs::rename(old, target, ignored);  // put the good one back
    throw IoError("cannot rename '" + tmp.string() + "' to '" + target.string() + "': " + ec.message());
  }
  if (had_old) fs::remove_all(old, ec);
}

fs::path run_lock_path(const fs::path& dir) { return dir / "run.lock"; }

bool RunFolderLock::acquire(const fs::path& dir) {
  const fs::path path = run_lock_path(dir);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError("cannot create the lock file '" + path.string() + "': " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) return false;
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    throw IoError("cannot write the lock file '" + path.string() + "': " + std::strerror(errno));
  return true;
}

RunFolderLock::RunFolderLock(const fs::path& dir) {
  if (acquire(dir)) return;
  char holder[32] = {};
  const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
  std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "another process";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  ::close(fd_);
  fd_ = -1;
  throw IoError("the run folder '" + dir.string() + "' is in use by process " + pid + " (lock file '" +
                run_lock_path(dir).string() + "'); wait for that run to end or stop it");
}

std::unique_ptr<RunFolderLock> RunFolderLock::try_lock(const fs::path& dir) {
  std::unique_ptr<RunFolderLock> lock(new RunFolderLock());
  try {
    if (lock->acquire(dir)) return lock;
  } catch (const IoError&) {
  }
  return nullptr;
}

RunFolderLock::~RunFolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

namespace {

// A leftover "<base>.tmp-<pid>" or "<base>.old-<pid>" of a process that is gone.
struct Leftover {
  fs::path path;
  std::string base;
  bool is_old = false;
};

std::optional<Leftover> stale_leftover(const fs::path& path) {
  const std::string name = path.filename().string();
  for (const std::string kind : {".tmp-", ".old-"}) {
    const size_t at = name.rfind(kind);
    if (at == std::string::npos || at == 0) continue;
    const std::string digits = name.substr(at + kind.size());
    if (digits.empty() || digits.size() > 10 || digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const long pid = std::stol(digits);
    if (pid == ::getpid() || process_is_alive(pid)) return std::nullopt;
    return Leftover{path, name.substr(0, at), kind == ".old-"};
  }
  return std::nullopt;
}

// The file a folder's writer writes last: when it is there, the folder is complete.
std::string completion_file(const std::string& base) {
  return base == "checkpoint" ? "train_state.json" : "config.json";
}

// Puts a complete leftover folder in place of a missing `target`, newest (tmp) first.
void restore_folder(const fs::path& target, const std::vector<Leftover>& leftovers,
                    std::vector<std::string>& repairs) {
  for (const bool want_old : {false, true})
    for (const Leftover& l : leftovers) {
      if (l.is_old != want_old || !fs::is_directory(l.path)) continue;
      if (!fs::exists(l.path / completion_file(l.base))) continue;
      std::error_code ec;
      fs::rename(l.path, target, ec);
      if (ec)
        throw IoError("cannot repair '" + target.string() + "' from '" + l.path.string() +
                      "': " + ec.message());
      repairs.push_back(l.path.filename().string() + " (complete) became " + target.filename().string());
      return;
    }
}

void recover_entries(const fs::path& dir, std::vector<std::string>& repairs) {
  std::map<std::string, std::vector<Leftover>> by_base;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (auto l = stale_leftover(entry.path())) by_base[l->base].push_back(*l);
  for (auto& [base, leftovers] : by_base) {
    const fs::path target = dir / base;
    if (!fs::exists(target)) restore_folder(target, leftovers, repairs);
    for (const Leftover& l : leftovers) {
      if (!fs::exists(l.path)) continue;  // restored
      fs::remove_all(l.path, ec);
      if (ec) throw IoError("cannot remove the stale '" + l.path.string() + "': " + ec.message());
      repairs.push_back("removed the stale " + l.path.filename().string());
    }
  }
}

}  // namespace

std::vector<std::string> recover_run_folder(const fs::path& dir) {
  std::vector<std::string> repairs;
  if (!fs::is_directory(dir)) return repairs;
  recover_entries(dir, repairs);
  for (const char* sub : {"checkpoint", "best"})
    if (fs::is_directory(dir / sub)) recover_entries(dir / sub, repairs);
  return repairs;
}

}  // namespace recur
