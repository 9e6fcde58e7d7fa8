// Helper threads kept between parallel regions, so that run_parts (core/parallel.h) and
// run_step_team (nn/step_team.h) hand their parts to threads that already exist instead of starting
// and joining one per call: 20-50 us each on a 2-vCPU Xeon under KVM, against a training step of a
// small layer (bench layer config B: about 3 ms) with five parallel regions or more. Idle workers
// spin briefly (the next region usually follows within microseconds), then sleep on a futex, so an
// idle pool costs nothing; OpenBLAS's own pool, which spins far longer, stays off (recur/core/threads.h).
//
// One job holds the pool at a time. A caller that finds it held (a nested region, or a second
// thread of the process running its own parallel work: the data-parallel tests run ranks as threads)
// gets -1 from claim and starts threads of its own, as before the pool existed.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <vector>

namespace recur {

// Returns the new value once `value` no longer equals `old`: spins 4096 pause instructions first
// (20-50 us on most cores, 86 us on the Xeon of bench/README, whose pause is slower), then sleeps on
// the futex. Long enough to bridge the gap between two parallel regions of a training step or a
// step barrier's usual wait, short enough that a waiting thread hands its core back quickly on a
// shared machine. The pool's workers and StepBarrier (nn/step_team.h) wait this way.
template <typename Int>
Int spin_then_wait(const std::atomic<Int>& value, Int old) {
  for (int spins = 0; spins < 4096; ++spins) {
    if (const Int now = value.load(std::memory_order_acquire); now != old) return now;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  Int now = old;
  while ((now = value.load(std::memory_order_acquire)) == old) value.wait(old, std::memory_order_acquire);
  return now;
}

class WorkerPool {
 public:
  using Task = void (*)(void* context, int member);

  // The process's pool. It is never destroyed: its threads sleep when idle and end with the process.
  static WorkerPool& instance();

  // Claims the pool for one job and makes sure `helpers` worker threads exist. Returns how many the
  // job may use (fewer than asked when the system refuses to start more threads), or -1 when another
  // job holds the pool; after anything but -1 the caller must call finish().
  int claim(int helpers);
  // Runs task(context, m) for m = 1 .. helpers (at most claim's answer) on the workers, while the
  // caller goes on (it is member 0 of the job by convention).
  void launch(int helpers, Task task, void* context);
  // Waits until every member launch started has returned, then frees the pool for the next job.
  void finish();

 private:
  struct Worker {
    std::atomic<unsigned> round{0};  // bumped by launch: one more task to run
  };
  WorkerPool() = default;
  void serve(Worker* worker, int member);

  std::atomic<bool> held_{false};
  std::vector<std::unique_ptr<Worker>> workers_;  // worker m-1 runs member m; touched by the holder only
  pid_t owner_ = 0;                               // the process the workers run in (see claim)
  // The job: written by the holder before it bumps a worker's round (release), read by the worker
  // after it sees the new round (acquire).
  Task task_ = nullptr;
  void* context_ = nullptr;
  std::atomic<int> pending_{0};  // members of the current job still running
};

}  // namespace recur
