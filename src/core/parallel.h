// The one way recur's kernels run on several threads: `parts` independent pieces of work, the
// first on the calling thread and the others on threads started per call and joined before
// returning (OpenBLAS stays on one thread, see recur/core/threads.h). Used by the recurrent time
// loops (nn/), the fused head and the split GEMM.
#pragma once

#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace recur {

// Runs fn(part) for part in [0, parts). When the system refuses to start a thread (a container's
// thread limit, EAGAIN), the parts it could not start run on the calling thread instead: slower,
// never lost, never std::terminate. fn must not throw.
template <typename Fn>
void run_parts(int parts, Fn&& fn) {
  if (parts <= 1) {
    fn(0);
    return;
  }
  std::vector<std::thread> helpers;
  helpers.reserve(static_cast<size_t>(parts - 1));
  int started = 1;
  try {
    for (; started < parts; ++started) helpers.emplace_back([&fn, part = started] { fn(part); });
  } catch (const std::system_error&) {
    // Parts [started, parts) run below, here.
  }
  fn(0);
  for (int part = started; part < parts; ++part) fn(part);
  for (auto& t : helpers) t.join();
}

// Runs fn(part, r0, r1) for `parts` contiguous blocks [r0, r1) of [0, N), as run_parts.
template <typename Fn>
void for_row_blocks(int64_t N, int parts, Fn&& fn) {
  run_parts(parts, [&fn, N, parts](int part) { fn(part, N * part / parts, N * (part + 1) / parts); });
}

}  // namespace recur
