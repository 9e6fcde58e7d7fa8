// Checkpoint folders: the public, PyTorch-compatible model format plus what resuming needs.
//
// A model folder holds
//   model.safetensors  F32 tensors named as in recur/lm/language_model.h
//   config.json        {"format": "recur-lm", "version": 1, "cell": "gru", "layers": 1,
//                       "hidden_size": 256, "embedding_size": 0, "dropout": 0.0, "level": "char",
//                       "mode": "d2l", "vocab": [tokens in index order], "unk": "<unk>"}
// and, in checkpoints written by training, also the training state (recur/lm/train_state.h).
// A folder is always written whole to a temporary sibling and renamed into place, so an existing
// checkpoint is replaced only by a complete one.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "recur/lm/corpus.h"
#include "recur/lm/language_model.h"
#include "recur/lm/run_folder.h"  // replace_folder_atomically

namespace recur {

// What a model reads and writes: config.json's "level", "mode", "vocab" and "unk".
struct ModelTextConfig {
  TextEncoding encoding;
  Vocab vocab;
};

struct LoadedModel {
  std::unique_ptr<LanguageModel> model;
  ModelTextConfig text;
};

// Writes model.safetensors and config.json into `dir` (created if needed), each atomically.
void save_model_files(const std::filesystem::path& dir, const LanguageModel& model,
                      const ModelTextConfig& text);

// Reads and validates a model folder, in an order that allocates nothing a file merely claims:
// config.json's fields and their domains (integers as integers); the memory the model would need
// against the machine's; the safetensors header's names and shapes against those the config
// implies (every tensor present, none unknown); then the weights, which must be finite. Errors
// name the file and the field or tensor.
[[nodiscard]] LoadedModel load_model(const std::filesystem::path& dir);

// Parses config.json content (`source` names it in messages).
[[nodiscard]] std::pair<LanguageModelConfig, ModelTextConfig> parse_model_config(const std::string& json_text,
                                                                                 const std::string& source);
[[nodiscard]] std::string model_config_json(const LanguageModelConfig& model, const ModelTextConfig& text);

}  // namespace recur
