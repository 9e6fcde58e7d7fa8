// Building and checking a ComputeContext (see context.h).
#include "recur/core/context.h"

#include <algorithm>
#include <string>
#include <thread>

#include "recur/core/error.h"

namespace recur {

int hardware_threads() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

ComputeContext make_compute_context(int threads) {
  check<ValueError>(threads >= 0, "threads must be >= 0 (0 = all cores), got " + std::to_string(threads));
  const int hardware = hardware_threads();
  const int cap = std::min(kMaxThreads, 4 * hardware);
  return ComputeContext{.threads = threads == 0 ? std::min(hardware, cap) : std::min(threads, cap)};
}

void check_compute_context(const ComputeContext& context, const char* where) {
  check<ValueError>(context.threads >= 1 && context.threads <= kMaxThreads,
                    std::string(where) + ": threads must be in [1, " + std::to_string(kMaxThreads) +
                        "], got " + std::to_string(context.threads));
}

}  // namespace recur
