// run_parts / for_row_blocks: every part runs exactly once, on the worker pool's threads when it is
// free and on threads of their own when it is not (nested, concurrent, after fork), and a process
// that may not start threads (a container's limit) still finishes its work on the calling thread.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
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

// The pool's point: the second region runs on the threads the first one started.
TEST(RunParts, ReusesTheWorkerThreads) {
  auto helper_ids = [] {
    std::mutex m;
    std::set<std::thread::id> ids;
    run_parts(3, [&](int part) {
      if (part == 0) return;
      const std::lock_guard lock(m);
      ids.insert(std::this_thread::get_id());
    });
    return ids;
  };
  const auto first = helper_ids(), second = helper_ids();
  EXPECT_EQ(first.size(), 2u);
  EXPECT_EQ(first, second);
  EXPECT_EQ(first.count(std::this_thread::get_id()), 0u);
}

// A region inside a region, and regions on two threads at once: the pool serves one of them and the
// others start their own threads; every part still runs once.
TEST(RunParts, NestedAndConcurrentRegionsRunEveryPart) {
  std::atomic<int> runs{0};
  run_parts(3, [&](int) { run_parts(4, [&](int) { runs++; }); });
  EXPECT_EQ(runs, 12);
  runs = 0;
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] {
      for (int round = 0; round < 200; ++round) run_parts(3, [&](int) { runs++; });
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(runs, 4 * 200 * 3);
}

// A forked child (a death test) has the pool object but not its threads: it must start new ones
// rather than wait for workers that stayed in the parent.
TEST(RunParts, WorksInAForkedChild) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer ends a child of a multithreaded fork that starts threads (die_after_fork)";
#endif
  run_parts(2, [](int) {});  // the pool has a worker now
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::atomic<int> runs{0};
    run_parts(3, [&](int) { runs++; });
    ::_exit(runs == 3 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
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
