// Cutting preprocessed text into tokens: characters (Unicode code points) or words (runs between
// whitespace). Tokens are string_views into one owned buffer, so a few MB tokenize without a
// string copy per token.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "recur/text/preprocess.h"

namespace recur {

enum class TokenLevel {
  character,  // one token per code point, whitespace included
  word,       // maximal runs of non-whitespace (Python's str.split(): Unicode whitespace)
};

// "char" or "word"; anything else throws ValueError.
[[nodiscard]] TokenLevel parse_token_level(std::string_view name);
[[nodiscard]] std::string_view token_level_name(TokenLevel level);

// Appends the tokens of valid UTF-8 `text` to `out`; the views point into `text`.
void tokenize(std::string_view text, TokenLevel level, std::vector<std::string_view>& out);

// Preprocessed text and its tokens, optionally cut into lines. The buffer sits on the heap so the
// token views stay valid when a TokenizedText is moved.
class TokenizedText {
 public:
  TokenizedText() = default;

  [[nodiscard]] std::string_view text() const {
    return text_ ? std::string_view(*text_) : std::string_view();
  }
  [[nodiscard]] std::span<const std::string_view> tokens() const { return tokens_; }
  [[nodiscard]] int64_t num_tokens() const { return static_cast<int64_t>(tokens_.size()); }
  [[nodiscard]] int64_t num_lines() const { return static_cast<int64_t>(line_starts_.size()) - 1; }
  // Tokens of line `i` in [0, num_lines()).
  [[nodiscard]] std::span<const std::string_view> line(int64_t i) const;
  [[nodiscard]] PreprocessMode mode() const { return mode_; }
  [[nodiscard]] TokenLevel level() const { return level_; }

  friend TokenizedText tokenize_text(std::string_view, PreprocessMode, TokenLevel);
  friend TokenizedText tokenize_lines(std::string_view, PreprocessMode, TokenLevel);

 private:
  std::unique_ptr<std::string> text_;     // preprocessed text the tokens view
  std::vector<std::string_view> tokens_;  // [num_tokens]
  std::vector<int64_t> line_starts_{0};   // [num_lines + 1], offsets into tokens_
  PreprocessMode mode_ = PreprocessMode::raw;
  TokenLevel level_ = TokenLevel::word;
};

// The whole text as one sequence, as d2l 9.2 does (one "line"): preprocess, then tokenize.
[[nodiscard]] TokenizedText tokenize_text(std::string_view raw_text, PreprocessMode mode, TokenLevel level);

// Line by line for models with sentence boundaries: lines end at '\n' (a trailing '\r' is dropped),
// each is preprocessed on its own, and lines that give no token are skipped. In d2l mode each line
// is also stripped of its edge spaces, as d2l's first-edition read_time_machine() does:
// re.sub('[^A-Za-z]+', ' ', line).strip().lower().
[[nodiscard]] TokenizedText tokenize_lines(std::string_view raw_text, PreprocessMode mode, TokenLevel level);

}  // namespace recur
