// Threads that walk one layer's time loop together, meeting at a barrier inside every step: the
// scans' column split (sequence_scan.h), where each thread computes its own columns of the
// recurrent product for all batch rows, so that each streams only its part of W_hh per step
// instead of all of it (oneDNN splits its RNN primitives the same way).
#pragma once

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>
#include <vector>

#include "core/parallel.h"

namespace recur::fused {

// A reusable barrier for `count` threads. It spins first (one step's work is split evenly, so the
// wait is usually a few microseconds), then sleeps on the round counter (a futex), so that on a
// machine with more runnable threads than cores a waiting member hands its core to the member it
// waits for instead of spinning through that member's time slice.
class StepBarrier {
 public:
  explicit StepBarrier(int count) : count_(count) {}
  StepBarrier(const StepBarrier&) = delete;
  StepBarrier& operator=(const StepBarrier&) = delete;

  // Returns once all `count` threads have called it (for this round); what each wrote before it is
  // visible to all after.
  void arrive_and_wait() {
    if (count_ <= 1) return;
    const unsigned round = round_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == count_) {
      arrived_.store(0, std::memory_order_relaxed);
      round_.fetch_add(1, std::memory_order_release);
      round_.notify_all();
      return;
    }
    spin_then_wait(round_, round);
  }

 private:
  int count_;
  std::atomic<int> arrived_{0};
  std::atomic<unsigned> round_{0};
};

// Runs fn(member, team, barrier) on up to `threads` threads at once (the calling thread is member
// 0, the others the worker pool's) and returns the team size. When the system refuses to start a thread (a
// container's thread limit), the team is smaller; every member learns its size before starting, so the
// barrier never waits for a thread that does not exist. fn must not throw.
template <typename Fn>
int run_step_team(int threads, Fn&& fn) {
  WorkerPool& pool = WorkerPool::instance();
  if (const int workers = pool.claim(threads - 1); workers >= 0) {
    const int size = workers + 1;
    StepBarrier barrier(size);
    auto member_fn = [&fn, &barrier, size](int member) { fn(member, size, barrier); };
    pool.launch(workers, pool_task<decltype(member_fn)>, pool_context(member_fn));
    member_fn(0);
    pool.finish();
    return size;
  }
  // The pool is busy (a nested or concurrent caller): threads of our own.
  std::atomic<int> team{0};  // 0 until the calling thread knows how many started
  std::vector<std::thread> helpers;
  helpers.reserve(static_cast<size_t>(std::max(threads - 1, 0)));
  std::atomic<StepBarrier*> published{nullptr};  // the barrier, once the team size is known
  try {
    for (int member = 1; member < threads; ++member)
      helpers.emplace_back([&fn, &team, &published, member] {
        int size = 0;
        while ((size = team.load(std::memory_order_acquire)) == 0) std::this_thread::yield();
        fn(member, size, *published.load(std::memory_order_acquire));
      });
  } catch (const std::system_error&) {
    // The members that did start make up the team.
  }
  const int size = static_cast<int>(helpers.size()) + 1;
  StepBarrier barrier(size);
  published.store(&barrier, std::memory_order_release);
  team.store(size, std::memory_order_release);
  fn(0, size, barrier);
  for (auto& t : helpers) t.join();
  return size;
}

}  // namespace recur::fused
