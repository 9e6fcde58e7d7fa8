// Splitting training text into sentences and word ids exactly as lmplz does (CorpusCount::Run).
#include "recur/ngram/sentence_corpus.h"

#include <fmt/core.h>

#include <unordered_map>

#include "recur/core/error.h"

namespace recur {

std::span<const uint32_t> SentenceCorpus::sentence(int64_t i) const {
  if (i < 0 || i >= num_sentences())
    throw ValueError(fmt::format("SentenceCorpus::sentence: index {} outside [0, {})", i, num_sentences()));
  const auto begin = static_cast<size_t>(sentence_starts[static_cast<size_t>(i)]);
  const auto end = static_cast<size_t>(sentence_starts[static_cast<size_t>(i) + 1]);
  return std::span<const uint32_t>(tokens).subspan(begin, end - begin);
}

namespace {
std::string_view strip_spaces(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}
}  // namespace

SentenceCorpus read_sentence_corpus(std::string_view text, const std::string& source,
                                    const SentenceCorpusOptions& options) {
  SentenceCorpus corpus;
  corpus.vocab = {"<unk>", "<s>", "</s>"};
  // Keys view corpus-owned words: a node-based map never moves its keys, so each key is its own string.
  std::unordered_map<std::string, uint32_t> ids = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  std::string preprocessed;
  int64_t line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const bool is_terminated = end != std::string_view::npos;
    std::string_view line = text.substr(0, is_terminated ? end : text.size());
    text.remove_prefix(is_terminated ? end + 1 : text.size());
    ++line_number;
    if (options.mode != PreprocessMode::raw) {
      preprocessed = preprocess(line, options.mode);
      line = preprocessed;
      if (options.mode == PreprocessMode::d2l) line = strip_spaces(line);
    }
    const size_t sentence_begin = corpus.tokens.size();
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && is_lmplz_delimiter(line[i])) ++i;
      if (i == line.size()) break;
      const size_t start = i;
      while (i < line.size() && !is_lmplz_delimiter(line[i])) ++i;
      const std::string_view word = line.substr(start, i - start);
      auto it = ids.find(std::string(word));
      if (it == ids.end()) {
        it = ids.emplace(std::string(word), static_cast<uint32_t>(corpus.vocab.size())).first;
        corpus.vocab.emplace_back(word);
      } else if (it->second <= SentenceCorpus::kEos) {
        if (options.skips_symbols) continue;
        throw ValueError(fmt::format(
            "{}:{}: the word {} is reserved: <s>, </s> and <unk> are what n-gram models add themselves "
            "(use --skip-symbols to drop them from the text, as lmplz --skip_symbols does)",
            source, line_number, word));
      }
      corpus.tokens.push_back(it->second);
      ++corpus.num_words;
    }
    if (options.skips_empty_lines && corpus.tokens.size() == sentence_begin) continue;
    // lmplz appends </s> only after a newline: an unterminated last line stays open.
    if (is_terminated) corpus.tokens.push_back(SentenceCorpus::kEos);
    if (corpus.tokens.size() > sentence_begin)
      corpus.sentence_starts.push_back(static_cast<int64_t>(corpus.tokens.size()));
  }
  return corpus;
}

}  // namespace recur
