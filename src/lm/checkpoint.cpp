// Model folders: config.json + model.safetensors, validated on load before anything the files
// claim is allocated.
#include "recur/lm/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "json_fields.h"
#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "recur/io/atomic_file.h"
#include "recur/io/parameter_file.h"
#include "recur/lm/memory_estimate.h"

namespace recur {

namespace fs = std::filesystem;

std::string model_config_json(const LanguageModelConfig& m, const ModelTextConfig& t) {
  nlohmann::ordered_json j;
  j["format"] = "recur-lm";
  j["version"] = 1;
  j["cell"] = cell_name(m.cell);
  j["layers"] = m.num_layers;
  j["hidden_size"] = m.hidden_size;
  j["embedding_size"] = m.embedding_size;
  j["dropout"] = m.dropout;
  j["level"] = token_level_name(t.encoding.level);
  j["mode"] = preprocess_mode_name(t.encoding.mode);
  j["vocab"] = t.vocab.tokens();
  j["unk"] = t.vocab.unk();
  return j.dump(1) + "\n";
}

namespace {
void check_format(const JsonFields& f) {
  if (f.has("format") && f.string("format") != "recur-lm")
    f.fail("format", "must be \"recur-lm\", got \"" + f.string("format") + "\"");
  if (f.has("version")) {
    const int64_t version = f.integer("version", 0, INT64_MAX);
    if (version != 1)
      f.fail("version", "is " + std::to_string(version) + "; this recur understands version 1");
  }
}

LanguageModelConfig read_model_fields(const JsonFields& f) {
  LanguageModelConfig m;
  m.cell = f.parse([&] { return parse_cell_type(f.string("cell")); });
  m.num_layers = static_cast<int>(f.integer("layers", 1, kMaxLayers));
  m.hidden_size = f.integer("hidden_size", 1, kMaxModelWidth);
  m.embedding_size = f.integer("embedding_size", 0, kMaxModelWidth);
  m.dropout = f.number("dropout");
  if (!(m.dropout >= 0 && m.dropout < 1))
    f.fail("dropout", "must be in [0, 1), got " + std::to_string(m.dropout));
  return m;
}

std::vector<std::string> read_vocab(const JsonFields& f) {
  const nlohmann::json& list = f.at("vocab");
  if (!list.is_array()) f.fail("vocab", "must be a list of strings");
  if (list.empty()) f.fail("vocab", "is empty");
  std::vector<std::string> vocab;
  vocab.reserve(list.size());
  for (const auto& token : list) {
    if (!token.is_string()) f.fail("vocab", "must be a list of strings, holds " + token.dump());
    vocab.push_back(token.get<std::string>());
  }
  std::set<std::string_view> seen;
  for (const auto& token : vocab)
    if (!seen.insert(token).second) f.fail("vocab", "lists the token \"" + token + "\" twice");
  return vocab;
}
}  // namespace

std::pair<LanguageModelConfig, ModelTextConfig> parse_model_config(const std::string& json_text,
                                                                   const std::string& source) {
  const nlohmann::json j = parse_json_file_text(json_text, source);
  const JsonFields f(j, source);
  check_format(f);
  LanguageModelConfig m = read_model_fields(f);
  const std::string level = f.string("level"), mode = f.string("mode"), unk = f.string("unk");
  if (level != "char" && level != "word")
    f.fail("level", "must be \"char\" or \"word\", got \"" + level + "\"");
  if (mode != "d2l" && mode != "lower" && mode != "raw")
    f.fail("mode", "must be \"d2l\", \"lower\" or \"raw\", got \"" + mode + "\"");
  std::vector<std::string> vocab = read_vocab(f);
  if (std::find(vocab.begin(), vocab.end(), unk) == vocab.end())
    f.fail("unk", "token \"" + unk + "\" is not in \"vocab\"");
  m.vocab_size = static_cast<int64_t>(vocab.size());
  ModelTextConfig t{.encoding = {.level = parse_token_level(level), .mode = parse_preprocess_mode(mode)},
                    .vocab = Vocab::from_tokens(std::move(vocab), unk)};
  return {m, std::move(t)};
}

void save_model_files(const fs::path& dir, const LanguageModel& model, const ModelTextConfig& text) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create folder '" + dir.string() + "': " + ec.message());
  save_parameter_file(dir / "model.safetensors", model.parameters());
  write_file_atomically(dir / "config.json", model_config_json(model.config(), text));
}

namespace {
void check_model_fits(const LanguageModelConfig& config, const fs::path& config_path) {
  const MemoryEstimate estimate = estimate_model_memory(config);
  const std::string field = estimate.largest_field;
  const int64_t value = field == "embedding_size" ? config.embedding_size : config.hidden_size;
  const std::string message = memory_shortfall(estimate, physical_memory_bytes(), config_path.string(),
                                               "\"" + field + "\" " + std::to_string(value));
  if (!message.empty()) throw IoError(message);
}

void check_model_files_exist(const fs::path& dir) {
  if (!fs::exists(dir)) throw IoError("model folder '" + dir.string() + "' does not exist");
  if (!fs::is_directory(dir)) throw IoError("model folder '" + dir.string() + "' is a file, not a folder");
  for (const char* name : {"config.json", "model.safetensors"})
    if (!fs::exists(dir / name)) throw IoError("'" + (dir / name).string() + "' is missing");
}
}  // namespace

LoadedModel load_model(const fs::path& dir) {
  check_model_files_exist(dir);
  const fs::path config_path = dir / "config.json";
  const fs::path weights_path = dir / "model.safetensors";
  auto [config, text] = parse_model_config(read_file(config_path), config_path.string());
  check_model_fits(config, config_path);
  const auto expected = language_model_parameter_shapes(config);
  const std::string kind = std::string("a ") + cell_name(config.cell) + " model with this config.json";
  check_parameter_file(weights_path, expected, kind);  // before the model is allocated
  LoadedModel loaded{std::make_unique<LanguageModel>(config), std::move(text)};
  load_parameter_file(weights_path, expected, loaded.model->parameters(), kind);
  return loaded;
}

}  // namespace recur
