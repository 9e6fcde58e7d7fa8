// Text -> token ids for language models, and the token table a trained model carries.
//
// Character level: one token per code point of the preprocessed text (newlines included).
// Word level: whitespace-separated words, with "<eos>" appended after every line (blank lines
// included), as PyTorch's word-language-model example does, so WikiText's published token counts
// come out (valid 217,646; test 245,569).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace recur {

inline constexpr std::string_view kEndOfLine = "<eos>";

// Tokens in index order with an unknown token anywhere in the list (config.json's "unk"): the table
// of a trained or loaded model. Lookups of tokens outside it give the unknown token's index.
class TokenTable {
 public:
  TokenTable() = default;
  // Throws ValueError when `unk` is not in `tokens` or a token repeats.
  TokenTable(std::vector<std::string> tokens, std::string unk);

  [[nodiscard]] int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  [[nodiscard]] const std::vector<std::string>& tokens() const { return tokens_; }
  [[nodiscard]] const std::string& unk() const { return tokens_[static_cast<size_t>(unk_index_)]; }
  [[nodiscard]] int32_t unk_index() const { return unk_index_; }
  [[nodiscard]] std::optional<int32_t> find(std::string_view token) const;
  [[nodiscard]] const std::string& token(int32_t id) const { return tokens_.at(static_cast<size_t>(id)); }

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t> index_;
  int32_t unk_index_ = 0;
};

struct TextEncoding {
  std::string level = "char";  // "char" or "word"
  std::string mode = "d2l";    // "d2l", "lower" or "raw"
};

struct EncodedText {
  std::vector<int32_t> ids;
  int64_t unknown_count = 0;  // tokens not in the table, mapped to its unknown token
};

// The tokens of `raw_text` (already checked UTF-8) under `encoding`, as strings.
[[nodiscard]] std::vector<std::string> lm_tokens(std::string_view raw_text, const TextEncoding& encoding);

// Encodes `raw_text` with `table`.
[[nodiscard]] EncodedText encode_text(std::string_view raw_text, const TextEncoding& encoding, const TokenTable& table);

// A training corpus: the vocabulary built from a file (d2l's Vocab order: "<unk>" first, then by
// frequency) and the file's ids.
struct LmCorpus {
  TokenTable table;
  std::vector<int32_t> ids;
};
// Encodes a generation prompt: as encode_text, but at word level a prompt that does not end in a
// newline gets no closing "<eos>" (the line is still open, the model continues it).
[[nodiscard]] EncodedText encode_prompt(std::string_view prompt, const TextEncoding& encoding, const TokenTable& table);

// Reads `path` (via read_text_file: errors name the file) and builds the table from it; tokens seen
// fewer than min_freq times become "<unk>". Throws ValueError when fewer than 2 tokens result.
[[nodiscard]] LmCorpus load_lm_corpus(const std::filesystem::path& path, const TextEncoding& encoding,
                                      int64_t min_freq = 0);

// Joins tokens back into text: characters concatenated, words separated by spaces ("<eos>" as "\n").
[[nodiscard]] std::string detokenize(const std::vector<int32_t>& ids, const TokenTable& table, std::string_view level);

}  // namespace recur
