// The one way recur's kernels run on several threads: `parts` independent pieces of work, the
// first on the calling thread and the others on the worker pool's threads (core/worker_pool.h),
// all done before returning (OpenBLAS stays on one thread, see recur/core/threads.h). Used by the recurrent
// time loops (nn/), the fused head and the split GEMM.
#pragma once

#include <cstdint>
#include <memory>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/worker_pool.h"

namespace recur {

// WorkerPool's view of a callable fn(member): its address, and a plain function that calls it.
template <typename Fn>
void pool_task(void* context, int member) {
  (*static_cast<std::remove_reference_t<Fn>*>(context))(member);
}
template <typename Fn>
void* pool_context(Fn& fn) {
  return const_cast<void*>(static_cast<const void*>(std::addressof(fn)));
}

// Runs fn(part) for part in [0, parts). When the system refuses to start a thread (a container's
// thread limit, EAGAIN), the parts it could not start run on the calling thread instead: slower,
// never lost, never std::terminate. fn must not throw.
template <typename Fn>
void run_parts(int parts, Fn&& fn) {
  if (parts <= 1) {
    fn(0);
    return;
  }
  WorkerPool& pool = WorkerPool::instance();
  if (const int workers = pool.claim(parts - 1); workers >= 0) {
    pool.launch(workers, pool_task<Fn>, pool_context(fn));
    fn(0);
    for (int part = workers + 1; part < parts; ++part) fn(part);  // those no worker could take
    pool.finish();
    return;
  }
  // The pool is busy (a nested or concurrent caller): threads of our own.
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
