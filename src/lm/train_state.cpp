// The resumable training state: its JSON and safetensors files, written and checked on load.
#include "recur/lm/train_state.h"

#include <cmath>
#include <nlohmann/json.hpp>

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
double number_or_nan(const nlohmann::json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
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

EpochMetrics metrics_from_json(const nlohmann::json& j) {
  return {.epoch = j.at("epoch").get<int64_t>(),
          .step = j.at("step").get<int64_t>(),
          .train_perplexity = j.at("train_perplexity").get<double>(),
          .valid_perplexity = number_or_nan(j.at("valid_perplexity")),
          .tokens_per_s = j.at("tokens_per_s").get<double>(),
          .lr = j.at("lr").get<double>(),
          .grad_norm = j.at("grad_norm").get<double>()};
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

TrainState state_from_json(const nlohmann::json& j) {
  TrainState s;
  s.epoch = j.at("epoch").get<int64_t>();
  s.epoch_seed = j.at("epoch_seed").get<uint64_t>();
  s.batch_index = j.at("batch_index").get<int64_t>();
  s.step = j.at("step").get<int64_t>();
  s.data_rng.set_state(j.at("data_rng").get<Rng::State>());
  s.dropout_rng.set_state(j.at("dropout_rng").get<Rng::State>());
  s.best_valid_perplexity = number_or_nan(j.at("best_valid_perplexity"));
  s.epoch_loss_sum = j.at("epoch_loss_sum").get<double>();
  s.epoch_tokens = j.at("epoch_tokens").get<int64_t>();
  s.epoch_norm_sum = j.at("epoch_norm_sum").get<double>();
  s.epoch_steps = j.at("epoch_steps").get<int64_t>();
  for (const auto& m : j.at("history")) s.history.push_back(metrics_from_json(m));
  return s;
}

// A checkpoint continues only the run it came from: the batches and the optimizer must be the same.
void check_same_run(const nlohmann::json& saved, const TrainOptions& o) {
  check(saved.at("batch").get<int64_t>() == o.batch && saved.at("steps").get<int64_t>() == o.steps &&
            saved.at("partition").get<std::string>() == partition_name(o.partition) &&
            saved.at("optimizer").get<std::string>() == optimizer_kind_name(o.optimizer),
        "resume: batch, steps, partition and optimizer must match the checkpoint's (" + saved.dump() + ")");
}

// Moves the saved tensors into the optimizer state and `carried`.
void take_tensors(std::vector<NamedTensor> tensors, OptimizerState<float>& opt, RecurrentState& carried) {
  for (auto& t : tensors) {
    if (t.name.starts_with(kOptimizerPrefix)) {
      const auto values = t.tensor.span();
      opt.buffers.push_back(
          {t.name.substr(kOptimizerPrefix.size()), std::vector<float>(values.begin(), values.end())});
    } else if (t.name == "state.h" || t.name == "state.c") {
      Tensor<float>& target = t.name == "state.h" ? carried.h : carried.c;
      check(t.tensor.shape() == target.shape(), "resume: carried state '" + t.name + "' has shape " +
                                                    t.tensor.shape().str() + ", expected " +
                                                    target.shape().str());
      target = std::move(t.tensor);
    }
  }
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
  LoadedTrainState loaded;
  try {
    const nlohmann::json j = nlohmann::json::parse(read_file(json_path));
    loaded.state = state_from_json(j);
    check_same_run(j.at("options"), options);
    loaded.optimizer.optimizer = j.at("optimizer").at("name").get<std::string>();
    loaded.optimizer.step = j.at("optimizer").at("step").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw IoError(json_path.string() + ": malformed training state: " + e.what());
  }
  take_tensors(load_safetensors(dir / "train_state.safetensors"), loaded.optimizer, carried);
  return loaded;
}

}  // namespace recur
