// Training a translation model (d2l 10.7): bucketed batches of pairs, teacher forcing, the masked
// cross-entropy, clipping by global norm, an optimizer step; validation perplexity (per target
// token) after each epoch, metrics, a chart and checkpoints, with the same guarantees as the
// language-model trainer (recur/lm/trainer.h): folders replaced atomically, exact resume (weights,
// optimizer moments, both random generators, the epoch's batch plan and the position in it), a stop
// flag checked after every step, a NaN stopping the run with the last good checkpoint kept.
//
// Output folder (TrainOptions::out_dir): checkpoint/ (model files + train_state.*), best/ (the
// epoch of lowest validation perplexity), metrics.csv, perplexity.svg. The options' partition and
// truncation do not apply; `steps` is the longest source and target kept (translation_data.h).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "recur/lm/train_state.h"
#include "recur/lm/trainer.h"  // TrainProgress, TrainCallbacks, StopReason, TrainSummary
#include "recur/optim/lr_schedule.h"
#include "recur/optim/optimizer.h"
#include "recur/seq2seq/seq2seq_checkpoint.h"
#include "recur/seq2seq/translation_batches.h"

namespace recur {

// The model's view of a batch the batcher filled.
[[nodiscard]] Seq2SeqBatchView batch_view(const TranslationBatch& batch);

struct Seq2SeqTrainData {
  std::vector<EncodedPair> train;  // non-empty
  std::vector<EncodedPair> valid;  // may be empty (no validation)
  // Training batches per length-sorted pool (translation_batches.h); 1: d2l's shuffled batches.
  int64_t bucket_pool = 1;
};

// The mean masked cross-entropy of `pairs` under `model` (evaluation mode, batches of `batch`),
// and the number of target tokens it averages over.
struct Seq2SeqEvaluation {
  double nll_sum = 0;
  int64_t target_tokens = 0;
  [[nodiscard]] double perplexity() const;
};
[[nodiscard]] Seq2SeqEvaluation evaluate_pairs(Seq2SeqModel& model, std::span<const EncodedPair> pairs,
                                               int64_t batch, const Seq2SeqText& text,
                                               const ComputeContext& context);

class Seq2SeqTrainer {
 public:
  Seq2SeqTrainer(Seq2SeqModel& model, Seq2SeqText text, Seq2SeqTrainData data, TrainOptions options);

  // Continues from out_dir/checkpoint. Throws IoError when it is missing or broken, ValueError when
  // its vocabularies, model or batch/steps/optimizer differ from this run's.
  void resume();
  // Trains until options.epochs are done, the time budget is spent or *stop becomes true.
  TrainSummary run(const std::atomic<bool>* stop = nullptr, const TrainCallbacks& callbacks = {});

 private:
  using Clock = std::chrono::steady_clock;
  double train_step(Graph<float>& g, const TranslationBatch& batch);
  void save_checkpoint();

  Seq2SeqModel& model_;
  Seq2SeqText text_;
  Seq2SeqTrainData data_;
  TrainOptions options_;
  LrSchedule lr_schedule_;
  TrainState state_;
  std::unique_ptr<Optimizer<float>> optimizer_;
  TranslationBatcher batcher_;
};

}  // namespace recur
