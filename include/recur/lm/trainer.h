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
//
// Data parallelism (a ProcessGroup of N processes, recur/lm/process_group.h): every process plans the
// same batches and trains on its share of each batch's rows (row_share: a sequential partition's
// rows, which carry state, stay with one process each); the loss and the gradients are summed over
// the processes once per step, weighted by their shares of the tokens, so every process takes the
// same optimizer step as one process with the whole batch would, up to float summation order. The
// stop decision is taken together, rank 0 alone validates and writes files, and the checkpoint
// holds the whole batch's carried state, so a run resumes on any number of processes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string_view>
#include <vector>

#include "recur/lm/checkpoint.h"
#include "recur/lm/language_model.h"
#include "recur/lm/process_group.h"
#include "recur/lm/train_options.h"
#include "recur/lm/train_state.h"
#include "recur/optim/lr_schedule.h"
#include "recur/optim/optimizer.h"
#include "recur/text/token_ids.h"

namespace recur {

// In memory (a text) or memory-mapped (a prepared folder, recur/lm/prepared_corpus.h).
struct TrainData {
  TokenIds train;
  TokenIds valid;  // may be empty (no validation)
};

// What the trainer tells its caller while it runs (the CLI draws a progress bar from it).
struct TrainProgress {
  int64_t epoch = 0;  // 1-based
  int64_t batch = 0;  // batches done in this epoch
  int64_t batches_per_epoch = 0;
  int64_t step = 0;
  double loss = 0;  // running mean over the epoch
  double tokens_per_s = 0;
  double elapsed_s = 0;
  double grad_norm = 0;  // of the last step, before clipping
};

struct TrainCallbacks {
  std::function<void(const TrainProgress&)> on_step;  // after every optimizer step
  std::function<void(const EpochMetrics&)> on_epoch;  // after validation of an epoch
};

enum class StopReason { kFinished, kTimeBudget, kInterrupted, kNoImprovement };

struct TrainSummary {
  StopReason reason = StopReason::kFinished;
  std::vector<EpochMetrics> history;
  double best_valid_perplexity = std::numeric_limits<double>::quiet_NaN();
};

// The optimizer `options` name (lr, momentum for SGD, weight decay), on options.threads threads.
[[nodiscard]] std::unique_ptr<Optimizer<float>> make_training_optimizer(const TrainOptions& options);

// metrics.csv (epoch,step,train_perplexity,valid_perplexity,tokens_per_s,lr,grad_norm) and
// perplexity.svg (train and validation perplexity by epoch) in `dir`, each written atomically.
void write_training_metrics(const std::filesystem::path& dir, const std::vector<EpochMetrics>& history);

// Throws NumericError naming `where` and the kept checkpoint folder when a weight is NaN or
// infinite: a step with a finite loss and gradient norm can still carry weights past float's range
// (a huge learning rate), and such weights must never replace the last good checkpoint or best/.
void check_weights_finite(const ParameterStore<float>& params, std::string_view where,
                          const std::filesystem::path& checkpoint_dir);

// The second half of every training step (language model and translation): the loss checked finite
// (a NumericError naming the step and the last good checkpoint otherwise), backward, clipping to
// options.clip (or the plain norm), the optimizer's step, and the step and epoch sums of `state`
// (the loss weighted by `tokens`). Returns the gradient norm before clipping. With a `group` of
// several processes, `loss` is the mean over this process's `tokens`; the loss and the gradients are
// first summed over the group (weighted by each process's tokens), so the check, clipping, the step
// and the sums all see the whole batch's.
double finish_training_step(Graph<float>& g, Var loss, int64_t tokens, ParameterStore<float>& params,
                            Optimizer<float>& optimizer, const TrainOptions& options, TrainState& state,
                            ProcessGroup* group = nullptr);

// What the end of an epoch saves, each trainer its own way.
struct EpochEndSaves {
  std::function<void(const std::filesystem::path&)> model_files;  // best/'s files, into the folder given
  std::function<void()> checkpoint;                               // checkpoint/ (every process calls it)
};

// The end of an epoch, or of a session a time budget stopped inside one, for both trainers: the
// epoch's row recorded (record_epoch), the weights checked finite (check_weights_finite), best/
// replaced when the validation perplexity is a new best, the position moved to the next epoch when
// this one finished, the checkpoint and the metrics saved (best/ and metrics by `is_root` alone),
// on_epoch called. Returns kNoImprovement when options.patience epochs have passed without a new
// best and epochs are left, else `stopped`.
StopReason end_epoch(const EpochMetrics& m, StopReason stopped, TrainState& state,
                     const TrainOptions& options, const ParameterStore<float>& params, bool is_root,
                     const EpochEndSaves& saves, const TrainCallbacks& callbacks);

// Epochs in `history` after the row with the lowest validation perplexity (0 when none has one).
[[nodiscard]] int64_t epochs_since_best(const std::vector<EpochMetrics>& history);

class Trainer {
 public:
  // The model must be initialized (or loaded) with the same weights on every process of `group`
  // (none: this process alone); `text` goes into every saved config.json. Throws OptionError
  // ("batch") when the batch has fewer rows than the group has processes.
  Trainer(LanguageModel& model, ModelTextConfig text, TrainData data, TrainOptions options,
          ProcessGroup* group = nullptr);

  // Continues from out_dir/checkpoint: weights, optimizer, RNGs, position, carried state, history.
  // Throws IoError when the checkpoint is missing or broken, ValueError when its vocabulary or its
  // batch/steps/partition/optimizer differ from this run's.
  void resume();

  // Trains until options.epochs are done, the time budget is spent or *stop becomes true (checked
  // after every step; SIGINT handlers set it). Throws NumericError naming epoch and step when the
  // loss or the gradient norm is not finite; the last checkpoint is kept.
  TrainSummary run(const std::atomic<bool>* stop = nullptr, const TrainCallbacks& callbacks = {});

 private:
  class EpochBatches;  // the epoch's minibatches, time-major (trainer.cpp)
  struct EpochRun;     // how an epoch's batch loop ended (trainer.cpp)

  LanguageModel& model_;
  ModelTextConfig text_;
  TrainData data_;
  TrainOptions options_;
  SingleProcess single_;  // the group when none is given
  ProcessGroup* group_;
  RowShare rows_;  // this process's rows of every batch
  LrSchedule lr_schedule_;
  TrainState state_;        // resumable, with train_state.h's format
  RecurrentState carried_;  // [layers, rows_.rows(), hidden] state carried between batches
  std::unique_ptr<Optimizer<float>> optimizer_;

  using Clock = std::chrono::steady_clock;

  // Throws IoError naming `source` when the saved batch index is past the saved epoch's batches.
  void check_batch_index(const TrainState& saved, const std::filesystem::path& source) const;
  void start_epoch();  // at batch 0: draws the epoch's seed, zeroes the state and the accumulators
  EpochRun run_batches(EpochBatches& batches, Clock::time_point run_start, const std::atomic<bool>* stop,
                       const TrainCallbacks& callbacks);
  // One optimizer step on the current batch; returns the gradient norm before clipping.
  double train_step(Graph<float>& g, const EpochBatches& batches, std::vector<float>& carry_scales);
  [[nodiscard]] StopReason stop_requested(const std::atomic<bool>* stop, Clock::time_point run_start) const;
  // The group's common decision: any process's interruption, else any one's time budget.
  [[nodiscard]] StopReason agree_on_stop(StopReason local) const;
  // The carried state of the whole batch [layers, batch, hidden], every process's rows in place.
  [[nodiscard]] RecurrentState whole_batch_state() const;
  // Gives processes other than rank 0 dropout masks of their own (rank 0 keeps a lone process's).
  void separate_dropout_stream();
  [[nodiscard]] EpochMetrics measure_epoch(const EpochRun& run);
  void save_checkpoint();
  [[nodiscard]] TrainSummary summary(StopReason reason) const;
};

}  // namespace recur
