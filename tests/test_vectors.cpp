// Checks every *.json in RECUR_VECTORS (default ../shared/vectors) against recur, dispatching on
// the file's "kind". A kind nobody implemented fails the test with the file's name, so vectors
// dropped in later are never skipped silently. Run alone: RECUR_VECTORS=DIR ctest -R vectors
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "test_support.h"
#include "vector_checks.h"

namespace {

using Checker = void (*)(const nlohmann::json&, const std::string&);

const std::map<std::string, Checker>& checkers() {
  static const std::map<std::string, Checker> table{
      {"charlm_head", recur::test::check_charlm_head},
      {"clip_grad_norm", recur::test::check_clip_grad_norm},
      {"rnn_layer", recur::test::check_rnn_layer},
      {"charlm_step", recur::test::check_charlm_step},
  };
  return table;
}

TEST(Vectors, EveryFileMatchesPyTorch) {
  namespace fs = std::filesystem;
  const fs::path dir = recur::test::vectors_dir();
  ASSERT_TRUE(fs::is_directory(dir)) << "reference vectors folder not found: " << dir
                                     << " (set RECUR_VECTORS)";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << "no *.json files in " << dir;

  for (const auto& path : files) {
    const std::string name = path.filename().string();
    SCOPED_TRACE(name);
    nlohmann::json j;
    try {
      std::ifstream in(path);
      j = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      ADD_FAILURE() << name << ": not valid JSON: " << e.what();
      continue;
    }
    const std::string kind = j.value("kind", "");
    auto it = checkers().find(kind);
    if (it == checkers().end()) {
      ADD_FAILURE() << name << ": unknown vector kind '" << kind << "'";
      continue;
    }
    const int failures_before =
        ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count();
    it->second(j, name);
    const bool ok = ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count() ==
                    failures_before;
    std::printf("[vectors] %-28s %-16s %s\n", name.c_str(), kind.c_str(), ok ? "ok" : "FAILED");
  }
}

}  // namespace
