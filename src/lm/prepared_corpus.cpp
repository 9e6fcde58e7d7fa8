// recur prepare: a streaming tokenizer (count while spooling each token's number, then write the
// ids) into token files, and the loader that maps them back with every cross-check between the files.
#include "recur/lm/prepared_corpus.h"

#include <fmt/core.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "json_fields.h"
#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "recur/io/atomic_file.h"
#include "recur/lm/run.h"
#include "recur/text/token_file.h"
#include "recur/text/tokenizer.h"
#include "recur/text/utf8.h"
#include "token_interner.h"

namespace recur {

namespace fs = std::filesystem;

namespace {
constexpr std::string_view kFormat = "recur-prepared";
constexpr int64_t kFormatVersion = 1;

// Where a piece of text may end without cutting a token: after the last '\n' (word level: a line
// is preprocessed and split as a whole) or before an incomplete UTF-8 sequence (character level).
// 0 when the buffer holds no such place yet.
size_t safe_cut(std::string_view buf, bool whole_lines) {
  if (whole_lines) {
    const size_t nl = buf.rfind('\n');
    return nl == std::string_view::npos ? 0 : nl + 1;
  }
  const size_t n = buf.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const auto b = static_cast<unsigned char>(buf[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // a continuation byte: look further back for the lead
    const size_t length = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
    return back >= length ? n : n - back;
  }
  return n;  // no lead byte in the last 4: invalid anyway, the UTF-8 check reports it
}

// Reads `path` in chunks of `chunk_bytes` and calls consume(piece) with pieces that end at a
// safe_cut, with read_text_file's checks (BOM dropped; empty, NUL, invalid UTF-8 and blank files
// are IoErrors naming the file and the byte offset). Memory: one chunk plus the longest line.
template <typename Consume>
int64_t read_text_pieces(const fs::path& path, int64_t chunk_bytes, bool whole_lines,
                         const std::function<void(int64_t, int64_t)>& on_chunk, Consume&& consume) {
  check_regular_file(path, "a text file");
  const std::string name = path.string();
  std::error_code ec;
  const auto total = static_cast<int64_t>(fs::file_size(path, ec));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw IoError(fmt::format("cannot open '{}': {}", name, std::strerror(errno)));
  std::string buf;
  int64_t base = 0;  // offset of buf[0] in the text without its byte-order mark
  int64_t read_total = 0;
  bool at_start = true, is_eof = false, has_text = false;
  const auto step = static_cast<size_t>(std::max<int64_t>(chunk_bytes, 4));
  while (!is_eof) {
    const size_t old = buf.size();
    buf.resize(old + step);
    const size_t got = std::fread(buf.data() + old, 1, step, file.get());
    if (got < step) {
      if (std::ferror(file.get()))
        throw IoError(fmt::format("cannot read '{}': {}", name, std::strerror(errno)));
      is_eof = true;
    }
    buf.resize(old + got);
    read_total += static_cast<int64_t>(got);
    if (at_start) {
      if (buf.size() < 3 && !is_eof) continue;
      if (buf.size() >= 3 && buf.compare(0, 3, "\xEF\xBB\xBF") == 0) buf.erase(0, 3);
      at_start = false;
    }
    const size_t cut = is_eof ? buf.size() : safe_cut(buf, whole_lines);
    if (cut == 0) continue;
    const std::string_view piece(buf.data(), cut);
    if (const void* nul = std::memchr(piece.data(), 0, piece.size()))
      throw IoError(fmt::format("'{}' looks like a binary file, not text: NUL byte at byte offset {}", name,
                                base + (static_cast<const char*>(nul) - piece.data())));
    if (auto bad = utf8_find_invalid(piece))
      throw IoError(fmt::format(
          "'{}' is not valid UTF-8: bad byte 0x{:02X} at byte offset {} (is it a binary file?)", name,
          static_cast<unsigned>(static_cast<unsigned char>(piece[*bad])), base + static_cast<int64_t>(*bad)));
    for (size_t i = 0; !has_text && i < piece.size();) {
      const Utf8Step s = utf8_decode_step(piece, i);
      has_text = !is_unicode_space(s.code_point);
      i += static_cast<size_t>(s.length);
    }
    consume(piece);
    buf.erase(0, cut);
    base += static_cast<int64_t>(cut);
    if (on_chunk) on_chunk(read_total, total);
  }
  if (base == 0) throw IoError(fmt::format("'{}' is empty: there is no text to read", name));
  if (!has_text)
    throw IoError(
        fmt::format("'{}' contains only whitespace ({} bytes): there is no text to tokenize", name, base));
  return read_total;
}

// Splits pieces into tokens exactly as for_each_token (corpus.cpp) splits the whole text: words
// line by line with "<eos>" after every line; characters of the preprocessed text, where d2l's
// run-collapsing carries across pieces.
class StreamTokenizer {
 public:
  explicit StreamTokenizer(const TextEncoding& encoding) : encoding_(encoding) {}
  template <typename Emit>
  void feed(std::string_view piece, Emit&& emit) {
    if (encoding_.level == TokenLevel::word) {
      size_t start = 0;
      while (start < piece.size()) {
        size_t end = piece.find('\n', start);
        if (end == std::string_view::npos) end = piece.size();
        const std::string_view raw_line = piece.substr(start, end - start);
        if (encoding_.mode == PreprocessMode::raw) {
          split_words(raw_line, emit);
        } else {
          line_ = preprocess(raw_line, encoding_.mode);
          split_words(line_, emit);
        }
        emit(kEndOfLine);
        start = end + 1;
      }
      return;
    }
    std::string_view text = piece;
    if (encoding_.mode != PreprocessMode::raw) {
      line_ = preprocess(piece, encoding_.mode);
      text = line_;
      // d2l turns a run of non-letters into one space; a run across two pieces gives one space too.
      if (encoding_.mode == PreprocessMode::d2l && ends_in_run_ && !text.empty() && text.front() == ' ')
        text.remove_prefix(1);
      if (!line_.empty()) ends_in_run_ = line_.back() == ' ';
    }
    size_t i = 0;
    while (i < text.size()) {
      const auto b = static_cast<unsigned char>(text[i]);
      const size_t n = b < 0x80 ? 1 : static_cast<size_t>(utf8_decode_step(text, i).length);
      emit(text.substr(i, n));
      i += n;
    }
  }

 private:
  // tokenize()'s word level (runs between Unicode whitespace) on checked UTF-8, emitting each word
  // as it ends instead of collecting them.
  template <typename Emit>
  static void split_words(std::string_view text, Emit& emit) {
    size_t start = 0;
    bool in_word = false;
    for (size_t i = 0; i < text.size();) {
      const auto b = static_cast<unsigned char>(text[i]);
      size_t length = 1;
      bool is_space = false;
      if (b < 0x80) {
        is_space = b == ' ' || (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x1F);
      } else {
        const Utf8Step step = utf8_decode_step(text, i);
        length = static_cast<size_t>(step.length);
        is_space = is_unicode_space(step.code_point);
      }
      if (is_space && in_word) {
        emit(text.substr(start, i - start));
        in_word = false;
      } else if (!is_space && !in_word) {
        start = i;
        in_word = true;
      }
      i += length;
    }
    if (in_word) emit(text.substr(start));
  }

  TextEncoding encoding_;
  std::string line_;
  bool ends_in_run_ = false;
};

// Pass 1: distinct tokens numbered by first occurrence (Vocab::build's tie order) and their counts.
class TokenCounter {
 public:
  // Counts the token; returns its number (order of first occurrence).
  int32_t add(std::string_view token) {
    // Characters are mostly ASCII: their numbers sit in a table, the interner sees each once.
    const bool is_ascii = token.size() == 1 && static_cast<unsigned char>(token[0]) < 0x80;
    int32_t i = is_ascii ? ascii_[static_cast<unsigned char>(token[0])] : -1;
    if (i < 0) {
      i = interner_.intern(token);
      if (is_ascii) ascii_[static_cast<unsigned char>(token[0])] = i;
    }
    if (static_cast<size_t>(i) == counts_.size()) counts_.push_back(0);
    ++counts_[static_cast<size_t>(i)];
    ++total_;
    return i;
  }
  [[nodiscard]] Vocab build(int64_t min_freq) const {
    std::vector<std::string_view> distinct(counts_.size());
    for (size_t i = 0; i < distinct.size(); ++i) distinct[i] = interner_.token(static_cast<int32_t>(i));
    return Vocab::from_counts(distinct, counts_, {.min_freq = min_freq});
  }
  [[nodiscard]] const int64_t& total() const { return total_; }
  [[nodiscard]] const TokenInterner& interner() const { return interner_; }

 private:
  TokenInterner interner_;
  std::vector<int64_t> counts_;                          // [distinct]
  std::array<int32_t, 128> ascii_ = make_ascii_table();  // number of each ASCII character, -1 unseen
  static std::array<int32_t, 128> make_ascii_table() {
    std::array<int32_t, 128> t{};
    t.fill(-1);
    return t;
  }
  int64_t total_ = 0;
};

// Pass 2: token -> id with `vocab`, through pass 1's interner (one table lookup per token).
class TokenEncoder {
 public:
  TokenEncoder(const Vocab& vocab, const TokenInterner& interner) : vocab_(vocab), interner_(interner) {
    ids_.resize(static_cast<size_t>(interner.size()));
    for (int32_t i = 0; i < static_cast<int32_t>(interner.size()); ++i) {
      const auto id = vocab.find(interner.token(i));
      ids_[static_cast<size_t>(i)] = id ? *id : kUnknown;
    }
  }
  // The id of interned token number `i` (<unk>'s when min_freq dropped it).
  [[nodiscard]] int32_t id_of(int32_t i) const {
    const int32_t id = ids_[static_cast<size_t>(i)];
    return id != kUnknown ? id : vocab_.unk_index();
  }
  // The id; a token outside the vocabulary counts in `unknown` and becomes <unk>'s id.
  int32_t encode(std::string_view token, int64_t& unknown) const {
    const int32_t i = interner_.find(token);
    const int32_t id =
        i != TokenInterner::kMissing ? ids_[static_cast<size_t>(i)] : vocab_.find(token).value_or(kUnknown);
    if (id != kUnknown) return id;
    ++unknown;
    return vocab_.unk_index();
  }

 private:
  static constexpr int32_t kUnknown = -1;
  const Vocab& vocab_;
  const TokenInterner& interner_;
  std::vector<int32_t> ids_;  // [distinct] vocabulary id of each interned token, kUnknown if dropped
};

// Pass 2 output: ids go to `first` until `first_count` of them are written, then to `second`.
class SplitWriter {
 public:
  SplitWriter(TokenFileWriter& first, int64_t first_count, TokenFileWriter* second)
      : first_(first), first_count_(first_count), second_(second) {
    batch_.reserve(kBatch);
  }
  void put(int32_t id) {
    batch_.push_back(id);
    if (batch_.size() == kBatch) flush();
  }
  void flush() {
    size_t i = 0;
    const int64_t room = first_count_ - first_.count();
    if (room > 0) {
      i = static_cast<size_t>(std::min<int64_t>(room, static_cast<int64_t>(batch_.size())));
      first_.append(std::span<const int32_t>(batch_.data(), i));
    }
    if (i < batch_.size()) {
      check(second_ != nullptr, "prepare: more ids than the split expects");
      second_->append(std::span<const int32_t>(batch_.data() + i, batch_.size() - i));
    }
    batch_.clear();
  }

 private:
  static constexpr size_t kBatch = 1 << 16;
  TokenFileWriter& first_;
  int64_t first_count_;
  TokenFileWriter* second_;
  std::vector<int32_t> batch_;
};

// Pass 1 keeps each token's number (order of first occurrence) in a temporary file as LEB128
// varints (1 byte below 128, 2 below 16384: about 1.5 bytes per word, 1 per character), so the
// ids are written without tokenizing the text a second time. Removed when done.
class NumberSpool {
 public:
  explicit NumberSpool(fs::path path) : path_(std::move(path)) {
    file_ = std::fopen(path_.c_str(), "w+b");
    if (!file_) throw IoError(fmt::format("cannot write '{}': {}", path_.string(), std::strerror(errno)));
  }
  ~NumberSpool() {
    std::fclose(file_);
    std::error_code ec;
    fs::remove(path_, ec);
  }
  NumberSpool(const NumberSpool&) = delete;
  NumberSpool& operator=(const NumberSpool&) = delete;

  void put(int32_t number) {
    auto v = static_cast<uint32_t>(number);
    while (v >= 0x80) {
      buffer_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    buffer_.push_back(static_cast<char>(v));
    if (buffer_.size() >= kBufferBytes) flush();
  }
  // Calls f(number) for every number put, in order; on_chunk(bytes done, bytes total).
  template <typename F>
  void replay(F&& f, const std::function<void(int64_t, int64_t)>& on_chunk) {
    flush();
    const auto total = static_cast<int64_t>(std::ftell(file_));
    if (std::fseek(file_, 0, SEEK_SET) != 0)
      throw IoError(fmt::format("cannot read '{}': {}", path_.string(), std::strerror(errno)));
    uint32_t v = 0;
    int shift = 0;
    int64_t done = 0;
    for (;;) {
      buffer_.resize(kBufferBytes);
      const size_t got = std::fread(buffer_.data(), 1, buffer_.size(), file_);
      if (got == 0) break;
      for (size_t i = 0; i < got; ++i) {  // a varint may straddle two reads: v and shift carry over
        const auto b = static_cast<unsigned char>(buffer_[i]);
        v |= static_cast<uint32_t>(b & 0x7F) << shift;
        if (b & 0x80) {
          shift += 7;
          continue;
        }
        f(static_cast<int32_t>(v));
        v = 0;
        shift = 0;
      }
      done += static_cast<int64_t>(got);
      if (on_chunk) on_chunk(done, total);
    }
    if (std::ferror(file_) || done != total)
      throw IoError(fmt::format("cannot read back '{}' ({} of {} bytes)", path_.string(), done, total));
    buffer_.clear();
  }

 private:
  void flush() {
    if (!buffer_.empty() && std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size())
      throw IoError(fmt::format("cannot write '{}': {}", path_.string(), std::strerror(errno)));
    buffer_.clear();
  }
  static constexpr size_t kBufferBytes = size_t{1} << 20;
  fs::path path_;
  std::FILE* file_ = nullptr;
  std::string buffer_;
};

fs::path train_file(const fs::path& dir) { return dir / "train.bin"; }
fs::path valid_file(const fs::path& dir) { return dir / "valid.bin"; }
fs::path vocab_file(const fs::path& dir) { return dir / "vocab"; }
fs::path settings_file(const fs::path& dir) { return dir / "prepared.json"; }
}  // namespace

PrepareSummary prepare_corpus(const PrepareOptions& o) {
  check(o.valid_fraction >= 0 && o.valid_fraction <= 0.9,
        fmt::format("prepare: valid_fraction must be in [0, 0.9], got {}", o.valid_fraction));
  check(o.min_freq >= 0, fmt::format("prepare: min_freq must be >= 0, got {}", o.min_freq));
  check(o.chunk_bytes >= 1, fmt::format("prepare: chunk_bytes must be >= 1, got {}", o.chunk_bytes));
  const bool whole_lines = o.encoding.level == TokenLevel::word;
  PrepareSummary summary;
  auto progress = [&o](int pass, const fs::path& file, const int64_t& tokens) {
    return [&o, pass, name = file.string(), t = &tokens](int64_t done, int64_t total) {
      if (o.on_progress)
        o.on_progress({.pass = pass, .file = name, .bytes_done = done, .bytes_total = total, .tokens = *t});
    };
  };

  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec || !fs::is_directory(o.out_dir))
    throw IoError(fmt::format("cannot create output folder '{}'{}", o.out_dir.string(),
                              ec ? ": " + ec.message() : std::string()));
  // A folder being rewritten must not pass for a finished one: prepared.json goes last.
  fs::remove(settings_file(o.out_dir), ec);
  fs::remove(valid_file(o.out_dir), ec);

  // Pass 1: the vocabulary, as load_lm_corpus builds it from the whole training text, and each
  // token's number in the spool.
  TokenCounter counter;
  NumberSpool spool(o.out_dir / fmt::format("numbers.tmp.{}", ::getpid()));
  {
    StreamTokenizer tokenizer(o.encoding);
    summary.bytes_read +=
        read_text_pieces(o.data, o.chunk_bytes, whole_lines, progress(1, o.data, counter.total()),
                         [&](std::string_view piece) {
                           tokenizer.feed(piece, [&](std::string_view t) { spool.put(counter.add(t)); });
                         });
  }
  const int64_t n = counter.total();
  check(n >= 2, fmt::format("'{}' gives {} token(s) at level {}; a language model needs at least 2",
                            o.data.string(), n, token_level_name(o.encoding.level)));
  const Vocab vocab = counter.build(o.min_freq);
  summary.vocab_size = vocab.size();
  summary.width = token_id_width(vocab.size());

  // Pass 2 (over the spool): the ids, split as `recur train` splits them (split_validation).
  const bool splits = o.valid.empty();
  const int64_t n_valid_split = splits ? validation_token_count(n, o.valid_fraction) : 0;
  TokenFileWriter train(train_file(o.out_dir), vocab.size());
  std::optional<TokenFileWriter> valid;
  if (!splits || n_valid_split > 0) valid.emplace(valid_file(o.out_dir), vocab.size());
  {
    const TokenEncoder encoder(vocab, counter.interner());
    SplitWriter out(train, n - n_valid_split, valid && splits ? &*valid : nullptr);
    int64_t written = 0;
    spool.replay(
        [&](int32_t number) {
          out.put(encoder.id_of(number));
          ++written;
        },
        progress(2, o.data, written));
    out.flush();
    check<Error>(written == n, fmt::format("prepare: {} tokens counted, {} written", n, written));
  }
  summary.train_tokens = train.count();
  if (!splits) {
    const TokenEncoder encoder(vocab, counter.interner());
    StreamTokenizer tokenizer(o.encoding);
    SplitWriter out(*valid, INT64_MAX, nullptr);
    int64_t written = 0;
    summary.bytes_read += read_text_pieces(o.valid, o.chunk_bytes, whole_lines, progress(2, o.valid, written),
                                           [&](std::string_view piece) {
                                             tokenizer.feed(piece, [&](std::string_view t) {
                                               out.put(encoder.encode(t, summary.valid_unknown));
                                               ++written;
                                             });
                                           });
    out.flush();
  }
  summary.valid_tokens = valid ? valid->count() : 0;
  train.finish();
  if (valid) valid->finish();
  vocab.save(vocab_file(o.out_dir));
  const nlohmann::json j = {{"format", kFormat},
                            {"version", kFormatVersion},
                            {"level", token_level_name(o.encoding.level)},
                            {"mode", preprocess_mode_name(o.encoding.mode)},
                            {"min_freq", o.min_freq},
                            {"source", o.data.string()},
                            {"valid_source", o.valid.string()},
                            {"valid_fraction", splits ? o.valid_fraction : 0.0},
                            {"vocab_size", summary.vocab_size},
                            {"counted_tokens", n},
                            {"train_tokens", summary.train_tokens},
                            {"valid_tokens", summary.valid_tokens},
                            {"valid_unknown", summary.valid_unknown},
                            {"width", summary.width}};
  write_file_atomically(settings_file(o.out_dir), j.dump(1) + "\n");
  return summary;
}

bool is_prepared_folder(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir, ec) && fs::exists(settings_file(dir), ec);
}

PreparedCorpus load_prepared_corpus(const fs::path& dir) {
  const fs::path json_path = settings_file(dir);
  const std::string source = json_path.string();
  const nlohmann::json j = parse_json_file_text(read_file(json_path), source);
  const JsonFields f(j, source);
  if (f.string("format") != kFormat) f.fail("format", fmt::format("must be \"{}\"", kFormat));
  if (f.integer("version", 0, INT64_MAX) != kFormatVersion)
    f.fail("version", fmt::format("{} is not supported (this build reads version {})",
                                  f.integer("version", 0, INT64_MAX), kFormatVersion));
  PreparedCorpus c;
  c.encoding = f.parse([&] {
    return TextEncoding{.level = parse_token_level(f.string("level")),
                        .mode = parse_preprocess_mode(f.string("mode"))};
  });
  c.min_freq = f.integer("min_freq", 0, INT64_MAX);
  const int64_t vocab_size = f.integer("vocab_size", 2, INT32_MAX);
  const int64_t counted = f.integer("counted_tokens", 2, INT64_MAX);
  const int64_t train_tokens = f.integer("train_tokens", 1, INT64_MAX);
  const int64_t valid_tokens = f.integer("valid_tokens", 0, INT64_MAX);
  c.valid_unknown = f.integer("valid_unknown", 0, INT64_MAX);

  const fs::path vocab_path = vocab_file(dir);
  c.vocab = Vocab::load(vocab_path);
  if (c.vocab.size() != vocab_size)
    throw IoError(fmt::format("'{}' holds {} tokens, but '{}' says vocab_size {}", vocab_path.string(),
                              c.vocab.size(), source, vocab_size));
  int64_t count_sum = 0;
  for (int32_t i = 0; i < c.vocab.size(); ++i) count_sum += c.vocab.count(i);
  if (count_sum != counted)
    throw IoError(
        fmt::format("'{}' counts {} tokens, but '{}' says counted_tokens {}: they do not belong together",
                    vocab_path.string(), count_sum, source, counted));

  auto map = [&](const fs::path& path, int64_t expected) {
    auto file = std::make_shared<const MappedTokenFile>(path);
    if (file->vocab_size() != vocab_size)
      throw IoError(fmt::format("'{}' was written for a vocabulary of {} tokens, but '{}' holds {}",
                                path.string(), file->vocab_size(), vocab_path.string(), vocab_size));
    if (file->size() != expected)
      throw IoError(fmt::format("'{}' holds {} tokens, but '{}' says {}", path.string(), file->size(), source,
                                expected));
    return TokenIds(std::move(file));
  };
  c.train = map(train_file(dir), train_tokens);
  if (valid_tokens > 0 || fs::exists(valid_file(dir))) c.valid = map(valid_file(dir), valid_tokens);
  return c;
}

}  // namespace recur
