#include "core/worker_pool.h"

#include <unistd.h>

#include <algorithm>
#include <system_error>
#include <thread>

namespace recur {

WorkerPool& WorkerPool::instance() {
  // Leaked on purpose: destroying it at exit would have to wake and join threads that may be asleep
  // in a futex while other static destructors still run.
  static auto* pool = new WorkerPool();
  return *pool;
}

int WorkerPool::claim(int helpers) {
  bool expected = false;
  if (!held_.compare_exchange_strong(expected, true, std::memory_order_acquire)) return -1;
  if (owner_ != ::getpid()) {
    // A child of fork() (a death test) has this object but not the threads, which stayed in the
    // parent: forget them (their memory too, which the parent still uses) and start new ones.
    for (auto& worker : workers_) (void)worker.release();
    workers_.clear();
    owner_ = ::getpid();
  }
  while (static_cast<int>(workers_.size()) < helpers) {
    auto worker = std::make_unique<Worker>();
    const int member = static_cast<int>(workers_.size()) + 1;
    try {
      std::thread([this, w = worker.get(), member] { serve(w, member); }).detach();
    } catch (const std::system_error&) {
      break;  // a thread limit: the job gets the workers that exist
    }
    workers_.push_back(std::move(worker));
  }
  return std::min(helpers, static_cast<int>(workers_.size()));
}

void WorkerPool::launch(int helpers, Task task, void* context) {
  task_ = task;
  context_ = context;
  pending_.store(helpers, std::memory_order_relaxed);  // published by the release below
  for (int m = 1; m <= helpers; ++m) {
    Worker& worker = *workers_[static_cast<size_t>(m - 1)];
    worker.round.fetch_add(1, std::memory_order_release);
    worker.round.notify_one();
  }
}

void WorkerPool::finish() {
  for (int left = pending_.load(std::memory_order_acquire); left != 0;) left = spin_then_wait(pending_, left);
  held_.store(false, std::memory_order_release);
}

void WorkerPool::serve(Worker* worker, int member) {
  unsigned seen = 0;
  for (;;) {
    seen = spin_then_wait(worker->round, seen);
    task_(context_, member);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

}  // namespace recur
