// Translation model folders: config.json checked field by field, weights checked against it.
#include "recur/seq2seq/seq2seq_checkpoint.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "lm/json_fields.h"
#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "recur/io/atomic_file.h"
#include "recur/io/parameter_file.h"
#include "recur/lm/language_model.h"  // kMaxLayers, kMaxModelWidth, parse_cell_type
#include "recur/lm/memory_estimate.h"

namespace recur {

namespace fs = std::filesystem;

namespace {
constexpr const char* kSpecialTokens[] = {"unk", "pad", "bos", "eos"};
constexpr int64_t kMaxSteps = int64_t{1} << 20;
}  // namespace

std::string seq2seq_config_json(const Seq2SeqConfig& m, const Seq2SeqText& t) {
  nlohmann::ordered_json j;
  j["format"] = "recur-seq2seq";
  j["version"] = 1;
  j["cell"] = cell_name(m.cell);
  j["layers"] = m.num_layers;
  j["hidden_size"] = m.hidden_size;
  j["embedding_size"] = m.embedding_size;
  j["dropout"] = m.dropout;
  j["bidirectional"] = m.bidirectional;
  j["attention"] = attention_name(m.attention);
  j["source_vocab"] = t.source.tokens();
  j["target_vocab"] = t.target.tokens();
  j["unk"] = t.target.unk();
  j["pad"] = "<pad>";
  j["bos"] = "<bos>";
  j["eos"] = "<eos>";
  j["steps"] = t.steps;
  j["level"] = "word";
  j["mode"] = "d2l-mt";
  return j.dump(1) + "\n";
}

namespace {
std::vector<std::string> read_token_list(const JsonFields& f, const char* key) {
  const nlohmann::json& list = f.at(key);
  if (!list.is_array() || list.empty()) f.fail(key, "must be a non-empty list of strings");
  std::vector<std::string> tokens;
  tokens.reserve(list.size());
  std::set<std::string> seen;
  for (const auto& token : list) {
    if (!token.is_string()) f.fail(key, "must be a list of strings, holds " + token.dump());
    tokens.push_back(token.get<std::string>());
    if (!seen.insert(tokens.back()).second) f.fail(key, "lists the token \"" + tokens.back() + "\" twice");
  }
  return tokens;
}
}  // namespace

std::pair<Seq2SeqConfig, Seq2SeqText> parse_seq2seq_config(const std::string& json_text,
                                                           const std::string& source) {
  const nlohmann::json j = parse_json_file_text(json_text, source);
  const JsonFields f(j, source);
  if (f.string("format") != "recur-seq2seq")
    f.fail("format", "must be \"recur-seq2seq\", got \"" + f.string("format") + "\"");
  if (const int64_t version = f.integer("version", 0, INT64_MAX); version != 1)
    f.fail("version", "is " + std::to_string(version) + "; this recur understands version 1");
  Seq2SeqConfig m;
  f.parse([&] {
    m.cell = parse_cell_type(f.string("cell"));
    m.attention = parse_attention(f.string("attention"));
  });
  m.num_layers = static_cast<int>(f.integer("layers", 1, kMaxLayers));
  m.hidden_size = f.integer("hidden_size", 1, kMaxModelWidth);
  m.embedding_size = f.integer("embedding_size", 1, kMaxModelWidth);
  m.dropout = f.number("dropout");
  if (!(m.dropout >= 0 && m.dropout < 1))
    f.fail("dropout", "must be in [0, 1), got " + std::to_string(m.dropout));
  if (!f.at("bidirectional").is_boolean()) f.fail("bidirectional", "must be true or false");
  m.bidirectional = f.at("bidirectional").get<bool>();
  if (f.string("level") != "word") f.fail("level", "must be \"word\", got \"" + f.string("level") + "\"");
  if (f.string("mode") != "d2l-mt") f.fail("mode", "must be \"d2l-mt\", got \"" + f.string("mode") + "\"");
  Seq2SeqText t;
  t.steps = f.integer("steps", 1, kMaxSteps);
  std::vector<std::string> source_tokens = read_token_list(f, "source_vocab");
  std::vector<std::string> target_tokens = read_token_list(f, "target_vocab");
  for (const char* key : kSpecialTokens) {
    const std::string token = f.string(key);
    for (const auto* list : {&source_tokens, &target_tokens}) {
      // Sources never hold <bos>: d2l 1.0 builds its vocabularies from the padded sentences, so its
      // source vocabulary has none, and a model trained by d2l's own code must load.
      if (list == &source_tokens && std::string_view(key) == "bos") continue;
      if (std::find(list->begin(), list->end(), token) == list->end())
        f.fail(key, "token \"" + token + "\" is not in \"" +
                        (list == &source_tokens ? "source_vocab" : "target_vocab") + "\"");
    }
  }
  if (f.string("pad") != "<pad>" || f.string("bos") != "<bos>" || f.string("eos") != "<eos>")
    f.fail("pad", "the special tokens must be \"<pad>\", \"<bos>\" and \"<eos>\"");
  m.source_vocab_size = static_cast<int64_t>(source_tokens.size());
  m.target_vocab_size = static_cast<int64_t>(target_tokens.size());
  t.source = Vocab::from_tokens(std::move(source_tokens), f.string("unk"));
  t.target = Vocab::from_tokens(std::move(target_tokens), f.string("unk"));
  return {m, std::move(t)};
}

void save_seq2seq_files(const fs::path& dir, const Seq2SeqModel& model, const Seq2SeqText& text) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create folder '" + dir.string() + "': " + ec.message());
  save_parameter_file(dir / "model.safetensors", model.parameters());
  write_file_atomically(dir / "config.json", seq2seq_config_json(model.config(), text));
}

LoadedSeq2Seq load_seq2seq(const fs::path& dir) {
  if (!fs::exists(dir)) throw IoError("model folder '" + dir.string() + "' does not exist");
  if (!fs::is_directory(dir)) throw IoError("model folder '" + dir.string() + "' is a file, not a folder");
  for (const char* name : {"config.json", "model.safetensors"})
    if (!fs::exists(dir / name)) throw IoError("'" + (dir / name).string() + "' is missing");
  const fs::path config_path = dir / "config.json", weights_path = dir / "model.safetensors";
  auto [config, text] = parse_seq2seq_config(read_file(config_path), config_path.string());
  // Refuse sizes the machine cannot hold before allocating them (weights and their file copy).
  double count = 0;
  for (const auto& [name, shape] : seq2seq_parameter_shapes(config))
    count += static_cast<double>(shape.numel());
  if (count * 8 > physical_memory_bytes())
    throw IoError(config_path.string() + ": a model of " + std::to_string(static_cast<int64_t>(count)) +
                  " parameters needs more memory than this machine has");
  const auto expected = seq2seq_parameter_shapes(config);
  const std::string kind =
      std::string("a ") + cell_name(config.cell) + " translation model with this config.json";
  check_parameter_file(weights_path, expected, kind);  // before the model is allocated
  LoadedSeq2Seq loaded{std::make_unique<Seq2SeqModel>(config), std::move(text)};
  load_parameter_file(weights_path, expected, loaded.model->parameters(), kind);
  return loaded;
}

}  // namespace recur
