// What the training commands share on the terminal: the progress line, the epoch line, and
// SIGINT/SIGTERM turned into "save a checkpoint and return" (exit status 128 + the signal).
#pragma once

#include <atomic>
#include <string>

#include "recur/lm/trainer.h"  // TrainProgress, EpochMetrics

namespace recur::cli {

// "m:ss".
[[nodiscard]] std::string format_duration(double seconds);

// A progress bar on a terminal (stderr), a line every 10 s otherwise; one line per epoch on stdout.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(double time_budget);
  void step(const TrainProgress& p);
  void epoch(const EpochMetrics& m);

 private:
  bool tty_;
  double budget_;
  double last_line_ = 0;
  double epoch_start_ = 0;
};

// While it lives, SIGINT and SIGTERM set stop_flag() (the trainer checks it after every step).
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

[[nodiscard]] const std::atomic<bool>* stop_flag();
// The signal that set the flag (SIGINT when none was recorded).
[[nodiscard]] int stop_signal();

}  // namespace recur::cli
