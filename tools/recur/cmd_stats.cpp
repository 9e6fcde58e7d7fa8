// `recur stats FILE`: token counts, the most frequent n-grams and Zipf exponents of a corpus (d2l 9.3),
// with the book's log-log rank-frequency figure as an SVG.
#include <fmt/core.h>

#include <array>
#include <memory>

#include "commands.h"
#include "recur/core/error.h"
#include "recur/data/dataset.h"
#include "recur/text/corpus_stats.h"
#include "recur/text/text_file.h"
#include "recur/text/tokenizer.h"
#include "recur/text/vocab.h"
#include "recur/text/zipf.h"

namespace recur::cli {

namespace {
struct StatsOptions {
  std::string file;
  std::string level = "word";
  std::string mode = "raw";
  size_t top = 10;
  int64_t min_freq = 0;
  std::string zipf_plot;
  int64_t zipf_min_rank = 10;
  int64_t zipf_max_rank = 0;
  int64_t zipf_min_count = 2;
  bool replaces_invalid = false;
};

// Word n-grams read as words joined by spaces; character n-grams are quoted so spaces show.
std::string format_ngram(const std::vector<std::string>& tokens, TokenLevel level) {
  std::string out;
  if (level == TokenLevel::word) {
    for (const auto& t : tokens) out += (out.empty() ? "" : " ") + t;
    return out;
  }
  for (const auto& t : tokens) out += t == " " ? std::string(" ") : escape_token(t);
  return "\"" + out + "\"";
}

void run_stats(const StatsOptions& o) {
  const TokenLevel level = parse_token_level(o.level);
  const PreprocessMode mode = parse_preprocess_mode(o.mode);
  const ZipfFitOptions fit_options{
      .min_rank = o.zipf_min_rank, .max_rank = o.zipf_max_rank, .min_count = o.zipf_min_count};
  validate_zipf_options(fit_options);
  const auto path = resolve_dataset(o.file);
  const std::string raw =
      read_text_file(path, {.replace_hint = "use --replace-invalid to read it anyway",
                            .invalid_utf8 = o.replaces_invalid ? InvalidUtf8::replace : InvalidUtf8::error,
                            .allows_blank = false});
  const TokenizedText text = tokenize_text(raw, mode, level);
  if (text.num_tokens() == 0)
    throw ValueError("'" + path.string() + "' has no " + std::string(token_level_name(level)) +
                     " tokens after " + std::string(preprocess_mode_name(mode)) + " preprocessing");
  CorpusStatsOptions options;
  options.top_k = o.top;
  options.vocab.min_freq = o.min_freq;
  const CorpusStats stats = compute_corpus_stats(text.tokens(), options);

  fmt::print("corpus: {} ({} mode, {} tokens)\n", path.string(), preprocess_mode_name(mode),
             token_level_name(level));
  fmt::print("tokens: {}\n", stats.num_tokens);
  fmt::print("distinct tokens: {}\n", stats.distinct_tokens);
  fmt::print("vocabulary size: {} (with <unk>, min_freq {})\n", stats.vocab_size, o.min_freq);
  constexpr std::array<const char*, 3> kNames = {"unigrams", "bigrams", "trigrams"};
  constexpr std::array<const char*, 3> kCurveNames = {"unigram", "bigram", "trigram"};
  for (const NgramSummary& s : stats.ngrams) {
    if (o.top == 0) break;
    fmt::print("\ntop {} {} (of {}, {} distinct):\n", s.top.size(), kNames[static_cast<size_t>(s.order - 1)],
               s.total, s.distinct);
    for (size_t i = 0; i < s.top.size(); ++i)
      fmt::print("  {:>3}  {:>8}  {}\n", i + 1, s.top[i].count, format_ngram(s.top[i].tokens, level));
  }

  fmt::print(
      "\nZipf's law, frequency ~ rank^-alpha (least squares on log10 frequency vs log10 rank,\n"
      "ranks {}..{} with count >= {}):\n",
      fit_options.min_rank, fit_options.max_rank > 0 ? std::to_string(fit_options.max_rank) : "end",
      fit_options.min_count);
  for (const NgramSummary& s : stats.ngrams) {
    const std::string name = std::string(kNames[static_cast<size_t>(s.order - 1)]);
    try {
      const ZipfFit fit = fit_zipf(s.sorted_counts, fit_options);
      fmt::print("  {:<9} alpha = {:.3f}  (ranks {}..{}, {} points, R^2 = {:.3f})\n", name, fit.alpha,
                 fit.first_rank, fit.last_rank, fit.num_points, fit.r_squared);
    } catch (const ValueError& e) {
      fmt::print("  {:<9} alpha = n/a  ({})\n", name, e.what());
    }
  }
  if (!o.zipf_plot.empty()) {
    std::vector<ZipfCurve> curves;
    for (const NgramSummary& s : stats.ngrams)
      curves.push_back(
          {.name = kCurveNames[static_cast<size_t>(s.order - 1)], .sorted_counts = s.sorted_counts});
    write_zipf_chart(
        curves,
        "Zipf's law: " + path.filename().string() + ", " + std::string(token_level_name(level)) + " n-grams",
        o.zipf_plot);
    fmt::print("\nwrote {}\n", o.zipf_plot);
  }
}
}  // namespace

void add_stats_command(CLI::App& app, const CommonOptions& common) {
  auto options = std::make_shared<StatsOptions>();
  auto* cmd = app.add_subcommand("stats", "Corpus statistics: token counts, top n-grams, Zipf exponents");
  cmd->add_option("file", options->file, "Text file or dataset name (see `recur data list`)")->required();
  cmd->add_option("--level", options->level,
                  "Tokens: char (Unicode code points) or word (split on whitespace)")
      ->check(CLI::IsMember({"char", "word"}))
      ->capture_default_str();
  cmd->add_option("--mode", options->mode,
                  "Preprocessing: d2l (letters only, lowercase, as the book), lower, or raw (unchanged)")
      ->check(CLI::IsMember({"d2l", "lower", "raw"}))
      ->capture_default_str();
  cmd->add_option("--top", options->top,
                  "How many of the most frequent unigrams, bigrams and trigrams to list")
      ->capture_default_str();
  cmd->add_option("--min-freq", options->min_freq,
                  "Tokens seen fewer times count as <unk> in the vocabulary size")
      ->capture_default_str();
  cmd->add_option("--zipf-plot", options->zipf_plot,
                  "Write the log-log rank-frequency curves to this SVG file");
  cmd->add_option("--zipf-min-rank", options->zipf_min_rank,
                  "First rank of the Zipf fit (the head of the curve bends)")
      ->capture_default_str();
  cmd->add_option("--zipf-max-rank", options->zipf_max_rank, "Last rank of the Zipf fit (0 = no limit)")
      ->capture_default_str();
  cmd->add_option(
         "--zipf-min-count", options->zipf_min_count,
         "Leave out ranks seen fewer times from the Zipf fit (2 skips the plateau of n-grams seen once)")
      ->capture_default_str();
  cmd->add_flag("--replace-invalid", options->replaces_invalid,
                "Replace invalid UTF-8 by U+FFFD instead of failing");
  cmd->footer(
      "Example:\n  recur stats timemachine --mode d2l --level word --top 10 --zipf-plot zipf.svg\n"
      "  recur stats tinyshakespeare --level char --top 5");
  cmd->callback([options, &common] {
    apply_common(common);
    run_stats(*options);
  });
}

}  // namespace recur::cli
