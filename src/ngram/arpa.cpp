// ARPA text: writing with lmplz's conventions (lm/common/print.cc) and reading with the leniency of
// KenLM's lm/read_arpa.cc, so that files from lmplz, SRILM and recur load the same way.
#include "recur/ngram/arpa.h"

#include <fmt/core.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "ngram/probing_format.h"
#include "recur/core/error.h"
#include "recur/io/atomic_file.h"  // read_file

namespace recur {

namespace {

// Lays out the shortest round-trip digits the way double-conversion's ToShortest does with
// KenLM's settings (NO_FLAGS, decimal for exponents in [-6, 21), no '+' in exponents). Writes at
// most 40 characters to `out` and returns how many.
template <typename Float>
size_t format_shortest_to(Float value, char* out) {
  const auto put = [&](std::string_view text) {
    std::memcpy(out, text.data(), text.size());
    return text.size();
  };
  if (std::isnan(value)) return put("NaN");
  if (std::isinf(value)) return put(value < 0 ? "-inf" : "inf");
  if (value == 0) return put(std::signbit(value) ? "-0" : "0");
  char sci[48];  // "-d.ddde-05"
  const char* sci_end = std::to_chars(sci, sci + sizeof sci, value, std::chars_format::scientific).ptr;
  char digits[24];
  int num_digits = 0;
  const char* p = sci;
  for (; *p != 'e'; ++p)
    if (*p >= '0' && *p <= '9') digits[num_digits++] = *p;
  ++p;
  if (*p == '+') ++p;
  int exponent = 0;
  std::from_chars(p, sci_end, exponent);
  size_t n = 0;
  if (value < 0) out[n++] = '-';
  const int decimal_point = exponent + 1;  // digits before the point
  if (exponent >= -6 && exponent < 21) {
    if (decimal_point <= 0) {
      out[n++] = '0';
      out[n++] = '.';
      for (int i = 0; i < -decimal_point; ++i) out[n++] = '0';
      for (int i = 0; i < num_digits; ++i) out[n++] = digits[i];
    } else {
      for (int i = 0; i < num_digits; ++i) {
        if (i == decimal_point) out[n++] = '.';
        out[n++] = digits[i];
      }
      for (int i = num_digits; i < decimal_point; ++i) out[n++] = '0';
    }
    return n;
  }
  out[n++] = digits[0];
  if (num_digits > 1) {
    out[n++] = '.';
    for (int i = 1; i < num_digits; ++i) out[n++] = digits[i];
  }
  out[n++] = 'e';
  n += static_cast<size_t>(std::to_chars(out + n, out + n + 8, exponent).ptr - (out + n));
  return n;
}

template <typename Float>
std::string format_shortest(Float value) {
  char buffer[48];
  return std::string(buffer, format_shortest_to(value, buffer));
}

// Writes the ARPA text through `sink(const char*, size_t)`.
template <typename Sink>
void emit_arpa(const ArpaModel& model, Sink& sink) {
  check(!model.orders.empty(), "format_arpa: the model has no n-gram orders");
  const auto put = [&](std::string_view text) { sink(text.data(), text.size()); };
  put("\\data\\\n");
  for (int n = 1; n <= model.order(); ++n)
    put(fmt::format("ngram {}={}\n", n, model.orders[static_cast<size_t>(n - 1)].count()));
  put("\n");
  char number[48];
  for (int n = 1; n <= model.order(); ++n) {
    const ArpaOrder& grams = model.orders[static_cast<size_t>(n - 1)];
    const bool has_backoff = n < model.order();
    put(fmt::format("\\{}-grams:\n", n));
    const uint32_t* ids = grams.word_ids.data();
    for (int64_t i = 0; i < grams.count(); ++i) {
      sink(number, format_shortest_to(grams.log_prob[static_cast<size_t>(i)], number));
      for (int k = 0; k < n; ++k) {
        put(k == 0 ? "\t" : " ");
        put(model.vocab[ids[i * n + k]]);
      }
      if (has_backoff) {
        put("\t");
        sink(number, format_shortest_to(grams.log_backoff[static_cast<size_t>(i)], number));
      }
      put("\n");
    }
    put("\n");
  }
  put("\\end\\\n");
}

// Blank as KenLM's IsEntirelyWhiteSpace (isspace in the C locale).
bool is_blank(std::string_view line) {
  for (char c : line)
    if (!(c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r')) return false;
  return true;
}

// KenLM's kARPASpaces: tab, newline, carriage return and space separate fields; a vertical tab
// may be part of a word.
bool is_field_space(char c) { return c == '\t' || c == '\n' || c == '\r' || c == ' '; }

void split_fields(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_field_space(line[i])) ++i;
    if (i == line.size()) break;
    const size_t start = i;
    while (i < line.size() && !is_field_space(line[i])) ++i;
    fields.push_back(line.substr(start, i - start));
  }
}

// Lines of `text` numbered from 1, without '\n' and a trailing '\r'.
class LineCursor {
 public:
  LineCursor(std::string_view text, const std::string& source) : rest_(text), source_(source) {}
  bool next(std::string_view& line) {
    if (rest_.empty()) return false;
    const size_t end = rest_.find('\n');
    line = rest_.substr(0, end);
    rest_.remove_prefix(end == std::string_view::npos ? rest_.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++number_;
    return true;
  }
  // Next line that is not blank; false at the end.
  bool next_non_blank(std::string_view& line) {
    while (next(line))
      if (!is_blank(line)) return true;
    return false;
  }
  [[noreturn]] void fail(std::string_view what) const {
    throw IoError(fmt::format("{}:{}: {}", source_, number_, what));
  }
  [[noreturn]] void fail_at_end(std::string_view what) const {
    throw IoError(fmt::format("{}:{}: {} (end of file)", source_, number_, what));
  }

 private:
  std::string_view rest_;
  const std::string& source_;
  int64_t number_ = 0;
};

bool parse_float(std::string_view text, float& value) {
  // from_chars does not take a leading '+', which strtof (KenLM) does.
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size() && !text.empty();
}

// Word -> id while reading, open addressing over id + 1; the words themselves live in the
// model's vocabulary. (std::unordered_map's node per word made a third of the reading time.)
class WordIds {
 public:
  explicit WordIds(size_t expected) : slots_(std::bit_ceil(std::max<size_t>(16, 2 * expected)), 0) {}
  // The id of `word`, or UINT32_MAX.
  [[nodiscard]] uint32_t find(std::string_view word, const std::vector<std::string>& vocab) const {
    const size_t mask = slots_.size() - 1;
    for (size_t slot = hash(word) & mask;; slot = (slot + 1) & mask) {
      const uint32_t entry = slots_[slot];
      if (entry == 0) return UINT32_MAX;
      if (vocab[entry - 1] == word) return entry - 1;
    }
  }
  // Adds vocab[id]; false when the word is there already.
  bool insert(uint32_t id, const std::vector<std::string>& vocab) {
    if (2 * (size_ + 1) > slots_.size()) {
      std::vector<uint32_t> old(slots_.size() * 2, 0);
      old.swap(slots_);
      for (uint32_t entry : old)
        if (entry != 0) place(entry - 1, vocab);
    }
    if (find(vocab[id], vocab) != UINT32_MAX) return false;
    place(id, vocab);
    ++size_;
    return true;
  }

 private:
  static uint64_t hash(std::string_view word) { return ngram_detail::hash_word(word); }
  void place(uint32_t id, const std::vector<std::string>& vocab) {
    const size_t mask = slots_.size() - 1;
    size_t slot = hash(vocab[id]) & mask;
    while (slots_[slot] != 0) slot = (slot + 1) & mask;
    slots_[slot] = id + 1;
  }
  std::vector<uint32_t> slots_;  // [power of two] id + 1, 0 when empty
  size_t size_ = 0;
};

std::string quoted(std::string_view line) {
  constexpr size_t kMax = 80;
  return fmt::format("\"{}{}\"", line.substr(0, kMax), line.size() > kMax ? "..." : "");
}

}  // namespace

std::string format_arpa_float(float value) { return format_shortest(value); }
std::string format_shortest_double(double value) { return format_shortest(value); }

std::string format_arpa(const ArpaModel& model) {
  std::string out;
  auto sink = [&](const char* data, size_t size) { out.append(data, size); };
  emit_arpa(model, sink);
  return out;
}

void write_arpa_file(const ArpaModel& model, const std::filesystem::path& path) {
  // Streamed through a 1 MiB buffer to a temporary file renamed into place: a large model is never
  // held twice in memory, and an interrupted write never replaces a good file.
  const std::filesystem::path temporary = path.string() + fmt::format(".tmp.{}", ::getpid());
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr)
    throw IoError(fmt::format("cannot write '{}': {}", path.string(), std::strerror(errno)));
  std::string buffer;
  constexpr size_t kChunk = size_t{1} << 20;
  buffer.reserve(kChunk + 4096);
  bool is_ok = true;
  auto sink = [&](const char* data, size_t size) {
    buffer.append(data, size);
    if (buffer.size() >= kChunk) {
      is_ok = is_ok && std::fwrite(buffer.data(), 1, buffer.size(), file) == buffer.size();
      buffer.clear();
    }
  };
  try {
    emit_arpa(model, sink);
  } catch (...) {
    std::fclose(file);
    std::filesystem::remove(temporary);
    throw;
  }
  is_ok = is_ok && std::fwrite(buffer.data(), 1, buffer.size(), file) == buffer.size();
  is_ok = (std::fflush(file) == 0) && is_ok;
  is_ok = (std::fclose(file) == 0) && is_ok;
  std::error_code error;
  if (is_ok) std::filesystem::rename(temporary, path, error);
  if (!is_ok || error) {
    std::filesystem::remove(temporary, error);
    throw IoError(fmt::format("cannot write '{}' (disk full or not writable?)", path.string()));
  }
}

bool looks_like_arpa(std::string_view text) {
  std::string source;
  LineCursor lines(text, source);
  std::string_view line;
  while (lines.next(line)) {
    if (is_blank(line) || line.starts_with('#')) continue;
    return line == "\\data\\";
  }
  return false;
}

ArpaModel parse_arpa(std::string_view text, const std::string& source) {
  LineCursor lines(text, source);
  std::string_view line;
  // Header: KenLM allows blank lines and '#' comments before "\data\".
  while (true) {
    if (!lines.next(line)) lines.fail_at_end("no \"\\data\\\" line: not an ARPA file");
    if (is_blank(line) || line.starts_with('#')) continue;
    if (line != "\\data\\") {
      if (line.size() >= 2 && static_cast<unsigned char>(line[0]) == 0x1f &&
          static_cast<unsigned char>(line[1]) == 0x8b)
        lines.fail("looks like a gzip file; decompress it (zcat) first");
      lines.fail(fmt::format("expected \"\\data\\\", got {}", quoted(line)));
    }
    break;
  }
  std::vector<int64_t> counts;
  while (lines.next(line) && !is_blank(line)) {
    if (!line.starts_with("ngram "))
      lines.fail(fmt::format("expected \"ngram N=COUNT\", got {}", quoted(line)));
    const std::string_view rest = line.substr(6);
    const size_t eq = rest.find('=');
    int order = 0;
    int64_t count = -1;
    std::string_view order_text = eq == std::string_view::npos ? rest : rest.substr(0, eq);
    while (!order_text.empty() && order_text.front() == ' ') order_text.remove_prefix(1);
    std::string_view count_text = eq == std::string_view::npos ? std::string_view() : rest.substr(eq + 1);
    while (!count_text.empty() && (count_text.back() == ' ' || count_text.back() == '\t'))
      count_text.remove_suffix(1);
    const auto order_parse = std::from_chars(order_text.data(), order_text.data() + order_text.size(), order);
    const auto count_parse = std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
    if (eq == std::string_view::npos || order_parse.ec != std::errc() ||
        order_parse.ptr != order_text.data() + order_text.size() || count_parse.ec != std::errc() ||
        count_parse.ptr != count_text.data() + count_text.size() || count_text.empty() || count < 0)
      lines.fail(fmt::format("expected \"ngram N=COUNT\", got {}", quoted(line)));
    if (order != static_cast<int>(counts.size()) + 1)
      lines.fail(fmt::format("n-gram orders must be consecutive from 1: expected ngram {}=, got {}",
                             counts.size() + 1, quoted(line)));
    counts.push_back(count);
  }
  if (counts.empty()) lines.fail("\"\\data\\\" lists no \"ngram N=COUNT\" lines");
  if (counts[0] == 0) lines.fail("the model has no unigrams (ngram 1=0)");

  ArpaModel model;
  model.orders.resize(counts.size());
  WordIds word_ids(
      static_cast<size_t>(std::min<int64_t>(counts[0], static_cast<int64_t>(text.size() / 4 + 1))));
  std::vector<std::string_view> fields;
  const int max_order = static_cast<int>(counts.size());
  for (int n = 1; n <= max_order; ++n) {
    if (!lines.next_non_blank(line)) lines.fail_at_end(fmt::format("expected \"\\{}-grams:\"", n));
    if (line != fmt::format("\\{}-grams:", n))
      lines.fail(fmt::format("expected \"\\{}-grams:\", got {}", n, quoted(line)));
    ArpaOrder& grams = model.orders[static_cast<size_t>(n - 1)];
    const auto count = static_cast<size_t>(counts[static_cast<size_t>(n - 1)]);
    // Reserve from the header only up to what the text could hold (a fuzzed count may be huge).
    const size_t plausible = std::min(count, text.size() / 4 + 1);
    grams.word_ids.reserve(plausible * static_cast<size_t>(n));
    grams.log_prob.reserve(plausible);
    grams.log_backoff.reserve(plausible);
    for (size_t i = 0; i < count; ++i) {
      if (!lines.next(line) || is_blank(line))
        lines.fail(fmt::format("\\data\\ announces {} {}-grams, the section has {}", count, n, i));
      split_fields(line, fields);
      const size_t num_fields = fields.size();
      if (num_fields != static_cast<size_t>(n) + 1 && num_fields != static_cast<size_t>(n) + 2)
        lines.fail(fmt::format("expected a log10 probability, {} word{} and an optional backoff, got {}", n,
                               n == 1 ? "" : "s", quoted(line)));
      float log_prob = 0;
      if (!parse_float(fields[0], log_prob) || std::isnan(log_prob))
        lines.fail(fmt::format("bad log10 probability {}", quoted(fields[0])));
      if (log_prob > 0) lines.fail(fmt::format("positive log10 probability {}", fields[0]));
      float log_backoff = 0;
      if (num_fields == static_cast<size_t>(n) + 2) {
        if (!parse_float(fields.back(), log_backoff) || !std::isfinite(log_backoff))
          lines.fail(fmt::format("bad backoff {}", quoted(fields.back())));
        if (n == max_order && log_backoff != 0)
          lines.fail(fmt::format("non-zero backoff {} on a highest-order n-gram", fields.back()));
      }
      for (int k = 0; k < n; ++k) {
        const std::string_view word = fields[static_cast<size_t>(1 + k)];
        if (n == 1) {
          const auto id = static_cast<uint32_t>(model.vocab.size());
          model.vocab.emplace_back(word);
          if (!word_ids.insert(id, model.vocab)) lines.fail(fmt::format("duplicate unigram \"{}\"", word));
          grams.word_ids.push_back(id);
        } else {
          const uint32_t id = word_ids.find(word, model.vocab);
          if (id == UINT32_MAX) lines.fail(fmt::format("\"{}\" is not among the unigrams", word));
          grams.word_ids.push_back(id);
        }
      }
      grams.log_prob.push_back(log_prob);
      grams.log_backoff.push_back(log_backoff);
    }
  }
  if (!lines.next_non_blank(line)) lines.fail_at_end("expected \"\\end\\\"");
  if (line != "\\end\\") {
    if (line.starts_with('\\')) lines.fail(fmt::format("expected \"\\end\\\", got {}", quoted(line)));
    lines.fail(
        fmt::format("more n-grams than \\data\\ announces, or expected \"\\end\\\": got {}", quoted(line)));
  }
  if (lines.next_non_blank(line)) lines.fail(fmt::format("text after \"\\end\\\": {}", quoted(line)));
  return model;
}

ArpaModel read_arpa_file(const std::filesystem::path& path) {
  return parse_arpa(read_file(path), path.string());
}

}  // namespace recur
