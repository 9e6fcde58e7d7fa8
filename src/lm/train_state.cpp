// The resumable training state: its JSON and safetensors files, written and checked on load.
#include "recur/lm/train_state.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "json_fields.h"
#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/io/safetensors.h"

namespace recur {

namespace fs = std::filesystem;

namespace {
constexpr std::string_view kOptimizerPrefix = "optimizer.";

// NaN (no validation yet) is written as null.
nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

nlohmann::json metrics_json(const EpochMetrics& m) {
  return {{"epoch", m.epoch},
          {"step", m.step},
          {"train_perplexity", m.train_perplexity},
          {"valid_perplexity", number_or_null(m.valid_perplexity)},
          {"tokens_per_s", m.tokens_per_s},
          {"lr", m.lr},
          {"grad_norm", m.grad_norm}};
}

double number_or_nan(const JsonFields& f, std::string_view key) {
  return f.at(key).is_null() ? std::numeric_limits<double>::quiet_NaN() : f.number(key);
}

EpochMetrics metrics_from_json(const JsonFields& f) {
  return {.epoch = f.integer("epoch", 1, kMaxEpochs),
          .step = f.integer("step", 0, INT64_MAX),
          .train_perplexity = f.number("train_perplexity"),
          .valid_perplexity = number_or_nan(f, "valid_perplexity"),
          .tokens_per_s = f.number("tokens_per_s"),
          .lr = f.number("lr"),
          .grad_norm = f.number("grad_norm")};
}

nlohmann::ordered_json state_json(const TrainState& s, const TrainOptions& o,
                                  const OptimizerState<float>& opt) {
  nlohmann::ordered_json j;
  j["format"] = "recur-train-state";
  j["version"] = 1;
  j["epoch"] = s.epoch;
  j["epoch_seed"] = s.epoch_seed;
  j["batch_index"] = s.batch_index;
  j["step"] = s.step;
  j["data_rng"] = s.data_rng.state();
  j["dropout_rng"] = s.dropout_rng.state();
  j["best_valid_perplexity"] = number_or_null(s.best_valid_perplexity);
  j["epoch_loss_sum"] = s.epoch_loss_sum;
  j["epoch_tokens"] = s.epoch_tokens;
  j["epoch_norm_sum"] = s.epoch_norm_sum;
  j["epoch_steps"] = s.epoch_steps;
  j["options"] = {{"batch", o.batch},
                  {"steps", o.steps},
                  {"partition", partition_name(o.partition)},
                  {"optimizer", optimizer_kind_name(o.optimizer)},
                  {"lr", o.lr},
                  {"clip", o.clip},
                  {"seed", o.seed}};
  auto history = nlohmann::json::array();
  for (const auto& m : s.history) history.push_back(metrics_json(m));
  j["history"] = history;
  j["optimizer"] = {{"name", opt.optimizer}, {"step", opt.step}};
  return j;
}

Rng::State rng_state(const JsonFields& f, std::string_view key) {
  const nlohmann::json& words = f.at(key);
  Rng::State state{};
  if (!words.is_array() || words.size() != state.size()) f.fail(key, "must be a list of 4 integers");
  const nlohmann::json as_object = {{"0", words[0]}, {"1", words[1]}, {"2", words[2]}, {"3", words[3]}};
  const JsonFields word_fields(as_object, f.source() + ": \"" + std::string(key) + "\"");
  for (size_t i = 0; i < state.size(); ++i) state[i] = word_fields.unsigned_integer(std::to_string(i));
  return state;
}

void check_state_format(const JsonFields& f) {
  if (f.string("format") != "recur-train-state")
    f.fail("format", "must be \"recur-train-state\", got \"" + f.string("format") + "\"");
  if (const int64_t version = f.integer("version", 0, INT64_MAX); version != 1)
    f.fail("version", "is " + std::to_string(version) + "; this recur understands version 1");
}

// History rows: one per finished epoch, plus one for an epoch a time budget stopped inside.
void read_history(const JsonFields& f, TrainState& s) {
  const nlohmann::json& rows = f.at("history");
  if (!rows.is_array()) f.fail("history", "must be a list");
  for (size_t i = 0; i < rows.size(); ++i)
    s.history.push_back(
        metrics_from_json(JsonFields(rows[i], f.source() + ": history[" + std::to_string(i) + "]")));
  const auto n = static_cast<int64_t>(s.history.size());
  if (n != s.epoch && n != s.epoch + 1)
    f.fail("history", "has " + std::to_string(n) + " rows, but \"epoch\" " + std::to_string(s.epoch) +
                          " needs " + std::to_string(s.epoch) + " (or one more)");
}

TrainState state_from_json(const JsonFields& f) {
  check_state_format(f);
  TrainState s;
  s.epoch = f.integer("epoch", 0, kMaxEpochs);
  s.epoch_seed = f.unsigned_integer("epoch_seed");
  s.batch_index = f.integer("batch_index", 0, INT64_MAX);
  s.step = f.integer("step", 0, INT64_MAX);
  s.data_rng.set_state(rng_state(f, "data_rng"));
  s.dropout_rng.set_state(rng_state(f, "dropout_rng"));
  s.best_valid_perplexity = number_or_nan(f, "best_valid_perplexity");
  s.epoch_loss_sum = f.number("epoch_loss_sum");
  s.epoch_tokens = f.integer("epoch_tokens", 0, INT64_MAX);
  s.epoch_norm_sum = f.number("epoch_norm_sum");
  s.epoch_steps = f.integer("epoch_steps", 0, INT64_MAX);
  read_history(f, s);
  return s;
}

// A checkpoint continues only the run it came from: the batches and the optimizer must be the same.
void check_same_run(const JsonFields& saved, const TrainOptions& o) {
  auto require = [&](bool same, std::string_view key, const std::string& ours) {
    if (!same)
      saved.fail(key, "is " + saved.at(key).dump() + " in the checkpoint, " + ours +
                          " in this run; a resumed run keeps its batch, steps, partition and optimizer");
  };
  require(saved.integer("batch", 1, INT64_MAX) == o.batch, "batch", std::to_string(o.batch));
  require(saved.integer("steps", 1, INT64_MAX) == o.steps, "steps", std::to_string(o.steps));
  require(saved.string("partition") == partition_name(o.partition), "partition",
          std::string(partition_name(o.partition)));
  require(saved.string("optimizer") == optimizer_kind_name(o.optimizer), "optimizer",
          std::string(optimizer_kind_name(o.optimizer)));
}

// Moves the saved tensors into the optimizer state and `carried`: state.h always, state.c exactly
// for an LSTM (carried.c not empty), each with carried's shape; no other names.
void take_tensors(std::vector<NamedTensor> tensors, const std::string& source, OptimizerState<float>& opt,
                  RecurrentState& carried) {
  const bool has_cell_state = carried.c.numel() > 0;
  bool found_h = false, found_c = false;
  for (auto& t : tensors) {
    if (t.name.starts_with(kOptimizerPrefix)) {
      const auto values = t.tensor.span();
      opt.buffers.push_back(
          {t.name.substr(kOptimizerPrefix.size()), std::vector<float>(values.begin(), values.end())});
      continue;
    }
    const bool is_h = t.name == "state.h", is_c = t.name == "state.c" && has_cell_state;
    if (!is_h && !is_c)
      throw IoError(source + ": unexpected tensor '" + t.name + "'" +
                    (t.name == "state.c" ? " (a cell state, but the model is not an LSTM)" : ""));
    Tensor<float>& target = is_h ? carried.h : carried.c;
    if (!(t.tensor.shape() == target.shape()))
      throw IoError(source + ": carried state '" + t.name + "' has shape " + t.tensor.shape().str() +
                    ", this run needs " + target.shape().str());
    target = std::move(t.tensor);
    (is_h ? found_h : found_c) = true;
  }
  if (!found_h) throw IoError(source + ": the carried state 'state.h' is missing");
  if (has_cell_state && !found_c)
    throw IoError(source +
                  ": the carried cell state 'state.c' is missing (an LSTM run needs it to resume exactly)");
}
}  // namespace

void save_train_state(const fs::path& dir, const TrainState& state, const TrainOptions& options,
                      const OptimizerState<float>& optimizer, const RecurrentState& carried) {
  std::vector<NamedTensor> tensors;
  for (const auto& b : optimizer.buffers)
    tensors.push_back({std::string(kOptimizerPrefix) + b.name,
                       Tensor<float>({static_cast<int64_t>(b.values.size())}, b.values)});
  tensors.push_back({"state.h", carried.h});
  if (carried.c.numel() > 0) tensors.push_back({"state.c", carried.c});
  save_safetensors(dir / "train_state.safetensors", tensors);
  write_file_atomically(dir / "train_state.json", state_json(state, options, optimizer).dump(1) + "\n");
}

LoadedTrainState load_train_state(const fs::path& dir, const TrainOptions& options, RecurrentState& carried) {
  const fs::path json_path = dir / "train_state.json";
  const nlohmann::json j = parse_json_file_text(read_file(json_path), json_path.string());
  const JsonFields f(j, json_path.string());
  LoadedTrainState loaded;
  loaded.state = state_from_json(f);
  check_same_run(f.object("options"), options);
  const JsonFields optimizer = f.object("optimizer");
  loaded.optimizer.optimizer = optimizer.string("name");
  loaded.optimizer.step = optimizer.integer("step", 0, INT64_MAX);
  const fs::path tensors_path = dir / "train_state.safetensors";
  take_tensors(load_safetensors(tensors_path), tensors_path.string(), loaded.optimizer, carried);
  return loaded;
}

void record_epoch(TrainState& state, const EpochMetrics& m) {
  if (!state.history.empty() && state.history.back().epoch == m.epoch)
    state.history.back() = m;
  else
    state.history.push_back(m);
}

}  // namespace recur
