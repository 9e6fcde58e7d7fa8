// Vocabulary building, lookup and its escaped text file.
#include "recur/text/vocab.h"

#include <algorithm>
#include <charconv>
#include <numeric>

#include "recur/core/error.h"
#include "recur/io/atomic_file.h"
#include "recur/text/text_file.h"
#include "text/line_reader.h"

namespace recur {

namespace {
constexpr std::string_view kMagic = "recur-vocab";
constexpr int kVersion = 1;

using text_format::next_line;
using text_format::parse_number;
}  // namespace

std::string escape_token(std::string_view token) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(token.size());
  for (char ch : token) {
    const auto b = static_cast<unsigned char>(ch);
    switch (ch) {
      case '\\':
        out += "\\\\";
        break;
      case ' ':
        out += "\\s";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (b < 0x20 || b == 0x7F) {
          out += "\\x";
          out.push_back(kHex[b >> 4]);
          out.push_back(kHex[b & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  return out;
}

std::optional<std::string> unescape_token(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '\t' || ch == '\n') return std::nullopt;
    if (ch != '\\') {
      out.push_back(ch);
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    switch (text[i]) {
      case '\\':
        out.push_back('\\');
        break;
      case 's':
        out.push_back(' ');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'x': {
        unsigned value = 0;
        if (i + 2 >= text.size()) return std::nullopt;
        const auto [ptr, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
        if (ec != std::errc() || ptr != text.data() + i + 3) return std::nullopt;
        out.push_back(static_cast<char>(value));
        i += 2;
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

Vocab::Vocab() { append(std::string(kUnkToken), 0); }

Vocab Vocab::from_tokens(std::vector<std::string> tokens, std::string_view unk) {
  Vocab vocab;
  vocab.tokens_.clear();
  vocab.counts_.clear();
  vocab.index_.clear();
  for (auto& token : tokens) {
    check(!vocab.find(token), "Vocab::from_tokens: the token '" + escape_token(token) + "' appears twice");
    vocab.append(std::move(token), 0);
  }
  const auto unk_index = vocab.find(unk);
  check(unk_index.has_value(),
        "Vocab::from_tokens: the unknown token '" + escape_token(unk) + "' is not in the list");
  vocab.unk_index_ = *unk_index;
  return vocab;
}

void Vocab::append(std::string token, int64_t count) {
  const auto index = static_cast<int32_t>(tokens_.size());
  index_.emplace(token, index);
  tokens_.push_back(std::move(token));
  counts_.push_back(count);
}

Vocab Vocab::build(std::span<const std::string_view> tokens, const VocabOptions& options) {
  check(options.min_freq >= 0,
        "Vocab::build: min_freq must be >= 0, got " + std::to_string(options.min_freq));
  check(!tokens.empty(), "Vocab::build: no tokens to count (the text is empty after tokenizing)");

  // Distinct tokens numbered by first occurrence, so that a stable sort keeps that order on ties.
  std::unordered_map<std::string_view, int32_t> first_seen;
  std::vector<std::string_view> distinct;
  std::vector<int64_t> counts;
  for (std::string_view t : tokens) {
    auto [it, is_new] = first_seen.try_emplace(t, static_cast<int32_t>(distinct.size()));
    if (is_new) {
      distinct.push_back(t);
      counts.push_back(0);
    }
    counts[static_cast<size_t>(it->second)]++;
  }
  return from_counts(distinct, counts, options);
}

Vocab Vocab::from_counts(std::span<const std::string_view> distinct, std::span<const int64_t> counts,
                         const VocabOptions& options) {
  check(options.min_freq >= 0,
        "Vocab::from_counts: min_freq must be >= 0, got " + std::to_string(options.min_freq));
  check(!distinct.empty() && distinct.size() == counts.size(),
        "Vocab::from_counts: " + std::to_string(distinct.size()) + " distinct tokens and " +
            std::to_string(counts.size()) + " counts; expected as many, at least one");
  std::vector<int32_t> order(distinct.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return counts[static_cast<size_t>(a)] > counts[static_cast<size_t>(b)];
  });

  Vocab vocab;
  for (const auto& r : options.reserved_tokens) {
    check(!vocab.find(r),
          "Vocab::build: reserved token '" + escape_token(r) + "' is given twice or is <unk>");
    vocab.append(r, 0);
  }
  const int32_t first_counted = vocab.size();
  for (int32_t i : order) {
    const std::string_view t = distinct[static_cast<size_t>(i)];
    const int64_t c = counts[static_cast<size_t>(i)];
    if (c < options.min_freq) {
      vocab.counts_[kUnkIndex] += c;
    } else if (auto existing = vocab.find(t)) {
      vocab.counts_[static_cast<size_t>(*existing)] += c;
    } else {
      vocab.append(std::string(t), c);
    }
  }
  if (vocab.size() == first_counted) {
    const std::string_view top = distinct[static_cast<size_t>(order[0])];
    throw ValueError("Vocab::build: min_freq " + std::to_string(options.min_freq) +
                     " leaves no token in the vocabulary besides <unk>: the most frequent token '" +
                     escape_token(top) + "' occurs " + std::to_string(counts[static_cast<size_t>(order[0])]) +
                     " times (of " +
                     std::to_string(std::accumulate(counts.begin(), counts.end(), int64_t{0})) + " tokens)");
  }
  return vocab;
}

const std::string& Vocab::token(int32_t index) const {
  if (!(index >= 0 && index < size()))
    throw ValueError("Vocab::token: index " + std::to_string(index) + " outside [0, " +
                     std::to_string(size()) + ")");
  return tokens_[static_cast<size_t>(index)];
}

int64_t Vocab::count(int32_t index) const {
  if (!(index >= 0 && index < size()))
    throw ValueError("Vocab::count: index " + std::to_string(index) + " outside [0, " +
                     std::to_string(size()) + ")");
  return counts_[static_cast<size_t>(index)];
}

std::optional<int32_t> Vocab::find(std::string_view token) const {
  auto it = index_.find(token);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

int32_t Vocab::index(std::string_view token) const { return find(token).value_or(unk_index_); }

EncodedTokens Vocab::encode(std::span<const std::string_view> tokens) const {
  EncodedTokens out;
  out.ids.reserve(tokens.size());
  for (std::string_view t : tokens) {
    auto it = index_.find(t);
    if (it == index_.end()) {
      out.ids.push_back(unk_index_);
      out.unknown_count++;
    } else {
      out.ids.push_back(it->second);
    }
  }
  return out;
}

std::vector<std::string_view> Vocab::decode(std::span<const int32_t> ids) const {
  std::vector<std::string_view> out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!(ids[i] >= 0 && ids[i] < size()))
      throw ValueError("Vocab::decode: id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                       " outside [0, " + std::to_string(size()) + ")");
    out.emplace_back(tokens_[static_cast<size_t>(ids[i])]);
  }
  return out;
}

std::string Vocab::serialize() const {
  check(unk_index_ == kUnkIndex,
        "Vocab::serialize: the file form needs <unk> at index 0, this vocabulary has '" +
            escape_token(unk()) + "' at " + std::to_string(unk_index_));
  std::string out =
      std::string(kMagic) + " " + std::to_string(kVersion) + "\nsize " + std::to_string(size()) + "\n";
  for (size_t i = 0; i < tokens_.size(); ++i) {
    out += escape_token(tokens_[i]);
    out += '\t';
    out += std::to_string(counts_[i]);
    out += '\n';
  }
  return out;
}

Vocab Vocab::parse(std::string_view text, const std::string& source) {
  int64_t line_number = 0;
  auto fail = [&](const std::string& what) -> IoError {
    return IoError("'" + source + "' line " + std::to_string(line_number) + ": " + what);
  };
  std::string_view line;
  ++line_number;
  if (!next_line(text, line) || line.substr(0, kMagic.size()) != kMagic || line.size() < kMagic.size() + 2 ||
      line[kMagic.size()] != ' ')
    throw fail("not a recur vocabulary file (the first line should be '" + std::string(kMagic) + " " +
               std::to_string(kVersion) + "')");
  int version = 0;
  if (!parse_number(line.substr(kMagic.size() + 1), version) || version != kVersion)
    throw fail("vocabulary format version '" + std::string(line.substr(kMagic.size() + 1)) +
               "' is not supported (this build reads version " + std::to_string(kVersion) + ")");
  ++line_number;
  int32_t size = 0;
  if (!next_line(text, line) || line.substr(0, 5) != "size " || !parse_number(line.substr(5), size) ||
      size < 1)
    throw fail("expected 'size N' with N >= 1");

  Vocab vocab;
  vocab.tokens_.clear();
  vocab.counts_.clear();
  vocab.index_.clear();
  for (int32_t i = 0; i < size; ++i) {
    ++line_number;
    if (!next_line(text, line))
      throw fail("the file ends after " + std::to_string(i) + " of " + std::to_string(size) + " tokens");
    const size_t tab = line.find('\t');
    int64_t count = 0;
    if (tab == std::string_view::npos || !parse_number(line.substr(tab + 1), count) || count < 0)
      throw fail("expected an escaped token, a tab and a count >= 0");
    auto token = unescape_token(line.substr(0, tab));
    if (!token) throw fail("malformed escape in token '" + std::string(line.substr(0, tab)) + "'");
    if (i == 0 && *token != kUnkToken)
      throw fail("index 0 must be <unk>, found '" + std::string(line.substr(0, tab)) + "'");
    if (vocab.find(*token)) throw fail("token '" + std::string(line.substr(0, tab)) + "' appears twice");
    vocab.append(std::move(*token), count);
  }
  ++line_number;
  if (!text.empty()) throw fail("unexpected content after the " + std::to_string(size) + " tokens");
  return vocab;
}

void Vocab::save(const std::filesystem::path& path) const { write_file_atomically(path, serialize()); }

Vocab Vocab::load(const std::filesystem::path& path) {
  return parse(read_text_file(path, {.allows_blank = true}), path.string());
}

}  // namespace recur
