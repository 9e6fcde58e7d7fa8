// What `recur train` and `recur demo` share: the flags of a training run (mapped onto the library's
// RunSettings), the driver that calls recur/lm/run.h and prints its progress, and the table that
// turns the library's option field names into flag names in error messages.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "launched_job.h"
#include "recur/lm/run.h"

namespace recur::cli {

struct TrainFlags {
  RunSettings settings;  // numeric flags write straight into it
  // Named choices, parsed into `settings` by to_settings (CLI11 checks membership).
  std::string level = "char", mode = "d2l", cell = "gru", nonlinearity = "tanh";
  std::string partition = "sequential", optimizer = "sgd", lr_schedule = "constant";
  std::string resume;                      // a run folder to continue
  bool force = false;                      // a new run may replace the run already in --out
  ResumeOverrides overrides;               // on resume: the flags given for how long to go on
  std::string prefix = "time traveller ";  // continued after training
  int64_t sample_length = 100;
  double sample_temperature = 0.8;  // the second sample's; 0 = the greedy one only
};

// Registers the options of `recur train` on `cmd`, writing into `flags`.
void add_train_options(CLI::App& cmd, TrainFlags& flags);
// Records which of the resume-relevant flags were given (call in the command's callback).
void note_resume_overrides(const CLI::App& cmd, TrainFlags& flags);

// Trains (or resumes) as `flags` say, printing progress, the validation perplexity and two
// continuations of flags.prefix (greedy, and sampled at flags.sample_temperature with the run's
// seed). Returns the process exit code. OptionErrors come out with the flag's name. With a `job` of
// several processes they train one model (recur/lm/trainer.h), and rank 0 alone prints, with the
// share of the training time spent in the all-reduce.
int run_training(const TrainFlags& flags, LaunchedJob* job = nullptr);

// The library's OptionError message with its first mention of the field spelled as the flag
// (hidden_size -> --hidden).
[[nodiscard]] std::string with_flag_name(const OptionError& e);

}  // namespace recur::cli
