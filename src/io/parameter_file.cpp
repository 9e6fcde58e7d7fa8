// Parameter stores as safetensors files, with the header checked before the data is read.
#include "recur/io/parameter_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "recur/io/safetensors.h"

namespace recur {

namespace fs = std::filesystem;

void save_parameter_file(const fs::path& path, const ParameterStore<float>& store) {
  std::vector<NamedTensor> tensors;
  for (int i = 0; i < store.size(); ++i) {
    const auto& slot = store.slot(i);
    const auto values =
        store.values().subspan(static_cast<size_t>(slot.offset), static_cast<size_t>(slot.shape.numel()));
    tensors.push_back(
        {slot.name, Tensor<float>(slot.shape, std::vector<float>(values.begin(), values.end()))});
  }
  save_safetensors(path, tensors, {{"format", "pt"}});
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

// The header's tensors are exactly the expected ones, with the same shapes.
void check_header(const fs::path& path, const std::vector<std::pair<std::string, Shape>>& expected,
                  const std::string& model_kind) {
  const auto header = read_header_shapes(path);
  if (!header) return;
  std::set<std::string> expected_names;
  for (const auto& [name, shape] : expected) {
    expected_names.insert(name);
    const auto it = header->find(name);
    if (it == header->end())
      throw IoError(path.string() + ": tensor '" + name + "' (shape " + shape.str() + ") is missing");
    if (!(it->second == shape))
      throw IoError(path.string() + ": tensor '" + name + "' has shape " + it->second.str() +
                    ", config.json implies " + shape.str());
  }
  for (const auto& [name, shape] : *header)
    if (!expected_names.count(name))
      throw IoError(path.string() + ": tensor '" + name + "' is not a parameter of " + model_kind);
}
}  // namespace

void check_parameter_file(const fs::path& path, const std::vector<std::pair<std::string, Shape>>& expected,
                          const std::string& model_kind) {
  // A header the quick reader cannot take is named precisely by the full parser (which reads no
  // more than the file holds).
  if (!read_header_shapes(path)) (void)load_safetensors(path);
  check_header(path, expected, model_kind);
}

void load_parameter_file(const fs::path& path, const std::vector<std::pair<std::string, Shape>>& expected,
                         ParameterStore<float>& store, const std::string& model_kind) {
  check_header(path, expected, model_kind);
  auto tensors = load_safetensors(path);
  for (auto& t : tensors) {
    // The header matched; a file replaced since then is caught here.
    const auto index = store.find(t.name);
    if (!index || !(store.value(*index).shape == t.tensor.shape()))
      throw IoError(path.string() + ": tensor '" + t.name + "' changed while it was read");
    auto view = store.value(*index);
    const auto values = t.tensor.span();
    const auto bad = std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
    if (bad != values.end())
      throw IoError(path.string() + ": tensor '" + t.name + "' holds " +
                    (std::isnan(*bad) ? "NaN" : "an infinite value") + " at index " +
                    std::to_string(bad - values.begin()) + " (a diverged or damaged model)");
    std::copy(values.begin(), values.end(), view.data);
  }
}

}  // namespace recur
