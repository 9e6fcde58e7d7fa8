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
#include <chrono>
#include <memory>
#include <vector>

namespace recur {

// Returns the new value once `value` no longer equals `old`: spins for about 300 us first (pause
// instructions, the clock read every 64), then sleeps on the futex. Long enough to bridge the gap
// between two parallel regions of a training step (a serial pack of a 1-4 MiB W_hh takes 50-600 us)
// and a step barrier's waits, short enough that a waiting thread hands its core back soon on a
// shared machine (libgomp, under oneDNN, spins longer). On the Xeon of bench/README, 4096 pauses
// (86 us) before sleeping lost 2-4% against 16384 on bench layer B and C LSTM at 2 threads: the
// wake-up from the futex costs tens of microseconds there. The pool's workers and StepBarrier
// (nn/step_team.h) wait this way.
template <typename Int>
Int spin_then_wait(const std::atomic<Int>& value, Int old) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point give_up = Clock::now() + std::chrono::microseconds(300);
  for (int spins = 1;; ++spins) {
    if (const Int now = value.load(std::memory_order_acquire); now != old) return now;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (spins % 64 == 0 && Clock::now() >= give_up) break;
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
