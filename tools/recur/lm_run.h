// What `recur train` and `recur demo` share: a run's settings (saved as OUT/run.json so that
// `--resume OUT` needs nothing else), the training driver with its progress display, and model
// folder lookup for `generate` and `eval`.
#pragma once

#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "recur/lm/trainer.h"

namespace recur::cli {

struct RunSpec {
  std::string data = "timemachine";
  std::string valid;              // a file; empty = the last valid_fraction of the data
  double valid_fraction = 0.1;
  std::string level = "char";
  std::string mode = "d2l";
  int64_t min_freq = 0;
  std::string cell = "gru";
  std::string nonlinearity = "tanh";  // rnn only
  int layers = 1;
  int64_t hidden = 256;
  int64_t embed = 0;
  double dropout = 0;
  TrainOptions train;
  std::string resume;  // a run folder to continue
  bool epochs_given = false;       // on resume: --epochs replaces the run's count
  bool time_budget_given = false;  // on resume: --time-budget replaces the run's budget
  bool patience_given = false;     // on resume: --patience replaces the run's patience
  std::string prefix = "time traveller ";  // sampled after training
  int64_t sample_length = 100;
};

// Registers the options of `recur train` on `cmd`, writing into `spec`.
void add_train_options(CLI::App& cmd, RunSpec& spec);

// Trains (or resumes) as `spec` says, printing progress, and finally the validation perplexity
// and a greedy continuation of spec.prefix. Returns the process exit code.
int run_training(RunSpec spec);

// A model folder (holding config.json), or a run folder whose best/ or checkpoint/ holds one.
[[nodiscard]] std::filesystem::path find_model_folder(const std::filesystem::path& dir);

}  // namespace recur::cli
