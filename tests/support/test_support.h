// Helpers shared by the tests: where the reference vectors, datasets and the CLI are, and running
// the CLI as a user would.
#pragma once

#include <filesystem>
#include <string>

namespace recur::test {

// RECUR_VECTORS, else ../shared/vectors beside the repository root.
std::filesystem::path vectors_dir();
// The first folder of RECUR_DATA, else ../shared/data beside the repository root.
std::filesystem::path shared_data_dir();
// tests/data in the source tree (small fixtures).
std::filesystem::path test_data_dir();
// A fresh empty temporary folder, unique per call, removed when the test process exits normally
// (kept when RECUR_KEEP_TEST_DIRS=1).
std::filesystem::path make_temp_dir(const std::string& tag);

struct CliResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};
// Runs the built `recur` tool with a shell-quoted argument string, e.g. run_cli("stats x.txt").
// `launcher`, when given, is a command line the tool runs under (e.g. "prlimit --nproc=1").
CliResult run_cli(const std::string& args, const std::string& launcher = "");
// `path` in single quotes, for run_cli's argument string.
std::string shell_quoted(const std::filesystem::path& path);
// The path of the built `recur` tool (RECUR_CLI, else the build's own).
std::string cli_path();

}  // namespace recur::test
