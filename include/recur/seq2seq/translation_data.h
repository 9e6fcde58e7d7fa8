// English-French sentence pairs for sequence-to-sequence translation, read and tokenized exactly as
// d2l 1.0's MTFraEng does (d2l 10.5), with the two vocabularies and the unpadded id sequences that
// translation_batches.h pads into minibatches.
//
//   auto pairs = read_translation_pairs(data / "fra-eng/fra.txt", 641);   // d2l's first 641 pairs
//   auto vocabs = build_translation_vocabs(pairs, 2, 9, LongSequences::kTruncate);
//   EncodedPairs encoded = encode_translation_pairs(pairs, vocabs, 9, LongSequences::kTruncate);
//
// Tokens are d2l's: U+202F and U+00A0 become spaces, the text is lowercased, a space goes before
// each of , . ! ? that does not follow a space, and the result is split at U+0020 (other spacing
// characters such as U+2009 stay inside tokens). Every side ends in <eos>.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "recur/text/vocab.h"

namespace recur {

// Reserved tokens of both vocabularies, in this order after <unk> (so Vocab::build gives <unk> 0,
// <pad> 1, <bos> 2, <eos> 3).
inline constexpr std::string_view kPadToken = "<pad>";
inline constexpr std::string_view kBosToken = "<bos>";
inline constexpr std::string_view kEosToken = "<eos>";

// d2l's MTFraEng._preprocess on one side of a pair. Lowercasing is to_lower_code_point's
// (recur/text/preprocess.h), which equals Python's str.lower() on every character of fra.txt.
// Throws ValueError with the byte offset when `text` is not valid UTF-8.
[[nodiscard]] std::string preprocess_translation_text(std::string_view text);

// d2l's MTFraEng._tokenize on one preprocessed side: split at ' ', drop empty strings, append <eos>.
[[nodiscard]] std::vector<std::string> tokenize_translation_side(std::string_view preprocessed);

struct TranslationPair {
  std::vector<std::string> source;  // [source tokens], ends in <eos>
  std::vector<std::string> target;  // [target tokens], ends in <eos>
  int64_t line = 0;                 // 1-based line in the file
};

// Pairs of a tab-separated text: first column source, second target, further columns ignored.
// Empty lines are skipped (a trailing \r is dropped first, so CRLF files read the same); a leading
// byte-order mark is dropped. `max_pairs` > 0 stops after that many pairs (d2l's num_train +
// num_val = 640 reads 641 pairs); 0 reads all. Throws IoError "<source_name>:<line>: ..." for a
// line without a tab, an empty source or target (nothing but spaces), or invalid UTF-8 (with the
// byte offset in the line); ValueError for a negative max_pairs.
[[nodiscard]] std::vector<TranslationPair> parse_translation_pairs(std::string_view text,
                                                                   const std::string& source_name,
                                                                   int64_t max_pairs = 0);
// parse_translation_pairs on a file's content; IoError naming the path when it cannot be read.
[[nodiscard]] std::vector<TranslationPair> read_translation_pairs(const std::filesystem::path& path,
                                                                  int64_t max_pairs = 0);

// What happens to a side longer than `steps` tokens (<eos> included in the count).
enum class LongSequences {
  kTruncate,  // "truncate": keep its first `steps` tokens, so <eos> may be cut off (d2l)
  kDrop,      // "drop": leave out every pair with a side longer than `steps`
};
// "truncate" or "drop"; anything else throws ValueError listing both.
[[nodiscard]] LongSequences parse_long_sequences(std::string_view name);
[[nodiscard]] std::string_view long_sequences_name(LongSequences mode);

struct TranslationVocabs {
  Vocab source;
  Vocab target;
};

// Source and target vocabularies with reserved tokens <pad>, <bos>, <eos>. Tokens are counted as
// d2l counts them: after truncation to `steps` (kTruncate) or over the kept pairs only (kDrop);
// min_freq as Vocab's (d2l uses 2). Throws ValueError for steps < 1, no pairs, every pair dropped,
// or a min_freq that leaves no token.
[[nodiscard]] TranslationVocabs build_translation_vocabs(std::span<const TranslationPair> pairs,
                                                         int64_t min_freq, int64_t steps,
                                                         LongSequences long_sequences);

// Ids of the special tokens in a vocabulary (one loaded from a file need not have them at 1, 2, 3).
struct SpecialIds {
  int32_t pad = 1;
  int32_t bos = 2;
  int32_t eos = 3;
  int32_t unk = 0;
};
// Throws ValueError naming the first of <pad>, <bos>, <eos> that `vocab` lacks.
[[nodiscard]] SpecialIds special_ids(const Vocab& vocab);

struct EncodedPair {
  std::vector<int32_t> source;  // [<= steps] ids, unpadded, <eos> last unless truncated
  std::vector<int32_t> target;  // [<= steps] ids, unpadded, no <bos>, <eos> last unless truncated
  int64_t line = 0;             // the pair's TranslationPair::line
};

struct EncodedPairs {
  std::vector<EncodedPair> pairs;  // the kept pairs, in input order
  int64_t dropped = 0;             // pairs left out by LongSequences::kDrop
  int64_t source_unknown = 0;      // kept source tokens mapped to <unk> (a literal "<unk>" is not counted)
  int64_t target_unknown = 0;      // kept target tokens mapped to <unk>
};

// Ids of every pair, each side truncated to `steps` or the pair dropped. Throws ValueError for
// steps < 1.
[[nodiscard]] EncodedPairs encode_translation_pairs(std::span<const TranslationPair> pairs,
                                                    const TranslationVocabs& vocabs, int64_t steps,
                                                    LongSequences long_sequences);

// One raw input line to translate: preprocess, tokenize, <eos>, keep the first `steps` ids (as d2l's
// predict_step). Throws ValueError for steps < 1 or invalid UTF-8 (with the byte offset).
[[nodiscard]] std::vector<int32_t> encode_source_sentence(std::string_view raw_line,
                                                          const Vocab& source_vocab, int64_t steps);

// Tokens joined by single spaces, stopping before the first <eos> (d2l prints "va !").
[[nodiscard]] std::string detokenize_translation(std::span<const std::string> tokens);
[[nodiscard]] std::string detokenize_translation(std::span<const std::string_view> tokens);
// The same for ids of `vocab`, stopping at its <eos> (when it has one). Throws ValueError naming
// the first id before that <eos> outside [0, vocab.size()).
[[nodiscard]] std::string detokenize_translation(std::span<const int32_t> ids, const Vocab& vocab);

}  // namespace recur
