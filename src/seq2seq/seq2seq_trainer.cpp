// The translation training loop: the language-model trainer's structure (lm/trainer.cpp) over
// bucketed pair batches instead of a partitioned token stream.
#include "recur/seq2seq/seq2seq_trainer.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "recur/autograd/ops.h"
#include "recur/core/error.h"
#include "recur/lm/run_folder.h"
#include "recur/optim/grad_clip.h"

namespace recur {

namespace fs = std::filesystem;

Seq2SeqBatchView batch_view(const TranslationBatch& b) {
  return {.batch = b.batch,
          .source_steps = b.source_steps,
          .target_steps = b.target_steps,
          .source = b.source,
          .source_lengths = b.source_lengths,
          .decoder_input = b.decoder_input,
          .target = b.target,
          .target_mask = b.target_mask};
}

double Seq2SeqEvaluation::perplexity() const {
  return target_tokens > 0 ? std::exp(nll_sum / static_cast<double>(target_tokens))
                           : std::numeric_limits<double>::quiet_NaN();
}

Seq2SeqEvaluation evaluate_pairs(Seq2SeqModel& model, std::span<const EncodedPair> pairs, int64_t batch,
                                 const Seq2SeqText& text, const ComputeContext& context) {
  const SpecialIds ids = special_ids(text.target);
  Seq2SeqEvaluation result;
  Graph<float> g(context);
  NoGradGuard<float> no_grad(g);
  TranslationBatch b;
  std::vector<int64_t> indices;
  for (size_t start = 0; start < pairs.size(); start += static_cast<size_t>(batch)) {
    const size_t end = std::min(pairs.size(), start + static_cast<size_t>(batch));
    indices.resize(end - start);
    for (size_t i = start; i < end; ++i) indices[i - start] = static_cast<int64_t>(i);
    make_padded_batch(pairs, indices, ids.pad, ids.bos, b);
    g.clear();
    const double loss = g.item(model.loss(g, batch_view(b), nullptr, false));
    result.nll_sum += loss * static_cast<double>(b.target_tokens);
    result.target_tokens += b.target_tokens;
  }
  return result;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Translation carries no recurrent state between batches; the training-state file's slot for it
// holds one zero.
RecurrentState no_carried_state() { return {Tensor<float>(Shape{1}), Tensor<float>()}; }

}  // namespace

Seq2SeqTrainer::Seq2SeqTrainer(Seq2SeqModel& model, Seq2SeqText text, Seq2SeqTrainData data,
                               TrainOptions options)
    : model_(model),
      text_(std::move(text)),
      data_(std::move(data)),
      options_(std::move(options)),
      lr_schedule_((validate(options_), epoch_lr_schedule(options_))),
      batcher_(data_.train, options_.batch, special_ids(text_.target).pad, special_ids(text_.target).bos,
               data_.bucket_pool) {
  check(text_.source.size() == model_.config().source_vocab_size &&
            text_.target.size() == model_.config().target_vocab_size,
        fmt::format("Seq2SeqTrainer: the vocabularies have {} and {} tokens, the model {} and {}",
                    text_.source.size(), text_.target.size(), model_.config().source_vocab_size,
                    model_.config().target_vocab_size));
  check(!data_.train.empty(), "translate train: no training pairs");
  if (options_.patience > 0 && data_.valid.empty())
    throw OptionError("patience", "translate train: patience needs validation pairs");
  state_.data_rng.seed_with(options_.seed);
  state_.dropout_rng.seed_with(options_.seed ^ 0x5eedd20f0a7ULL);
  optimizer_ = make_training_optimizer(options_);
}

void Seq2SeqTrainer::save_checkpoint() {
  check_weights_finite(model_.parameters(), fmt::format("epoch {}, step {}", state_.epoch + 1, state_.step),
                       options_.out_dir / "checkpoint");
  replace_folder_atomically(options_.out_dir / "checkpoint", [&](const fs::path& dir) {
    save_seq2seq_files(dir, model_, text_);
    save_train_state(dir, state_, options_, optimizer_->state(), no_carried_state());
  });
}

void Seq2SeqTrainer::resume() {
  const fs::path dir = options_.out_dir / "checkpoint";
  LoadedSeq2Seq loaded = load_seq2seq(dir);
  // Token lists and unknown tokens (a vocabulary read back from config.json has no training counts).
  auto same = [](const Vocab& a, const Vocab& b) { return a.tokens() == b.tokens() && a.unk() == b.unk(); };
  check(same(loaded.text.source, text_.source) && same(loaded.text.target, text_.target),
        "resume: the vocabularies in '" + (dir / "config.json").string() +
            "' differ from those built from the training pairs (same data, --min-freq and --steps?)");
  const Seq2SeqConfig &saved = loaded.model->config(), &ours = model_.config();
  check(saved.cell == ours.cell && saved.hidden_size == ours.hidden_size &&
            saved.num_layers == ours.num_layers && saved.embedding_size == ours.embedding_size &&
            saved.bidirectional == ours.bidirectional && saved.attention == ours.attention,
        "resume: the checkpoint's model (config.json) differs from this run's");
  auto src = loaded.model->parameters().values();
  std::copy(src.begin(), src.end(), model_.parameters().values().begin());
  RecurrentState carried = no_carried_state();
  LoadedTrainState train_state = load_train_state(dir, options_, carried);
  if (train_state.state.batch_index > 0) {
    const int64_t batches = batcher_.plan_epoch(train_state.state.epoch_seed);
    if (train_state.state.batch_index > batches)
      throw IoError(
          fmt::format("{}: \"batch_index\" must be in [0, {}] (the batches of an epoch of this run), got {}",
                      (dir / "train_state.json").string(), batches, train_state.state.batch_index));
  }
  state_ = std::move(train_state.state);
  optimizer_->load_state(train_state.optimizer, model_.parameters().num_values());
}

double Seq2SeqTrainer::train_step(Graph<float>& g, const TranslationBatch& batch) {
  auto& params = model_.parameters();
  g.clear();
  params.zero_grads();
  Var loss = model_.loss(g, batch_view(batch), &state_.dropout_rng, true);
  return finish_training_step(g, loss, batch.target_tokens, params, *optimizer_, options_, state_);
}

TrainSummary Seq2SeqTrainer::run(const std::atomic<bool>* stop, const TrainCallbacks& callbacks) {
  const auto run_start = Clock::now();
  auto summary = [&](StopReason reason) {
    return TrainSummary{
        .reason = reason, .history = state_.history, .best_valid_perplexity = state_.best_valid_perplexity};
  };
  Graph<float> g(ComputeContext{.threads = options_.threads});
  TranslationBatch batch;
  while (state_.epoch < options_.epochs) {
    optimizer_->set_lr(lr_schedule_.lr_at(state_.epoch));
    if (state_.batch_index == 0) {  // a new epoch (a resumed one keeps its plan and sums)
      state_.epoch_seed = state_.data_rng.next_u64();
      state_.epoch_loss_sum = 0;
      state_.epoch_tokens = 0;
      state_.epoch_norm_sum = 0;
      state_.epoch_steps = 0;
    }
    const int64_t num_batches = batcher_.plan_epoch(state_.epoch_seed);
    const auto epoch_start = Clock::now();
    int64_t pair_tokens = 0;  // source and target tokens this session, for tokens/s
    StopReason reason = StopReason::kFinished;
    while (state_.batch_index < num_batches) {
      batcher_.fill_batch(state_.batch_index, batch);
      const double norm = train_step(g, batch);
      ++state_.batch_index;
      pair_tokens += batch.source_tokens + batch.target_tokens;
      if (callbacks.on_step) {
        const double dt = seconds_since(epoch_start);
        callbacks.on_step({.epoch = state_.epoch + 1,
                           .batch = state_.batch_index,
                           .batches_per_epoch = num_batches,
                           .step = state_.step,
                           .loss = state_.epoch_loss_sum / static_cast<double>(state_.epoch_tokens),
                           .tokens_per_s = dt > 0 ? static_cast<double>(pair_tokens) / dt : 0,
                           .elapsed_s = seconds_since(run_start),
                           .grad_norm = norm});
      }
      if (stop && stop->load())
        reason = StopReason::kInterrupted;
      else if (options_.time_budget_s > 0 && seconds_since(run_start) >= options_.time_budget_s)
        reason = StopReason::kTimeBudget;
      if (reason != StopReason::kFinished) break;
    }
    const double seconds = seconds_since(epoch_start);
    EpochMetrics m{
        .epoch = state_.epoch + 1,
        .step = state_.step,
        .train_perplexity =
            std::exp(state_.epoch_loss_sum / static_cast<double>(std::max<int64_t>(state_.epoch_tokens, 1))),
        .tokens_per_s = seconds > 0 ? static_cast<double>(pair_tokens) / seconds : 0,
        .lr = optimizer_->lr(),
        .grad_norm =
            state_.epoch_steps ? state_.epoch_norm_sum / static_cast<double>(state_.epoch_steps) : 0};
    if (!data_.valid.empty())
      m.valid_perplexity = evaluate_pairs(model_, data_.valid, options_.batch, text_,
                                          ComputeContext{.threads = options_.threads})
                               .perplexity();
    if (reason == StopReason::kInterrupted) {  // mid-epoch: a resume finishes this epoch; no metrics row yet
      save_checkpoint();
      TrainSummary s = summary(reason);
      s.history.push_back(m);
      return s;
    }
    const EpochEndSaves saves{
        .model_files = [&](const fs::path& dir) { save_seq2seq_files(dir, model_, text_); },
        .checkpoint = [&] { save_checkpoint(); }};
    if (const StopReason stopped =
            end_epoch(m, reason, state_, options_, model_.parameters(), true, saves, callbacks);
        stopped != StopReason::kFinished)
      return summary(stopped);
  }
  return summary(StopReason::kFinished);
}

}  // namespace recur
