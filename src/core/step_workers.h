// Helper threads owned by one inference session, handed a job of several parts at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace recur {

// One pause instruction where there is one: the body of a spin-wait.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Helper threads for one session. run(parts, fn) calls fn(part, worker) once for every part in
// [0, parts) and returns when all are done; `worker` (0 = the caller) names the thread, for
// per-thread scratch. Parts are claimed one at a time from a shared counter: the caller takes part
// 0 and then whatever no helper has claimed yet, so a helper that is slow to wake (descheduled on a
// busy machine) costs its share and no more; the caller never waits on a part nobody has started.
// Between jobs a helper spins a little (a step takes microseconds), then sleeps on the counter
// (std::atomic::wait). fn must not throw. Unlike the process's WorkerPool (worker_pool.h), which the
// training scans share and release after each region, a session owns its helpers for its life: the
// decoder's steps (seq2seq/decoder_session.cpp) and batch-1 generation (lm/inference.cpp) hand off
// several times per token, microseconds apart.
class StepWorkers {
 public:
  explicit StepWorkers(int helpers);  // starts `helpers` threads
  ~StepWorkers();
  StepWorkers(const StepWorkers&) = delete;
  StepWorkers& operator=(const StepWorkers&) = delete;

  [[nodiscard]] int size() const { return 1 + static_cast<int>(threads_.size()); }

  template <class Fn>
  void run(int parts, Fn& fn) {
    if (parts <= 1 || threads_.empty()) {
      for (int part = 0; part < parts; ++part) fn(part, 0);
      return;
    }
    job_ = {.call = [](void* f, int part, int worker) { (*static_cast<Fn*>(f))(part, worker); }, .fn = &fn};
    const uint32_t ticket = ++ticket_;
    done_.store(0, std::memory_order_relaxed);  // every part of the last job has been counted
    state_.store(uint64_t{ticket} << 32 | static_cast<uint64_t>(parts) << 16 | 1, std::memory_order_release);
    state_.notify_all();
    fn(0, 0);
    int mine = 1;
    for (int part = claim(ticket); part >= 0; part = claim(ticket), ++mine) fn(part, 0);
    const auto theirs = static_cast<uint32_t>(parts - mine);
    for (int spin = 0; spin < kSpins && done_.load(std::memory_order_acquire) != theirs; ++spin) cpu_relax();
    for (uint32_t seen = done_.load(std::memory_order_acquire); seen != theirs;
         seen = done_.load(std::memory_order_acquire))
      done_.wait(seen, std::memory_order_acquire);
  }

 private:
  // Pauses before sleeping (tens of microseconds): enough to span the caller's work between the
  // hand-offs of a step and between one-row steps; 20000 and 200 measured the same on greedy
  // decoding, and a shorter spin leaves a busy machine's other work its core sooner.
  static constexpr int kSpins = 2000;
  struct Job {
    void (*call)(void*, int, int) = nullptr;
    void* fn = nullptr;
  };

  // The next unclaimed part of job `ticket`, or -1 when there is none (or the job is over).
  // state_ holds ticket << 32 | parts << 16 | next unclaimed part.
  int claim(uint32_t ticket);
  void loop(int worker);

  Job job_;              // written before state_ announces its ticket
  uint32_t ticket_ = 0;  // the caller's count of jobs
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> state_{0};    // ticket << 32 | parts << 16 | next unclaimed part
  std::atomic<uint32_t> done_{0};     // parts of the current job finished by helpers
  std::vector<std::thread> threads_;  // last: start after the counters exist
};

}  // namespace recur
