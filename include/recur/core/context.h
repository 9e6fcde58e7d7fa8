// What an operation may use of the machine, passed explicitly (STYLE.md rule 14: no process-wide
// thread setting). A Graph carries one (recur/autograd/graph.h), and its ops read it; kernels take
// the thread count as an argument.
#pragma once

namespace recur {

// The most threads a context may ask for: each thread gets its own buffers in the recurrent stack
// and the fused head, so a typo such as --threads 100000 must not size them.
inline constexpr int kMaxThreads = 256;

struct ComputeContext {
  int threads = 1;  // threads recur's kernels may run on, in [1, kMaxThreads]
};

// The machine's hardware threads (std::thread::hardware_concurrency), at least 1.
[[nodiscard]] int hardware_threads();

// The context for a user's thread count (--threads): 0 means all hardware threads; the count is
// capped at min(kMaxThreads, 4 x hardware_threads()) (more threads than that only add start-up
// cost). Throws ValueError "threads must be >= 0 (0 = all cores), got -3" when negative.
[[nodiscard]] ComputeContext make_compute_context(int threads);

// Throws ValueError naming `where` unless context.threads is in [1, kMaxThreads].
void check_compute_context(const ComputeContext& context, const char* where);

}  // namespace recur
