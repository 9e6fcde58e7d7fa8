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

// Parses and validates as the format's specification says: the header length within the file (and
// at most 100 MB), a JSON object without duplicate names, known dtypes, shapes of non-negative
// integers whose size (checked 64-bit) equals the tensor's byte span, data_offsets that tile the
// data section exactly (in order, no overlap, gap or trailing byte), and __metadata__ a map of
// strings. Throws IoError naming `source` and the tensor. Tensors come back in data order.
[[nodiscard]] std::vector<NamedTensor> decode_safetensors(const std::string& bytes,
                                                          const std::string& source);
// Reads `path`, which must be a regular file (a directory or a device is an IoError naming it).
[[nodiscard]] std::vector<NamedTensor> load_safetensors(const std::filesystem::path& path);

}  // namespace recur
