// A run folder kept safe: an advisory lock held for a run's life, folder replacement that leaves
// every instant recoverable, and the repair of a folder that a killed process left mid-swap.
//
// replace_folder_atomically(target, write) fills target.tmp-PID, then swaps it with target in one
// renameat2(RENAME_EXCHANGE) and removes the old folder (now at target.tmp-PID). Where the file
// system cannot exchange, target is renamed to target.old-PID, target.tmp-PID to target, and the
// old one removed. A process killed at any instant leaves one of these, which recover_run_folder
// repairs to the last complete folder:
//   target and target.tmp-PID or target.old-PID   target is complete: the others are removed
//   no target, target.tmp-PID complete            tmp becomes target (it was written in full)
//   no target, target.old-PID                     old becomes target (tmp was incomplete)
// A temporary folder is complete when it holds the file written last (checkpoint/:
// train_state.json; best/ and other model folders: config.json). Files are replaced by
// write_file_atomically, whose leftovers (name.tmp-PID) are removed too. Only leftovers of dead
// processes are touched.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace recur {

// Replaces folder `target` by the folder that `write` fills: `write` gets a fresh temporary folder
// beside `target`; only when it returns normally is the old folder swapped out and removed.
void replace_folder_atomically(const std::filesystem::path& target,
                               const std::function<void(const std::filesystem::path&)>& write);

// An exclusive advisory lock (flock) on <dir>/run.lock, which holds the locking process's id. The
// lock goes with the process: a killed run never leaves a folder locked.
class RunFolderLock {
 public:
  // Throws IoError naming the folder and the holder's process id when another process holds it,
  // or naming the lock file when it cannot be created.
  explicit RunFolderLock(const std::filesystem::path& dir);
  // nullptr when another process holds the lock or the folder cannot be locked (read-only).
  [[nodiscard]] static std::unique_ptr<RunFolderLock> try_lock(const std::filesystem::path& dir);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

 private:
  RunFolderLock() = default;
  // Says whether the lock was taken; throws IoError when the lock file cannot be opened.
  bool acquire(const std::filesystem::path& dir);
  int fd_ = -1;
};

// <dir>/run.lock.
[[nodiscard]] std::filesystem::path run_lock_path(const std::filesystem::path& dir);

// Repairs `dir` as the table above says and removes stale temporaries of dead processes, in `dir`
// and in its checkpoint/ and best/. Returns one line per repair made ("checkpoint.tmp-123 (complete)
// became checkpoint"). The caller should hold the folder's lock.
std::vector<std::string> recover_run_folder(const std::filesystem::path& dir);

// Whether the process `pid` is running (a process of another user counts).
[[nodiscard]] bool process_is_alive(long pid);

}  // namespace recur
