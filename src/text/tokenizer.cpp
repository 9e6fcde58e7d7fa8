// Character and word tokenizers over validated UTF-8.
#include "recur/text/tokenizer.h"

#include "recur/core/error.h"
#include "recur/text/utf8.h"
#include "text/enum_names.h"

namespace recur {

namespace {
constexpr enum_names::NameTable<TokenLevel, 2> kTokenLevelNames = {
    {{TokenLevel::character, "char"}, {TokenLevel::word, "word"}}};
}  // namespace

TokenLevel parse_token_level(std::string_view name) {
  return enum_names::parse_name(kTokenLevelNames, name, "token level");
}

std::string_view token_level_name(TokenLevel level) { return enum_names::name_of(kTokenLevelNames, level); }

namespace {
bool is_ascii_space(unsigned char b) {
  return b == ' ' || (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x1F);
}

// Length in bytes of the code point at `i`; throws on invalid UTF-8 (callers pass checked text).
size_t code_point_length(std::string_view text, size_t i, char32_t& code_point) {
  const auto byte = static_cast<unsigned char>(text[i]);
  if (byte < 0x80) {
    code_point = byte;
    return 1;
  }
  const Utf8Step step = utf8_decode_step(text, i);
  if (!step.is_valid) throw ValueError("tokenize: invalid UTF-8 at byte offset " + std::to_string(i));
  code_point = step.code_point;
  return static_cast<size_t>(step.length);
}
}  // namespace

void tokenize(std::string_view text, TokenLevel level, std::vector<std::string_view>& out) {
  size_t i = 0;
  char32_t cp = 0;
  if (level == TokenLevel::character) {
    while (i < text.size()) {
      const size_t n = code_point_length(text, i, cp);
      out.push_back(text.substr(i, n));
      i += n;
    }
    return;
  }
  size_t start = 0;
  bool in_word = false;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t n = 1;
    bool is_space;
    if (byte < 0x80) {
      is_space = is_ascii_space(byte);
    } else {
      n = code_point_length(text, i, cp);
      is_space = is_unicode_space(cp);
    }
    if (is_space && in_word) {
      out.push_back(text.substr(start, i - start));
      in_word = false;
    } else if (!is_space && !in_word) {
      start = i;
      in_word = true;
    }
    i += n;
  }
  if (in_word) out.push_back(text.substr(start));
}

std::span<const std::string_view> TokenizedText::line(int64_t i) const {
  if (!(i >= 0 && i < num_lines()))
    throw ValueError("TokenizedText::line: index " + std::to_string(i) + " outside [0, " +
                     std::to_string(num_lines()) + ")");
  const auto begin = static_cast<size_t>(line_starts_[static_cast<size_t>(i)]);
  const auto end = static_cast<size_t>(line_starts_[static_cast<size_t>(i) + 1]);
  return std::span<const std::string_view>(tokens_).subspan(begin, end - begin);
}

TokenizedText tokenize_text(std::string_view raw_text, PreprocessMode mode, TokenLevel level) {
  TokenizedText out;
  out.mode_ = mode;
  out.level_ = level;
  out.text_ = std::make_unique<std::string>(preprocess(raw_text, mode));
  out.tokens_.reserve(level == TokenLevel::character ? out.text_->size() : out.text_->size() / 4);
  tokenize(*out.text_, level, out.tokens_);
  out.line_starts_.push_back(out.num_tokens());
  return out;
}

TokenizedText tokenize_lines(std::string_view raw_text, PreprocessMode mode, TokenLevel level) {
  TokenizedText out;
  out.mode_ = mode;
  out.level_ = level;
  // Preprocess line by line into one buffer, lines separated by '\n' so that views never span two.
  auto text = std::make_unique<std::string>();
  text->reserve(raw_text.size() + 1);
  std::vector<std::pair<size_t, size_t>> ranges;  // [num_lines] (begin, end) in *text
  size_t pos = 0;
  while (pos <= raw_text.size()) {
    size_t end = raw_text.find('\n', pos);
    const bool is_last = end == std::string_view::npos;
    if (is_last) end = raw_text.size();
    std::string_view line = raw_text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string prepared = preprocess(line, mode);
    std::string_view kept = prepared;
    if (mode == PreprocessMode::d2l) {
      while (!kept.empty() && kept.front() == ' ') kept.remove_prefix(1);
      while (!kept.empty() && kept.back() == ' ') kept.remove_suffix(1);
    }
    const size_t begin = text->size();
    text->append(kept);
    ranges.emplace_back(begin, text->size());
    text->push_back('\n');
    if (is_last) break;
    pos = end + 1;
  }
  out.text_ = std::move(text);
  const std::string_view all = *out.text_;
  for (const auto& [begin, end] : ranges) {
    const size_t before = out.tokens_.size();
    tokenize(all.substr(begin, end - begin), level, out.tokens_);
    if (out.tokens_.size() > before) out.line_starts_.push_back(out.num_tokens());
  }
  return out;
}

}  // namespace recur
