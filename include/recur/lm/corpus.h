// Text -> token ids for language models, and back: the tokens of a text under an encoding (level
// and preprocessing), a vocabulary built from a training file, and detokenizing.
//
// Character level: one token per code point of the preprocessed text (newlines included).
// Word level: whitespace-separated words, with "<eos>" appended after every line (blank lines
// included), as PyTorch's word-language-model example does, so WikiText's published token counts
// come out (valid 217,646; test 245,569).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "recur/text/preprocess.h"
#include "recur/text/tokenizer.h"
#include "recur/text/vocab.h"

namespace recur {

inline constexpr std::string_view kEndOfLine = "<eos>";

// How raw text becomes tokens; config.json's "level" and "mode".
struct TextEncoding {
  TokenLevel level = TokenLevel::character;
  PreprocessMode mode = PreprocessMode::d2l;
  friend bool operator==(const TextEncoding&, const TextEncoding&) = default;
};

// The tokens of `raw_text` (already checked UTF-8) under `encoding`, as strings.
[[nodiscard]] std::vector<std::string> lm_tokens(std::string_view raw_text, const TextEncoding& encoding);

// Encodes `raw_text` with `vocab`; tokens outside it become vocab.unk_index() and are counted.
[[nodiscard]] EncodedTokens encode_text(std::string_view raw_text, const TextEncoding& encoding,
                                        const Vocab& vocab);

// Encodes a generation prompt: as encode_text, but at word level a prompt that does not end in a
// newline gets no closing "<eos>" (the line is still open, the model continues it).
[[nodiscard]] EncodedTokens encode_prompt(std::string_view prompt, const TextEncoding& encoding,
                                          const Vocab& vocab);

// A training corpus: the vocabulary built from a file (d2l's Vocab order: "<unk>" first, then by
// frequency) and the file's ids.
struct LmCorpus {
  Vocab vocab;
  std::vector<int32_t> ids;
};

// Reads `path` (via read_text_file: errors name the file) and builds the vocabulary from it; tokens
// seen fewer than min_freq times become "<unk>". Throws ValueError when fewer than 2 tokens result.
[[nodiscard]] LmCorpus load_lm_corpus(const std::filesystem::path& path, const TextEncoding& encoding,
                                      int64_t min_freq = 0);

// Joins tokens back into text: characters concatenated, words separated by spaces ("<eos>" as "\n").
[[nodiscard]] std::string detokenize(std::span<const int32_t> ids, const Vocab& vocab, TokenLevel level);

}  // namespace recur
