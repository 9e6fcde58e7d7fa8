// The training commands' terminal output and stop signals.
#include "train_progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>

namespace recur::cli {

namespace {
// Set by SIGINT (Ctrl-C) and SIGTERM (what batch schedulers send); the trainer checks it after
// every step, saves a checkpoint and returns. The exit status is then 128 + the signal.
std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};
extern "C" void on_stop_signal(int signal) {
  g_signal.store(signal);
  g_interrupted.store(true);
}
}  // namespace

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

ProgressPrinter::ProgressPrinter(double time_budget)
    : tty_(::isatty(STDERR_FILENO) != 0), budget_(time_budget) {}

void ProgressPrinter::step(const TrainProgress& p) {
  const double frac = static_cast<double>(p.batch) / static_cast<double>(p.batches_per_epoch);
  double left = p.tokens_per_s > 0 && frac > 0 ? (1 - frac) / frac * (p.elapsed_s - epoch_start_) : 0;
  if (p.batch == 1) epoch_start_ = p.elapsed_s;
  if (budget_ > 0) left = std::min(left, budget_ - p.elapsed_s);
  if (tty_) {
    const int width = 24, filled = static_cast<int>(frac * width);
    fmt::print(stderr, "\repoch {:>3} [{}{}] {:3.0f}%  {:>8.0f} tok/s  loss {:.3f}  ppl {:8.2f}  left {}   ",
               p.epoch, std::string(static_cast<size_t>(filled), '#'),
               std::string(static_cast<size_t>(width - filled), ' '), 100 * frac, p.tokens_per_s, p.loss,
               std::exp(p.loss), format_duration(std::max(left, 0.0)));
  } else if (p.elapsed_s - last_line_ >= 10) {
    last_line_ = p.elapsed_s;
    fmt::print(stderr, "epoch {} batch {}/{} step {}: loss {:.4f} ppl {:.2f} {:.0f} tok/s grad_norm {:.3f}\n",
               p.epoch, p.batch, p.batches_per_epoch, p.step, p.loss, std::exp(p.loss), p.tokens_per_s,
               p.grad_norm);
  }
}

void ProgressPrinter::epoch(const EpochMetrics& m) {
  if (tty_) fmt::print(stderr, "\n");
  fmt::print(
      "epoch {:>3}  step {:>6}  train ppl {:8.3f}  valid ppl {:8.3f}  {:>8.0f} tok/s  lr {:.4g}  grad_norm "
      "{:.3f}\n",
      m.epoch, m.step, m.train_perplexity, m.valid_perplexity, m.tokens_per_s, m.lr, m.grad_norm);
  std::fflush(stdout);
}

StopSignals::StopSignals() {
  g_interrupted = false;
  g_signal = 0;
  previous_int_ = std::signal(SIGINT, on_stop_signal);
  previous_term_ = std::signal(SIGTERM, on_stop_signal);
}

StopSignals::~StopSignals() {
  std::signal(SIGINT, previous_int_);
  std::signal(SIGTERM, previous_term_);
}

const std::atomic<bool>* stop_flag() { return &g_interrupted; }

int stop_signal() { return g_signal.load() != 0 ? g_signal.load() : SIGINT; }

}  // namespace recur::cli
