// `recur prepare`: tokenize a corpus once into a folder of token files that `recur train --data DIR`
// and `recur eval` map instead of reading the text (recur/lm/prepared_corpus.h).
#include <fmt/core.h>
#include <unistd.h>

#include <chrono>

#include "commands.h"
#include "recur/data/dataset.h"
#include "recur/lm/prepared_corpus.h"

namespace recur::cli {

namespace {
struct PrepareFlags {
  std::string data = "timemachine";
  std::string valid;
  double valid_fraction = 0.1;
  std::string level = "char";
  std::string mode = "d2l";
  int64_t min_freq = 0;
  std::string out;
};

// A progress line on a terminal (stderr), redrawn at most 10 times a second; nothing otherwise.
class PrepareProgressLine {
 public:
  PrepareProgressLine() : tty_(::isatty(STDERR_FILENO) != 0), start_(Clock::now()) {}
  void update(const PrepareProgress& p) {
    if (!tty_) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(100) && p.bytes_done < p.bytes_total) return;
    last_ = now;
    const double s = std::chrono::duration<double>(now - start_).count();
    const double pct = p.bytes_total > 0
                           ? 100.0 * static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total)
                           : 100.0;
    fmt::print(stderr, "\r{} {}: {:5.1f}% of {:.1f} MB, {} tokens, {:.0f} s   ",
               p.pass == 1 ? "reading" : "writing ids of", p.file, pct,
               static_cast<double>(p.bytes_total) / 1e6, p.tokens, s);
    drew_ = true;
  }
  ~PrepareProgressLine() {
    if (drew_) fmt::print(stderr, "\n");
  }

 private:
  using Clock = std::chrono::steady_clock;
  bool tty_;
  bool drew_ = false;
  Clock::time_point start_, last_{};
};

void run_prepare(const PrepareFlags& f) {
  PrepareOptions o;
  o.data = resolve_dataset(f.data);
  if (!f.valid.empty()) o.valid = resolve_dataset(f.valid);
  o.valid_fraction = f.valid_fraction;
  o.encoding = {.level = parse_token_level(f.level), .mode = parse_preprocess_mode(f.mode)};
  o.min_freq = f.min_freq;
  o.out_dir = f.out;
  const auto start = std::chrono::steady_clock::now();
  PrepareSummary s;
  {
    PrepareProgressLine line;
    o.on_progress = [&line](const PrepareProgress& p) { line.update(p); };
    s = prepare_corpus(o);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("prepared {} into {}\n", o.data.string(), o.out_dir.string());
  fmt::print("vocabulary: {} tokens ({} level, {} mode, min_freq {}), ids {} byte(s) wide\n", s.vocab_size,
             f.level, f.mode, f.min_freq, s.width);
  fmt::print("train.bin: {} tokens\n", s.train_tokens);
  if (s.valid_tokens > 0 || !f.valid.empty())
    fmt::print("valid.bin: {} tokens ({} not in the vocabulary, written as <unk>)\n", s.valid_tokens,
               s.valid_unknown);
  fmt::print("read {:.1f} MB of text in {:.2f} s ({:.1f} MB/s)\n", static_cast<double>(s.bytes_read) / 1e6,
             seconds, seconds > 0 ? static_cast<double>(s.bytes_read) / 1e6 / seconds : 0.0);
}
}  // namespace

void add_prepare_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd =
      app.add_subcommand("prepare", "Tokenize a corpus once into token files that train and eval map");
  auto f = std::make_shared<PrepareFlags>();
  cmd->add_option("--data", f->data, "Training text: a file or a dataset name")->capture_default_str();
  cmd->add_option("--valid", f->valid, "Validation text (default: the last --valid-fraction of the data)");
  cmd->add_option("--valid-fraction", f->valid_fraction, "Share of the data's tokens kept for validation")
      ->capture_default_str();
  cmd->add_option("--level", f->level, "Tokens: char or word")->capture_default_str();
  cmd->add_option("--mode", f->mode, "Preprocessing: d2l, lower or raw")->capture_default_str();
  cmd->add_option("--min-freq", f->min_freq, "Tokens seen fewer times become <unk>")->capture_default_str();
  cmd->add_option("--out", f->out, "Output folder (train.bin, valid.bin, vocab, prepared.json)")->required();
  cmd->footer(
      "Examples:\n"
      "  recur prepare --data timemachine --level char --mode d2l --out data/tm\n"
      "  recur train --data data/tm --cell gru --hidden 256 --out runs/tm\n"
      "  recur prepare --data big.txt --level word --mode raw --min-freq 3 --out data/big");
  cmd->callback([f, &common] {
    (void)apply_common(common);
    run_prepare(*f);
  });
}

}  // namespace recur::cli
