// Model folders: config.json + model.safetensors, validated on load; atomic folder replacement.
#include "recur/lm/checkpoint.h"

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>

#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/io/safetensors.h"

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

std::pair<LanguageModelConfig, ModelTextConfig> parse_model_config(const std::string& json_text,
                                                                   const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw IoError(source + ": not valid JSON: " + e.what());
  }
  auto field = [&](const char* name) -> const nlohmann::json& {
    if (!j.is_object() || !j.contains(name)) throw IoError(source + ": missing field \"" + name + "\"");
    return j.at(name);
  };
  LanguageModelConfig m;
  std::string level, mode, unk;
  std::vector<std::string> vocab;
  try {
    if (j.is_object() && j.contains("version") && j.at("version").get<int>() != 1)
      throw IoError(source + ": config version " + std::to_string(j.at("version").get<int>()) +
                    " is newer than this recur understands (1)");
    try {
      m.cell = parse_cell_type(field("cell").get<std::string>());
    } catch (const ValueError& e) {
      throw IoError(source + ": " + e.what());
    }
    m.num_layers = field("layers").get<int>();
    m.hidden_size = field("hidden_size").get<int64_t>();
    m.embedding_size = field("embedding_size").get<int64_t>();
    m.dropout = field("dropout").get<double>();
    level = field("level").get<std::string>();
    mode = field("mode").get<std::string>();
    vocab = field("vocab").get<std::vector<std::string>>();
    unk = field("unk").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw IoError(source + ": a field has the wrong type: " + e.what());
  }
  auto require = [&](bool ok, const std::string& what) {
    if (!ok) throw IoError(source + ": " + what);
  };
  require(m.num_layers >= 1, "\"layers\" must be >= 1, got " + std::to_string(m.num_layers));
  require(m.hidden_size >= 1, "\"hidden_size\" must be >= 1, got " + std::to_string(m.hidden_size));
  require(m.embedding_size >= 0, "\"embedding_size\" must be >= 0, got " + std::to_string(m.embedding_size));
  require(m.dropout >= 0 && m.dropout < 1, "\"dropout\" must be in [0, 1), got " + std::to_string(m.dropout));
  require(level == "char" || level == "word",
          "\"level\" must be \"char\" or \"word\", got \"" + level + "\"");
  require(mode == "d2l" || mode == "lower" || mode == "raw",
          "\"mode\" must be \"d2l\", \"lower\" or \"raw\", got \"" + mode + "\"");
  require(!vocab.empty(), "\"vocab\" is empty");
  std::set<std::string> seen;
  for (const auto& tok : vocab)
    require(seen.insert(tok).second, "\"vocab\" lists the token \"" + tok + "\" twice");
  require(seen.count(unk) == 1, "\"unk\" token \"" + unk + "\" is not in \"vocab\"");
  m.vocab_size = static_cast<int64_t>(vocab.size());
  ModelTextConfig t{.encoding = {.level = parse_token_level(level), .mode = parse_preprocess_mode(mode)},
                    .vocab = Vocab::from_tokens(std::move(vocab), unk)};
  return {m, std::move(t)};
}

void save_model_files(const fs::path& dir, const LanguageModel& model, const ModelTextConfig& text) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create folder '" + dir.string() + "': " + ec.message());
  std::vector<NamedTensor> tensors;
  const auto& params = model.parameters();
  for (int i = 0; i < params.size(); ++i) {
    const auto& slot = params.slot(i);
    const auto values =
        params.values().subspan(static_cast<size_t>(slot.offset), static_cast<size_t>(slot.shape.numel()));
    tensors.push_back(
        {slot.name, Tensor<float>(slot.shape, std::vector<float>(values.begin(), values.end()))});
  }
  save_safetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
  write_file_atomically(dir / "config.json", model_config_json(model.config(), text));
}

LoadedModel load_model(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw IoError("model folder '" + dir.string() + "' does not exist");
  const fs::path config_path = dir / "config.json";
  const fs::path weights_path = dir / "model.safetensors";
  if (!fs::exists(config_path)) throw IoError("'" + config_path.string() + "' is missing");
  if (!fs::exists(weights_path)) throw IoError("'" + weights_path.string() + "' is missing");
  auto [config, text] = parse_model_config(read_file(config_path), config_path.string());
  auto tensors = load_safetensors(weights_path);

  LoadedModel loaded{std::make_unique<LanguageModel>(config), std::move(text)};
  auto& params = loaded.model->parameters();
  std::set<std::string> assigned;
  for (auto& t : tensors) {
    auto index = params.find(t.name);
    if (!index) {
      throw IoError(weights_path.string() + ": tensor '" + t.name + "' is not a parameter of a " +
                    cell_name(config.cell) + " model with this config.json");
    }
    auto view = params.value(*index);
    if (!(view.shape == t.tensor.shape()))
      throw IoError(weights_path.string() + ": tensor '" + t.name + "' has shape " + t.tensor.shape().str() +
                    ", config.json implies " + view.shape.str());
    std::copy(t.tensor.span().begin(), t.tensor.span().end(), view.data);
    assigned.insert(t.name);
  }
  for (const auto& slot : params.slots())
    if (!assigned.count(slot.name))
      throw IoError(weights_path.string() + ": tensor '" + slot.name + "' (shape " + slot.shape.str() +
                    ") is missing");
  return loaded;
}

void replace_folder_atomically(const fs::path& target, const std::function<void(const fs::path&)>& write) {
  const std::string suffix = std::to_string(::getpid());
  const fs::path tmp = target.string() + ".tmp-" + suffix;
  const fs::path old = target.string() + ".old-" + suffix;
  std::error_code ec;
  fs::remove_all(tmp, ec);
  try {
    fs::create_directories(tmp);
    write(tmp);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    throw IoError("cannot write checkpoint folder '" + tmp.string() + "': " + e.code().message());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  const bool had_old = fs::exists(target);
  if (had_old) {
    fs::rename(target, old, ec);
    if (ec) throw IoError("cannot move '" + target.string() + "' aside: " + ec.message());
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignored;
    if (had_old) fs::rename(old, target, ignored);  // put the good one back
    throw IoError("cannot rename '" + tmp.string() + "' to '" + target.string() + "': " + ec.message());
  }
  if (had_old) fs::remove_all(old, ec);
}

}  // namespace recur
