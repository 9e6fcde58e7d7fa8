// Strict UTF-8 decoding after Unicode Table 3-7 (well-formed byte sequences).
#include "recur/text/utf8.h"

#include <cstring>

#include "recur/core/error.h"

namespace recur {

namespace {
// Continuation-byte range allowed for the second byte after each lead byte (Table 3-7).
struct LeadInfo {
  int length;         // total bytes, 0 = not a lead byte
  unsigned char low;  // second byte range
  unsigned char high;
};

constexpr LeadInfo lead_info(unsigned char b) noexcept {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};  // continuation byte or overlong C0/C1
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};  // no surrogates
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};  // at most U+10FFFF
  return {0, 0, 0};
}
}  // namespace

Utf8Step utf8_decode_step(std::string_view text, size_t offset) noexcept {
  const auto lead = static_cast<unsigned char>(text[offset]);
  const LeadInfo info = lead_info(lead);
  if (info.length == 1) return {lead, 1, true};
  if (info.length == 0) return {kReplacementCharacter, 1, false};
  char32_t cp = lead & (0xFF >> (info.length + 1));
  for (int i = 1; i < info.length; ++i) {
    if (offset + static_cast<size_t>(i) >= text.size()) return {kReplacementCharacter, i, false};
    const auto b = static_cast<unsigned char>(text[offset + static_cast<size_t>(i)]);
    const unsigned char low = i == 1 ? info.low : 0x80;
    const unsigned char high = i == 1 ? info.high : 0xBF;
    if (b < low || b > high) return {kReplacementCharacter, i, false};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, info.length, true};
}

std::optional<size_t> utf8_find_invalid(std::string_view text) noexcept {
  size_t i = 0;
  while (i < text.size()) {
    // Corpora are mostly ASCII: skip eight ASCII bytes at a time.
    for (uint64_t w; i + 8 <= text.size(); i += 8) {
      std::memcpy(&w, text.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
    }
    if (i >= text.size()) break;
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const Utf8Step step = utf8_decode_step(text, i);
    if (!step.is_valid) return i;
    i += static_cast<size_t>(step.length);
  }
  return std::nullopt;
}

std::string utf8_replace_invalid(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const Utf8Step step = utf8_decode_step(text, i);
    if (step.is_valid) {
      out.append(text.substr(i, static_cast<size_t>(step.length)));
    } else {
      utf8_append(kReplacementCharacter, out);
    }
    i += static_cast<size_t>(step.length);
  }
  return out;
}

void utf8_append(char32_t cp, std::string& out) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacementCharacter;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {
template <typename Visit>
void for_each_code_point(std::string_view text, Visit&& visit) {
  size_t i = 0;
  while (i < text.size()) {
    const Utf8Step step = utf8_decode_step(text, i);
    if (!step.is_valid) throw ValueError("invalid UTF-8 at byte offset " + std::to_string(i));
    visit(step.code_point);
    i += static_cast<size_t>(step.length);
  }
}
}  // namespace

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for_each_code_point(text, [&n](char32_t) { ++n; });
  return n;
}

std::u32string utf8_to_code_points(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for_each_code_point(text, [&out](char32_t cp) { out.push_back(cp); });
  return out;
}

bool is_unicode_space(char32_t cp) noexcept {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

}  // namespace recur
