// Paths and contents of the KenLM fixtures in tests/data/ngram (see its README.md).
#pragma once

#include <filesystem>
#include <string>

#include "recur/io/atomic_file.h"
#include "test_support.h"

namespace recur::test {

inline std::filesystem::path ngram_fixture(const std::string& name) {
  return test_data_dir() / "ngram" / name;
}
inline std::string read_ngram_fixture(const std::string& name) { return read_file(ngram_fixture(name)); }

}  // namespace recur::test
