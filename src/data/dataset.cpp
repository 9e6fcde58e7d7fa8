// Dataset registry and lookup through RECUR_DATA and the cache folder.
#include "recur/data/dataset.h"

#include <array>
#include <cstdlib>

#include "recur/core/error.h"
#include "recur/core/file_read.h"

namespace recur {

namespace fs = std::filesystem;

namespace {
constexpr std::array<DatasetInfo, 6> kDatasets{{
    {"timemachine", "timemachine.txt", "8424dbd9532ac81f7e5f0b6add90e6952baea29158309d7d1bf3884f4e12c516",
     "http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt",
     "H. G. Wells, The Time Machine (d2l's corpus, 179 kB)"},
    {"tinyshakespeare", "tinyshakespeare.txt",
     "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
     "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
     "Tiny Shakespeare (char-rnn, 1.1 MB)"},
    {"wikitext-2", "wikitext-2/test.txt", "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
     "https://raw.githubusercontent.com/pytorch/examples/main/word_language_model/data/wikitext-2/test.txt",
     "WikiText-2 test split (tokenized, with <unk>; valid.txt lies beside it)"},
    {"fra-eng", "fra-eng/fra.txt", "0bb85dbaa1c896844649094d7eaf2e34bee34e84fe362b26ce7e8f2e12aae104",
     "http://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip (member fra-eng/fra.txt)",
     "English-French sentence pairs (Tatoeba via manythings.org)"},
    {"airline-passengers", "timeseries/airline-passengers.csv",
     "8cb51be753a718d9be5d76d7e238cc224792754676adc21faa59e954b0201621",
     "https://raw.githubusercontent.com/jbrownlee/Datasets/master/airline-passengers.csv",
     "Monthly airline passengers 1949-1960 (CSV)"},
    {"daily-min-temperatures", "timeseries/daily-min-temperatures.csv",
     "8b9de63ed6789492bf497625e7f9beb96a63d367b4b0a21754006f749fa5e5da",
     "https://raw.githubusercontent.com/jbrownlee/Datasets/master/daily-min-temperatures.csv",
     "Daily minimum temperatures in Melbourne 1981-1990 (CSV)"},
}};
}  // namespace

std::span<const DatasetInfo> known_datasets() { return kDatasets; }

std::vector<fs::path> default_data_dirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("RECUR_DATA"); env && *env) {
    std::string_view all = env;
    while (!all.empty()) {
      auto colon = all.find(':');
      auto entry = all.substr(0, colon);
      if (!entry.empty()) dirs.emplace_back(entry);
      if (colon == std::string_view::npos) break;
      all.remove_prefix(colon + 1);
    }
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    dirs.push_back(fs::path(xdg) / "recur");
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    dirs.push_back(fs::path(home) / ".cache" / "recur");
  }
  return dirs;
}

fs::path resolve_dataset(std::string_view name_or_path, const std::vector<fs::path>& dirs) {
  std::error_code ec;
  const fs::path given(name_or_path);
  if (fs::is_regular_file(given, ec)) return given;
  const DatasetInfo* info = nullptr;
  for (const auto& d : kDatasets)
    if (d.name == name_or_path) info = &d;
  if (!info && fs::exists(given, ec))
    check_regular_file(given, "a data file");  // a directory, a device: say so
  if (!info) {
    std::string names;
    for (const auto& d : kDatasets) names += (names.empty() ? "" : ", ") + std::string(d.name);
    throw IoError("'" + std::string(name_or_path) +
                  "' is neither a readable file nor a known dataset name (" + names + ")");
  }
  std::string looked;
  for (const auto& dir : dirs) {
    fs::path candidate = dir / info->relative_path;
    if (fs::is_regular_file(candidate, ec)) return candidate;
    looked += "\n  " + candidate.string();
  }
  throw IoError("dataset '" + std::string(info->name) + "' not found; looked for:" +
                (looked.empty() ? std::string("\n  (no folders: set RECUR_DATA)") : looked) +
                "\nexpected file '" + std::string(info->relative_path) + "' with SHA-256 " +
                std::string(info->sha256) + "\na public copy: " + std::string(info->public_copy) +
                "\nput it in a folder listed in RECUR_DATA (colon-separated) or in the cache folder");
}

}  // namespace recur
