// safetensors reading and writing with validation of everything read.
#include "recur/io/safetensors.h"

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "recur/core/error.h"
#include "recur/io/atomic_file.h"

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace recur {

std::string encode_safetensors(const std::vector<NamedTensor>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    check(!t.name.empty() && t.name != "__metadata__", "safetensors: invalid tensor name '" + t.name + "'");
    const uint64_t bytes = static_cast<uint64_t>(t.tensor.numel()) * sizeof(float);
    header[t.name] = {{"dtype", "F32"},
                      {"shape", std::vector<int64_t>(t.tensor.shape().begin(), t.tensor.shape().end())},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // align the data section to 8 bytes, as the reference writer does
  std::string out(8, '\0');
  const uint64_t n = json.size();
  std::memcpy(out.data(), &n, 8);
  out += json;
  for (const auto& t : tensors)
    out.append(reinterpret_cast<const char*>(t.tensor.data()), static_cast<size_t>(t.tensor.numel()) * sizeof(float));
  return out;
}

void save_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomically(path, encode_safetensors(tensors, metadata));
}

std::vector<NamedTensor> decode_safetensors(const std::string& bytes, const std::string& source) {
  auto fail = [&](const std::string& why) { return IoError(source + ": not a valid safetensors file: " + why); };
  if (bytes.size() < 8) throw fail("file is " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length");
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  if (header_size > bytes.size() - 8)
    throw fail("header length " + std::to_string(header_size) + " runs past the end of the file (" +
               std::to_string(bytes.size()) + " bytes)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_size));
  } catch (const nlohmann::json::exception& e) {
    throw fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw fail("header is not a JSON object");
  const uint64_t data_size = bytes.size() - 8 - header_size;
  const char* data = bytes.data() + 8 + header_size;

  struct Entry {
    uint64_t begin;
    NamedTensor tensor;
  };
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    try {
      const std::string dtype = info.at("dtype").get<std::string>();
      Shape shape;
      for (const auto& d : info.at("shape")) shape.push_back(d.get<int64_t>());
      const auto offsets = info.at("data_offsets").get<std::vector<uint64_t>>();
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
        throw fail("tensor '" + name + "' has data_offsets outside the " + std::to_string(data_size) + "-byte data section");
      size_t element_size;
      if (dtype == "F32") {
        element_size = 4;
      } else if (dtype == "F64") {
        element_size = 8;
      } else {
        throw fail("tensor '" + name + "' has dtype '" + dtype + "'; recur reads F32 and F64");
      }
      const auto count = static_cast<uint64_t>(shape.numel());
      if (offsets[1] - offsets[0] != count * element_size)
        throw fail("tensor '" + name + "' of shape " + shape.str() + " and dtype " + dtype + " needs " +
                   std::to_string(count * element_size) + " bytes, its data_offsets span " +
                   std::to_string(offsets[1] - offsets[0]));
      std::vector<float> values(count);
      const char* p = data + offsets[0];
      if (element_size == 4) {
        std::memcpy(values.data(), p, count * 4);
      } else {
        for (uint64_t i = 0; i < count; ++i) {
          double v;
          std::memcpy(&v, p + i * 8, 8);
          values[i] = static_cast<float>(v);
        }
      }
      entries.push_back({offsets[0], NamedTensor{name, Tensor<float>(shape, std::move(values))}});
    } catch (const nlohmann::json::exception& e) {
      throw fail("tensor '" + name + "' has a malformed entry: " + e.what());
    }
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  std::vector<NamedTensor> out;
  out.reserve(entries.size());
  for (auto& e : entries) out.push_back(std::move(e.tensor));
  return out;
}

std::vector<NamedTensor> load_safetensors(const std::filesystem::path& path) {
  return decode_safetensors(read_file(path), path.string());
}

}  // namespace recur
