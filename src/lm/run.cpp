// A training run: settings and run.json, the run folder, data and validation split, and the
// TrainingRun that ties model, trainer and sampling together.
#include "recur/lm/run.h"

#include <nlohmann/json.hpp>

#include "recur/core/error.h"
#include "recur/data/dataset.h"
#include "recur/io/atomic_file.h"
#include "recur/lm/evaluate.h"
#include "recur/text/text_file.h"

namespace recur {

namespace fs = std::filesystem;

void validate(const RunSettings& s) {
  constexpr std::string_view kContext = "train";
  check_option(s.valid_fraction >= 0 && s.valid_fraction <= 0.9, kContext, "valid_fraction", "in [0, 0.9]",
               s.valid_fraction);
  check_option(s.min_freq >= 0, kContext, "min_freq", ">= 0", static_cast<double>(s.min_freq));
  check_option(s.num_layers >= 1, kContext, "num_layers", ">= 1", s.num_layers);
  check_option(s.hidden_size >= 1, kContext, "hidden_size", ">= 1", static_cast<double>(s.hidden_size));
  check_option(s.embedding_size >= 0, kContext, "embedding_size", ">= 0",
               static_cast<double>(s.embedding_size));
  check_option(s.dropout >= 0 && s.dropout < 1, kContext, "dropout", "in [0, 1)", s.dropout);
  validate(s.train);
}

fs::path run_settings_path(const fs::path& run_dir) { return run_dir / "run.json"; }
fs::path checkpoint_folder(const fs::path& run_dir) { return run_dir / "checkpoint"; }
fs::path best_model_folder(const fs::path& run_dir) { return run_dir / "best"; }

fs::path find_model_folder(const fs::path& dir) {
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
  const nlohmann::json j = {{"data", s.data},
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
                            {"optimizer", optimizer_kind_name(t.optimizer)},
                            {"lr", t.lr},
                            {"momentum", t.momentum},
                            {"weight_decay", t.weight_decay},
                            {"clip", t.clip},
                            {"random_truncation", t.truncation_keep},
                            {"lr_schedule", lr_schedule_name(t.lr_schedule)},
                            {"lr_gamma", t.lr_gamma},
                            {"epochs", t.epochs},
                            {"time_budget", t.time_budget_s},
                            {"patience", t.patience},
                            {"seed", t.seed}};
  return j.dump(1) + "\n";
}

namespace {
// The enum-valued keys, each through its own parser.
void read_named_settings(const nlohmann::json& j, RunSettings& s) {
  s.encoding = {.level = parse_token_level(j.at("level").get<std::string>()),
                .mode = parse_preprocess_mode(j.at("mode").get<std::string>())};
  s.cell = run_cell_type(j.at("cell").get<std::string>(), j.at("nonlinearity").get<std::string>());
  s.train.partition = parse_partition(j.at("partition").get<std::string>());
  s.train.optimizer = parse_optimizer_kind(j.at("optimizer").get<std::string>());
  s.train.lr_schedule = parse_lr_schedule_kind(j.at("lr_schedule").get<std::string>());
}

void read_number_settings(const nlohmann::json& j, RunSettings& s) {
  TrainOptions& t = s.train;
  s.data = j.at("data");
  s.valid = j.at("valid");
  s.valid_fraction = j.at("valid_fraction");
  s.min_freq = j.at("min_freq");
  s.num_layers = j.at("layers");
  s.hidden_size = j.at("hidden");
  s.embedding_size = j.at("embed");
  s.dropout = j.at("dropout");
  t.batch = j.at("batch");
  t.steps = j.at("steps");
  t.lr = j.at("lr");
  t.momentum = j.at("momentum");
  t.weight_decay = j.at("weight_decay");
  t.clip = j.at("clip");
  t.truncation_keep = j.at("random_truncation");
  t.lr_gamma = j.at("lr_gamma");
  t.epochs = j.at("epochs");
  t.time_budget_s = j.at("time_budget");
  t.seed = j.at("seed");
  t.patience = j.value("patience", int64_t{0});  // absent in runs written before early stopping existed
}
}  // namespace

RunSettings parse_run_settings(const std::string& json_text, const std::string& source) {
  RunSettings s;
  try {
    const nlohmann::json j = nlohmann::json::parse(json_text);
    read_number_settings(j, s);
    read_named_settings(j, s);
  } catch (const nlohmann::json::exception& e) {
    throw IoError(source + ": malformed: " + e.what());
  } catch (const ValueError& e) {
    throw IoError(source + ": " + e.what());
  }
  return s;
}

RunSettings resume_settings(const fs::path& run_dir, const ResumeOverrides& overrides) {
  const fs::path file = run_settings_path(run_dir);
  if (!fs::exists(file)) throw IoError("cannot resume: '" + file.string() + "' is missing");
  RunSettings s = parse_run_settings(read_file(file), file.string());
  s.train.out_dir = run_dir;
  if (overrides.epochs) s.train.epochs = *overrides.epochs;
  s.train.time_budget_s = overrides.time_budget_s.value_or(0);
  if (overrides.patience) s.train.patience = *overrides.patience;
  return s;
}

TrainData split_validation(std::vector<int32_t> ids, double fraction) {
  check(fraction >= 0 && fraction < 1,
        "split_validation: fraction must be in [0, 1), got " + std::to_string(fraction));
  const auto n = static_cast<int64_t>(ids.size());
  const auto n_valid = static_cast<int64_t>(static_cast<double>(n) * fraction);
  TrainData data;
  data.valid.assign(ids.begin() + (n - n_valid), ids.end());
  ids.resize(static_cast<size_t>(n - n_valid));
  data.train = std::move(ids);
  return data;
}

RunData load_run_data(const RunSettings& s) {
  RunData run;
  run.data_path = resolve_dataset(s.data);
  LmCorpus corpus = load_lm_corpus(run.data_path, s.encoding, s.min_freq);
  if (!s.valid.empty()) {
    EncodedTokens valid = encode_text(read_text_file(resolve_dataset(s.valid)), s.encoding, corpus.vocab);
    run.valid_unknown_count = valid.unknown_count;
    run.data = {.train = std::move(corpus.ids), .valid = std::move(valid.ids)};
  } else {
    run.data = split_validation(std::move(corpus.ids), s.valid_fraction);
  }
  run.train_tokens = static_cast<int64_t>(run.data.train.size());
  run.valid_tokens = static_cast<int64_t>(run.data.valid.size());
  run.text = {.encoding = s.encoding, .vocab = std::move(corpus.vocab)};
  return run;
}

namespace {
void create_output_folder(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw IoError("cannot create output folder '" + dir.string() + "'" + (ec ? ": " + ec.message() : ""));
}
}  // namespace

TrainingRun::TrainingRun(RunSettings settings) : settings_(std::move(settings)) {
  validate(settings_);
  data_ = load_run_data(settings_);
  model_ = std::make_unique<LanguageModel>(LanguageModelConfig{.cell = settings_.cell,
                                                               .num_layers = settings_.num_layers,
                                                               .hidden_size = settings_.hidden_size,
                                                               .embedding_size = settings_.embedding_size,
                                                               .dropout = settings_.dropout,
                                                               .vocab_size = data_.text.vocab.size()});
  Rng init_rng(settings_.train.seed);
  model_->reset_parameters(init_rng);
  create_output_folder(settings_.train.out_dir);
  trainer_ = std::make_unique<Trainer>(*model_, data_.text, std::move(data_.data), settings_.train);
}

void TrainingRun::save_settings() const {
  write_file_atomically(run_settings_path(settings_.train.out_dir), run_settings_json(settings_));
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
