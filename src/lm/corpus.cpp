// Language-model corpora: tokens, the model's token table, encoding and decoding.
#include "recur/lm/corpus.h"

#include <fmt/core.h>

#include "recur/core/error.h"
#include "recur/text/preprocess.h"
#include "recur/text/text_file.h"
#include "recur/text/tokenizer.h"
#include "recur/text/vocab.h"

namespace recur {

TokenTable::TokenTable(std::vector<std::string> tokens, std::string unk) : tokens_(std::move(tokens)) {
  index_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i)
    check(index_.emplace(tokens_[i], static_cast<int32_t>(i)).second,
          "token table: the token '" + escape_token(tokens_[i]) + "' appears twice");
  auto it = index_.find(unk);
  check(it != index_.end(), "token table: the unknown token '" + unk + "' is not in the table");
  unk_index_ = it->second;
}

std::optional<int32_t> TokenTable::find(std::string_view token) const {
  auto it = index_.find(std::string(token));
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

namespace {
// Calls emit(token) for every token of raw_text under the encoding.
template <typename Emit>
void for_each_token(std::string_view raw_text, const TextEncoding& encoding, Emit&& emit) {
  const PreprocessMode mode = parse_preprocess_mode(encoding.mode);
  const TokenLevel level = parse_token_level(encoding.level);
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

EncodedText encode_text(std::string_view raw_text, const TextEncoding& encoding, const TokenTable& table) {
  EncodedText out;
  for_each_token(raw_text, encoding, [&](std::string_view t) {
    if (auto id = table.find(t)) {
      out.ids.push_back(*id);
    } else {
      out.ids.push_back(table.unk_index());
      ++out.unknown_count;
    }
  });
  return out;
}

EncodedText encode_prompt(std::string_view prompt, const TextEncoding& encoding, const TokenTable& table) {
  EncodedText out = encode_text(prompt, encoding, table);
  if (encoding.level == "word" && !prompt.empty() && prompt.back() != '\n' && !out.ids.empty()) {
    if (auto eos = table.find(kEndOfLine); eos && out.ids.back() == *eos) out.ids.pop_back();
  }
  return out;
}

LmCorpus load_lm_corpus(const std::filesystem::path& path, const TextEncoding& encoding, int64_t min_freq) {
  const std::string raw = read_text_file(path);
  std::vector<std::string_view> tokens;
  std::vector<std::string> owned = lm_tokens(raw, encoding);
  tokens.reserve(owned.size());
  for (const auto& t : owned) tokens.emplace_back(t);
  check(tokens.size() >= 2, fmt::format("'{}' gives {} token(s) at level {}; a language model needs at least 2",
                                        path.string(), tokens.size(), encoding.level));
  VocabOptions options;
  options.min_freq = min_freq;
  Vocab vocab = Vocab::build(tokens, options);
  std::vector<std::string> table_tokens;
  table_tokens.reserve(static_cast<size_t>(vocab.size()));
  for (int32_t i = 0; i < vocab.size(); ++i) table_tokens.push_back(vocab.token(i));
  LmCorpus corpus{TokenTable(std::move(table_tokens), std::string(Vocab::kUnkToken)), {}};
  corpus.ids = vocab.encode(tokens).ids;
  return corpus;
}

std::string detokenize(const std::vector<int32_t>& ids, const TokenTable& table, std::string_view level) {
  std::string out;
  const bool words = level == "word";
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string& tok = table.token(ids[i]);
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
