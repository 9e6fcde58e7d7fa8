// The language-model training loop, its metrics and its resumable checkpoints.
#include "recur/lm/trainer.h"

#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "recur/core/error.h"
#include "recur/optim/grad_clip.h"
#include "recur/io/atomic_file.h"
#include "recur/io/safetensors.h"
#include "recur/lm/evaluate.h"
#include "recur/autograd/ops.h"
#include "recur/io/svg_plot.h"
#include "recur/text/partition.h"

namespace recur {

namespace fs = std::filesystem;

void validate(const TrainOptions& o) {
  check(o.batch >= 1, "train: --batch must be >= 1, got " + std::to_string(o.batch));
  check(o.steps >= 1, "train: --steps must be >= 1, got " + std::to_string(o.steps));
  check(o.partition == "sequential" || o.partition == "random",
        "train: --partition must be sequential or random, got '" + o.partition + "'");
  check(std::isfinite(o.lr) && o.lr > 0, "train: --lr must be positive, got " + std::to_string(o.lr));
  check(std::isfinite(o.clip) && o.clip >= 0, "train: --clip must be >= 0, got " + std::to_string(o.clip));
  check(o.truncation_keep > 0 && o.truncation_keep <= 1,
        "train: --random-truncation must be in (0, 1], got " + std::to_string(o.truncation_keep));
  check(o.momentum >= 0 && o.momentum < 1, "train: --momentum must be in [0, 1), got " + std::to_string(o.momentum));
  check(o.lr_schedule == "constant" || o.lr_schedule == "step" || o.lr_schedule == "cosine",
        "train: --lr-schedule must be constant, step or cosine, got '" + o.lr_schedule + "'");
  check(o.lr_gamma > 0 && o.lr_gamma <= 1, "train: --lr-gamma must be in (0, 1], got " + std::to_string(o.lr_gamma));
  check(o.epochs >= 1, "train: --epochs must be >= 1, got " + std::to_string(o.epochs));
  check(std::isfinite(o.time_budget_s) && o.time_budget_s >= 0,
        "train: --time-budget must be >= 0, got " + std::to_string(o.time_budget_s));
  check(o.patience >= 0, "train: --patience must be >= 0, got " + std::to_string(o.patience));
  check(!o.out_dir.empty(), "train: an output folder (--out) is required");
}

namespace {

std::unique_ptr<Optimizer<float>> build_optimizer(const TrainOptions& o) {
  OptimizerOptions opt{.lr = o.lr};
  if (o.optimizer == "sgd") opt.momentum = o.momentum;
  if (o.weight_decay >= 0) opt.weight_decay = o.weight_decay;
  return make_optimizer<float>(o.optimizer, opt);
}

nlohmann::json metrics_json(const EpochMetrics& m) {
  return {{"epoch", m.epoch},       {"step", m.step},
          {"train_perplexity", m.train_perplexity},
          {"valid_perplexity", std::isfinite(m.valid_perplexity) ? nlohmann::json(m.valid_perplexity) : nlohmann::json()},
          {"tokens_per_s", m.tokens_per_s}, {"lr", m.lr}, {"grad_norm", m.grad_norm}};
}

EpochMetrics metrics_from_json(const nlohmann::json& j) {
  EpochMetrics m;
  m.epoch = j.at("epoch").get<int64_t>();
  m.step = j.at("step").get<int64_t>();
  m.train_perplexity = j.at("train_perplexity").get<double>();
  m.valid_perplexity = j.at("valid_perplexity").is_null() ? std::numeric_limits<double>::quiet_NaN()
                                                          : j.at("valid_perplexity").get<double>();
  m.tokens_per_s = j.at("tokens_per_s").get<double>();
  m.lr = j.at("lr").get<double>();
  m.grad_norm = j.at("grad_norm").get<double>();
  return m;
}

void write_metrics(const fs::path& dir, const std::vector<EpochMetrics>& history) {
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

nlohmann::json rng_json(const Rng& rng) { return rng.state(); }
Rng::State rng_from_json(const nlohmann::json& j) { return j.get<Rng::State>(); }

}  // namespace

Trainer::Trainer(LanguageModel& model, ModelTextConfig text, TrainData data, TrainOptions options)
    : model_(model), text_(std::move(text)), data_(std::move(data)), options_(std::move(options)) {
  validate(options_);
  check(static_cast<int64_t>(text_.vocab.size()) == model_.config().vocab_size,
        "Trainer: the vocabulary has " + std::to_string(text_.vocab.size()) + " tokens, the model " +
            std::to_string(model_.config().vocab_size));
  const int64_t needed = (options_.batch + 1) * options_.steps;
  check(static_cast<int64_t>(data_.train.size()) >= needed,
        fmt::format("train: the training text has {} tokens; --batch {} x --steps {} needs at least {}",
                    data_.train.size(), options_.batch, options_.steps, needed));
  check(options_.patience == 0 || !data_.valid.empty(),
        "train: --patience needs validation data (--valid, or a validation fraction above 0)");
  data_rng_.seed_with(options_.seed);
  dropout_rng_.seed_with(options_.seed ^ 0x5eedd20f0a7ULL);
  carried_ = model_.zero_state(options_.batch);
  optimizer_ = build_optimizer(options_);
}

double Trainer::current_lr() const {
  const double e = static_cast<double>(epoch_);
  if (options_.lr_schedule == "step") return options_.lr * std::pow(options_.lr_gamma, e);
  if (options_.lr_schedule == "cosine")
    return options_.lr * 0.5 * (1 + std::cos(M_PI * e / static_cast<double>(options_.epochs)));
  return options_.lr;
}

int64_t Trainer::epochs_since_best() const {
  // From the history (kept in the checkpoint), so a resumed run counts the epochs before it too.
  double best = std::numeric_limits<double>::infinity();
  int64_t best_index = -1;
  for (size_t i = 0; i < history_.size(); ++i) {
    if (history_[i].valid_perplexity < best) {
      best = history_[i].valid_perplexity;
      best_index = static_cast<int64_t>(i);
    }
  }
  if (best_index < 0) return 0;  // no validation perplexity yet: nothing to be patient about
  return static_cast<int64_t>(history_.size()) - 1 - best_index;
}

void Trainer::save_checkpoint() {
  nlohmann::ordered_json state;
  state["format"] = "recur-train-state";
  state["version"] = 1;
  state["epoch"] = epoch_;
  state["epoch_seed"] = epoch_seed_;
  state["batch_index"] = batch_index_;
  state["step"] = step_;
  state["data_rng"] = rng_json(data_rng_);
  state["dropout_rng"] = rng_json(dropout_rng_);
  state["best_valid_perplexity"] = std::isfinite(best_valid_) ? nlohmann::json(best_valid_) : nlohmann::json();
  state["epoch_loss_sum"] = epoch_loss_sum_;
  state["epoch_tokens"] = epoch_tokens_;
  state["epoch_norm_sum"] = epoch_norm_sum_;
  state["epoch_steps"] = epoch_steps_;
  state["options"] = {{"batch", options_.batch},       {"steps", options_.steps},
                      {"partition", options_.partition}, {"optimizer", options_.optimizer},
                      {"lr", options_.lr},             {"clip", options_.clip},
                      {"seed", options_.seed}};
  auto history = nlohmann::json::array();
  for (const auto& m : history_) history.push_back(metrics_json(m));
  state["history"] = history;

  const OptimizerState<float> opt = optimizer_->state();
  state["optimizer"] = {{"name", opt.optimizer}, {"step", opt.step}};
  std::vector<NamedTensor> tensors;
  for (const auto& b : opt.buffers)
    tensors.push_back({"optimizer." + b.name,
                       Tensor<float>({static_cast<int64_t>(b.values.size())}, b.values)});
  tensors.push_back({"state.h", carried_.h});
  if (carried_.c.numel() > 0) tensors.push_back({"state.c", carried_.c});

  replace_folder_atomically(options_.out_dir / "checkpoint", [&](const fs::path& dir) {
    save_model_files(dir, model_, text_);
    save_safetensors(dir / "train_state.safetensors", tensors);
    write_file_atomically(dir / "train_state.json", state.dump(1) + "\n");
  });
}

void Trainer::resume() {
  const fs::path dir = options_.out_dir / "checkpoint";
  LoadedModel loaded = load_model(dir);
  check(loaded.text.vocab == text_.vocab,
        "resume: the vocabulary in '" + (dir / "config.json").string() +
            "' differs from the one built from the training data (same --data, --level and --mode?)");
  check(loaded.model->config().cell == model_.config().cell &&
            loaded.model->config().hidden_size == model_.config().hidden_size &&
            loaded.model->config().num_layers == model_.config().num_layers &&
            loaded.model->config().embedding_size == model_.config().embedding_size,
        "resume: the checkpoint's model (config.json) differs from this run's");
  auto src = loaded.model->parameters().values();
  std::copy(src.begin(), src.end(), model_.parameters().values().begin());

  const fs::path json_path = dir / "train_state.json";
  nlohmann::json s;
  try {
    s = nlohmann::json::parse(read_file(json_path));
    epoch_ = s.at("epoch").get<int64_t>();
    epoch_seed_ = s.at("epoch_seed").get<uint64_t>();
    batch_index_ = s.at("batch_index").get<int64_t>();
    step_ = s.at("step").get<int64_t>();
    data_rng_.set_state(rng_from_json(s.at("data_rng")));
    dropout_rng_.set_state(rng_from_json(s.at("dropout_rng")));
    best_valid_ = s.at("best_valid_perplexity").is_null() ? std::numeric_limits<double>::quiet_NaN()
                                                          : s.at("best_valid_perplexity").get<double>();
    epoch_loss_sum_ = s.at("epoch_loss_sum").get<double>();
    epoch_tokens_ = s.at("epoch_tokens").get<int64_t>();
    epoch_norm_sum_ = s.at("epoch_norm_sum").get<double>();
    epoch_steps_ = s.at("epoch_steps").get<int64_t>();
    history_.clear();
    for (const auto& m : s.at("history")) history_.push_back(metrics_from_json(m));
    const auto& o = s.at("options");
    check(o.at("batch").get<int64_t>() == options_.batch && o.at("steps").get<int64_t>() == options_.steps &&
              o.at("partition").get<std::string>() == options_.partition &&
              o.at("optimizer").get<std::string>() == options_.optimizer,
          "resume: batch, steps, partition and optimizer must match the checkpoint's (" + o.dump() + ")");
  } catch (const nlohmann::json::exception& e) {
    throw IoError(json_path.string() + ": malformed training state: " + e.what());
  }

  OptimizerState<float> opt;
  opt.optimizer = s.at("optimizer").at("name").get<std::string>();
  opt.step = s.at("optimizer").at("step").get<int64_t>();
  for (auto& t : load_safetensors(dir / "train_state.safetensors")) {
    if (t.name.rfind("optimizer.", 0) == 0) {
      opt.buffers.push_back({t.name.substr(10), std::vector<float>(t.tensor.span().begin(), t.tensor.span().end())});
    } else if (t.name == "state.h" || t.name == "state.c") {
      Tensor<float>& target = t.name == "state.h" ? carried_.h : carried_.c;
      check(t.tensor.shape() == target.shape(), "resume: carried state '" + t.name + "' has shape " +
                                                    t.tensor.shape().str() + ", expected " + target.shape().str());
      target = std::move(t.tensor);
    }
  }
  optimizer_->load_state(opt, model_.parameters().num_values());
}

TrainSummary Trainer::run(const std::atomic<bool>* stop, const TrainCallbacks& callbacks) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  const std::span<const int32_t> corpus(data_.train);
  const PartitionOptions popts{.batch_size = static_cast<int32_t>(options_.batch),
                               .num_steps = static_cast<int32_t>(options_.steps)};
  const bool sequential = options_.partition == "sequential";
  std::optional<SequentialPartition> seq;
  std::optional<RandomPartition> rnd;
  if (sequential) seq.emplace(corpus, popts); else rnd.emplace(corpus, popts);

  Graph<float> g;
  TokenBatch batch;
  const int64_t B = options_.batch, T = options_.steps;
  std::vector<int32_t> x(static_cast<size_t>(B * T)), y(x.size());  // time-major
  std::vector<float> carry_scales(options_.truncation_keep < 1 ? static_cast<size_t>(T) : 0);
  auto& params = model_.parameters();
  TrainSummary summary;

  while (epoch_ < options_.epochs) {
    optimizer_->set_lr(current_lr());
    if (batch_index_ == 0) {
      epoch_seed_ = data_rng_.next_u64();
      carried_ = model_.zero_state(B);
      epoch_loss_sum_ = 0;
      epoch_tokens_ = 0;
      epoch_norm_sum_ = 0;
      epoch_steps_ = 0;
    }
    const EpochPlan plan = sequential ? seq->plan_epoch(epoch_seed_) : rnd->plan_epoch(epoch_seed_);
    const auto epoch_start = Clock::now();
    const int64_t tokens_before = epoch_tokens_;
    double last_norm = 0;
    StopReason stopped = StopReason::kFinished;
    for (; batch_index_ < plan.num_batches; ++batch_index_) {
      if (sequential) seq->fill_batch(plan, batch_index_, batch); else rnd->fill_batch(plan, batch_index_, batch);
      if (!sequential) carried_ = model_.zero_state(B);  // random order: no state to carry
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) {
          x[static_cast<size_t>(t * B + b)] = batch.x[static_cast<size_t>(b * T + t)];
          y[static_cast<size_t>(t * B + b)] = batch.y[static_cast<size_t>(b * T + t)];
        }
      g.clear();
      params.zero_grads();
      if (options_.truncation_keep < 1) {
        // xi_t = 1/pi with probability pi, else 0 (Tallec and Ollivier, 2017): unbiased in expectation.
        for (int64_t t = 0; t < T; ++t)
          carry_scales[static_cast<size_t>(t)] =
              dropout_rng_.uniform() < options_.truncation_keep ? static_cast<float>(1 / options_.truncation_keep) : 0.0f;
      }
      Var loss = model_.loss(g, x, y, T, B, carried_, &dropout_rng_, true, carry_scales);
      const double loss_value = g.item(loss);
      const std::string where = fmt::format("epoch {}, step {}", epoch_ + 1, step_ + 1);
      check_finite(loss_value, "training loss", where + "; the last good checkpoint is kept in " +
                                                    (options_.out_dir / "checkpoint").string());
      g.backward(loss);
      last_norm = options_.clip > 0 ? clip_grad_norm(params.grads(), options_.clip) : grad_norm(params.grads());
      check_finite(last_norm, "gradient norm", where);
      optimizer_->step(params);
      ++step_;
      epoch_loss_sum_ += loss_value * static_cast<double>(B * T);
      epoch_tokens_ += B * T;
      epoch_norm_sum_ += last_norm;
      ++epoch_steps_;
      if (callbacks.on_step) {
        const double dt = seconds_since(epoch_start);
        callbacks.on_step({.epoch = epoch_ + 1, .batch = batch_index_ + 1, .batches_per_epoch = plan.num_batches,
                           .step = step_, .loss = epoch_loss_sum_ / static_cast<double>(epoch_tokens_),
                           .tokens_per_s = dt > 0 ? static_cast<double>(epoch_tokens_ - tokens_before) / dt : 0,
                           .elapsed_s = seconds_since(t0), .grad_norm = last_norm});
      }
      if (stop && stop->load()) stopped = StopReason::kInterrupted;
      else if (options_.time_budget_s > 0 && seconds_since(t0) >= options_.time_budget_s) stopped = StopReason::kTimeBudget;
      if (stopped != StopReason::kFinished) {
        ++batch_index_;
        break;
      }
    }
    const double epoch_seconds = seconds_since(epoch_start);
    EpochMetrics m{.epoch = epoch_ + 1,
                   .step = step_,
                   .train_perplexity = std::exp(epoch_loss_sum_ / static_cast<double>(std::max<int64_t>(epoch_tokens_, 1))),
                   .tokens_per_s = epoch_seconds > 0 ? static_cast<double>(epoch_tokens_ - tokens_before) / epoch_seconds : 0,
                   .lr = optimizer_->lr(),
                   .grad_norm = epoch_steps_ ? epoch_norm_sum_ / static_cast<double>(epoch_steps_) : 0};
    if (!data_.valid.empty()) {
      const int64_t rows = std::max<int64_t>(1, std::min<int64_t>(B, static_cast<int64_t>(data_.valid.size()) / (T + 1)));
      m.valid_perplexity = evaluate_stream(model_, data_.valid, rows, T).perplexity();
    }
    if (stopped == StopReason::kInterrupted) {
      // Mid-epoch: keep the position so a resume finishes this epoch; no metrics row yet.
      save_checkpoint();
      summary.reason = stopped;
      summary.history = history_;
      summary.history.push_back(m);
      summary.best_valid_perplexity = best_valid_;
      return summary;
    }
    history_.push_back(m);
    const bool improved = std::isfinite(m.valid_perplexity) && !(m.valid_perplexity >= best_valid_);
    if (improved) {
      best_valid_ = m.valid_perplexity;
      replace_folder_atomically(options_.out_dir / "best", [&](const fs::path& dir) { save_model_files(dir, model_, text_); });
    }
    if (stopped == StopReason::kFinished) {  // the checkpoint points at the start of the next epoch
      batch_index_ = 0;
      ++epoch_;
    }
    save_checkpoint();
    write_metrics(options_.out_dir, history_);
    if (callbacks.on_epoch) callbacks.on_epoch(m);
    if (stopped == StopReason::kFinished && options_.patience > 0 && epochs_since_best() >= options_.patience &&
        epoch_ < options_.epochs)
      stopped = StopReason::kNoImprovement;
    if (stopped != StopReason::kFinished) {
      summary.reason = stopped;
      break;
    }
  }
  summary.history = history_;
  summary.best_valid_perplexity = best_valid_;
  return summary;
}

}  // namespace recur
