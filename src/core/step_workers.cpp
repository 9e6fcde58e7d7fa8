// StepWorkers (step_workers.h): the helpers' loop and the claiming of parts.
#include "core/step_workers.h"

namespace recur {

StepWorkers::StepWorkers(int helpers) {
  threads_.reserve(static_cast<size_t>(helpers));
  for (int worker = 1; worker <= helpers; ++worker) threads_.emplace_back([this, worker] { loop(worker); });
}
StepWorkers::~StepWorkers() {
  stop_.store(true, std::memory_order_release);
  state_.fetch_add(uint64_t{1} << 32, std::memory_order_release);  // a new ticket wakes every helper
  state_.notify_all();
  for (std::thread& t : threads_) t.join();
}

int StepWorkers::claim(uint32_t ticket) {
  uint64_t word = state_.load(std::memory_order_acquire);
  for (;;) {
    const auto next = static_cast<int>(word & 0xffff), parts = static_cast<int>(word >> 16 & 0xffff);
    if (static_cast<uint32_t>(word >> 32) != ticket || next >= parts) return -1;
    if (state_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel, std::memory_order_acquire))
      return next;
  }
}

void StepWorkers::loop(int worker) {
  uint32_t seen = 0;  // the last ticket this helper looked at
  for (;;) {
    uint64_t word = state_.load(std::memory_order_acquire);
    for (int spin = 0; spin < kSpins && static_cast<uint32_t>(word >> 32) == seen; ++spin) {
      cpu_relax();
      word = state_.load(std::memory_order_acquire);
    }
    while (static_cast<uint32_t>(word >> 32) == seen) {
      state_.wait(word, std::memory_order_acquire);
      word = state_.load(std::memory_order_acquire);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = static_cast<uint32_t>(word >> 32);
    // A claimed part keeps its job alive (the caller waits for it), so job_ is that job's here.
    for (int part = claim(seen); part >= 0; part = claim(seen)) {
      job_.call(job_.fn, part, worker);
      done_.fetch_add(1, std::memory_order_release);
      done_.notify_one();
    }
  }
}

}  // namespace recur
