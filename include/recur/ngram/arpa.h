// Backoff n-gram models in the ARPA text format (Doug Paul's format, as SRILM and KenLM write it):
// the in-memory table, a writer with KenLM lmplz's conventions and a reader for KenLM and SRILM files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace recur {

// The n-grams of one order, in file order. Word ids index ArpaModel::vocab.
struct ArpaOrder {
  std::vector<uint32_t> word_ids = {};  // [count * order], oldest word first
  std::vector<float> log_prob = {};     // [count], log10 p(last word | the others)
  std::vector<float> log_backoff = {};  // [count], log10 backoff; 0 where the file has none
  [[nodiscard]] int64_t count() const { return static_cast<int64_t>(log_prob.size()); }
};

struct ArpaModel {
  std::vector<std::string> vocab = {};  // [num unigrams] word of each id: the unigrams in file order
  std::vector<ArpaOrder> orders = {};   // [order], orders[n - 1] holds the n-grams
  [[nodiscard]] int order() const { return static_cast<int>(orders.size()); }
};

// ARPA text with lmplz's layout: "\data\", "ngram n=count", one "\n-grams:" section per order with
// "prob<TAB>w1 w2<TAB>backoff" lines (a backoff on every line below the highest order, 0 where it is
// 0), "\end\". Numbers are format_arpa_float().
[[nodiscard]] std::string format_arpa(const ArpaModel& model);
// Writes format_arpa() atomically to `path`; IoError naming the path on failure.
void write_arpa_file(const ArpaModel& model, const std::filesystem::path& path);

// Parses ARPA text; `source` names it in errors, which give source:line. Accepts what KenLM's
// reader accepts: comment lines starting with '#' and blank lines before "\data\", a missing
// backoff column, any order, CRLF line ends, fields separated by tabs or spaces. Throws IoError on
// malformed lines, counts that disagree with "\data\", n-grams over words that are not unigrams,
// positive log probabilities, non-finite backoffs and a missing "\end\".
[[nodiscard]] ArpaModel parse_arpa(std::string_view text, const std::string& source);
[[nodiscard]] ArpaModel read_arpa_file(const std::filesystem::path& path);

// True when `text` starts (after blank and '#' lines) with "\data\": how `ngram eval` tells an ARPA
// model from recur's own format.
[[nodiscard]] bool looks_like_arpa(std::string_view text);

// The shortest decimal that reads back to the same float, laid out as KenLM's double-conversion
// does (ToShortestSingle with decimal notation for exponents -6 to 20): -0.30103, 0, -1e-7, 1e+21
// is "1e21". format_shortest_double does the same for double (query's perplexity lines).
[[nodiscard]] std::string format_arpa_float(float value);
[[nodiscard]] std::string format_shortest_double(double value);

}  // namespace recur
