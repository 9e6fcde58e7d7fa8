// Thread count, and OpenBLAS kept on one thread (see threads.h).
#include "recur/core/threads.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <thread>

namespace recur {

namespace {

int all_cores() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

std::atomic<int>& thread_setting() {
  // First use (before any kernel runs): OpenBLAS to one thread, recur to all cores.
  static std::atomic<int> setting = [] {
    openblas_set_num_threads(1);
    return all_cores();
  }();
  return setting;
}

}  // namespace

void set_num_threads(int n) { thread_setting().store(n <= 0 ? all_cores() : n); }

int num_threads() { return thread_setting().load(std::memory_order_relaxed); }

const char* blas_core_name() { return openblas_get_corename(); }

}  // namespace recur
