// Token <-> index mapping (d2l 9.2's Vocab). Built from token counts, index 0 is <unk>, then the
// reserved tokens in the order given, then every token seen at least min_freq times, most frequent
// first; ties keep the order of first occurrence in the text (what d2l gets from Counter and a
// stable sort). A model's vocabulary can also be given as a token list with its unknown token at
// any index (a config.json's "vocab" and "unk"). Saved as a text file that round-trips every token
// exactly, whitespace included.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace recur {

struct VocabOptions {
  int64_t min_freq = 0;                        // tokens seen fewer times map to <unk>; >= 0
  std::vector<std::string> reserved_tokens{};  // indices 1, 2, ... in this order (e.g. <bos>, <eos>)
};

// Token indices of a sequence, and how many tokens were not in the vocabulary (mapped to <unk>).
struct EncodedTokens {
  std::vector<int32_t> ids;   // [num_tokens]
  int64_t unknown_count = 0;  // tokens replaced by <unk>; a literal "<unk>" token is not counted
};

class Vocab {
 public:
  static constexpr int32_t kUnkIndex = 0;  // where build() and parse() put <unk>
  static constexpr std::string_view kUnkToken = "<unk>";

  // Only <unk>.
  Vocab();

  // `tokens` in index order, with `unk` (which must be among them) standing for every token outside
  // the list; counts are 0. Throws ValueError naming a repeated token or a missing `unk`.
  [[nodiscard]] static Vocab from_tokens(std::vector<std::string> tokens, std::string_view unk = kUnkToken);

  // Counts `tokens` and orders them as described above. Throws ValueError when `tokens` is empty,
  // when min_freq is negative, or when min_freq leaves no counted token (only <unk> and reserved
  // tokens would remain); the message names the most frequent token and its count.
  [[nodiscard]] static Vocab build(std::span<const std::string_view> tokens,
                                   const VocabOptions& options = {});
  // build() from counts already taken: the distinct tokens in order of first occurrence and their
  // counts (what a streaming reader collects); the same vocabulary as build() on the tokens.
  [[nodiscard]] static Vocab from_counts(std::span<const std::string_view> distinct,
                                         std::span<const int64_t> counts, const VocabOptions& options = {});

  [[nodiscard]] int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  [[nodiscard]] const std::vector<std::string>& tokens() const { return tokens_; }  // [size], index order
  // Index of the unknown token: kUnkIndex unless from_tokens() put it elsewhere.
  [[nodiscard]] int32_t unk_index() const { return unk_index_; }
  [[nodiscard]] const std::string& unk() const { return tokens_[static_cast<size_t>(unk_index_)]; }
  // Token at `index`; throws ValueError outside [0, size()).
  [[nodiscard]] const std::string& token(int32_t index) const;
  // Training count of the token at `index`: reserved tokens have 0, <unk> has the total count of
  // the tokens that min_freq dropped.
  [[nodiscard]] int64_t count(int32_t index) const;
  // Index of `token`, or nothing when it is not in the vocabulary.
  [[nodiscard]] std::optional<int32_t> find(std::string_view token) const;
  // Index of `token`, unk_index() when it is not in the vocabulary.
  [[nodiscard]] int32_t index(std::string_view token) const;

  [[nodiscard]] EncodedTokens encode(std::span<const std::string_view> tokens) const;
  // Tokens of `ids`; throws ValueError naming the first id outside [0, size()).
  [[nodiscard]] std::vector<std::string_view> decode(std::span<const int32_t> ids) const;

  // Text form: "recur-vocab 1", "size N", then one line per index: the escaped token, a tab, its
  // count. Escapes: \\ \s (space) \t \n \r and \xHH for other control bytes. The form puts <unk>
  // at index 0, so serialize() throws ValueError for a vocabulary that has it elsewhere.
  [[nodiscard]] std::string serialize() const;
  // Parses serialize()'s form; `source` names the input in messages. Throws IoError with the line.
  [[nodiscard]] static Vocab parse(std::string_view text, const std::string& source);
  void save(const std::filesystem::path& path) const;
  [[nodiscard]] static Vocab load(const std::filesystem::path& path);

  friend bool operator==(const Vocab& a, const Vocab& b) {
    return a.tokens_ == b.tokens_ && a.counts_ == b.counts_ && a.unk_index_ == b.unk_index_;
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  void append(std::string token, int64_t count);

  std::vector<std::string> tokens_;  // [size]
  std::vector<int64_t> counts_;      // [size]
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> index_;
  int32_t unk_index_ = kUnkIndex;
};

// Escaping used by the vocabulary and n-gram model files (see Vocab::serialize).
[[nodiscard]] std::string escape_token(std::string_view token);
// Inverse of escape_token; nothing when `text` holds a malformed escape.
[[nodiscard]] std::optional<std::string> unescape_token(std::string_view text);

}  // namespace recur
