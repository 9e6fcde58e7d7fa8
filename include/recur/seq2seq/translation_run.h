// A translation training run as `recur translate train` drives it: settings kept as run.json (so a
// run resumes from its folder alone), the pairs and their validation split, vocabularies, model and
// trainer. The run folder is the language model's (recur/lm/run.h): run.json, checkpoint/, best/,
// metrics.csv, perplexity.svg and run.lock, locked for the run's life and repaired on start.
//
// run.json: {"kind": "translate", "data", "valid", "valid_pairs", "valid_fraction", "max_pairs",
//            "min_freq", "vocab_with_valid", "long", "bucket_pool" (absent before it existed: 50), "cell",
//            "layers", "hidden", "embed", "dropout", "bidirectional", "attention", "batch", "steps",
//            "optimizer", "lr", "momentum", "weight_decay", "clip", "lr_schedule", "lr_gamma", "epochs",
//            "time_budget", "patience", "seed"}
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "recur/lm/run.h"  // RunExistsError, ExistingRun, ResumeOverrides, run folder parts
#include "recur/seq2seq/seq2seq_trainer.h"
#include "recur/seq2seq/translation_data.h"

namespace recur {

struct TranslationSettings {
  std::string data = "fra-eng";  // pairs: a file or a dataset name
  std::string valid;             // validation pairs; empty = split off the end of data
  int64_t valid_pairs = -1;      // >= 0: exactly this many pairs from the end of data; < 0: valid_fraction
  double valid_fraction = 0.1;   // in [0, 0.9]
  int64_t max_pairs = 0;         // > 0: read only the first max_pairs pairs of data (before the split)
  int64_t min_freq = 2;
  // Build the vocabularies from the training and the validation pairs together, as d2l 1.0's
  // MTFraEng does (its arrays are built before the split); by default from the training pairs only.
  bool vocab_with_valid = false;
  LongSequences long_sequences = LongSequences::kTruncate;
  // Training batches per length-sorted pool: 1 draws each batch at random as d2l does; e.g. 50
  // groups pairs of like length (faster, but worse BLEU on fra-eng: translation_batches.h).
  int64_t bucket_pool = 1;
  Seq2SeqConfig model;  // vocabulary sizes are filled in from the data
  TrainOptions train;   // train.steps: the longest sequence kept
};

// d2l 10.7's recipe as defaults: GRU 2 x 256, embedding 256, dropout 0.2, Adam 0.005, clip 1,
// batch 128, 9 steps, 30 epochs.
[[nodiscard]] TranslationSettings default_translation_settings();

// Throws OptionError naming the first bad field.
void validate(const TranslationSettings& settings);

[[nodiscard]] std::string translation_settings_json(const TranslationSettings& settings);
[[nodiscard]] TranslationSettings parse_translation_settings(const std::string& json_text,
                                                             const std::string& source);
// run.json of `run_dir` with the overrides applied (out_dir = run_dir).
[[nodiscard]] TranslationSettings resume_translation_settings(const std::filesystem::path& run_dir,
                                                              const ResumeOverrides& overrides);

struct TranslationRunData {
  std::filesystem::path data_path;
  Seq2SeqText text;
  Seq2SeqTrainData pairs;
  std::vector<TranslationPair> valid_raw;  // the validation pairs as read (references for BLEU)
  int64_t pairs_read = 0, dropped = 0;     // dropped: longer than steps with long = drop
};

// Reads the pairs, splits off the validation pairs, builds both vocabularies from the training pairs.
[[nodiscard]] TranslationRunData load_translation_data(const TranslationSettings& settings);

// Throws OptionError naming the setting that needs the most memory (hidden_size, embedding_size or
// batch) when training as `settings` say would need more memory than the machine has.
void check_translation_fits(const TranslationSettings& settings, int64_t source_vocab, int64_t target_vocab);

class TranslationRun {
 public:
  // Validates, loads the data, builds the model (initialized from train.seed) and its trainer,
  // creates and locks the output folder and repairs what a killed run left there.
  explicit TranslationRun(TranslationSettings settings);
  // A new run: writes run.json; an existing run is refused (RunExistsError) or replaced.
  void save_settings(ExistingRun existing = ExistingRun::kRefuse);
  [[nodiscard]] const std::vector<std::string>& repairs() const { return repairs_; }
  void resume();
  TrainSummary train(const std::atomic<bool>* stop = nullptr, const TrainCallbacks& callbacks = {});

  [[nodiscard]] const TranslationSettings& settings() const { return settings_; }
  [[nodiscard]] const TranslationRunData& data() const { return data_; }
  [[nodiscard]] Seq2SeqModel& model() { return *model_; }

 private:
  TranslationSettings settings_;
  std::unique_ptr<RunFolderLock> lock_;
  std::vector<std::string> repairs_;
  TranslationRunData data_;
  std::unique_ptr<Seq2SeqModel> model_;
  std::unique_ptr<Seq2SeqTrainer> trainer_;
};

}  // namespace recur
