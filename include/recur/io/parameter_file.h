// A ParameterStore as a safetensors file: every slot a tensor under its name. Loading checks the
// file's header against the names and shapes a model's config implies before reading any data, so
// a file cannot make recur allocate what it merely claims, and every value must be finite.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "recur/core/parameters.h"

namespace recur {

// Writes every slot of `store` in slot order (atomically), with metadata {"format": "pt"}.
void save_parameter_file(const std::filesystem::path& path, const ParameterStore<float>& store);

// Checks `path`'s header against `expected` (as load_parameter_file does) without reading the data:
// call it before building the model a config describes, so that a config claiming a huge model
// beside a small or foreign weights file allocates nothing. Throws IoError as load_parameter_file.
void check_parameter_file(const std::filesystem::path& path,
                          const std::vector<std::pair<std::string, Shape>>& expected,
                          const std::string& model_kind);

// Reads `path` into `store`. `expected` lists the name and shape of every tensor the file must hold
// (and no other), in any order; each must be a slot of `store` with that shape. `model_kind` names
// the model in messages ("a gru model with this config.json"). Throws IoError naming the file and the
// tensor: missing, unknown, wrong shape, not finite, or a malformed file.
void load_parameter_file(const std::filesystem::path& path,
                         const std::vector<std::pair<std::string, Shape>>& expected,
                         ParameterStore<float>& store, const std::string& model_kind);

}  // namespace recur
