// Language-model corpora: tokens under an encoding, the training vocabulary, encoding and decoding.
#include "recur/lm/corpus.h"

#include <fmt/core.h>

#include "recur/core/error.h"
#include "recur/text/preprocess.h"
#include "recur/text/text_file.h"
#include "recur/text/tokenizer.h"
#include "recur/text/vocab.h"

namespace recur {

namespace {
// Calls emit(token) for every token of raw_text under the encoding.
template <typename Emit>
void for_each_token(std::string_view raw_text, const TextEncoding& encoding, Emit&& emit) {
  const PreprocessMode mode = encoding.mode;
  const TokenLevel level = encoding.level;
  if (level == TokenLevel::word) {
    // Every line ends in <eos>, blank ones too, as PyTorch's word_language_model data.py does
    // (`line.split() + ['<eos>']`), so WikiText's published token counts come out.
    std::vector<std::string_view> words;
    size_t start = 0;
    while (start < raw_text.size()) {
      size_t end = raw_text.find('\n', start);
      if (end == std::string_view::npos) end = raw_text.size();
      words.clear();
      const std::string line = preprocess(raw_text.substr(start, end - start), mode);
      tokenize(line, level, words);
      for (std::string_view tok : words) emit(tok);
      emit(kEndOfLine);
      start = end + 1;
    }
  } else {
    TokenizedText text = tokenize_text(raw_text, mode, level);
    for (std::string_view tok : text.tokens()) emit(tok);
  }
}
}  // namespace

std::vector<std::string> lm_tokens(std::string_view raw_text, const TextEncoding& encoding) {
  std::vector<std::string> out;
  for_each_token(raw_text, encoding, [&](std::string_view t) { out.emplace_back(t); });
  return out;
}

EncodedTokens encode_text(std::string_view raw_text, const TextEncoding& encoding, const Vocab& vocab) {
  EncodedTokens out;
  for_each_token(raw_text, encoding, [&](std::string_view t) {
    if (auto id = vocab.find(t)) {
      out.ids.push_back(*id);
    } else {
      out.ids.push_back(vocab.unk_index());
      ++out.unknown_count;
    }
  });
  return out;
}

EncodedTokens encode_prompt(std::string_view prompt, const TextEncoding& encoding, const Vocab& vocab) {
  EncodedTokens out = encode_text(prompt, encoding, vocab);
  if (encoding.level == TokenLevel::word && !prompt.empty() && prompt.back() != '\n' && !out.ids.empty()) {
    if (auto eos = vocab.find(kEndOfLine); eos && out.ids.back() == *eos) out.ids.pop_back();
  }
  return out;
}

LmCorpus load_lm_corpus(const std::filesystem::path& path, const TextEncoding& encoding, int64_t min_freq) {
  const std::string raw = read_text_file(path);
  std::vector<std::string_view> tokens;
  std::vector<std::string> owned = lm_tokens(raw, encoding);
  tokens.reserve(owned.size());
  for (const auto& t : owned) tokens.emplace_back(t);
  check(tokens.size() >= 2,
        fmt::format("'{}' gives {} token(s) at level {}; a language model needs at least 2", path.string(),
                    tokens.size(), token_level_name(encoding.level)));
  LmCorpus corpus{Vocab::build(tokens, {.min_freq = min_freq}), {}};
  corpus.ids = corpus.vocab.encode(tokens).ids;
  return corpus;
}

std::string detokenize(std::span<const int32_t> ids, const Vocab& vocab, TokenLevel level) {
  std::string out;
  const bool words = level == TokenLevel::word;
  for (int32_t id : ids) {
    const std::string& tok = vocab.token(id);
    if (words) {
      if (tok == kEndOfLine) {
        out += '\n';
        continue;
      }
      if (!out.empty() && out.back() != '\n') out += ' ';
    }
    out += tok;
  }
  return out;
}

}  // namespace recur
