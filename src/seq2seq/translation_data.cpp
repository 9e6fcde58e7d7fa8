// d2l 1.0's MTFraEng reading, tokenizing and vocabularies (d2l 10.5), one pair per line.
#include "recur/seq2seq/translation_data.h"

#include <algorithm>

#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "recur/text/preprocess.h"
#include "recur/text/utf8.h"
#include "text/enum_names.h"

namespace recur {

namespace {

constexpr enum_names::NameTable<LongSequences, 2> kLongSequencesNames = {
    {{LongSequences::kTruncate, "truncate"}, {LongSequences::kDrop, "drop"}}};

void check_steps(int64_t steps, std::string_view where) {
  check(steps >= 1, std::string(where) + ": steps must be >= 1, got " + std::to_string(steps));
}

// Whether the pair is kept: always when truncating, when both sides fit in `steps` when dropping.
bool fits(const TranslationPair& pair, int64_t steps, LongSequences long_sequences) {
  return long_sequences == LongSequences::kTruncate || (static_cast<int64_t>(pair.source.size()) <= steps &&
                                                        static_cast<int64_t>(pair.target.size()) <= steps);
}

size_t kept_length(size_t length, int64_t steps) { return std::min(length, static_cast<size_t>(steps)); }

// Ids of the first `steps` tokens; tokens outside the vocabulary become <unk> and are counted.
std::vector<int32_t> encode_side(std::span<const std::string> tokens, const Vocab& vocab, int64_t steps,
                                 int64_t& unknown) {
  std::vector<int32_t> ids(kept_length(tokens.size(), steps));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (auto id = vocab.find(tokens[i])) {
      ids[i] = *id;
    } else {
      ids[i] = vocab.unk_index();
      ++unknown;
    }
  }
  return ids;
}

template <typename Token>
std::string join_until_eos(std::span<const Token> tokens) {
  std::string out;
  for (const auto& token : tokens) {
    if (std::string_view(token) == kEosToken) break;
    if (!out.empty()) out.push_back(' ');
    out.append(token);
  }
  return out;
}

}  // namespace

std::string preprocess_translation_text(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  char32_t previous = 0;  // the previous input character after the space replacement, before lowercasing
  size_t i = 0;
  while (i < text.size()) {
    const Utf8Step step = utf8_decode_step(text, i);
    if (!step.is_valid)
      throw ValueError("preprocess_translation_text: invalid UTF-8 at byte offset " + std::to_string(i));
    char32_t c = step.code_point;
    if (c == U'\u202F' || c == U'\u00A0') c = U' ';
    const bool is_mark = c == U',' || c == U'.' || c == U'!' || c == U'?';
    if (is_mark && i > 0 && previous != U' ') out.push_back(' ');
    utf8_append(to_lower_code_point(c), out);
    previous = c;
    i += static_cast<size_t>(step.length);
  }
  return out;
}

std::vector<std::string> tokenize_translation_side(std::string_view preprocessed) {
  std::vector<std::string> tokens;
  size_t start = 0;
  while (start <= preprocessed.size()) {
    size_t end = preprocessed.find(' ', start);
    if (end == std::string_view::npos) end = preprocessed.size();
    if (end > start) tokens.emplace_back(preprocessed.substr(start, end - start));
    start = end + 1;
  }
  tokens.emplace_back(kEosToken);
  return tokens;
}

std::vector<TranslationPair> parse_translation_pairs(std::string_view text, const std::string& source_name,
                                                     int64_t max_pairs) {
  check(max_pairs >= 0,
        "parse_translation_pairs: max_pairs must be >= 0 (0 reads all), got " + std::to_string(max_pairs));
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<TranslationPair> pairs;
  int64_t line_number = 0;
  size_t start = 0;
  while (start < text.size() && (max_pairs == 0 || static_cast<int64_t>(pairs.size()) < max_pairs)) {
    ++line_number;
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) continue;

    const std::string where = source_name + ":" + std::to_string(line_number) + ": ";
    if (auto bad = utf8_find_invalid(line))
      throw IoError(where + "invalid UTF-8 at byte offset " + std::to_string(*bad) + " in the line");
    const size_t tab = line.find('\t');
    if (tab == std::string_view::npos) throw IoError(where + "no tab (expected source<TAB>target)");
    const std::string_view rest = line.substr(tab + 1);
    const std::string_view source = line.substr(0, tab);
    const std::string_view target = rest.substr(0, rest.find('\t'));

    TranslationPair pair{.source = tokenize_translation_side(preprocess_translation_text(source)),
                         .target = tokenize_translation_side(preprocess_translation_text(target)),
                         .line = line_number};
    if (pair.source.size() == 1) throw IoError(where + "empty source (expected source<TAB>target)");
    if (pair.target.size() == 1) throw IoError(where + "empty target (expected source<TAB>target)");
    pairs.push_back(std::move(pair));
  }
  return pairs;
}

std::vector<TranslationPair> read_translation_pairs(const std::filesystem::path& path, int64_t max_pairs) {
  return parse_translation_pairs(read_file_bounded(path, kMaxTextFileBytes, "a tab-separated text file"),
                                 path.string(), max_pairs);
}

LongSequences parse_long_sequences(std::string_view name) {
  return enum_names::parse_name(kLongSequencesNames, name, "long-sequence rule");
}

std::string_view long_sequences_name(LongSequences mode) {
  return enum_names::name_of(kLongSequencesNames, mode);
}

TranslationVocabs build_translation_vocabs(std::span<const TranslationPair> pairs, int64_t min_freq,
                                           int64_t steps, LongSequences long_sequences) {
  check_steps(steps, "build_translation_vocabs");
  check(!pairs.empty(), "build_translation_vocabs: no sentence pairs to count");
  std::vector<std::string_view> source_tokens;
  std::vector<std::string_view> target_tokens;
  int64_t kept = 0;
  for (const TranslationPair& pair : pairs) {
    if (!fits(pair, steps, long_sequences)) continue;
    ++kept;
    source_tokens.insert(
        source_tokens.end(), pair.source.begin(),
        pair.source.begin() + static_cast<std::ptrdiff_t>(kept_length(pair.source.size(), steps)));
    target_tokens.insert(
        target_tokens.end(), pair.target.begin(),
        pair.target.begin() + static_cast<std::ptrdiff_t>(kept_length(pair.target.size(), steps)));
  }
  check(kept > 0, "build_translation_vocabs: every one of the " + std::to_string(pairs.size()) +
                      " pairs has a side longer than steps " + std::to_string(steps) +
                      " and is dropped; raise steps or truncate");
  const VocabOptions options{
      .min_freq = min_freq,
      .reserved_tokens = {std::string(kPadToken), std::string(kBosToken), std::string(kEosToken)}};
  return {.source = Vocab::build(source_tokens, options), .target = Vocab::build(target_tokens, options)};
}

SpecialIds special_ids(const Vocab& vocab) {
  auto find = [&](std::string_view token) {
    auto id = vocab.find(token);
    if (!id)
      throw ValueError("special_ids: the vocabulary (" + std::to_string(vocab.size()) + " tokens) has no '" +
                       std::string(token) + "' token; a translation vocabulary needs <pad>, <bos> and <eos>");
    return *id;
  };
  return {.pad = find(kPadToken), .bos = find(kBosToken), .eos = find(kEosToken), .unk = vocab.unk_index()};
}

EncodedPairs encode_translation_pairs(std::span<const TranslationPair> pairs, const TranslationVocabs& vocabs,
                                      int64_t steps, LongSequences long_sequences) {
  check_steps(steps, "encode_translation_pairs");
  EncodedPairs out;
  out.pairs.reserve(pairs.size());
  for (const TranslationPair& pair : pairs) {
    if (!fits(pair, steps, long_sequences)) {
      ++out.dropped;
      continue;
    }
    out.pairs.push_back({.source = encode_side(pair.source, vocabs.source, steps, out.source_unknown),
                         .target = encode_side(pair.target, vocabs.target, steps, out.target_unknown),
                         .line = pair.line});
  }
  return out;
}

std::vector<int32_t> encode_source_sentence(std::string_view raw_line, const Vocab& source_vocab,
                                            int64_t steps) {
  check_steps(steps, "encode_source_sentence");
  const std::vector<std::string> tokens = tokenize_translation_side(preprocess_translation_text(raw_line));
  int64_t unknown = 0;
  return encode_side(tokens, source_vocab, steps, unknown);
}

std::string detokenize_translation(std::span<const std::string> tokens) { return join_until_eos(tokens); }

std::string detokenize_translation(std::span<const std::string_view> tokens) {
  return join_until_eos(tokens);
}

std::string detokenize_translation(std::span<const int32_t> ids, const Vocab& vocab) {
  const std::optional<int32_t> eos = vocab.find(kEosToken);
  const auto end = eos ? std::find(ids.begin(), ids.end(), *eos) : ids.end();
  const std::vector<std::string_view> tokens =
      vocab.decode(ids.first(static_cast<size_t>(end - ids.begin())));
  return join_until_eos(std::span<const std::string_view>(tokens));
}

}  // namespace recur
