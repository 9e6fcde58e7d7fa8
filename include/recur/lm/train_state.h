// The training state a checkpoint folder holds beside the model files (recur/lm/checkpoint.h),
// everything an interrupted run needs to continue bit for bit:
//   train_state.json         {"format": "recur-train-state", "version": 1, "epoch", "epoch_seed",
//                             "batch_index", "step", "data_rng", "dropout_rng", "best_valid_perplexity",
//                             "epoch_loss_sum", "epoch_tokens", "epoch_norm_sum", "epoch_steps",
//                             "options": {batch, steps, partition, optimizer, lr, clip, seed},
//                             "history": [per-epoch metrics], "optimizer": {"name", "step"}}
//   train_state.safetensors  optimizer moments ("optimizer.<buffer>") and the carried recurrent
//                            state ("state.h", "state.c")
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <vector>

#include "recur/core/rng.h"
#include "recur/lm/language_model.h"
#include "recur/lm/train_options.h"
#include "recur/optim/optimizer.h"

namespace recur {

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based; a run stopped mid-epoch reports the epoch it was in
  int64_t step = 0;   // optimizer steps so far
  double train_perplexity = 0;
  double valid_perplexity = std::numeric_limits<double>::quiet_NaN();
  double tokens_per_s = 0;
  double lr = 0;
  double grad_norm = 0;  // mean pre-clipping norm over the epoch's steps
};

// Where training stands, apart from the weights, the optimizer and the carried state.
struct TrainState {
  int64_t epoch = 0;        // 0-based epoch in progress
  uint64_t epoch_seed = 0;  // the epoch's batch order is planned from it
  int64_t batch_index = 0;  // next batch of the epoch; 0 = the epoch has not started
  int64_t step = 0;         // optimizer steps so far
  Rng data_rng;
  Rng dropout_rng;  // dropout masks and randomized-truncation draws
  std::vector<EpochMetrics> history;
  double best_valid_perplexity = std::numeric_limits<double>::quiet_NaN();
  // Epoch accumulators (saved, so a resumed epoch reports the same train perplexity).
  double epoch_loss_sum = 0;
  int64_t epoch_tokens = 0;
  double epoch_norm_sum = 0;
  int64_t epoch_steps = 0;
};

// Adds an epoch's row to the history. A time budget that stops a run inside an epoch leaves a row
// for that epoch so far; the row of the same epoch when a later session ends it (or stops it again)
// replaces it, so the history keeps one row per epoch and a checkpoint stays loadable.
void record_epoch(TrainState& state, const EpochMetrics& m);

// Writes train_state.json and train_state.safetensors into `dir` (each atomically).
void save_train_state(const std::filesystem::path& dir, const TrainState& state, const TrainOptions& options,
                      const OptimizerState<float>& optimizer, const RecurrentState& carried);

// What load_train_state reads besides the TrainState.
struct LoadedTrainState {
  TrainState state;
  OptimizerState<float> optimizer;
};

// Reads `dir`'s training state and replaces `carried`'s tensors with the saved ones. Throws IoError
// naming the file when one is missing or malformed, ValueError when the saved batch, steps,
// partition or optimizer differ from `options` or a saved state tensor's shape differs from `carried`'s.
[[nodiscard]] LoadedTrainState load_train_state(const std::filesystem::path& dir, const TrainOptions& options,
                                                RecurrentState& carried);

}  // namespace recur
