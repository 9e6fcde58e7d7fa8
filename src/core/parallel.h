// The one way recur's kernels run on several threads: contiguous blocks of independent rows, one
// per thread, started per call and joined before returning (OpenBLAS stays on one thread, see
// recur/threads.h). Used by the recurrent time loops (nn/sequence.h) and the fused head.
#pragma once

#include <cstdint>
#include <thread>
#include <vector>

namespace recur {

// Runs fn(part, r0, r1) for `parts` contiguous blocks [r0, r1) of [0, N), the first on the calling
// thread and the others on threads started here and joined before returning.
template <typename Fn>
void for_row_blocks(int64_t N, int parts, Fn&& fn) {
  if (parts <= 1) {
    fn(0, int64_t{0}, N);
    return;
  }
  std::vector<std::thread> helpers;
  helpers.reserve(static_cast<size_t>(parts - 1));
  for (int p = 1; p < parts; ++p)
    helpers.emplace_back([&fn, p, parts, N] { fn(p, N * p / parts, N * (p + 1) / parts); });
  fn(0, int64_t{0}, N / parts);
  for (auto& t : helpers) t.join();
}

}  // namespace recur
