// A training run as `recur train` and `recur demo` drive it: the settings (kept as run.json so that a
// run can be resumed from its folder alone), the data with its validation split, the model, the
// trainer, and sampling from the kept model afterwards.
//
// Run folder (RunSettings::train.out_dir):
//   run.json         the settings, keys as the command line's flags: {"data", "valid", "valid_fraction",
//                    "level", "mode", "min_freq", "cell", "nonlinearity", "layers", "hidden", "embed",
//                    "dropout", "batch", "steps", "partition", "optimizer", "lr", "momentum",
//                    "weight_decay", "clip", "random_truncation", "lr_schedule", "lr_gamma", "epochs",
//                    "time_budget", "patience", "seed"}
//   checkpoint/, best/, metrics.csv, perplexity.svg   written by the trainer (recur/lm/trainer.h)
//   run.lock         locked (flock) by the process that trains in the folder (recur/lm/run_folder.h)
// A TrainingRun holds the folder's lock for its whole life, so a second run into the same folder
// fails naming the first one's process id; before it writes anything it repairs a folder that a
// killed run left mid-swap. A new run never replaces an earlier one unless asked to.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "recur/lm/checkpoint.h"
#include "recur/lm/run_folder.h"
#include "recur/lm/sampler.h"
#include "recur/lm/trainer.h"

namespace recur {

struct RunSettings {
  std::string data = "timemachine";  // training text: a file or a dataset name
  std::string valid;                 // validation text; empty = the last valid_fraction of the data
  double valid_fraction = 0.1;       // in [0, 0.9]
  TextEncoding encoding;
  int64_t min_freq = 0;  // tokens seen fewer times become <unk>
  CellType cell = CellType::kGru;
  int num_layers = 1;
  int64_t hidden_size = 256;
  int64_t embedding_size = 0;  // 0 = one-hot input
  double dropout = 0;
  TrainOptions train;
};

// Throws OptionError naming the first bad field (of RunSettings or of its TrainOptions).
void validate(const RunSettings& settings);

// Throws OptionError naming the setting that needs the most memory (hidden_size, embedding_size or
// batch) when training a model of `vocab_size` tokens as `settings` say needs more memory than the
// machine has (recur/lm/memory_estimate.h).
void check_training_fits(const RunSettings& settings, int64_t vocab_size);

// A new run into a folder that already holds one (run.json, checkpoint/ or best/).
class RunExistsError : public IoError {
 public:
  using IoError::IoError;
};
enum class ExistingRun {
  kRefuse,   // throw RunExistsError
  kReplace,  // remove the earlier run's checkpoint/, best/, metrics.csv and perplexity.svg first
};

// Writes `run_json` as `dir`/run.json for a new run; a folder that already holds a run (run.json,
// checkpoint/ or best/) is refused (RunExistsError) or, with kReplace, first cleared of that run's
// checkpoint/, best/, metrics.csv and perplexity.svg. Every kind of run (language model,
// translation) starts this way.
void write_run_settings(const std::filesystem::path& dir, const std::string& run_json, ExistingRun existing);

// The run folder's parts.
[[nodiscard]] std::filesystem::path run_settings_path(const std::filesystem::path& run_dir);  // run.json
[[nodiscard]] std::filesystem::path checkpoint_folder(const std::filesystem::path& run_dir);  // checkpoint/
[[nodiscard]] std::filesystem::path best_model_folder(const std::filesystem::path& run_dir);  // best/

// `dir` itself when it holds a model (config.json), else its best/, else its checkpoint/. Throws
// IoError naming `dir` when none does. A run folder (`dir`, or the folder above a checkpoint/ or
// best/ given as `dir`) that no process holds is first repaired (recover_run_folder).
[[nodiscard]] std::filesystem::path find_model_folder(const std::filesystem::path& dir);

// run.json's "cell" and "nonlinearity" (the command line's --cell rnn|gru|lstm, --nonlinearity
// tanh|relu, which only rnn reads) as a cell type, and back. Throws ValueError for unknown names.
[[nodiscard]] CellType run_cell_type(std::string_view cell, std::string_view nonlinearity);
[[nodiscard]] std::pair<std::string_view, std::string_view> run_cell_names(CellType cell);

// run.json's text (out_dir is not in it), and back: parse throws IoError naming `source` and the key.
[[nodiscard]] std::string run_settings_json(const RunSettings& settings);
[[nodiscard]] RunSettings parse_run_settings(const std::string& json_text, const std::string& source);

// How long a resumed run goes on: each given value replaces run.json's. The time budget is for one
// session, so a resumed run has none unless it is given again.
struct ResumeOverrides {
  std::optional<int64_t> epochs;
  std::optional<double> time_budget_s;
  std::optional<int64_t> patience;
};

// The settings of the run in `run_dir` (out_dir = run_dir) with `overrides` applied. Throws IoError
// when run.json is missing or malformed.
[[nodiscard]] RunSettings resume_settings(const std::filesystem::path& run_dir,
                                          const ResumeOverrides& overrides);

// The validation split when no validation text is given: the last floor(n * fraction) tokens.
[[nodiscard]] TrainData split_validation(std::vector<int32_t> ids, double fraction);
// How many of n tokens split_validation gives to validation (recur prepare splits the same way).
[[nodiscard]] int64_t validation_token_count(int64_t num_tokens, double fraction);

struct RunData {
  std::filesystem::path data_path;  // the training text or prepared folder, resolved
  int64_t min_freq = 0;             // the settings', or the prepared folder's
  ModelTextConfig text;             // the encoding and the vocabulary built from the training text
  TrainData data;                   // moved into the trainer by TrainingRun
  int64_t train_tokens = 0;         // data.train.size(), data.valid.size()
  int64_t valid_tokens = 0;
  int64_t valid_unknown_count = 0;  // validation tokens outside the vocabulary (scored as <unk>)
};

// Reads the training text (a file or dataset name), builds the vocabulary from it and encodes the
// validation text with it, or splits the validation tokens off the training text. A prepared folder
// (recur/lm/prepared_corpus.h) as `data` is mapped instead: its encoding, min_freq and validation
// split replace the settings' (a validation text given in `valid` is still read and encoded).
[[nodiscard]] RunData load_run_data(const RunSettings& settings);

// A continuation of a prompt, and which model wrote it.
struct RunSample {
  std::string text;        // the prompt's tokens and the continuation, detokenized
  bool from_best = false;  // best/'s model; else the model as training left it
};

class TrainingRun {
 public:
  // Validates the settings, loads the data, checks that training fits in memory, builds the model
  // (initialized from train.seed) and its trainer, creates the output folder, takes its lock and
  // repairs what a killed run left there. Throws OptionError, IoError (also when another process
  // holds the folder) or ValueError. With a `group` of processes training together (the Trainer's
  // data parallelism), rank 0 alone creates, locks, repairs and writes the folder; every process
  // waits here until it has, so that each can then read a checkpoint from it (shared storage).
  explicit TrainingRun(RunSettings settings, ProcessGroup* group = nullptr);

  // A new run: writes run.json (rank 0 of a group). A folder that already holds a run is refused
  // (RunExistsError) or, with kReplace, cleared of it first.
  void save_settings(ExistingRun existing = ExistingRun::kRefuse);
  // What the constructor repaired in the folder, one line each (recover_run_folder).
  [[nodiscard]] const std::vector<std::string>& repairs() const { return repairs_; }
  // Continues from checkpoint/ (see Trainer::resume).
  void resume();
  // See Trainer::run.
  TrainSummary train(const std::atomic<bool>* stop = nullptr, const TrainCallbacks& callbacks = {});

  // Continues `prompt` (encode_prompt) by `length` tokens with the kept model of lowest validation
  // perplexity (best/), or with the current model when there is none; nothing when the prompt gives
  // no tokens.
  [[nodiscard]] std::optional<RunSample> sample(std::string_view prompt, int64_t length,
                                                const SamplerOptions& sampler, uint64_t seed) const;

  [[nodiscard]] const RunSettings& settings() const { return settings_; }
  [[nodiscard]] const RunData& data() const { return data_; }
  [[nodiscard]] const LanguageModel& model() const { return *model_; }

 private:
  RunSettings settings_;
  ProcessGroup* group_;                  // null: this process alone
  std::unique_ptr<RunFolderLock> lock_;  // held for the run's life (by rank 0 of a group)
  std::vector<std::string> repairs_;
  RunData data_;                          // data_.data is moved into the trainer
  std::unique_ptr<LanguageModel> model_;  // not movable: the trainer refers to it
  std::unique_ptr<Trainer> trainer_;
};

}  // namespace recur
