// Model folders: config.json + model.safetensors, validated on load before anything the files
// claim is allocated.
#include "recur/lm/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "json_fields.h"
#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "recur/io/atomic_file.h"
#include "recur/io/safetensors.h"
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
  try {
    m.cell = parse_cell_type(f.string("cell"));
  } catch (const ValueError& e) {
    throw IoError(f.source() + ": " + e.what());
  }
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

namespace {
constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the format's limit

// name -> shape of the tensors a safetensors header lists, read without the data. nullopt when the
// header is malformed: load_safetensors then names the problem.
std::optional<std::map<std::string, Shape>> read_header_shapes(const fs::path& path) {
  check_regular_file(path, "safetensors file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  const auto size = static_cast<uint64_t>(std::max<std::streamoff>(in.tellg(), 0));
  uint64_t header_size = 0;
  char length[8];
  if (!in.seekg(0) || !in.read(length, 8)) return std::nullopt;
  std::memcpy(&header_size, length, 8);
  if (header_size > size - 8 || header_size > kMaxHeaderBytes) return std::nullopt;
  std::string text(static_cast<size_t>(header_size), '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(header_size))) return std::nullopt;
  const nlohmann::json header = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!header.is_object()) return std::nullopt;
  std::map<std::string, Shape> shapes;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    if (!info.is_object() || !info.contains("shape") || !info["shape"].is_array() ||
        info["shape"].size() > static_cast<size_t>(kMaxRank))
      return std::nullopt;
    std::vector<int64_t> dims;
    for (const auto& d : info["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
        return std::nullopt;
      dims.push_back(d.get<int64_t>());
    }
    shapes[name] = Shape(dims.begin(), dims.end());
  }
  return shapes;
}

// The header's tensors are exactly those config.json implies, with the same shapes.
void check_header_against_config(const fs::path& weights, const LanguageModelConfig& config) {
  const auto header = read_header_shapes(weights);
  if (!header) return;
  std::set<std::string> expected_names;
  for (const auto& [name, shape] : language_model_parameter_shapes(config)) {
    expected_names.insert(name);
    const auto it = header->find(name);
    if (it == header->end())
      throw IoError(weights.string() + ": tensor '" + name + "' (shape " + shape.str() + ") is missing");
    if (!(it->second == shape))
      throw IoError(weights.string() + ": tensor '" + name + "' has shape " + it->second.str() +
                    ", config.json implies " + shape.str());
  }
  for (const auto& [name, shape] : *header)
    if (!expected_names.count(name))
      throw IoError(weights.string() + ": tensor '" + name + "' is not a parameter of a " +
                    cell_name(config.cell) + " model with this config.json");
}

void check_model_fits(const LanguageModelConfig& config, const fs::path& config_path) {
  const MemoryEstimate estimate = estimate_model_memory(config);
  const std::string field = estimate.largest_field;
  const int64_t value = field == "embedding_size" ? config.embedding_size : config.hidden_size;
  const std::string message = memory_shortfall(estimate, physical_memory_bytes(), config_path.string(),
                                               "\"" + field + "\" " + std::to_string(value));
  if (!message.empty()) throw IoError(message);
}

// Copies the weights into the model's parameters; every value must be finite.
void copy_weights(std::vector<NamedTensor>& tensors, const fs::path& weights, LanguageModel& model) {
  auto& params = model.parameters();
  for (auto& t : tensors) {
    // The header matched config.json; a file replaced since then is caught here.
    const auto index = params.find(t.name);
    if (!index || !(params.value(*index).shape == t.tensor.shape()))
      throw IoError(weights.string() + ": tensor '" + t.name + "' changed while it was read");
    auto view = params.value(*index);
    const auto values = t.tensor.span();
    const auto bad = std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
    if (bad != values.end())
      throw IoError(weights.string() + ": tensor '" + t.name + "' holds " +
                    (std::isnan(*bad) ? "NaN" : "an infinite value") + " at index " +
                    std::to_string(bad - values.begin()) + " (a diverged or damaged model)");
    std::copy(values.begin(), values.end(), view.data);
  }
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
  check_header_against_config(weights_path, config);
  auto tensors = load_safetensors(weights_path);
  LoadedModel loaded{std::make_unique<LanguageModel>(config), std::move(text)};
  copy_weights(tensors, weights_path, *loaded.model);
  return loaded;
}

}  // namespace recur
