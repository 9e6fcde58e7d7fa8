// `recur ngram train|eval`: n-gram language models with Laplace or add-k smoothing (d2l 9.3), and
// interpolated modified Kneser-Ney in KenLM's ARPA files, the baseline every neural model is judged against.
#include <fmt/core.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <utility>

#include "commands.h"
#include "recur/core/error.h"
#include "recur/data/dataset.h"
#include "recur/io/atomic_file.h"
#include "recur/ngram/arpa.h"
#include "recur/ngram/backoff_model.h"
#include "recur/ngram/entropy_prune.h"
#include "recur/ngram/kneser_ney.h"
#include "recur/ngram/sentence_corpus.h"
#include "recur/text/ngram_model.h"
#include "recur/text/text_file.h"

namespace recur::cli {

namespace {
struct TrainOptions {
  std::string train_file;
  int order = 3;
  std::string smoothing = "laplace";
  double k = 1.0;
  int64_t min_freq = 0;
  std::string level = "word";
  std::string mode = "raw";
  std::string output;
  bool replaces_invalid = false;
  bool has_discount_fallback = false;  // kn only
  bool skips_symbols = false;          // kn only
  std::vector<uint64_t> prune = {};    // kn only: lmplz --prune thresholds per order
  double prune_entropy = 0;            // kn only: SRILM -prune threshold (Stolcke pruning)
  int64_t target_size = 0;             // kn only: entropy-prune down to this many n-grams
};

struct EvalOptions {
  std::string model_file;
  std::string text_file;
  bool replaces_invalid = false;
  bool prints_lines = false;  // ARPA models: query -v sentence's "Total: ... OOV: ..." per line
};

TextReadOptions read_options(bool replaces_invalid) {
  return {.replace_hint = "use --replace-invalid to read it anyway",
          .invalid_utf8 = replaces_invalid ? InvalidUtf8::replace : InvalidUtf8::error,
          .allows_blank = false};
}

bool ends_with_arpa(const std::string& path) { return path.size() >= 5 && path.ends_with(".arpa"); }

// --smoothing kn: lmplz's estimate, written as ARPA.
void run_train_kneser_ney(const TrainOptions& o) {
  if (!ends_with_arpa(o.output))
    throw CLI::ValidationError("--output",
                               "--smoothing kn writes an ARPA file: name it *.arpa, not '" + o.output + "'");
  if (o.level != "word") throw CLI::ValidationError("--level", "--smoothing kn models words (--level word)");
  const KneserNeyOptions options{
      .order = o.order, .has_discount_fallback = o.has_discount_fallback, .prune_thresholds = o.prune};
  check(options.order >= 1 && options.order <= KneserNeyOptions::kMaxOrder,
        fmt::format("--order must be in [1, {}], got {}", KneserNeyOptions::kMaxOrder, options.order));
  const auto path = resolve_dataset(o.train_file);
  TextReadOptions read = read_options(o.replaces_invalid);
  read.allows_blank = false;
  const SentenceCorpus corpus =
      read_sentence_corpus(read_text_file(path, read), path.string(),
                           {.mode = parse_preprocess_mode(o.mode), .skips_symbols = o.skips_symbols});
  KneserNeyModel model = estimate_kneser_ney(corpus, options);
  EntropyPruneResult pruned;
  const bool prunes_entropy = o.prune_entropy > 0 || o.target_size > 0;
  if (prunes_entropy) {
    pruned = prune_by_entropy(model.arpa, {.threshold = o.prune_entropy, .target_size = o.target_size});
    model.arpa = std::move(pruned.model);
  }
  write_arpa_file(model.arpa, o.output);
  fmt::print("trained an order-{} interpolated modified Kneser-Ney model on {} ({} preprocessing)\n",
             options.order, path.string(), o.mode);
  fmt::print("sentences: {}  words: {}  vocabulary: {} (with <unk>, <s>, </s>)\n", corpus.num_sentences(),
             corpus.num_words, corpus.vocab.size());
  for (size_t n = 0; n < model.stats.size(); ++n) {
    const KneserNeyOrderStats& s = model.stats[n];
    fmt::print("{}-grams: {}{}  D1={} D2={} D3+={}{}\n", n + 1, s.num_ngrams,
               s.num_pruned > 0 ? fmt::format(" ({} pruned)", s.num_pruned) : "", s.discount.amount[1],
               s.discount.amount[2], s.discount.amount[3], s.is_fallback ? " (fallback)" : "");
  }
  if (prunes_entropy) {
    int64_t kept = 0, dropped = 0;
    std::string per_order;
    for (size_t n = 0; n < model.arpa.orders.size(); ++n) {
      kept += model.arpa.orders[n].count();
      dropped += pruned.num_pruned[n];
      per_order += fmt::format("{}{}", n ? " " : "", pruned.num_pruned[n]);
    }
    fmt::print("entropy pruning: dropped {} n-grams (per order: {}), kept {}; threshold {:.6g}\n", dropped,
               per_order, kept, pruned.threshold);
  }
  fmt::print("wrote {}\n", o.output);
}

void run_train(const TrainOptions& o) {
  if (o.smoothing == "kn") {
    run_train_kneser_ney(o);
    return;
  }
  if (o.prune_entropy > 0 || o.target_size > 0)
    throw CLI::ValidationError("--prune-entropy", "entropy pruning needs --smoothing kn (a backoff model)");
  if (ends_with_arpa(o.output))
    throw CLI::ValidationError("--output",
                               "ARPA output needs --smoothing kn (add-k models have no backoff form)");
  NgramOptions options{.order = o.order,
                       .smoothing = parse_smoothing(o.smoothing),
                       .k = o.k,
                       .min_freq = o.min_freq,
                       .mode = parse_preprocess_mode(o.mode),
                       .level = parse_token_level(o.level)};
  validate_ngram_options(options);  // before reading a large file
  const auto path = resolve_dataset(o.train_file);
  const TokenizedText text =
      tokenize_lines(read_text_file(path, read_options(o.replaces_invalid)), options.mode, options.level);
  if (text.num_tokens() == 0)
    throw ValueError("'" + path.string() + "' has no " + std::string(token_level_name(options.level)) +
                     " tokens after " + std::string(preprocess_mode_name(options.mode)) + " preprocessing");
  const NgramModel model = NgramModel::train(text, options);
  model.save(o.output);
  fmt::print("trained an order-{} n-gram model ({} smoothing, k = {}) on {}\n", options.order,
             smoothing_name(options.smoothing), options.k, path.string());
  fmt::print("lines: {}  tokens: {}  vocabulary: {} (with <unk>, <bos>, <eos>; min_freq {})\n",
             text.num_lines(), text.num_tokens(), model.vocab().size(), options.min_freq);
  fmt::print("wrote {}\n", o.output);
}

// An ARPA model from any tool, scored as KenLM's query does.
// The first bytes of a file (at most 64), to tell the model formats apart without reading it all.
std::string read_prefix(const std::string& path) {
  std::string prefix(64, '\0');
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return {};
  prefix.resize(std::fread(prefix.data(), 1, prefix.size(), file));
  std::fclose(file);
  return prefix;
}

void run_eval_backoff(const EvalOptions& o, const BackoffModel& model) {
  const auto path = resolve_dataset(o.text_file);
  TextReadOptions read = read_options(o.replaces_invalid);
  read.allows_blank = true;
  const std::string text = read_text_file(path, read);
  std::vector<SentenceScore> lines;
  const QuerySummary summary = query_text(model, text, o.prints_lines ? &lines : nullptr);
  for (const SentenceScore& line : lines)
    fmt::print("Total: {} OOV: {}\n", format_arpa_float(line.log10_total), line.oovs);
  fmt::print("{}", format_query_summary(summary));
}

void run_eval(const EvalOptions& o) {
  if (BackoffModel::is_binary(read_prefix(o.model_file))) {
    run_eval_backoff(o, BackoffModel::load_binary(o.model_file));
    return;
  }
  std::optional<ArpaModel> arpa;
  {
    // The text is freed before the tables are built, and the parsed arrays move into them.
    const std::string model_text = read_file(o.model_file);
    if (looks_like_arpa(model_text)) arpa = parse_arpa(model_text, o.model_file);
  }
  if (arpa) {
    const BackoffModel model(std::move(*arpa));
    arpa.reset();
    run_eval_backoff(o, model);
    return;
  }
  const NgramModel model = NgramModel::load(o.model_file);
  const auto path = resolve_dataset(o.text_file);
  const TokenizedText text = tokenize_lines(read_text_file(path, read_options(o.replaces_invalid)),
                                            model.options().mode, model.options().level);
  if (text.num_tokens() == 0)
    throw ValueError("'" + path.string() + "' has no " +
                     std::string(token_level_name(model.options().level)) + " tokens after " +
                     std::string(preprocess_mode_name(model.options().mode)) + " preprocessing");
  const PerplexityReport r = model.evaluate(text);
  fmt::print("model: {} (order {}, {} smoothing, k = {}, vocabulary {})\n", o.model_file, model.order(),
             smoothing_name(model.options().smoothing), model.options().k, model.vocab().size());
  fmt::print("text: {}\n", path.string());
  fmt::print("lines: {}  tokens: {}  predictions: {} (tokens + one <eos> per line)\n", r.num_lines,
             r.num_tokens, r.num_predictions);
  fmt::print("out-of-vocabulary tokens: {} ({:.2f}%, scored as <unk>)\n", r.oov_count,
             100.0 * static_cast<double>(r.oov_count) / static_cast<double>(r.num_tokens));
  fmt::print("log-likelihood: {:.4f} nats  cross-entropy: {:.4f} nats/token\n", r.log_likelihood,
             r.cross_entropy);
  fmt::print("perplexity: {:.4f}\n", r.perplexity);
}
struct BinaryOptions {
  std::string arpa_file;
  std::string output;
};

void run_build_binary(const BinaryOptions& o) {
  const BackoffModel model(read_arpa_file(o.arpa_file));
  model.save_binary(o.output);
  fmt::print("wrote {} (order {}, vocabulary {})\n", o.output, model.order(), model.vocab_size());
}
}  // namespace

void add_ngram_command(CLI::App& app, const CommonOptions& common) {
  auto* ngram = app.add_subcommand("ngram", "N-gram language models: train, and perplexity on held-out text");
  ngram->require_subcommand(1);
  ngram->footer(
      "Example:\n  recur ngram train timemachine --mode d2l --order 2 --smoothing laplace -o tm.ngram\n"
      "  recur ngram eval tm.ngram held_out.txt");

  auto train_options = std::make_shared<TrainOptions>();
  auto* train =
      ngram->add_subcommand("train", "Count n-grams of a text (one sentence per line) into a model file");
  train->add_option("train", train_options->train_file, "Training text: a file or a dataset name")
      ->required();
  train
      ->add_option("--order", train_options->order,
                   "n: each token is predicted from the n-1 before it (1 to 128)")
      ->capture_default_str();
  train
      ->add_option(
          "--smoothing", train_options->smoothing,
          "laplace (add one), add-k (add --k) or kn (interpolated modified Kneser-Ney as KenLM lmplz, "
          "written as ARPA)")
      ->check(CLI::IsMember({"laplace", "add-k", "kn"}))
      ->capture_default_str();
  train->add_option("--k", train_options->k, "The constant added to every count with add-k smoothing (> 0)")
      ->capture_default_str();
  train->add_option("--min-freq", train_options->min_freq, "Training tokens seen fewer times become <unk>")
      ->capture_default_str();
  train->add_option("--level", train_options->level, "Tokens: char or word")
      ->check(CLI::IsMember({"char", "word"}))
      ->capture_default_str();
  train->add_option("--mode", train_options->mode, "Preprocessing of each line: d2l, lower or raw")
      ->check(CLI::IsMember({"d2l", "lower", "raw"}))
      ->capture_default_str();
  train->add_option("-o,--output", train_options->output, "Model file to write")->required();
  train->add_flag("--replace-invalid", train_options->replaces_invalid,
                  "Replace invalid UTF-8 by U+FFFD instead of failing");
  train->add_flag("--discount-fallback", train_options->has_discount_fallback,
                  "kn: use D1=0.5 D2=1 D3+=1.5 for an order whose closed-form discounts fail (lmplz "
                  "--discount_fallback)");
  train
      ->add_option(
          "--prune", train_options->prune,
          "kn: count thresholds per order, e.g. --prune 0 1 1: n-grams seen at most that often are dropped "
          "(lmplz --prune; non-decreasing, 0 for unigrams, the last repeats)")
      ->expected(1, KneserNeyOptions::kMaxOrder);
  train
      ->add_option("--prune-entropy", train_options->prune_entropy,
                   "kn: relative-entropy pruning (Stolcke 1998, SRILM's -prune): drop n-grams whose removal "
                   "raises perplexity by a relative amount below this, e.g. 1e-8; 0: none")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  train
      ->add_option("--target-size", train_options->target_size,
                   "kn: entropy-prune, least relative entropy first, until the model holds this many "
                   "n-grams (all orders); 0: no target")
      ->check(CLI::NonNegativeNumber)
      ->excludes("--prune-entropy")
      ->capture_default_str();
  train->add_flag("--skip-symbols", train_options->skips_symbols,
                  "kn: drop <s>, </s> and <unk> from the text instead of failing (lmplz --skip_symbols)");
  train->footer(
      "Example:\n  recur ngram train tinyshakespeare --level char --order 5 --smoothing add-k --k 0.1 -o "
      "shakespeare.ngram\n"
      "  recur ngram train corpus.txt --smoothing kn --order 5 -o corpus.arpa   # lmplz -o 5 < corpus.txt\n"
      "  recur ngram train corpus.txt --smoothing kn --order 5 --target-size 200000 -o small.arpa\n"
      "Each line is a sentence: n-1 <bos> tokens go in front and one <eos> at the end. With kn, lines are\n"
      "split as lmplz splits them (on space, tab, CR, NUL; empty lines are sentences too); --mode raw\n"
      "(the default) gives lmplz's tokens exactly.");
  train->callback([train_options, &common] {
    apply_common(common);
    run_train(*train_options);
  });

  auto eval_options = std::make_shared<EvalOptions>();
  auto* eval = ngram->add_subcommand(
      "eval", "Perplexity of a model on held-out text, and its out-of-vocabulary count");
  eval->add_option("model", eval_options->model_file,
                   "Model file written by `recur ngram train`, or an ARPA file from recur, KenLM or SRILM")
      ->required();
  eval->add_option("text", eval_options->text_file, "Held-out text: a file or a dataset name")->required();
  eval->add_flag("--replace-invalid", eval_options->replaces_invalid,
                 "Replace invalid UTF-8 by U+FFFD instead of failing");
  eval->add_flag("--per-line", eval_options->prints_lines,
                 "ARPA models: print each line's log10 probability and OOV count first (query -v sentence)");
  eval->footer(
      "Example:\n  recur ngram eval shakespeare.ngram held_out.txt\n"
      "Perplexity = exp(-(1/N) sum ln p) over N = tokens + one <eos> per non-empty line; tokens not in\n"
      "the vocabulary are scored as <unk> and counted in N.\n"
      "An ARPA model prints KenLM `query -v summary`'s four lines, computed as query computes them (log10,\n"
      "per line with </s>, OOVs as <unk>; the text is read raw and split on whitespace).");
  eval->callback([eval_options, &common] {
    apply_common(common);
    run_eval(*eval_options);
  });

  auto binary_options = std::make_shared<BinaryOptions>();
  auto* binary = ngram->add_subcommand(
      "build-binary",
      "Convert an ARPA model to recur's binary form, which eval maps from disk without parsing");
  binary->add_option("arpa", binary_options->arpa_file, "ARPA model (recur, KenLM, SRILM)")->required();
  binary->add_option("output", binary_options->output, "Binary model file to write")->required();
  binary->footer(
      "Example:\n  recur ngram build-binary wiki.arpa wiki.rlm && recur ngram eval wiki.rlm test.txt\n"
      "The file holds the model's hash tables as they sit in memory (format version 2, this machine's\n"
      "byte order); it is not KenLM's binary format.");
  binary->callback([binary_options, &common] {
    apply_common(common);
    run_build_binary(*binary_options);
  });
}

}  // namespace recur::cli
