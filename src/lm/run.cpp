// A training run: settings and run.json, the run folder, data and validation split, and the
// TrainingRun that ties model, trainer and sampling together.
#include "recur/lm/run.h"

#include <fmt/core.h>

#include <array>
#include <nlohmann/json.hpp>

#include "recur/core/error.h"
#include "recur/data/dataset.h"
#include "recur/io/atomic_file.h"
#include "recur/lm/evaluate.h"
#include "recur/lm/memory_estimate.h"
#include "recur/lm/prepared_corpus.h"
#include "recur/text/text_file.h"
#include "run_settings.h"

namespace recur {

namespace fs = std::filesystem;

void validate(const RunSettings& s) {
  constexpr std::string_view kContext = "train";
  check_option(s.valid_fraction >= 0 && s.valid_fraction <= 0.9, kContext, "valid_fraction", "in [0, 0.9]",
               s.valid_fraction);
  check_option(s.min_freq >= 0, kContext, "min_freq", ">= 0", static_cast<double>(s.min_freq));
  check_option(s.num_layers >= 1, kContext, "num_layers", ">= 1", s.num_layers);
  check_option(s.num_layers <= kMaxLayers, kContext, "num_layers", "<= " + std::to_string(kMaxLayers),
               s.num_layers);
  check_option(s.hidden_size >= 1, kContext, "hidden_size", ">= 1", static_cast<double>(s.hidden_size));
  check_option(s.hidden_size <= kMaxModelWidth, kContext, "hidden_size", "<= 2^24",
               static_cast<double>(s.hidden_size));
  check_option(s.embedding_size >= 0, kContext, "embedding_size", ">= 0",
               static_cast<double>(s.embedding_size));
  check_option(s.embedding_size <= kMaxModelWidth, kContext, "embedding_size", "<= 2^24",
               static_cast<double>(s.embedding_size));
  check_option(s.dropout >= 0 && s.dropout < 1, kContext, "dropout", "in [0, 1)", s.dropout);
  validate(s.train);
}

fs::path run_settings_path(const fs::path& run_dir) { return run_dir / "run.json"; }
fs::path checkpoint_folder(const fs::path& run_dir) { return run_dir / "checkpoint"; }
fs::path best_model_folder(const fs::path& run_dir) { return run_dir / "best"; }

namespace {
// Repairs the run folder `dir` belongs to when it is one and no process holds it.
void repair_if_idle(const fs::path& dir) {
  fs::path run_dir = dir.lexically_normal();
  if (run_dir.filename().empty()) run_dir = run_dir.parent_path();
  if (run_dir.filename() == "checkpoint" || run_dir.filename() == "best") run_dir = run_dir.parent_path();
  if (run_dir.empty()) run_dir = ".";
  if (!fs::exists(run_settings_path(run_dir))) return;  // not a run folder: leave it alone
  if (const auto lock = RunFolderLock::try_lock(run_dir)) (void)recover_run_folder(run_dir);
}
}  // namespace

fs::path find_model_folder(const fs::path& dir) {
  repair_if_idle(dir);
  for (const fs::path& candidate : {dir, best_model_folder(dir), checkpoint_folder(dir)})
    if (fs::exists(candidate / "config.json")) return candidate;
  throw IoError("no model in '" + dir.string() +
                "': expected config.json there or in its best/ or checkpoint/ folder");
}

CellType run_cell_type(std::string_view cell, std::string_view nonlinearity) {
  if (cell == "rnn") return parse_cell_type("rnn_" + std::string(nonlinearity));
  return parse_cell_type(cell);
}

std::pair<std::string_view, std::string_view> run_cell_names(CellType cell) {
  switch (cell) {
    case CellType::kRnnTanh:
      return {"rnn", "tanh"};
    case CellType::kRnnRelu:
      return {"rnn", "relu"};
    case CellType::kGru:
      return {"gru", "tanh"};
    case CellType::kLstm:
      return {"lstm", "tanh"};
  }
  throw ValueError("run_cell_names: unknown cell type");
}

std::string run_settings_json(const RunSettings& s) {
  const TrainOptions& t = s.train;
  const auto [cell, nonlinearity] = run_cell_names(s.cell);
  nlohmann::json j = {{"data", s.data},
                      {"valid", s.valid},
                      {"valid_fraction", s.valid_fraction},
                      {"level", token_level_name(s.encoding.level)},
                      {"mode", preprocess_mode_name(s.encoding.mode)},
                      {"min_freq", s.min_freq},
                      {"cell", cell},
                      {"nonlinearity", nonlinearity},
                      {"layers", s.num_layers},
                      {"hidden", s.hidden_size},
                      {"embed", s.embedding_size},
                      {"dropout", s.dropout},
                      {"batch", t.batch},
                      {"steps", t.steps},
                      {"partition", partition_name(t.partition)},
                      {"random_truncation", t.truncation_keep}};
  add_training_loop_settings(t, j);  // nlohmann::json sorts its keys: the order written is alphabetical
  return j.dump(1) + "\n";
}

namespace {
// The enum-valued keys, each through its own parser.
void read_named_settings(const JsonFields& f, RunSettings& s) {
  s.encoding = {.level = parse_token_level(f.string("level")),
                .mode = parse_preprocess_mode(f.string("mode"))};
  s.cell = run_cell_type(f.string("cell"), f.string("nonlinearity"));
  s.train.partition = parse_partition(f.string("partition"));
}

void read_number_settings(const JsonFields& f, RunSettings& s) {
  TrainOptions& t = s.train;
  s.data = f.string("data");
  s.valid = f.string("valid");
  s.valid_fraction = f.number("valid_fraction");
  s.min_freq = f.integer("min_freq", 0, INT64_MAX);
  s.num_layers = static_cast<int>(f.integer("layers", 1, kMaxLayers));
  s.hidden_size = f.integer("hidden", 1, kMaxModelWidth);
  s.embedding_size = f.integer("embed", 0, kMaxModelWidth);
  s.dropout = f.number("dropout");
  t.batch = f.integer("batch", 1, INT64_MAX);
  t.steps = f.integer("steps", 1, INT64_MAX);
  t.truncation_keep = f.number("random_truncation");
  read_training_loop_settings(f, t);
}
}  // namespace

void read_training_loop_settings(const JsonFields& f, TrainOptions& t) {
  t.lr = f.number("lr");
  t.momentum = f.number("momentum");
  t.weight_decay = f.number("weight_decay");
  t.clip = f.number("clip");
  t.lr_gamma = f.number("lr_gamma");
  t.epochs = f.integer("epochs", 1, kMaxEpochs);
  t.time_budget_s = f.number("time_budget");
  t.seed = f.unsigned_integer("seed");
  // Absent in runs written before early stopping existed.
  t.patience = f.has("patience") ? f.integer("patience", 0, INT64_MAX) : 0;
  t.optimizer = f.parse([&] { return parse_optimizer_kind(f.string("optimizer")); });
  t.lr_schedule = f.parse([&] { return parse_lr_schedule_kind(f.string("lr_schedule")); });
}

std::filesystem::path resumable_run_settings(const std::filesystem::path& run_dir) {
  fs::path file = run_settings_path(run_dir);
  if (!fs::exists(file)) throw IoError("cannot resume: '" + file.string() + "' is missing");
  return file;
}

void apply_resume_overrides(const std::filesystem::path& run_dir, const ResumeOverrides& overrides,
                            TrainOptions& t) {
  t.out_dir = run_dir;
  if (overrides.epochs) t.epochs = *overrides.epochs;
  t.time_budget_s = overrides.time_budget_s.value_or(0);
  if (overrides.patience) t.patience = *overrides.patience;
}

RunSettings parse_run_settings(const std::string& json_text, const std::string& source) {
  const nlohmann::json j = parse_json_file_text(json_text, source);
  const JsonFields f(j, source);
  RunSettings s;
  read_number_settings(f, s);
  f.parse([&] { read_named_settings(f, s); });
  return s;
}

RunSettings resume_settings(const fs::path& run_dir, const ResumeOverrides& overrides) {
  const fs::path file = resumable_run_settings(run_dir);
  RunSettings s = parse_run_settings(read_file(file), file.string());
  apply_resume_overrides(run_dir, overrides, s.train);
  return s;
}

int64_t validation_token_count(int64_t num_tokens, double fraction) {
  return static_cast<int64_t>(static_cast<double>(num_tokens) * fraction);
}

TrainData split_validation(std::vector<int32_t> ids, double fraction) {
  check(fraction >= 0 && fraction < 1,
        "split_validation: fraction must be in [0, 1), got " + std::to_string(fraction));
  const auto n = static_cast<int64_t>(ids.size());
  const int64_t n_valid = validation_token_count(n, fraction);
  std::vector<int32_t> valid(ids.begin() + (n - n_valid), ids.end());
  ids.resize(static_cast<size_t>(n - n_valid));
  return {.train = std::move(ids), .valid = std::move(valid)};
}

RunData load_run_data(const RunSettings& s) {
  RunData run;
  // A prepared folder is given by its path; anything else is a text file or a dataset name.
  const bool is_prepared = is_prepared_folder(s.data);
  run.data_path = is_prepared ? fs::path(s.data) : resolve_dataset(s.data);
  run.min_freq = s.min_freq;
  if (is_prepared) {
    PreparedCorpus prepared = load_prepared_corpus(run.data_path);
    run.min_freq = prepared.min_freq;
    run.data.train = std::move(prepared.train);
    if (!s.valid.empty()) {
      EncodedTokens valid =
          encode_text(read_text_file(resolve_dataset(s.valid)), prepared.encoding, prepared.vocab);
      run.valid_unknown_count = valid.unknown_count;
      run.data.valid = std::move(valid.ids);
    } else {
      run.data.valid = std::move(prepared.valid);
      run.valid_unknown_count = prepared.valid_unknown;
    }
    run.text = {.encoding = prepared.encoding, .vocab = std::move(prepared.vocab)};
  } else {
    LmCorpus corpus = load_lm_corpus(run.data_path, s.encoding, s.min_freq);
    if (!s.valid.empty()) {
      EncodedTokens valid = encode_text(read_text_file(resolve_dataset(s.valid)), s.encoding, corpus.vocab);
      run.valid_unknown_count = valid.unknown_count;
      run.data = {.train = std::move(corpus.ids), .valid = std::move(valid.ids)};
    } else {
      run.data = split_validation(std::move(corpus.ids), s.valid_fraction);
    }
    run.text = {.encoding = s.encoding, .vocab = std::move(corpus.vocab)};
  }
  run.train_tokens = run.data.train.size();
  run.valid_tokens = run.data.valid.size();
  return run;
}

namespace {
void create_output_folder(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw IoError("cannot create output folder '" + dir.string() + "'" + (ec ? ": " + ec.message() : ""));
}

LanguageModelConfig model_config(const RunSettings& s, int64_t vocab_size) {
  return {.cell = s.cell,
          .num_layers = s.num_layers,
          .hidden_size = s.hidden_size,
          .embedding_size = s.embedding_size,
          .dropout = s.dropout,
          .vocab_size = vocab_size};
}
}  // namespace

void check_training_fits(const RunSettings& s, int64_t vocab_size) {
  const MemoryEstimate estimate = estimate_training_memory(model_config(s, vocab_size), s.train);
  const std::string& field = estimate.largest_field;
  std::string setting =
      fmt::format("batch {} x steps {} (vocabulary {})", s.train.batch, s.train.steps, vocab_size);
  if (field == "hidden_size")
    setting = fmt::format("hidden_size {} (x{} layers)", s.hidden_size, s.num_layers);
  if (field == "embedding_size")
    setting = fmt::format("embedding_size {} (vocabulary {})", s.embedding_size, vocab_size);
  const std::string message = memory_shortfall(estimate, physical_memory_bytes(), "train", setting);
  if (!message.empty()) throw OptionError(field, message);
}

TrainingRun::TrainingRun(RunSettings settings, ProcessGroup* group)
    : settings_(std::move(settings)), group_(group) {
  validate(settings_);
  data_ = load_run_data(settings_);
  // A prepared folder fixes the encoding; run.json records what was trained on.
  settings_.encoding = data_.text.encoding;
  settings_.min_freq = data_.min_freq;
  check_training_fits(settings_, data_.text.vocab.size());
  const bool writes_folder = !group_ || group_->is_root();
  if (writes_folder) {
    create_output_folder(settings_.train.out_dir);
    lock_ = std::make_unique<RunFolderLock>(settings_.train.out_dir);
    repairs_ = recover_run_folder(settings_.train.out_dir);
  }
  model_ = std::make_unique<LanguageModel>(model_config(settings_, data_.text.vocab.size()));
  // The same seed on every process: the same initial weights everywhere.
  Rng init_rng(settings_.train.seed);
  model_->reset_parameters(init_rng);
  trainer_ = std::make_unique<Trainer>(*model_, data_.text, std::move(data_.data), settings_.train, group_);
  if (group_) {  // a barrier: rank 0 has locked and repaired the folder
    std::array<double, 1> ready{1};
    group_->all_reduce_sum(ready);
  }
}

void write_run_settings(const fs::path& dir, const std::string& run_json, ExistingRun existing) {
  const bool holds_run = fs::exists(run_settings_path(dir)) || fs::exists(checkpoint_folder(dir)) ||
                         fs::exists(best_model_folder(dir));
  if (holds_run && existing == ExistingRun::kRefuse)
    throw RunExistsError("the folder '" + dir.string() +
                         "' already holds a run (run.json, checkpoint/ or best/)");
  if (holds_run) {
    for (const char* part : {"checkpoint", "best", "metrics.csv", "perplexity.svg"}) {
      std::error_code ec;
      fs::remove_all(dir / part, ec);
      if (ec)
        throw IoError("cannot remove the earlier run's '" + (dir / part).string() + "': " + ec.message());
    }
  }
  write_file_atomically(run_settings_path(dir), run_json);
}

void TrainingRun::save_settings(ExistingRun existing) {
  if (group_ && !group_->is_root()) return;
  write_run_settings(settings_.train.out_dir, run_settings_json(settings_), existing);
}

void TrainingRun::resume() { trainer_->resume(); }

TrainSummary TrainingRun::train(const std::atomic<bool>* stop, const TrainCallbacks& callbacks) {
  return trainer_->run(stop, callbacks);
}

std::optional<RunSample> TrainingRun::sample(std::string_view prompt, int64_t length,
                                             const SamplerOptions& sampler, uint64_t seed) const {
  const EncodedTokens prefix = encode_prompt(prompt, data_.text.encoding, data_.text.vocab);
  if (prefix.ids.empty()) return std::nullopt;
  // The model a user would pick up afterwards: the one with the lowest validation perplexity.
  const fs::path best_dir = best_model_folder(settings_.train.out_dir);
  LoadedModel best;
  if (fs::exists(best_dir / "config.json")) best = load_model(best_dir);
  Rng rng(seed);
  std::vector<int32_t> all = prefix.ids;
  const auto out = generate_tokens(best.model ? *best.model : *model_, prefix.ids, length, sampler, rng);
  all.insert(all.end(), out.begin(), out.end());
  return RunSample{.text = detokenize(all, data_.text.vocab, data_.text.encoding.level),
                   .from_best = best.model != nullptr};
}

}  // namespace recur
