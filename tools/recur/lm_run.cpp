// The training driver behind `recur train` and `recur demo`.
#include "lm_run.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>

#include "recur/data/dataset.h"
#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/lm/checkpoint.h"
#include "recur/lm/corpus.h"
#include "recur/lm/evaluate.h"
#include "recur/text/text_file.h"

namespace recur::cli {

namespace fs = std::filesystem;

namespace {

// Set by SIGINT; the trainer checks it after every step, saves a checkpoint and returns.
std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted.store(true); }

nlohmann::json spec_json(const RunSpec& s) {
  const TrainOptions& t = s.train;
  return {{"data", s.data}, {"valid", s.valid}, {"valid_fraction", s.valid_fraction}, {"level", s.level},
          {"mode", s.mode}, {"min_freq", s.min_freq}, {"cell", s.cell}, {"nonlinearity", s.nonlinearity},
          {"layers", s.layers}, {"hidden", s.hidden}, {"embed", s.embed}, {"dropout", s.dropout},
          {"batch", t.batch}, {"steps", t.steps}, {"partition", t.partition}, {"optimizer", t.optimizer},
          {"lr", t.lr}, {"momentum", t.momentum}, {"weight_decay", t.weight_decay}, {"clip", t.clip},
          {"random_truncation", t.truncation_keep},
          {"lr_schedule", t.lr_schedule}, {"lr_gamma", t.lr_gamma}, {"epochs", t.epochs},
          {"time_budget", t.time_budget_s}, {"patience", t.patience}, {"seed", t.seed}};
}

void spec_from_json(const nlohmann::json& j, RunSpec& s) {
  TrainOptions& t = s.train;
  s.data = j.at("data"); s.valid = j.at("valid"); s.valid_fraction = j.at("valid_fraction");
  s.level = j.at("level"); s.mode = j.at("mode"); s.min_freq = j.at("min_freq"); s.cell = j.at("cell");
  s.nonlinearity = j.at("nonlinearity"); s.layers = j.at("layers"); s.hidden = j.at("hidden");
  s.embed = j.at("embed"); s.dropout = j.at("dropout"); t.batch = j.at("batch"); t.steps = j.at("steps");
  t.partition = j.at("partition"); t.optimizer = j.at("optimizer"); t.lr = j.at("lr");
  t.momentum = j.at("momentum"); t.weight_decay = j.at("weight_decay"); t.clip = j.at("clip");
  t.truncation_keep = j.at("random_truncation");
  t.lr_schedule = j.at("lr_schedule"); t.lr_gamma = j.at("lr_gamma"); t.epochs = j.at("epochs");
  t.time_budget_s = j.at("time_budget"); t.seed = j.at("seed");
  t.patience = j.value("patience", int64_t{0});  // absent in runs written before --patience existed
}

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

class ProgressPrinter {
 public:
  explicit ProgressPrinter(double time_budget) : tty_(::isatty(STDERR_FILENO) != 0), budget_(time_budget) {}

  void step(const TrainProgress& p) {
    const double frac = static_cast<double>(p.batch) / static_cast<double>(p.batches_per_epoch);
    double left = p.tokens_per_s > 0 && frac > 0 ? (1 - frac) / frac * (p.elapsed_s - epoch_start_) : 0;
    if (p.batch == 1) epoch_start_ = p.elapsed_s;
    if (budget_ > 0) left = std::min(left, budget_ - p.elapsed_s);
    if (tty_) {
      const int width = 24, filled = static_cast<int>(frac * width);
      fmt::print(stderr, "\repoch {:>3} [{}{}] {:3.0f}%  {:>8.0f} tok/s  loss {:.3f}  ppl {:8.2f}  left {}   ",
                 p.epoch, std::string(static_cast<size_t>(filled), '#'), std::string(static_cast<size_t>(width - filled), ' '),
                 100 * frac, p.tokens_per_s, p.loss, std::exp(p.loss), format_duration(std::max(left, 0.0)));
    } else if (p.elapsed_s - last_line_ >= 10) {
      last_line_ = p.elapsed_s;
      fmt::print(stderr, "epoch {} batch {}/{} step {}: loss {:.4f} ppl {:.2f} {:.0f} tok/s grad_norm {:.3f}\n", p.epoch,
                 p.batch, p.batches_per_epoch, p.step, p.loss, std::exp(p.loss), p.tokens_per_s, p.grad_norm);
    }
  }

  void epoch(const EpochMetrics& m) {
    if (tty_) fmt::print(stderr, "\n");
    fmt::print("epoch {:>3}  step {:>6}  train ppl {:8.3f}  valid ppl {:8.3f}  {:>8.0f} tok/s  lr {:.4g}  grad_norm {:.3f}\n",
               m.epoch, m.step, m.train_perplexity, m.valid_perplexity, m.tokens_per_s, m.lr, m.grad_norm);
    std::fflush(stdout);
  }

 private:
  bool tty_;
  double budget_;
  double last_line_ = 0;
  double epoch_start_ = 0;
};

}  // namespace

void add_train_options(CLI::App& cmd, RunSpec& s) {
  TrainOptions& t = s.train;
  cmd.add_option("--data", s.data, "Training text: a file or a dataset name")->capture_default_str();
  cmd.add_option("--valid", s.valid, "Validation text (default: the last --valid-fraction of --data)");
  cmd.add_option("--valid-fraction", s.valid_fraction, "Fraction of the token stream held out for validation")
      ->check(CLI::Range(0.0, 0.9))->capture_default_str();
  cmd.add_option("--level", s.level, "Tokens: char or word")->check(CLI::IsMember({"char", "word"}))->capture_default_str();
  cmd.add_option("--mode", s.mode, "Preprocessing: d2l, lower or raw")->check(CLI::IsMember({"d2l", "lower", "raw"}))->capture_default_str();
  cmd.add_option("--min-freq", s.min_freq, "Tokens seen fewer times become <unk>")->capture_default_str();
  cmd.add_option("--cell", s.cell, "Recurrent cell: rnn, gru or lstm")->check(CLI::IsMember({"rnn", "gru", "lstm"}))->capture_default_str();
  cmd.add_option("--nonlinearity", s.nonlinearity, "rnn cell activation: tanh or relu")->check(CLI::IsMember({"tanh", "relu"}))->capture_default_str();
  cmd.add_option("--layers", s.layers, "Stacked recurrent layers")->capture_default_str();
  cmd.add_option("--hidden", s.hidden, "Hidden units per layer")->capture_default_str();
  cmd.add_option("--embed", s.embed, "Embedding size (0 = one-hot input)")->capture_default_str();
  cmd.add_option("--dropout", s.dropout, "Dropout on embeddings, between layers and on the output (training)")->capture_default_str();
  cmd.add_option("--batch", t.batch, "Rows per minibatch")->capture_default_str();
  cmd.add_option("--steps", t.steps, "Time steps per row (truncated BPTT length)")->capture_default_str();
  cmd.add_option("--partition", t.partition, "sequential (state carried) or random")->check(CLI::IsMember({"sequential", "random"}))->capture_default_str();
  cmd.add_option("--optimizer", t.optimizer, "sgd, adam or adamw")->check(CLI::IsMember({"sgd", "adam", "adamw"}))->capture_default_str();
  cmd.add_option("--lr", t.lr, "Learning rate")->capture_default_str();
  cmd.add_option("--momentum", t.momentum, "SGD momentum")->capture_default_str();
  cmd.add_option("--weight-decay", t.weight_decay, "Weight decay (< 0: the optimizer's default)")->capture_default_str();
  cmd.add_option("--clip", t.clip, "Clip gradients to this global L2 norm (0 = off)")->capture_default_str();
  cmd.add_option("--random-truncation", t.truncation_keep,
                 "Randomized truncation (d2l 9.7): keep the gradient between steps with this probability (1 = off)")
      ->capture_default_str();
  cmd.add_option("--lr-schedule", t.lr_schedule, "constant, step or cosine (per epoch)")->check(CLI::IsMember({"constant", "step", "cosine"}))->capture_default_str();
  cmd.add_option("--lr-gamma", t.lr_gamma, "Factor per epoch of the step schedule")->capture_default_str();
  cmd.add_option("--epochs", t.epochs, "Epochs to train")->capture_default_str();
  cmd.add_option("--time-budget", t.time_budget_s, "Stop after this many seconds (0 = no limit)")->capture_default_str();
  cmd.add_option("--patience", t.patience,
                 "Early stopping: stop after this many epochs without a new best validation perplexity (0 = off)")
      ->capture_default_str();
  cmd.add_option("--seed", t.seed, "Random seed (same seed, machine and threads: same bits)")->capture_default_str();
  cmd.add_option("--out", t.out_dir, "Output folder (checkpoints, metrics.csv, perplexity.svg)")->capture_default_str();
  cmd.add_option("--resume", s.resume, "Continue the run in this folder (its run.json gives the settings)");
  cmd.add_option("--prefix", s.prefix, "Text to continue after training (greedy)")->capture_default_str();
  cmd.add_option("--sample-length", s.sample_length, "Tokens to generate after training")->capture_default_str();
}

int run_training(RunSpec spec) {
  const bool resuming = !spec.resume.empty();
  if (resuming) {
    // The run's own settings, except how long to go on.
    const fs::path run_file = fs::path(spec.resume) / "run.json";
    if (!fs::exists(run_file)) throw IoError("cannot resume: '" + run_file.string() + "' is missing");
    const auto epochs = spec.train.epochs;
    const auto budget = spec.train.time_budget_s;
    const auto patience = spec.train.patience;
    try {
      spec_from_json(nlohmann::json::parse(read_file(run_file)), spec);
    } catch (const nlohmann::json::exception& e) {
      throw IoError(run_file.string() + ": malformed: " + e.what());
    }
    if (spec.epochs_given) spec.train.epochs = epochs;
    spec.train.time_budget_s = spec.time_budget_given ? budget : 0;
    if (spec.patience_given) spec.train.patience = patience;
    spec.train.out_dir = spec.resume;
  }
  validate(spec.train);
  check(spec.layers >= 1, "train: --layers must be >= 1, got " + std::to_string(spec.layers));
  check(spec.hidden >= 1, "train: --hidden must be >= 1, got " + std::to_string(spec.hidden));
  check(spec.embed >= 0, "train: --embed must be >= 0, got " + std::to_string(spec.embed));
  check(spec.dropout >= 0 && spec.dropout < 1, "train: --dropout must be in [0, 1), got " + std::to_string(spec.dropout));

  // Data: one vocabulary from the training text; validation encoded with it.
  const TextEncoding encoding{.level = spec.level, .mode = spec.mode};
  const fs::path data_path = resolve_dataset(spec.data);
  LmCorpus corpus = load_lm_corpus(data_path, encoding, spec.min_freq);
  TrainData data;
  if (!spec.valid.empty()) {
    const fs::path valid_path = resolve_dataset(spec.valid);
    EncodedText valid = encode_text(read_text_file(valid_path), encoding, corpus.table);
    if (valid.unknown_count > 0)
      fmt::print(stderr, "note: {} validation tokens are not in the training vocabulary (scored as {})\n",
                 valid.unknown_count, corpus.table.unk());
    data.train = std::move(corpus.ids);
    data.valid = std::move(valid.ids);
  } else {
    const auto n = static_cast<int64_t>(corpus.ids.size());
    const auto n_valid = static_cast<int64_t>(static_cast<double>(n) * spec.valid_fraction);
    data.train.assign(corpus.ids.begin(), corpus.ids.begin() + (n - n_valid));
    data.valid.assign(corpus.ids.begin() + (n - n_valid), corpus.ids.end());
  }
  std::string cell = spec.cell == "rnn" ? "rnn_" + spec.nonlinearity : spec.cell;
  LanguageModelConfig config{.cell = parse_cell_type(cell), .num_layers = spec.layers, .hidden_size = spec.hidden,
                             .embedding_size = spec.embed, .dropout = spec.dropout,
                             .vocab_size = corpus.table.size()};
  LanguageModel model(config);
  Rng init_rng(spec.train.seed);
  model.reset_parameters(init_rng);
  ModelTextConfig text{.level = spec.level, .mode = spec.mode, .vocab = corpus.table.tokens(), .unk = corpus.table.unk()};

  std::error_code ec;
  fs::create_directories(spec.train.out_dir, ec);
  if (ec || !fs::is_directory(spec.train.out_dir))
    throw IoError("cannot create output folder '" + spec.train.out_dir.string() + "'" + (ec ? ": " + ec.message() : ""));
  if (!resuming) write_file_atomically(spec.train.out_dir / "run.json", spec_json(spec).dump(1) + "\n");

  fmt::print("data: {} ({} {} tokens: {} train, {} valid; vocabulary {})\n", data_path.string(),
             data.train.size() + data.valid.size(), spec.level, data.train.size(), data.valid.size(), corpus.table.size());
  fmt::print("model: {} x{} hidden {} {} ({} parameters); batch {} x steps {}, {} lr {}, clip {}\n", cell, spec.layers,
             spec.hidden, spec.embed > 0 ? "embedding " + std::to_string(spec.embed) : std::string("one-hot"),
             model.parameters().num_values(), spec.train.batch, spec.train.steps, spec.train.optimizer, spec.train.lr,
             spec.train.clip);
  std::fflush(stdout);

  Trainer trainer(model, text, std::move(data), spec.train);
  if (resuming) {
    trainer.resume();
    fmt::print("resumed from {}\n", (spec.train.out_dir / "checkpoint").string());
  }
  g_interrupted = false;
  auto previous = std::signal(SIGINT, on_sigint);
  ProgressPrinter printer(spec.train.time_budget_s);
  TrainSummary summary;
  try {
    summary = trainer.run(&g_interrupted, {.on_step = [&](const TrainProgress& p) { printer.step(p); },
                                           .on_epoch = [&](const EpochMetrics& m) { printer.epoch(m); }});
  } catch (...) {
    std::signal(SIGINT, previous);
    throw;
  }
  std::signal(SIGINT, previous);
  if (summary.reason == StopReason::kInterrupted) {
    fmt::print(stderr, "\ninterrupted: checkpoint saved in {}; continue with --resume {}\n",
               (spec.train.out_dir / "checkpoint").string(), spec.train.out_dir.string());
    return 130;
  }
  if (summary.reason == StopReason::kTimeBudget) fmt::print("time budget of {} s reached\n", spec.train.time_budget_s);
  if (summary.reason == StopReason::kNoImprovement)
    fmt::print("stopped early: no new best validation perplexity in {} epochs (--patience)\n", spec.train.patience);
  const EpochMetrics& last = summary.history.back();
  const auto best = std::min_element(summary.history.begin(), summary.history.end(), [](const auto& a, const auto& b) {
    return a.valid_perplexity < b.valid_perplexity;
  });
  fmt::print("validation perplexity: {:.3f} (last epoch), best {:.3f} at epoch {}; train perplexity {:.3f}\n",
             last.valid_perplexity, summary.best_valid_perplexity, best->epoch, last.train_perplexity);

  if (spec.sample_length > 0 && !spec.prefix.empty()) {
    EncodedText prefix = encode_prompt(spec.prefix, encoding, TokenTable(text.vocab, text.unk));
    if (!prefix.ids.empty()) {
      // Sample from the kept model with the lowest validation perplexity (best/), as a user would.
      const fs::path best_dir = spec.train.out_dir / "best";
      LoadedModel best_model;
      if (fs::exists(best_dir / "config.json")) best_model = load_model(best_dir);
      LanguageModel& sampled = best_model.model ? *best_model.model : model;
      Rng rng(spec.train.seed);
      auto out = generate_tokens(sampled, prefix.ids, spec.sample_length, {.greedy = true}, rng);
      const TokenTable table(text.vocab, text.unk);
      std::vector<int32_t> all = prefix.ids;
      all.insert(all.end(), out.begin(), out.end());
      fmt::print("sample ({} model): {}\n", best_model.model ? "best" : "last", detokenize(all, table, spec.level));
    }
  }
  fmt::print("model saved in {} (best: {})\n", (spec.train.out_dir / "checkpoint").string(),
             (spec.train.out_dir / "best").string());
  return 0;
}

fs::path find_model_folder(const fs::path& dir) {
  for (const fs::path& candidate : {dir, dir / "best", dir / "checkpoint"})
    if (fs::exists(candidate / "config.json")) return candidate;
  throw IoError("no model in '" + dir.string() + "': expected config.json there or in its best/ or checkpoint/ folder");
}

}  // namespace recur::cli
