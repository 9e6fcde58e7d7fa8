// The language-model training loop: batches, the optimizer step, stop rules, validation, the best
// model and checkpoints, each a step of its own.
#include "recur/lm/trainer.h"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include "recur/autograd/ops.h"
#include "recur/core/checked_size.h"
#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/io/svg_plot.h"
#include "recur/lm/evaluate.h"
#include "recur/optim/grad_clip.h"
#include "recur/text/partition.h"

namespace recur {

namespace fs = std::filesystem;

std::unique_ptr<Optimizer<float>> make_training_optimizer(const TrainOptions& o) {
  OptimizerOptions opt{.lr = o.lr};
  if (o.optimizer == OptimizerKind::kSgd) opt.momentum = o.momentum;
  if (o.weight_decay >= 0) opt.weight_decay = o.weight_decay;
  auto optimizer = make_optimizer<float>(optimizer_kind_name(o.optimizer), opt);
  optimizer->set_threads(o.threads);
  return optimizer;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

void write_training_metrics(const fs::path& dir, const std::vector<EpochMetrics>& history) {
  std::string csv = "epoch,step,train_perplexity,valid_perplexity,tokens_per_s,lr,grad_norm\n";
  Chart chart{.title = "Perplexity", .x_axis = {.label = "epoch"}, .y_axis = {.label = "perplexity"}};
  Series train{.name = "train"}, valid{.name = "valid", .style = LineStyle::kDashed};
  for (const auto& m : history) {
    csv += fmt::format("{},{},{:.6f},{},{:.1f},{:.6g},{:.6f}\n", m.epoch, m.step, m.train_perplexity,
                       std::isfinite(m.valid_perplexity) ? fmt::format("{:.6f}", m.valid_perplexity) : "",
                       m.tokens_per_s, m.lr, m.grad_norm);
    train.x.push_back(static_cast<double>(m.epoch));
    train.y.push_back(m.train_perplexity);
    valid.x.push_back(static_cast<double>(m.epoch));
    valid.y.push_back(m.valid_perplexity);
  }
  write_file_atomically(dir / "metrics.csv", csv);
  train.has_markers = valid.has_markers = history.size() < 30;
  chart.series.push_back(std::move(train));
  chart.series.push_back(std::move(valid));
  write_svg_chart(chart, dir / "perplexity.svg");
}

// The minibatches of one epoch from the chosen partition, transposed to the model's time-major order:
// the rows `rows` of each (all of them for a lone process).
class Trainer::EpochBatches {
 public:
  EpochBatches(TokenView corpus, const TrainOptions& o, RowShare rows)
      : B_(o.batch), T_(o.steps), rows_(rows), x(static_cast<size_t>(rows.rows() * T_)), y(x.size()) {
    const PartitionOptions popts{.batch_size = static_cast<int32_t>(B_),
                                 .num_steps = static_cast<int32_t>(T_)};
    if (o.partition == Partition::kSequential)
      sequential_.emplace(corpus, popts);
    else
      random_.emplace(corpus, popts);
  }
  // Plans the epoch with `seed`; returns its number of batches.
  int64_t plan(uint64_t seed) {
    plan_ = sequential_ ? sequential_->plan_epoch(seed) : random_->plan_epoch(seed);
    return plan_.num_batches;
  }
  // Fills x and y with batch `index` of the planned epoch.
  void fill(int64_t index) {
    if (sequential_)
      sequential_->fill_batch(plan_, index, batch_);
    else
      random_->fill_batch(plan_, index, batch_);
    const int64_t rows = rows_.rows();
    for (int64_t b = 0; b < rows; ++b)
      for (int64_t t = 0; t < T_; ++t) {
        const auto from = static_cast<size_t>((rows_.begin + b) * T_ + t);
        x[static_cast<size_t>(t * rows + b)] = batch_.x[from];
        y[static_cast<size_t>(t * rows + b)] = batch_.y[from];
      }
  }

 private:
  int64_t B_, T_;
  RowShare rows_;
  std::optional<SequentialPartition> sequential_;
  std::optional<RandomPartition> random_;
  EpochPlan plan_;
  TokenBatch batch_;  // [B, T] row-major, as the partitions fill it

 public:
  std::vector<int32_t> x, y;  // [T * rows] time-major inputs and targets
};

struct Trainer::EpochRun {
  StopReason reason = StopReason::kFinished;
  Clock::time_point start;
  int64_t tokens_before = 0;  // epoch_tokens when this session's part of the epoch began
};

Trainer::Trainer(LanguageModel& model, ModelTextConfig text, TrainData data, TrainOptions options,
                 ProcessGroup* group)
    : model_(model),
      text_(std::move(text)),
      data_(std::move(data)),
      options_(std::move(options)),
      group_(group ? group : &single_),
      lr_schedule_((validate(options_), epoch_lr_schedule(options_))) {
  if (options_.batch < group_->size())
    throw OptionError("batch", fmt::format("train: batch must be at least the number of processes ({}) so "
                                           "that each gets a row, got {}",
                                           group_->size(), options_.batch));
  rows_ = row_share(options_.batch, group_->rank(), group_->size());
  check(text_.vocab.size() == model_.config().vocab_size,
        fmt::format("Trainer: the vocabulary has {} tokens, the model {}", text_.vocab.size(),
                    model_.config().vocab_size));
  const int64_t needed = checked_mul(checked_add(options_.batch, 1, "train: batch + 1"), options_.steps,
                                     "train: (batch + 1) x steps tokens");
  check(static_cast<int64_t>(data_.train.size()) >= needed,
        fmt::format("train: the training text has {} tokens; batch {} x steps {} needs at least {}",
                    data_.train.size(), options_.batch, options_.steps, needed));
  if (options_.patience > 0 && data_.valid.empty())
    throw OptionError("patience",
                      "train: patience needs validation data (a validation text, or a validation "
                      "fraction above 0)");
  state_.data_rng.seed_with(options_.seed);
  state_.dropout_rng.seed_with(options_.seed ^ 0x5eedd20f0a7ULL);
  separate_dropout_stream();
  carried_ = model_.zero_state(rows_.rows());
  optimizer_ = make_training_optimizer(options_);
}

void Trainer::separate_dropout_stream() {
  // Identical masks on every process would correlate the rows that share them. A stream of its own
  // per process; the batch order (data_rng) stays common to all.
  if (group_->rank() == 0) return;
  state_.dropout_rng.seed_with(state_.dropout_rng.next_u64() ^
                               (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(group_->rank())));
}

RecurrentState Trainer::whole_batch_state() const {
  RecurrentState whole = model_.zero_state(options_.batch);
  auto place = [&](const Tensor<float>& mine, Tensor<float>& all) {
    const int64_t layers = model_.config().num_layers, H = model_.config().hidden_size;
    for (int64_t l = 0; l < layers; ++l)
      std::copy_n(mine.data() + l * rows_.rows() * H, rows_.rows() * H,
                  all.data() + (l * options_.batch + rows_.begin) * H);
    group_->all_reduce_sum(all.span());  // the other rows are zero here and filled by their owners
  };
  place(carried_.h, whole.h);
  if (whole.c.numel() > 0) place(carried_.c, whole.c);
  return whole;
}

int64_t epochs_since_best(const std::vector<EpochMetrics>& history) {
  double best = std::numeric_limits<double>::infinity();
  int64_t best_index = -1;
  for (size_t i = 0; i < history.size(); ++i) {
    if (history[i].valid_perplexity < best) {
      best = history[i].valid_perplexity;
      best_index = static_cast<int64_t>(i);
    }
  }
  if (best_index < 0) return 0;  // no validation perplexity yet: nothing to be patient about
  return static_cast<int64_t>(history.size()) - 1 - best_index;
}

void check_weights_finite(const ParameterStore<float>& params, std::string_view where,
                          const fs::path& checkpoint_dir) {
  const auto values = params.values();
  const auto bad = std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
  if (bad == values.end()) return;
  throw NumericError(fmt::format("the weights became non-finite ({}; learning rate too high?); {}", where,
                                 fs::exists(checkpoint_dir / "train_state.json")
                                     ? "the last good checkpoint is kept in " + checkpoint_dir.string()
                                     : std::string("no checkpoint was saved before it")));
}

void Trainer::save_checkpoint() {
  check_weights_finite(model_.parameters(), fmt::format("epoch {}, step {}", state_.epoch + 1, state_.step),
                       options_.out_dir / "checkpoint");
  const RecurrentState whole = group_->size() > 1 ? whole_batch_state() : RecurrentState{};
  if (!group_->is_root()) return;
  replace_folder_atomically(options_.out_dir / "checkpoint", [&](const fs::path& dir) {
    save_model_files(dir, model_, text_);
    save_train_state(dir, state_, options_, optimizer_->state(), group_->size() > 1 ? whole : carried_);
  });
}

void Trainer::resume() {
  const fs::path dir = options_.out_dir / "checkpoint";
  LoadedModel loaded = load_model(dir);
  check(loaded.text.vocab.tokens() == text_.vocab.tokens() && loaded.text.vocab.unk() == text_.vocab.unk(),
        "resume: the vocabulary in '" + (dir / "config.json").string() +
            "' differs from the one built from the training data (same data, level and mode?)");
  const LanguageModelConfig& saved = loaded.model->config();
  const LanguageModelConfig& ours = model_.config();
  check(saved.cell == ours.cell && saved.hidden_size == ours.hidden_size &&
            saved.num_layers == ours.num_layers && saved.embedding_size == ours.embedding_size,
        "resume: the checkpoint's model (config.json) differs from this run's");
  auto src = loaded.model->parameters().values();
  std::copy(src.begin(), src.end(), model_.parameters().values().begin());
  RecurrentState whole = model_.zero_state(options_.batch);
  LoadedTrainState train_state = load_train_state(dir, options_, whole);
  check_batch_index(train_state.state, dir / "train_state.json");
  state_ = std::move(train_state.state);
  separate_dropout_stream();
  optimizer_->load_state(train_state.optimizer, model_.parameters().num_values());
  // This process's rows of the saved whole-batch state.
  auto take = [&](const Tensor<float>& all, Tensor<float>& mine) {
    const int64_t layers = model_.config().num_layers, H = model_.config().hidden_size;
    for (int64_t l = 0; l < layers; ++l)
      std::copy_n(all.data() + (l * options_.batch + rows_.begin) * H, rows_.rows() * H,
                  mine.data() + l * rows_.rows() * H);
  };
  take(whole.h, carried_.h);
  if (whole.c.numel() > 0) take(whole.c, carried_.c);
}

void Trainer::check_batch_index(const TrainState& saved, const fs::path& source) const {
  if (saved.batch_index == 0) return;
  EpochBatches batches(data_.train.view(), options_, rows_);
  const int64_t num_batches = batches.plan(saved.epoch_seed);
  if (saved.batch_index > num_batches)
    throw IoError(
        fmt::format("{}: \"batch_index\" must be in [0, {}] (the batches of an epoch of this run), got {}",
                    source.string(), num_batches, saved.batch_index));
}

void Trainer::start_epoch() {
  if (state_.batch_index != 0) return;  // resuming inside an epoch: its plan and sums are restored
  state_.epoch_seed = state_.data_rng.next_u64();
  carried_ = model_.zero_state(rows_.rows());
  state_.epoch_loss_sum = 0;
  state_.epoch_tokens = 0;
  state_.epoch_norm_sum = 0;
  state_.epoch_steps = 0;
}

double Trainer::train_step(Graph<float>& g, const EpochBatches& batches, std::vector<float>& carry_scales) {
  const int64_t B = rows_.rows(), T = options_.steps;
  auto& params = model_.parameters();
  if (options_.partition == Partition::kRandom) carried_ = model_.zero_state(B);  // no state to carry
  g.clear();
  params.zero_grads();
  if (options_.truncation_keep < 1) {
    // xi_t = 1/pi with probability pi, else 0 (Tallec and Ollivier, 2017): unbiased in expectation.
    for (float& xi : carry_scales)
      xi = state_.dropout_rng.uniform() < options_.truncation_keep
               ? static_cast<float>(1 / options_.truncation_keep)
               : 0.0f;
  }
  Var loss = model_.loss(g, batches.x, batches.y, T, B, carried_, &state_.dropout_rng, true, carry_scales);
  return finish_training_step(g, loss, B * T, params, *optimizer_, options_, state_, group_);
}

double finish_training_step(Graph<float>& g, Var loss, int64_t tokens, ParameterStore<float>& params,
                            Optimizer<float>& optimizer, const TrainOptions& options, TrainState& state,
                            ProcessGroup* group) {
  double loss_value = g.item(loss);
  double loss_sum = loss_value * static_cast<double>(tokens);
  int64_t all_tokens = tokens;
  const bool shared = group && group->size() > 1;
  if (shared) {  // before the check, so that every process stops on the same step
    std::array<double, 2> sums{loss_sum, static_cast<double>(tokens)};
    group->all_reduce_sum(sums);
    loss_sum = sums[0];
    all_tokens = static_cast<int64_t>(sums[1]);
    loss_value = loss_sum / sums[1];
  }
  const std::string where = fmt::format("epoch {}, step {}", state.epoch + 1, state.step + 1);
  if (!std::isfinite(loss_value)) {
    const fs::path kept = options.out_dir / "checkpoint";
    check_finite(loss_value, "training loss",
                 where + (fs::exists(kept / "train_state.json")
                              ? "; the last good checkpoint is kept in " + kept.string()
                              : "; no checkpoint was saved before it"));
  }
  g.backward(loss);
  if (shared) {
    // d(mean over all tokens) = sum over processes of (their tokens / all tokens) x d(their mean).
    const auto share = static_cast<float>(static_cast<double>(tokens) / static_cast<double>(all_tokens));
    if (share != 1.0f)
      for (float& v : params.grads()) v *= share;
    group->all_reduce_sum(params.grads());
  }
  const double norm =
      options.clip > 0 ? clip_grad_norm(params.grads(), options.clip) : grad_norm(params.grads());
  check_finite(norm, "gradient norm", where);
  optimizer.step(params);
  ++state.step;
  state.epoch_loss_sum += loss_sum;
  state.epoch_tokens += all_tokens;
  state.epoch_norm_sum += norm;
  ++state.epoch_steps;
  return norm;
}

StopReason Trainer::stop_requested(const std::atomic<bool>* stop, Clock::time_point run_start) const {
  if (stop && stop->load()) return StopReason::kInterrupted;
  if (options_.time_budget_s > 0 && seconds_since(run_start) >= options_.time_budget_s)
    return StopReason::kTimeBudget;
  return StopReason::kFinished;
}

StopReason Trainer::agree_on_stop(StopReason local) const {
  // After the step, as a lone process checks: every process stops after the same step.
  if (group_->size() == 1) return local;
  std::array<double, 2> votes{local == StopReason::kInterrupted ? 1.0 : 0.0,
                              local == StopReason::kTimeBudget ? 1.0 : 0.0};
  group_->all_reduce_sum(votes);
  if (votes[0] > 0) return StopReason::kInterrupted;
  return votes[1] > 0 ? StopReason::kTimeBudget : StopReason::kFinished;
}

Trainer::EpochRun Trainer::run_batches(EpochBatches& batches, Clock::time_point run_start,
                                       const std::atomic<bool>* stop, const TrainCallbacks& callbacks) {
  EpochRun run{.start = Clock::now(), .tokens_before = state_.epoch_tokens};
  const int64_t num_batches = batches.plan(state_.epoch_seed);
  Graph<float> g(ComputeContext{.threads = options_.threads});
  std::vector<float> carry_scales(options_.truncation_keep < 1 ? static_cast<size_t>(options_.steps) : 0);
  while (state_.batch_index < num_batches) {
    batches.fill(state_.batch_index);
    const double norm = train_step(g, batches, carry_scales);
    ++state_.batch_index;
    if (callbacks.on_step) {
      const double dt = seconds_since(run.start);
      callbacks.on_step(
          {.epoch = state_.epoch + 1,
           .batch = state_.batch_index,
           .batches_per_epoch = num_batches,
           .step = state_.step,
           .loss = state_.epoch_loss_sum / static_cast<double>(state_.epoch_tokens),
           .tokens_per_s = dt > 0 ? static_cast<double>(state_.epoch_tokens - run.tokens_before) / dt : 0,
           .elapsed_s = seconds_since(run_start),
           .grad_norm = norm});
    }
    run.reason = agree_on_stop(stop_requested(stop, run_start));
    if (run.reason != StopReason::kFinished) break;
  }
  return run;
}

EpochMetrics Trainer::measure_epoch(const EpochRun& run) {
  const double seconds = seconds_since(run.start);
  const TrainState& s = state_;
  EpochMetrics m{
      .epoch = s.epoch + 1,
      .step = s.step,
      .train_perplexity =
          std::exp(s.epoch_loss_sum / static_cast<double>(std::max<int64_t>(s.epoch_tokens, 1))),
      .tokens_per_s = seconds > 0 ? static_cast<double>(s.epoch_tokens - run.tokens_before) / seconds : 0,
      .lr = optimizer_->lr(),
      .grad_norm = s.epoch_steps ? s.epoch_norm_sum / static_cast<double>(s.epoch_steps) : 0};
  if (!data_.valid.empty()) {
    // Rank 0 validates (the weights are the same everywhere) and tells the others, whose early
    // stopping must agree with its.
    double perplexity = 0;
    if (group_->is_root()) {
      const int64_t B = options_.batch, T = options_.steps;
      const int64_t rows =
          std::max<int64_t>(1, std::min<int64_t>(B, static_cast<int64_t>(data_.valid.size()) / (T + 1)));
      const ComputeContext context{.threads = options_.threads};
      perplexity = evaluate_stream(model_, data_.valid.view(), rows, T, context).perplexity();
    }
    std::array<double, 1> shared{perplexity};
    group_->all_reduce_sum(shared);
    m.valid_perplexity = shared[0];
  }
  return m;
}

StopReason end_epoch(const EpochMetrics& m, StopReason stopped, TrainState& state,
                     const TrainOptions& options, const ParameterStore<float>& params, bool is_root,
                     const EpochEndSaves& saves, const TrainCallbacks& callbacks) {
  record_epoch(state, m);
  check_weights_finite(params, fmt::format("epoch {}, step {}", state.epoch + 1, state.step),
                       options.out_dir / "checkpoint");
  if (std::isfinite(m.valid_perplexity) && !(m.valid_perplexity >= state.best_valid_perplexity)) {
    state.best_valid_perplexity = m.valid_perplexity;
    if (is_root) replace_folder_atomically(options.out_dir / "best", saves.model_files);
  }
  if (stopped == StopReason::kFinished) {  // the checkpoint points at the start of the next epoch
    state.batch_index = 0;
    ++state.epoch;
  }
  saves.checkpoint();
  if (is_root) write_training_metrics(options.out_dir, state.history);
  if (callbacks.on_epoch) callbacks.on_epoch(m);
  if (stopped == StopReason::kFinished && options.patience > 0 &&
      epochs_since_best(state.history) >= options.patience && state.epoch < options.epochs)
    return StopReason::kNoImprovement;
  return stopped;
}

TrainSummary Trainer::summary(StopReason reason) const {
  return {.reason = reason, .history = state_.history, .best_valid_perplexity = state_.best_valid_perplexity};
}

TrainSummary Trainer::run(const std::atomic<bool>* stop, const TrainCallbacks& callbacks) {
  const auto run_start = Clock::now();
  EpochBatches batches(data_.train.view(), options_, rows_);
  while (state_.epoch < options_.epochs) {
    optimizer_->set_lr(lr_schedule_.lr_at(state_.epoch));
    start_epoch();
    const EpochRun run = run_batches(batches, run_start, stop, callbacks);
    const EpochMetrics m = measure_epoch(run);
    if (run.reason == StopReason::kInterrupted) {
      // Mid-epoch: keep the position so a resume finishes this epoch; no metrics row yet.
      save_checkpoint();
      TrainSummary s = summary(run.reason);
      s.history.push_back(m);
      return s;
    }
    const EpochEndSaves saves{
        .model_files = [&](const fs::path& dir) { save_model_files(dir, model_, text_); },
        .checkpoint = [&] { save_checkpoint(); }};
    if (const StopReason reason = end_epoch(m, run.reason, state_, options_, model_.parameters(),
                                            group_->is_root(), saves, callbacks);
        reason != StopReason::kFinished)
      return summary(reason);
  }
  return summary(StopReason::kFinished);
}

}  // namespace recur
