// `recur ngram train|eval`: n-gram language models with Laplace or add-k smoothing (d2l 9.3), the
// baseline perplexity every neural language model is judged against.
#include <fmt/core.h>

#include <memory>

#include "commands.h"
#include "recur/core/error.h"
#include "recur/data/dataset.h"
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
};

struct EvalOptions {
  std::string model_file;
  std::string text_file;
  bool replaces_invalid = false;
};

TextReadOptions read_options(bool replaces_invalid) {
  return {.replace_hint = "use --replace-invalid to read it anyway",
          .invalid_utf8 = replaces_invalid ? InvalidUtf8::replace : InvalidUtf8::error,
          .allows_blank = false};
}

void run_train(const TrainOptions& o) {
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

void run_eval(const EvalOptions& o) {
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
  train->add_option("--smoothing", train_options->smoothing, "laplace (add one) or add-k (add --k)")
      ->check(CLI::IsMember({"laplace", "add-k"}))
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
  train->footer(
      "Example:\n  recur ngram train tinyshakespeare --level char --order 5 --smoothing add-k --k 0.1 -o "
      "shakespeare.ngram\n"
      "Each line is a sentence: n-1 <bos> tokens go in front and one <eos> at the end.");
  train->callback([train_options, &common] {
    apply_common(common);
    run_train(*train_options);
  });

  auto eval_options = std::make_shared<EvalOptions>();
  auto* eval = ngram->add_subcommand(
      "eval", "Perplexity of a model on held-out text, and its out-of-vocabulary count");
  eval->add_option("model", eval_options->model_file, "Model file written by `recur ngram train`")
      ->required();
  eval->add_option("text", eval_options->text_file, "Held-out text: a file or a dataset name")->required();
  eval->add_flag("--replace-invalid", eval_options->replaces_invalid,
                 "Replace invalid UTF-8 by U+FFFD instead of failing");
  eval->footer(
      "Example:\n  recur ngram eval shakespeare.ngram held_out.txt\n"
      "Perplexity = exp(-(1/N) sum ln p) over N = tokens + one <eos> per non-empty line; tokens not in\n"
      "the vocabulary are scored as <unk> and counted in N.");
  eval->callback([eval_options, &common] {
    apply_common(common);
    run_eval(*eval_options);
  });
}

}  // namespace recur::cli
