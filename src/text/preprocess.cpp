// The three preprocessing modes. d2l works byte by byte: UTF-8 lead and continuation bytes are all
// >= 0x80, so a multibyte character is part of a "non-letter" run exactly as it is for Python's regex.
#include "recur/text/preprocess.h"

#include "recur/core/error.h"
#include "recur/text/utf8.h"
#include "text/enum_names.h"

namespace recur {

namespace {
constexpr enum_names::NameTable<PreprocessMode, 3> kModeNames = {
    {{PreprocessMode::d2l, "d2l"}, {PreprocessMode::lower, "lower"}, {PreprocessMode::raw, "raw"}}};
}  // namespace

PreprocessMode parse_preprocess_mode(std::string_view name) {
  return enum_names::parse_name(kModeNames, name, "preprocessing mode");
}

std::string_view preprocess_mode_name(PreprocessMode mode) { return enum_names::name_of(kModeNames, mode); }

char32_t to_lower_code_point(char32_t c) noexcept {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;  // Latin-1: À..Þ except ×
  if (c >= 0x100 && c <= 0x17F) {                          // Latin Extended-A: case pairs
    if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return c;  // no simple pair
    if (c == 0x178) return 0xFF;                                                       // Ÿ -> ÿ
    const bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_upper) return (c % 2 == 1) ? c + 1 : c;
    return (c % 2 == 0) ? c + 1 : c;
  }
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;  // Greek capitals
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x410 && c <= 0x42F) return c + 32;  // Cyrillic А..Я
  if (c >= 0x400 && c <= 0x40F) return c + 80;  // Ѐ..Џ
  return c;
}

std::string preprocess(std::string_view text, PreprocessMode mode) {
  std::string out;
  switch (mode) {
    case PreprocessMode::raw:
      out.assign(text);
      break;
    case PreprocessMode::d2l: {
      out.reserve(text.size());
      bool in_run = false;
      for (char ch : text) {
        const bool is_upper = ch >= 'A' && ch <= 'Z';
        const bool is_letter = is_upper || (ch >= 'a' && ch <= 'z');
        if (is_letter) {
          out.push_back(is_upper ? static_cast<char>(ch + 32) : ch);
          in_run = false;
        } else if (!in_run) {
          out.push_back(' ');
          in_run = true;
        }
      }
      break;
    }
    case PreprocessMode::lower: {
      out.reserve(text.size());
      size_t i = 0;
      while (i < text.size()) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x80) {
          out.push_back(byte >= 'A' && byte <= 'Z' ? static_cast<char>(byte + 32) : static_cast<char>(byte));
          ++i;
          continue;
        }
        const Utf8Step step = utf8_decode_step(text, i);
        if (!step.is_valid) throw ValueError("preprocess: invalid UTF-8 at byte offset " + std::to_string(i));
        utf8_append(to_lower_code_point(step.code_point), out);
        i += static_cast<size_t>(step.length);
      }
      break;
    }
  }
  return out;
}

}  // namespace recur
