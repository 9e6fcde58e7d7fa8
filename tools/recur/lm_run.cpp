// The training driver behind `recur train` and `recur demo`: flags in, library run, progress out.
#include "lm_run.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <utility>

#include "recur/core/error.h"
#include "train_progress.h"

namespace recur::cli {

namespace fs = std::filesystem;

namespace {

// RunSettings / TrainOptions field -> the flag that sets it.
constexpr std::array<std::pair<std::string_view, std::string_view>, 26> kFlagOfField = {{
    {"data", "--data"},
    {"valid", "--valid"},
    {"valid_fraction", "--valid-fraction"},
    {"valid_pairs", "--valid-pairs"},
    {"max_pairs", "--max-pairs"},
    {"min_freq", "--min-freq"},
    {"num_layers", "--layers"},
    {"hidden_size", "--hidden"},
    {"embedding_size", "--embed"},
    {"dropout", "--dropout"},
    {"batch", "--batch"},
    {"steps", "--steps"},
    {"partition", "--partition"},
    {"optimizer", "--optimizer"},
    {"lr", "--lr"},
    {"momentum", "--momentum"},
    {"weight_decay", "--weight-decay"},
    {"clip", "--clip"},
    {"truncation_keep", "--random-truncation"},
    {"lr_schedule", "--lr-schedule"},
    {"lr_gamma", "--lr-gamma"},
    {"epochs", "--epochs"},
    {"time_budget_s", "--time-budget"},
    {"patience", "--patience"},
    {"seed", "--seed"},
    {"out_dir", "--out"},
}};

}  // namespace

std::string with_flag_name(const OptionError& e) {
  std::string message = e.what();
  const auto it = std::find_if(kFlagOfField.begin(), kFlagOfField.end(),
                               [&](const auto& p) { return p.first == e.field(); });
  if (it == kFlagOfField.end()) return message;
  auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; };
  for (size_t at = message.find(it->first); at != std::string::npos; at = message.find(it->first, at + 1)) {
    const size_t end = at + it->first.size();
    if ((at == 0 || !is_word(message[at - 1])) && (end == message.size() || !is_word(message[end])))
      return message.replace(at, it->first.size(), it->second);
  }
  return message;
}

namespace {

RunSettings to_settings(const TrainFlags& f) {
  if (!f.resume.empty()) {
    RunSettings resumed = resume_settings(f.resume, f.overrides);
    resumed.train.threads = f.settings.train.threads;  // not in run.json: this session's --threads
    return resumed;
  }
  RunSettings s = f.settings;
  s.encoding = {.level = parse_token_level(f.level), .mode = parse_preprocess_mode(f.mode)};
  s.cell = run_cell_type(f.cell, f.nonlinearity);
  s.train.partition = parse_partition(f.partition);
  s.train.optimizer = parse_optimizer_kind(f.optimizer);
  s.train.lr_schedule = parse_lr_schedule_kind(f.lr_schedule);
  return s;
}

void print_run(const TrainingRun& run) {
  const RunSettings& s = run.settings();
  const RunData& d = run.data();
  if (d.valid_unknown_count > 0)
    fmt::print(stderr, "note: {} validation tokens are not in the training vocabulary (scored as {})\n",
               d.valid_unknown_count, d.text.vocab.unk());
  fmt::print("data: {} ({} {} tokens: {} train, {} valid; vocabulary {})\n", d.data_path.string(),
             d.train_tokens + d.valid_tokens, token_level_name(s.encoding.level), d.train_tokens,
             d.valid_tokens, d.text.vocab.size());
  fmt::print("model: {} x{} hidden {} {} ({} parameters); batch {} x steps {}, {} lr {}, clip {}\n",
             cell_name(s.cell), s.num_layers, s.hidden_size,
             s.embedding_size > 0 ? "embedding " + std::to_string(s.embedding_size) : std::string("one-hot"),
             run.model().parameters().num_values(), s.train.batch, s.train.steps,
             optimizer_kind_name(s.train.optimizer), s.train.lr, s.train.clip);
  std::fflush(stdout);
}

// How the job shares each batch, and what its processes sum every step.
void print_job(const TrainingRun& run, const LaunchedJob& job) {
  const int64_t batch = run.settings().train.batch;
  const int64_t bytes = run.model().parameters().num_values() * static_cast<int64_t>(sizeof(float));
  const int64_t fewest = row_share(batch, job.size() - 1, job.size()).rows();
  const int64_t most = row_share(batch, 0, job.size()).rows();
  fmt::print("processes: {}, {} rows of each batch and {} thread(s) each; all-reduce of {:.2f} MB per step\n",
             job.size(), fewest == most ? std::to_string(most) : fmt::format("{} or {}", most, fewest),
             run.settings().train.threads, static_cast<double>(bytes) / 1e6);
  std::fflush(stdout);
}

// Progress goes to the terminal from one process only (rank 0 of a job).
TrainSummary train_interruptibly(TrainingRun& run, bool speaks) {
  const StopSignals signals;
  ProgressPrinter printer(run.settings().train.time_budget_s);
  if (!speaks) return run.train(stop_flag());
  return run.train(stop_flag(), {.on_step = [&](const TrainProgress& p) { printer.step(p); },
                                 .on_epoch = [&](const EpochMetrics& m) { printer.epoch(m); }});
}

void print_summary(const TrainSummary& summary, const TrainOptions& options) {
  if (summary.reason == StopReason::kTimeBudget)
    fmt::print("time budget of {} s reached\n", options.time_budget_s);
  if (summary.reason == StopReason::kNoImprovement)
    fmt::print("stopped early: no new best validation perplexity in {} epochs (--patience)\n",
               options.patience);
  if (summary.history.empty()) {
    fmt::print("nothing to train: the run has already done its {} epochs (--epochs)\n", options.epochs);
    return;
  }
  const EpochMetrics& last = summary.history.back();
  const auto best =
      std::min_element(summary.history.begin(), summary.history.end(),
                       [](const auto& a, const auto& b) { return a.valid_perplexity < b.valid_perplexity; });
  fmt::print("validation perplexity: {:.3f} (last epoch), best {:.3f} at epoch {}; train perplexity {:.3f}\n",
             last.valid_perplexity, summary.best_valid_perplexity, best->epoch, last.train_perplexity);
}

// Greedy decoding of a small model soon repeats itself; a sampled line shows what it has learned.
void print_samples(const TrainingRun& run, const TrainFlags& f) {
  if (f.sample_length <= 0 || f.prefix.empty()) return;
  const uint64_t seed = run.settings().train.seed;
  if (auto greedy = run.sample(f.prefix, f.sample_length, {.greedy = true}, seed))
    fmt::print("sample ({} model, greedy): {}\n", greedy->from_best ? "best" : "last", greedy->text);
  if (f.sample_temperature <= 0) return;
  if (auto sampled = run.sample(f.prefix, f.sample_length, {.temperature = f.sample_temperature}, seed))
    fmt::print("sample ({} model, temperature {}, seed {}): {}\n", sampled->from_best ? "best" : "last",
               f.sample_temperature, seed, sampled->text);
}

// A new run writes run.json; an earlier run in the folder is replaced only with --force.
void start_new_run(TrainingRun& run, const TrainFlags& f, bool speaks) {
  const fs::path out = run.settings().train.out_dir;
  const bool had_run = fs::exists(run_settings_path(out));
  try {
    run.save_settings(f.force ? ExistingRun::kReplace : ExistingRun::kRefuse);
  } catch (const RunExistsError& e) {
    throw ValueError(std::string(e.what()) + "; continue it with --resume " + out.string() +
                     ", or pass --force to replace it");
  }
  if (f.force && had_run && speaks)
    fmt::print(stderr, "note: replaced the earlier run in {} (--force)\n", out.string());
}

int train_and_report(const TrainFlags& f, LaunchedJob* job) {
  TrainingRun run(to_settings(f), job);
  const bool speaks = !job || job->is_root();
  for (const std::string& repair : run.repairs())
    fmt::print(stderr, "note: repaired the run folder: {}\n", repair);
  if (f.resume.empty()) start_new_run(run, f, speaks);
  if (speaks) print_run(run);
  if (speaks && job) print_job(run, *job);
  const fs::path out = run.settings().train.out_dir;
  if (!f.resume.empty()) {
    run.resume();
    if (speaks) fmt::print("resumed from {}\n", checkpoint_folder(out).string());
  }
  const auto start = std::chrono::steady_clock::now();
  const TrainSummary summary = train_interruptibly(run, speaks);
  if (job && speaks) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("all-reduce: {:.2f} s of {:.2f} s training ({:.1f}%), {:.1f} MB summed\n",
               job->all_reduce_seconds(), seconds, 100 * job->all_reduce_seconds() / std::max(seconds, 1e-9),
               static_cast<double>(job->all_reduce_bytes()) / 1e6);
  }
  if (!speaks) return summary.reason == StopReason::kInterrupted ? 128 + stop_signal() : 0;
  if (summary.reason == StopReason::kInterrupted) {
    const int signal = stop_signal();
    fmt::print(stderr, "\ninterrupted: checkpoint saved in {} after {}; continue with --resume {}\n",
               checkpoint_folder(out).string(), signal == SIGTERM ? "SIGTERM" : "SIGINT", out.string());
    return 128 + signal;
  }
  print_summary(summary, run.settings().train);
  print_samples(run, f);
  fmt::print("model saved in {} (best: {})\n", checkpoint_folder(out).string(),
             best_model_folder(out).string());
  return 0;
}

// A flag whose value is one of `choices`; to_settings parses it into the library's enum.
void add_choice(CLI::App& cmd, const std::string& flag, std::string& target,
                const std::vector<std::string>& choices, const std::string& help) {
  cmd.add_option(flag, target, help)->check(CLI::IsMember(choices))->capture_default_str();
}

}  // namespace

void add_train_options(CLI::App& cmd, TrainFlags& f) {
  RunSettings& s = f.settings;
  TrainOptions& t = s.train;
  cmd.add_option("--data", s.data,
                 "Training text: a file, a dataset name, or a folder from `recur prepare` (which fixes "
                 "--level, --mode, --min-freq and the validation split)")
      ->capture_default_str();
  cmd.add_option("--valid", s.valid, "Validation text (default: the last --valid-fraction of --data)");
  cmd.add_option("--valid-fraction", s.valid_fraction, "Fraction of the token stream held out for validation")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  add_choice(cmd, "--level", f.level, {"char", "word"}, "Tokens: char or word");
  add_choice(cmd, "--mode", f.mode, {"d2l", "lower", "raw"}, "Preprocessing: d2l, lower or raw");
  cmd.add_option("--min-freq", s.min_freq, "Tokens seen fewer times become <unk>")->capture_default_str();
  add_choice(cmd, "--cell", f.cell, {"rnn", "gru", "lstm"}, "Recurrent cell: rnn, gru or lstm");
  add_choice(cmd, "--nonlinearity", f.nonlinearity, {"tanh", "relu"}, "rnn cell activation: tanh or relu");
  cmd.add_option("--layers", s.num_layers, "Stacked recurrent layers")->capture_default_str();
  cmd.add_option("--hidden", s.hidden_size, "Hidden units per layer")->capture_default_str();
  cmd.add_option("--embed", s.embedding_size, "Embedding size (0 = one-hot input)")->capture_default_str();
  cmd.add_option("--dropout", s.dropout, "Dropout on embeddings, between layers and on the output (training)")
      ->capture_default_str();
  cmd.add_option("--batch", t.batch, "Rows per minibatch")->capture_default_str();
  cmd.add_option("--steps", t.steps, "Time steps per row (truncated BPTT length)")->capture_default_str();
  add_choice(cmd, "--partition", f.partition, {"sequential", "random"},
             "sequential (state carried) or random");
  add_choice(cmd, "--optimizer", f.optimizer, {"sgd", "adam", "adamw"}, "sgd, adam or adamw");
  cmd.add_option("--lr", t.lr, "Learning rate")->capture_default_str();
  cmd.add_option("--momentum", t.momentum, "SGD momentum")->capture_default_str();
  cmd.add_option("--weight-decay", t.weight_decay, "Weight decay (< 0: the optimizer's default)")
      ->capture_default_str();
  cmd.add_option("--clip", t.clip, "Clip gradients to this global L2 norm (0 = off)")->capture_default_str();
  cmd.add_option(
         "--random-truncation", t.truncation_keep,
         "Randomized truncation (d2l 9.7): keep the gradient between steps with this probability (1 = off)")
      ->capture_default_str();
  add_choice(cmd, "--lr-schedule", f.lr_schedule, {"constant", "step", "cosine"},
             "constant, step or cosine (per epoch)");
  cmd.add_option("--lr-gamma", t.lr_gamma, "Factor per epoch of the step schedule")->capture_default_str();
  cmd.add_option("--epochs", t.epochs, "Epochs to train")->capture_default_str();
  cmd.add_option("--time-budget", t.time_budget_s, "Stop after this many seconds (0 = no limit)")
      ->capture_default_str();
  cmd.add_option(
         "--patience", t.patience,
         "Early stopping: stop after this many epochs without a new best validation perplexity (0 = off)")
      ->capture_default_str();
  cmd.add_option("--seed", t.seed, "Random seed (same seed, machine and threads: same bits)")
      ->capture_default_str();
  cmd.add_option("--out", t.out_dir, "Output folder (checkpoints, metrics.csv, perplexity.svg)")
      ->capture_default_str();
  cmd.add_option("--resume", f.resume, "Continue the run in this folder (its run.json gives the settings)");
  cmd.add_flag("--force", f.force, "Replace the run already in --out (its checkpoint/, best/ and metrics)");
  cmd.add_option("--prefix", f.prefix, "Text to continue after training")->capture_default_str();
  cmd.add_option("--sample-length", f.sample_length, "Tokens to generate after training")
      ->capture_default_str();
  cmd.add_option("--sample-temperature", f.sample_temperature,
                 "Temperature of the sampled continuation shown after the greedy one (0 = greedy only)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

void note_resume_overrides(const CLI::App& cmd, TrainFlags& f) {
  const TrainOptions& t = f.settings.train;
  if (cmd.count("--epochs") > 0) f.overrides.epochs = t.epochs;
  if (cmd.count("--time-budget") > 0) f.overrides.time_budget_s = t.time_budget_s;
  if (cmd.count("--patience") > 0) f.overrides.patience = t.patience;
}

int run_training(const TrainFlags& flags, LaunchedJob* job) {
  try {
    return train_and_report(flags, job);
  } catch (const OptionError& e) {
    throw ValueError(with_flag_name(e));
  }
}

}  // namespace recur::cli
