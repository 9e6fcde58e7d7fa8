// Finding datasets by name: the folders listed in RECUR_DATA (colon-separated), then the user cache
// ($XDG_CACHE_HOME/recur, else ~/.cache/recur). A missing dataset is an IoError that says where we
// looked, which file was expected, its SHA-256 and where a public copy can be had.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace recur {

struct DatasetInfo {
  std::string_view name;           // e.g. "timemachine"
  std::string_view relative_path;  // inside a data folder, e.g. "timemachine.txt"
  std::string_view sha256;
  std::string_view public_copy;  // a URL where the file can be downloaded
  std::string_view description;
};

// Every dataset recur knows by name.
[[nodiscard]] std::span<const DatasetInfo> known_datasets();

// The folders searched, in order: RECUR_DATA's entries, then the cache folder.
[[nodiscard]] std::vector<std::filesystem::path> default_data_dirs();

// `name_or_path` is an existing file (returned as is) or a dataset name looked up in `dirs`.
// Throws IoError when neither.
[[nodiscard]] std::filesystem::path resolve_dataset(std::string_view name_or_path,
                                                    const std::vector<std::filesystem::path>& dirs);
[[nodiscard]] inline std::filesystem::path resolve_dataset(std::string_view name_or_path) {
  return resolve_dataset(name_or_path, default_data_dirs());
}

}  // namespace recur
