// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}},
// then the raw little-endian tensor data, offsets counted from the end of the header. recur writes
// F32 and reads F32 (and F64, converted), so checkpoints move to and from PyTorch's
// safetensors.torch.save_file/load_file.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "recur/core/tensor.h"

namespace recur {

struct NamedTensor {
  std::string name;
  Tensor<float> tensor;
};

// Serializes tensors in the given order; metadata goes to "__metadata__" (string values only).
[[nodiscard]] std::string encode_safetensors(const std::vector<NamedTensor>& tensors,
                                             const std::map<std::string, std::string>& metadata = {});
// Writes atomically (temporary file, then rename).
void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Parses and validates: the header length within the file, valid JSON, known dtypes, offsets inside
// the data section and consistent with the shapes. `source` names the file in error messages.
[[nodiscard]] std::vector<NamedTensor> decode_safetensors(const std::string& bytes, const std::string& source);
[[nodiscard]] std::vector<NamedTensor> load_safetensors(const std::filesystem::path& path);

}  // namespace recur
