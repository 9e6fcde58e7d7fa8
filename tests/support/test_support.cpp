// Locations and CLI runner for the tests.
#include "test_support.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace recur::test {

namespace fs = std::filesystem;

namespace {
fs::path source_dir() {
  if (const char* s = std::getenv("RECUR_SOURCE_DIR")) return s;
  return RECUR_SOURCE_DIR;
}
}  // namespace

fs::path vectors_dir() {
  if (const char* s = std::getenv("RECUR_VECTORS"); s && *s) return s;
  return source_dir() / ".." / "shared" / "vectors";
}

fs::path shared_data_dir() {
  if (const char* s = std::getenv("RECUR_DATA"); s && *s) {
    std::string all = s;
    return all.substr(0, all.find(':'));
  }
  return source_dir() / ".." / "shared" / "data";
}

fs::path test_data_dir() { return RECUR_TEST_DATA_DIR; }

namespace {
// The folders make_temp_dir created, removed when the test process exits normally (a killed or
// crashed test leaves them for a look). RECUR_KEEP_TEST_DIRS=1 keeps them always. Only the process
// that created them removes them: a forked child ends with _exit, but a stray exit() there must not
// pull the folders from under the parent.
class TempDirRegistry {
 public:
  void add(const fs::path& dir) {
    std::lock_guard lock(mutex_);
    dirs_.push_back(dir);
  }
  ~TempDirRegistry() {
    if (::getpid() != owner_) return;
    if (const char* keep = std::getenv("RECUR_KEEP_TEST_DIRS"); keep && *keep && std::string(keep) != "0")
      return;
    for (const fs::path& dir : dirs_) {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  }

 private:
  std::mutex mutex_;
  std::vector<fs::path> dirs_;
  pid_t owner_ = ::getpid();
};

TempDirRegistry& temp_dirs() {
  static TempDirRegistry registry;
  return registry;
}
}  // namespace

fs::path make_temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  fs::path dir = fs::temp_directory_path() /
                 ("recur-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  temp_dirs().add(dir);
  return dir;
}

std::string cli_path() {
  const char* cli = std::getenv("RECUR_CLI");
  return cli && *cli ? cli : RECUR_CLI_PATH;
}

std::string shell_quoted(const std::filesystem::path& path) {
  std::string out = "'";
  out.append(path.string()).append("'");  // appended: GCC 12 warns falsely (-Wrestrict) about "'" + s
  return out;
}

CliResult run_cli(const std::string& args, const std::string& launcher) {
  // Dataset names resolve as under `make test` even when ctest runs without RECUR_DATA.
  std::string command;
  if (const char* data = std::getenv("RECUR_DATA"); !data || !*data)
    command = "RECUR_DATA='" + shared_data_dir().string() + "' ";
  // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) about "'" + string + ... here.
  if (!launcher.empty()) command.append(launcher).append(" ");
  command.append("'").append(cli_path()).append("' ").append(args).append(" 2>&1");
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed for: " + command);
  std::string output;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  int status = ::pclose(pipe);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, output};
}

}  // namespace recur::test
