// Training a recurrent language model (d2l 9.5's train_ch8 as a tool): minibatches from a
// sequential or random partition, truncated BPTT, cross-entropy over every step, clipping by global
// norm, an optimizer step; validation perplexity, metrics, plots and checkpoints after each epoch.
//
// Output folder (TrainOptions::out_dir):
//   checkpoint/      the latest state: model files (see checkpoint.h) + train_state.{json,safetensors}
//   best/            model files of the epoch with the lowest validation perplexity
//   metrics.csv      epoch,step,train_perplexity,valid_perplexity,tokens_per_s,lr,grad_norm
//   perplexity.svg   train and validation perplexity by epoch
// Checkpoint folders are replaced atomically, so an interruption or a NaN never destroys the last
// good one. Resuming restores weights, optimizer moments, both random generators, the epoch plan,
// the position within the epoch and the carried recurrent state, so an interrupted run ends with the
// same weights as an uninterrupted one.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "recur/lm/checkpoint.h"
#include "recur/lm/language_model.h"
#include "recur/optim/optimizer.h"

namespace recur {

struct TrainOptions {
  int64_t batch = 32;                     // rows per minibatch
  int64_t steps = 35;                     // time steps per row (truncated BPTT length)
  std::string partition = "sequential";  // "sequential" (state carried) or "random" (state reset)
  std::string optimizer = "sgd";          // "sgd", "adam", "adamw"
  double lr = 1.0;
  double momentum = 0.0;                  // sgd only
  double weight_decay = -1;               // < 0: the optimizer's default
  double clip = 1.0;                      // max global gradient norm; 0 = no clipping
  // Randomized truncation (d2l 9.7): < 1 keeps the gradient between adjacent steps with this
  // probability pi, scaled by 1/pi, and cuts it otherwise; 1 = plain truncated BPTT over --steps.
  double truncation_keep = 1.0;
  std::string lr_schedule = "constant";  // "constant", "step" (x gamma each epoch), "cosine" (over epochs)
  double lr_gamma = 0.5;                  // step schedule factor
  int64_t epochs = 10;
  double time_budget_s = 0;               // > 0: stop after this many seconds (checkpoint kept)
  // > 0: early stopping: stop after this many epochs in a row without a new best validation
  // perplexity (best/ holds the model of the best epoch). Needs validation data.
  int64_t patience = 0;
  uint64_t seed = 42;
  std::filesystem::path out_dir;
};

// Throws ValueError naming the first bad option.
void validate(const TrainOptions& options);

struct TrainData {
  std::vector<int32_t> train;
  std::vector<int32_t> valid;  // may be empty (no validation)
};

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based; a run stopped mid-epoch reports the epoch it was in
  int64_t step = 0;   // optimizer steps so far
  double train_perplexity = 0;
  double valid_perplexity = std::numeric_limits<double>::quiet_NaN();
  double tokens_per_s = 0;
  double lr = 0;
  double grad_norm = 0;  // mean pre-clipping norm over the epoch's steps
};

// What the trainer tells its caller while it runs (the CLI draws a progress bar from it).
struct TrainProgress {
  int64_t epoch = 0;          // 1-based
  int64_t batch = 0;          // batches done in this epoch
  int64_t batches_per_epoch = 0;
  int64_t step = 0;
  double loss = 0;            // running mean over the epoch
  double tokens_per_s = 0;
  double elapsed_s = 0;
  double grad_norm = 0;       // of the last step, before clipping
};

struct TrainCallbacks {
  std::function<void(const TrainProgress&)> on_step;   // after every optimizer step
  std::function<void(const EpochMetrics&)> on_epoch;   // after validation of an epoch
};

enum class StopReason { kFinished, kTimeBudget, kInterrupted, kNoImprovement };

struct TrainSummary {
  StopReason reason = StopReason::kFinished;
  std::vector<EpochMetrics> history;
  double best_valid_perplexity = std::numeric_limits<double>::quiet_NaN();
};

class Trainer {
 public:
  // The model must be initialized (or loaded); `text` goes into every saved config.json.
  Trainer(LanguageModel& model, ModelTextConfig text, TrainData data, TrainOptions options);

  // Continues from out_dir/checkpoint: weights, optimizer, RNGs, position, carried state, history.
  // Throws IoError when the checkpoint is missing or broken, ValueError when its vocabulary or its
  // batch/steps/partition/optimizer differ from this run's.
  void resume();

  // Trains until options.epochs are done, the time budget is spent or *stop becomes true (checked
  // after every step; SIGINT handlers set it). Throws NumericError naming epoch and step when the
  // loss or the gradient norm is not finite; the last checkpoint is kept.
  TrainSummary run(const std::atomic<bool>* stop = nullptr, const TrainCallbacks& callbacks = {});

 private:
  LanguageModel& model_;
  ModelTextConfig text_;
  TrainData data_;
  TrainOptions options_;
  // Resumable state.
  int64_t epoch_ = 0;          // 0-based epoch in progress
  uint64_t epoch_seed_ = 0;
  int64_t batch_index_ = 0;    // next batch of the epoch; 0 = the epoch has not started
  int64_t step_ = 0;
  Rng data_rng_;
  Rng dropout_rng_;
  RecurrentState carried_;
  std::vector<EpochMetrics> history_;
  double best_valid_ = std::numeric_limits<double>::quiet_NaN();
  // Epoch accumulators (also saved, so a resumed epoch reports the same train perplexity).
  double epoch_loss_sum_ = 0;
  int64_t epoch_tokens_ = 0;
  double epoch_norm_sum_ = 0;
  int64_t epoch_steps_ = 0;
  std::unique_ptr<Optimizer<float>> optimizer_;

  void save_checkpoint();
  [[nodiscard]] int64_t epochs_since_best() const;  // epochs after the best validation perplexity so far
  [[nodiscard]] double current_lr() const;
};

}  // namespace recur
