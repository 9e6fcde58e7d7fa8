// run_parts / for_row_blocks: every part runs exactly once, and a process that may not start
// threads (a container's limit) still finishes its work on the calling thread.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <vector>

#include "core/parallel.h"
#include "test_support.h"

namespace recur {
namespace {

TEST(RunParts, RunsEveryPartOnce) {
  for (int parts = 1; parts <= 9; ++parts) {
    std::vector<std::atomic<int>> runs(static_cast<size_t>(parts));
    run_parts(parts, [&](int part) { runs[static_cast<size_t>(part)]++; });
    for (int p = 0; p < parts; ++p)
      EXPECT_EQ(runs[static_cast<size_t>(p)], 1) << "parts " << parts << " part " << p;
  }
}

TEST(ForRowBlocks, BlocksTileTheRange) {
  for (int64_t N : {0, 1, 7, 64, 1001}) {
    for (int parts = 1; parts <= 5; ++parts) {
      std::vector<std::atomic<int>> covered(static_cast<size_t>(N));
      for_row_blocks(N, parts, [&](int, int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) covered[static_cast<size_t>(r)]++;
      });
      for (int64_t r = 0; r < N; ++r)
        EXPECT_EQ(covered[static_cast<size_t>(r)], 1) << "N " << N << " parts " << parts;
    }
  }
}

// The tool under RLIMIT_NPROC = 1 as an unprivileged user: no thread can be started, so every
// multithreaded kernel must fall back to the calling thread (it used to throw or std::terminate).
// OpenBLAS's own pool exits the process at load when it cannot start its threads, whatever recur
// does, so OPENBLAS_NUM_THREADS=1 keeps it from trying (recur never uses that pool); under ASan,
// LeakSanitizer needs a thread of its own at exit, so leak checking is off for this one run.
TEST(ThreadLimit, TrainingFinishesWhenNoThreadCanStart) {
  if (::geteuid() != 0 || std::system("command -v prlimit >/dev/null && command -v setpriv >/dev/null") != 0)
    GTEST_SKIP() << "needs root, prlimit and setpriv to run the tool as a thread-limited user";
  const std::string as_nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups";
  if (std::system((as_nobody + " test -x '" + test::cli_path() + "'").c_str()) != 0)
    GTEST_SKIP() << "the user nobody cannot run " << test::cli_path();
  const auto r = test::run_cli(
      "bench train --cell gru --layers 1 --hidden 256 --batch 64 --steps 35 --vocab 28 --threads 4 --seconds "
      "0.3",
      "prlimit --nproc=1 " + as_nobody + " env OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=0");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tokens_per_s="), std::string::npos) << r.output;
}

}  // namespace
}  // namespace recur
