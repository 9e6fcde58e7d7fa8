// Additive-smoothing n-gram model: training counts, probabilities, perplexity and the model file.
#include "recur/text/ngram_model.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "recur/io/atomic_file.h"
#include "recur/text/text_file.h"
#include "text/enum_names.h"
#include "text/line_reader.h"

namespace recur {

namespace {
using text_format::LineReader;
using text_format::parse_number;
constexpr text_format::FileFormat kFormat = {
    .magic = "recur-ngram", .version = 1, .title = "a recur n-gram model", .name = "n-gram model"};
constexpr enum_names::NameTable<Smoothing, 2> kSmoothingNames = {
    {{Smoothing::laplace, "laplace"}, {Smoothing::add_k, "add-k"}}};

void append_number(std::string& out, auto value) {
  char buffer[32];
  const auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, ptr);
}
}  // namespace

Smoothing parse_smoothing(std::string_view name) {
  return enum_names::parse_name(kSmoothingNames, name, "smoothing");
}

std::string_view smoothing_name(Smoothing smoothing) {
  return enum_names::name_of(kSmoothingNames, smoothing);
}

void validate_ngram_options(const NgramOptions& o) {
  check(o.order >= 1, "n-gram model: order must be at least 1 (1 = unigram), got " + std::to_string(o.order));
  check(o.order <= kMaxNgramOrder, "n-gram model: order must be at most " + std::to_string(kMaxNgramOrder) +
                                       " (a key holds 128 bits), got " + std::to_string(o.order));
  check(std::isfinite(o.k) && o.k > 0,
        "n-gram model: the add-k constant k must be finite and > 0, got " + std::to_string(o.k));
  check(o.smoothing != Smoothing::laplace || o.k == 1.0,
        "n-gram model: laplace smoothing adds one (k = 1), got k = " + std::to_string(o.k) +
            "; use add-k smoothing for another constant");
  check(o.min_freq >= 0, "n-gram model: min_freq must be >= 0, got " + std::to_string(o.min_freq));
}

NgramModel::NgramModel(const NgramOptions& options, Vocab vocab)
    : options_(options), vocab_(std::move(vocab)), ngrams_(options.order, vocab_.size()) {
  if (options.order > 1) histories_.emplace(options.order - 1, vocab_.size());
}

void NgramModel::count_line(std::span<const int32_t> ids, std::vector<int32_t>& padded) {
  // padded = <bos>^(n-1) ids <eos>; each window of n ends at a predicted token, and its first n-1
  // ids (the windows of n-1 that are followed by a token) are the histories.
  const auto n = static_cast<size_t>(order());
  padded.assign(n - 1, kBosIndex);
  padded.insert(padded.end(), ids.begin(), ids.end());
  padded.push_back(kEosIndex);
  ngrams_.add_windows(padded);
  if (histories_) histories_->add_windows(std::span<const int32_t>(padded).first(padded.size() - 1));
}

NgramModel NgramModel::train(const TokenizedText& text, const NgramOptions& options) {
  validate_ngram_options(options);
  check(text.num_tokens() > 0, "n-gram model: the training text has no tokens");
  Vocab vocab = Vocab::build(
      text.tokens(),
      {.min_freq = options.min_freq, .reserved_tokens = {std::string(kBosToken), std::string(kEosToken)}});
  NgramModel model(options, std::move(vocab));
  std::vector<int32_t> padded;
  for (int64_t i = 0; i < text.num_lines(); ++i)
    model.count_line(model.vocab_.encode(text.line(i)).ids, padded);
  return model;
}

NgramModel NgramModel::train(std::string_view raw_text, const NgramOptions& options) {
  validate_ngram_options(options);
  return train(tokenize_lines(raw_text, options.mode, options.level), options);
}

void NgramModel::check_history(std::span<const int32_t> history, const char* operation) const {
  if (history.size() != static_cast<size_t>(order() - 1))
    throw ValueError(std::string("NgramModel::") + operation + ": an order-" + std::to_string(order()) +
                     " model needs a history of " + std::to_string(order() - 1) + " token ids, got " +
                     std::to_string(history.size()));
  for (int32_t id : history)
    if (id < 0 || id >= vocab_.size())
      throw ValueError(std::string("NgramModel::") + operation + ": history token id " + std::to_string(id) +
                       " outside [0, " + std::to_string(vocab_.size()) + ")");
}

int64_t NgramModel::ngram_count(std::span<const int32_t> ngram) const { return ngrams_.count(ngram); }

int64_t NgramModel::history_count(std::span<const int32_t> history) const {
  check_history(history, "history_count");
  return histories_ ? histories_->count(history) : ngrams_.total();
}

double NgramModel::probability(std::span<const int32_t> history, int32_t token) const {
  check_history(history, "probability");
  if (!(token >= 0 && token < vocab_.size()))
    throw ValueError("NgramModel::probability: token id " + std::to_string(token) + " outside [0, " +
                     std::to_string(vocab_.size()) + ")");
  if (token == kBosIndex) return 0.0;
  // The n-gram is the history followed by the token; order <= kMaxNgramOrder, so a small buffer is enough.
  int32_t ngram[kMaxNgramOrder];
  std::copy(history.begin(), history.end(), ngram);
  ngram[history.size()] = token;
  const auto c_hw = static_cast<double>(ngrams_.count(std::span<const int32_t>(ngram, history.size() + 1)));
  const auto c_h = static_cast<double>(histories_ ? histories_->count(history) : ngrams_.total());
  return (c_hw + options_.k) / (c_h + options_.k * num_predictable());
}

double NgramModel::log_probability(std::span<const int32_t> history, int32_t token) const {
  return std::log(probability(history, token));
}

double NgramModel::line_log_probability(std::span<const int32_t> ids) const {
  const auto n = static_cast<size_t>(order());
  std::vector<int32_t> padded(n - 1, kBosIndex);
  padded.insert(padded.end(), ids.begin(), ids.end());
  padded.push_back(kEosIndex);
  double sum = 0;
  for (size_t end = n - 1; end < padded.size(); ++end)
    sum += log_probability(std::span<const int32_t>(padded).subspan(end - (n - 1), n - 1), padded[end]);
  return sum;
}

double NgramModel::line_log_probability(std::span<const std::string_view> tokens) const {
  return line_log_probability(vocab_.encode(tokens).ids);
}

PerplexityReport NgramModel::evaluate(const TokenizedText& text) const {
  check(text.num_tokens() > 0, "n-gram perplexity: the evaluation text has no tokens");
  PerplexityReport report;
  for (int64_t i = 0; i < text.num_lines(); ++i) {
    const EncodedTokens encoded = vocab_.encode(text.line(i));
    report.num_lines++;
    report.num_tokens += static_cast<int64_t>(encoded.ids.size());
    report.oov_count += encoded.unknown_count;
    report.log_likelihood += line_log_probability(encoded.ids);
  }
  report.num_predictions = report.num_tokens + report.num_lines;
  report.cross_entropy = -report.log_likelihood / static_cast<double>(report.num_predictions);
  report.perplexity = std::exp(report.cross_entropy);
  return report;
}

PerplexityReport NgramModel::evaluate(std::string_view raw_text) const {
  return evaluate(tokenize_lines(raw_text, options_.mode, options_.level));
}

std::string NgramModel::serialize() const {
  std::string out = std::string(kFormat.magic) + " " + std::to_string(kFormat.version) + "\n";
  out += "order " + std::to_string(order()) + "\n";
  out += "smoothing " + std::string(smoothing_name(options_.smoothing)) + "\n";
  out += "k ";
  append_number(out, options_.k);  // shortest form that reads back to the same double
  out += "\nmin_freq " + std::to_string(options_.min_freq) + "\n";
  out += "mode " + std::string(preprocess_mode_name(options_.mode)) + "\n";
  out += "level " + std::string(token_level_name(options_.level)) + "\n";
  const std::string vocab_text = vocab_.serialize();
  out += "vocab_bytes " + std::to_string(vocab_text.size()) + "\n";
  out += vocab_text;
  out += "ngrams " + std::to_string(ngrams_.distinct()) + "\n";
  std::vector<int32_t> ids(static_cast<size_t>(order()));
  for (int64_t i = 0; i < ngrams_.distinct(); ++i) {
    ngrams_.ngram_at(i, ids);
    for (int32_t id : ids) {
      append_number(out, id);
      out += ' ';
    }
    append_number(out, ngrams_.count_at(i));
    out += '\n';
  }
  return out;
}

namespace {

// The option lines after the header; a bad value is an error on its line.
NgramOptions read_options(LineReader& in) {
  NgramOptions options;
  if (!parse_number(in.read_field("order"), options.order)) throw in.error("order is not an integer");
  try {
    options.smoothing = parse_smoothing(in.read_field("smoothing"));
    if (!parse_number(in.read_field("k"), options.k)) throw in.error("k is not a number");
    if (!parse_number(in.read_field("min_freq"), options.min_freq))
      throw in.error("min_freq is not an integer");
    options.mode = parse_preprocess_mode(in.read_field("mode"));
    options.level = parse_token_level(in.read_field("level"));
    validate_ngram_options(options);
  } catch (const ValueError& e) {
    throw in.error(e.what());
  }
  return options;
}

// "vocab_bytes N" and the N bytes of Vocab::serialize that follow it.
Vocab read_vocab(LineReader& in, const std::string& source) {
  size_t vocab_bytes = 0;
  if (!parse_number(in.read_field("vocab_bytes"), vocab_bytes) || vocab_bytes > in.bytes_left())
    throw in.error("vocab_bytes is not a size within the file");
  Vocab vocab = Vocab::parse(in.take_bytes(vocab_bytes), source + " (embedded vocabulary)");
  if (vocab.size() < 3 || vocab.token(NgramModel::kBosIndex) != NgramModel::kBosToken ||
      vocab.token(NgramModel::kEosIndex) != NgramModel::kEosToken)
    throw in.error("the vocabulary must hold <unk>, <bos>, <eos> at indices 0, 1, 2");
  return vocab;
}

// N-gram line `index` of `total`: ids.size() token ids into `ids`, then the count (returned, > 0).
int64_t read_ngram_line(LineReader& in, std::span<int32_t> ids, int64_t index, int64_t total) {
  std::string_view line;
  if (!in.next(line))
    throw in.error("the file ends after " + std::to_string(index) + " of " + std::to_string(total) +
                   " n-grams");
  const size_t n = ids.size();
  int64_t count = 0;
  for (size_t j = 0; j <= n; ++j) {
    const size_t space = line.find(' ');
    const std::string_view item = line.substr(0, space);
    const bool is_last = j == n;
    if (is_last != (space == std::string_view::npos))
      throw in.error("expected " + std::to_string(n) + " token ids and a count");
    const bool ok = is_last ? parse_number(item, count) && count > 0 : parse_number(item, ids[j]);
    if (!ok) throw in.error("'" + std::string(item) + "' is not a valid " + (is_last ? "count" : "token id"));
    if (!is_last) line.remove_prefix(space + 1);
  }
  return count;
}

}  // namespace

NgramModel NgramModel::parse(std::string_view text, const std::string& source) {
  // A file whose line ends became CRLF (an editor, git's autocrlf) reads as written: tokens escape
  // '\r', so every CR before LF is a line end, and vocab_bytes counts the LF form.
  const std::string lf_text = text_format::lf_line_ends(text);
  LineReader in(lf_text, source);
  in.read_header(kFormat);
  const NgramOptions options = read_options(in);
  NgramModel model = [&] {
    Vocab vocab = read_vocab(in, source);
    try {
      return NgramModel(options, std::move(vocab));
    } catch (const ValueError& e) {
      throw in.error(e.what());
    }
  }();
  int64_t num_ngrams = 0;
  if (!parse_number(in.read_field("ngrams"), num_ngrams) || num_ngrams < 0)
    throw in.error("ngrams is not a count >= 0");
  const auto n = static_cast<size_t>(options.order);
  std::vector<int32_t> ids(n);
  for (int64_t i = 0; i < num_ngrams; ++i) {
    const int64_t count = read_ngram_line(in, ids, i, num_ngrams);
    try {
      if (model.ngrams_.count(ids) != 0) throw in.error("this n-gram appears twice");
      model.ngrams_.add(ids, count);
      if (model.histories_) model.histories_->add(std::span<const int32_t>(ids).first(n - 1), count);
    } catch (const ValueError& e) {
      throw in.error(e.what());
    }
  }
  in.expect_end("unexpected content after the n-grams");
  return model;
}

void NgramModel::save(const std::filesystem::path& path) const { write_file_atomically(path, serialize()); }

NgramModel NgramModel::load(const std::filesystem::path& path) {
  return parse(check_text(read_file_bounded(path, kMaxTextFileBytes, "an n-gram model file"), path.string(),
                          {.allows_blank = true}),
               path.string());
}

}  // namespace recur
