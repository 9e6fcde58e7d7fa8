// Training text for n-gram estimation, read the way KenLM's lmplz reads it (lm/builder/corpus_count.cc):
// one sentence per line, words split on the bytes NUL, tab, CR, LF and space, word ids in order of
// first occurrence after <unk> = 0, <s> = 1, </s> = 2.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "recur/text/preprocess.h"

namespace recur {

struct SentenceCorpusOptions {
  // Applied to each line before splitting; `raw` reproduces lmplz exactly. `d2l` also strips the
  // line's edge spaces, as tokenize_lines() does.
  PreprocessMode mode = PreprocessMode::raw;
  // lmplz's --skip_symbols: the words <s>, </s> and <unk> in the text are dropped (read as
  // whitespace) instead of being an error.
  bool skips_symbols = false;
  // Lines with no word are sentences "<s> </s>" in lmplz; true leaves them out (d2l's corpus).
  bool skips_empty_lines = false;
};

struct SentenceCorpus {
  static constexpr uint32_t kUnk = 0, kBos = 1, kEos = 2;

  std::vector<std::string> vocab = {};         // [V] word of each id: <unk>, <s>, </s>, then first occurrence
  std::vector<uint32_t> tokens = {};           // [num tokens] every sentence's ids, each closed by </s>
  std::vector<int64_t> sentence_starts = {0};  // [num sentences + 1] offsets into tokens
  int64_t num_words = 0;                       // tokens other than </s> (lmplz's "tokens")

  [[nodiscard]] int64_t num_sentences() const { return static_cast<int64_t>(sentence_starts.size()) - 1; }
  // Sentence i's ids (ending in </s>, except a last line without a newline, which lmplz leaves open).
  [[nodiscard]] std::span<const uint32_t> sentence(int64_t i) const;
};

// Reads `text` (valid UTF-8 unless mode is raw); `source` names it in errors. A literal <s>, </s> or
// <unk> throws ValueError naming source:line unless options.skips_symbols. As in lmplz, the final
// line gets no </s> when the text does not end in a newline.
[[nodiscard]] SentenceCorpus read_sentence_corpus(std::string_view text, const std::string& source,
                                                  const SentenceCorpusOptions& options = {});

// True for the bytes lmplz splits words on: NUL, tab, LF, CR and space (not \v or \f).
[[nodiscard]] constexpr bool is_lmplz_delimiter(char c) {
  return c == '\0' || c == '\t' || c == '\n' || c == '\r' || c == ' ';
}

}  // namespace recur
