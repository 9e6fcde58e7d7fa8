// Paths and contents of the KenLM fixtures in tests/data/ngram (see its README.md).
#pragma once

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "recur/io/atomic_file.h"
#include "recur/ngram/backoff_model.h"
#include "test_support.h"

namespace recur::test {

inline std::filesystem::path ngram_fixture(const std::string& name) {
  return test_data_dir() / "ngram" / name;
}
inline std::string read_ngram_fixture(const std::string& name) { return read_file(ngram_fixture(name)); }

// The sum of p(w | context) over the vocabulary less <s> (never predicted): one for a proper model.
// A context starting with <s> starts from the sentence state.
inline double probability_mass_after(const BackoffModel& m, const std::vector<std::string>& context) {
  const bool at_start = context[0] == "<s>";
  BackoffModel::State state = at_start ? m.begin_sentence_state() : BackoffModel::State{}, next;
  for (size_t i = at_start ? 1 : 0; i < context.size(); ++i) {
    (void)m.score(state, m.word_id(context[i]), next);
    state = next;
  }
  double sum = 0;
  for (uint32_t w = 0; w < m.vocab_size(); ++w)
    if (w != m.bos_id()) sum += std::pow(10.0, static_cast<double>(m.score(state, w, next).log_prob));
  return sum;
}

}  // namespace recur::test
