// `recur translate train|run|eval`: sequence-to-sequence translation (d2l 10.5-10.8, 11.4).
#include <fmt/core.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "commands.h"
#include "lm_run.h"  // with_flag_name
#include "recur/core/error.h"
#include "recur/core/file_read.h"
#include "recur/data/dataset.h"
#include "recur/io/svg_heatmap.h"
#include "recur/seq2seq/bleu.h"
#include "recur/seq2seq/decoding.h"
#include "recur/seq2seq/translation_run.h"
#include "train_progress.h"

namespace recur::cli {

namespace fs = std::filesystem;

namespace {

struct TranslateTrainFlags {
  TranslationSettings settings = default_translation_settings();
  std::string cell = "gru", nonlinearity = "tanh", attention = "none", long_sequences = "truncate";
  std::string optimizer = "adam", lr_schedule = "constant";
  std::string resume;
  bool force = false;
  ResumeOverrides overrides;
  std::vector<std::string> show;  // sentences translated after training
};

struct DecodeFlags {
  int beam = 1;
  double alpha = 0.75;
  int64_t max_steps = 0;  // 0 = the model's training steps
  int64_t batch = 128;
};

void add_decode_flags(CLI::App& cmd, DecodeFlags& d) {
  cmd.add_option("--beam", d.beam, "Beam width (1 = greedy)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd.add_option("--alpha", d.alpha, "Beam search length normalization: rank by log P / L^alpha")
      ->capture_default_str();
  cmd.add_option("--max-steps", d.max_steps,
                 "Longest translation in tokens (0 = the model's training --steps)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd.add_option("--batch", d.batch, "Sentences translated together")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

DecodeOptions decode_options(const DecodeFlags& d, const Seq2SeqText& text, const ComputeContext& context) {
  return {.max_steps = d.max_steps > 0 ? d.max_steps : text.steps,
          .beam = d.beam,
          .alpha = d.alpha,
          .batch = d.batch,
          .context = context};
}

std::vector<std::string> without_eos(const std::vector<std::string>& tokens) {
  std::vector<std::string> out = tokens;
  if (!out.empty() && out.back() == kEosToken) out.pop_back();
  return out;
}

std::vector<std::string> token_strings(std::span<const int32_t> ids, const Vocab& vocab) {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (int32_t id : ids) out.push_back(vocab.token(id));
  return out;
}

// BLEU of translating `pairs`' sources against their targets; prints the summary lines.
void report_bleu(Seq2SeqModel& model, const Seq2SeqText& text, const std::vector<TranslationPair>& pairs,
                 const DecodeOptions& options, const std::string& what) {
  std::vector<std::vector<int32_t>> sources;
  sources.reserve(pairs.size());
  for (const auto& p : pairs) {
    std::vector<int32_t> ids;
    for (const auto& token : p.source) ids.push_back(text.source.index(token));
    if (static_cast<int64_t>(ids.size()) > text.steps) ids.resize(static_cast<size_t>(text.steps));
    sources.push_back(std::move(ids));
  }
  const SpecialIds ids = special_ids(text.target);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<Translation> out = translate(model, sources, ids.bos, ids.eos, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CorpusBleuCounter counter;
  double d2l_sum = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const std::vector<std::string> hypothesis = token_strings(out[i].tokens, text.target);
    const std::vector<std::string> reference = without_eos(pairs[i].target);
    counter.add(hypothesis, reference);
    d2l_sum += d2l_bleu(hypothesis, reference, 2);
  }
  const CorpusBleu bleu = counter.result();
  fmt::print("{}: {} sentences, {} search{}\n", what, pairs.size(),
             options.beam == 1 ? std::string("greedy") : fmt::format("beam {}", options.beam),
             options.beam == 1 ? "" : fmt::format(" (alpha {})", options.alpha));
  fmt::print("BLEU-4 = {:.2f}\n", 100 * bleu.score);
  fmt::print(
      "precisions (1-4 grams): {:.4f} {:.4f} {:.4f} {:.4f}; brevity penalty {:.4f} (hypothesis {} / "
      "reference {} tokens)\n",
      bleu.precisions[0], bleu.precisions[1], bleu.precisions[2], bleu.precisions[3], bleu.brevity_penalty,
      bleu.hypothesis_length, bleu.reference_length);
  fmt::print("d2l BLEU (k = 2, mean over sentences) = {:.4f}\n",
             pairs.empty() ? 0.0 : d2l_sum / static_cast<double>(pairs.size()));
  fmt::print("sentences/s = {:.1f}\n", seconds > 0 ? static_cast<double>(pairs.size()) / seconds : 0.0);
}

// Translates each of `lines` and prints "line => translation".
void print_translations(Seq2SeqModel& model, const Seq2SeqText& text, const std::vector<std::string>& lines,
                        const DecodeOptions& options) {
  std::vector<std::vector<int32_t>> sources;
  for (const auto& line : lines) sources.push_back(encode_source_sentence(line, text.source, text.steps));
  const SpecialIds ids = special_ids(text.target);
  const auto out = translate(model, sources, ids.bos, ids.eos, options);
  for (size_t i = 0; i < lines.size(); ++i)
    fmt::print("{} => {}\n", lines[i], detokenize_translation(out[i].tokens, text.target));
}

TranslationSettings to_settings(const TranslateTrainFlags& f, int threads) {
  TranslationSettings s;
  if (!f.resume.empty()) {
    s = resume_translation_settings(f.resume, f.overrides);
  } else {
    s = f.settings;
    s.model.cell = run_cell_type(f.cell, f.nonlinearity);
    s.model.attention = parse_attention(f.attention);
    s.long_sequences = parse_long_sequences(f.long_sequences);
    s.train.optimizer = parse_optimizer_kind(f.optimizer);
    s.train.lr_schedule = parse_lr_schedule_kind(f.lr_schedule);
  }
  s.train.threads = threads;
  return s;
}

int train_translation(const TranslateTrainFlags& f, const ComputeContext& context) {
  TranslationRun run(to_settings(f, context.threads));
  for (const std::string& repair : run.repairs())
    fmt::print(stderr, "note: repaired the run folder: {}\n", repair);
  const fs::path out = run.settings().train.out_dir;
  if (f.resume.empty()) {
    const bool had_run = fs::exists(run_settings_path(out));
    try {
      run.save_settings(f.force ? ExistingRun::kReplace : ExistingRun::kRefuse);
    } catch (const RunExistsError& e) {
      throw ValueError(std::string(e.what()) + "; continue it with --resume " + out.string() +
                       ", or pass --force to replace it");
    }
    if (f.force && had_run)
      fmt::print(stderr, "note: replaced the earlier run in {} (--force)\n", out.string());
  }
  const TranslationRunData& d = run.data();
  const TranslationSettings& s = run.settings();
  fmt::print("data: {} ({} pairs: {} train, {} valid{}; vocabularies {} source, {} target)\n",
             d.data_path.string(), d.pairs_read, d.pairs.train.size(), d.pairs.valid.size(),
             d.dropped > 0 ? fmt::format(", {} dropped as longer than --steps", d.dropped) : "",
             d.text.source.size(), d.text.target.size());
  fmt::print(
      "model: {} x{} hidden {}{} embedding {}, attention {} ({} parameters); batch {}, steps {}, {} lr {}, "
      "clip {}\n",
      cell_name(s.model.cell), s.model.num_layers, s.model.hidden_size,
      s.model.bidirectional ? " bidirectional" : "", s.model.embedding_size,
      attention_name(s.model.attention), run.model().parameters().num_values(), s.train.batch, s.train.steps,
      optimizer_kind_name(s.train.optimizer), s.train.lr, s.train.clip);
  std::fflush(stdout);
  if (!f.resume.empty()) {
    run.resume();
    fmt::print("resumed from {}\n", checkpoint_folder(out).string());
  }
  TrainSummary summary;
  {
    const StopSignals signals;
    ProgressPrinter printer(s.train.time_budget_s);
    summary = run.train(stop_flag(), {.on_step = [&](const TrainProgress& p) { printer.step(p); },
                                      .on_epoch = [&](const EpochMetrics& m) { printer.epoch(m); }});
  }
  if (summary.reason == StopReason::kInterrupted) {
    const int signal = stop_signal();
    fmt::print(stderr, "\ninterrupted: checkpoint saved in {} after {}; continue with --resume {}\n",
               checkpoint_folder(out).string(), signal == SIGTERM ? "SIGTERM" : "SIGINT", out.string());
    return 128 + signal;
  }
  if (summary.reason == StopReason::kTimeBudget)
    fmt::print("time budget of {} s reached\n", s.train.time_budget_s);
  if (summary.reason == StopReason::kNoImprovement)
    fmt::print("stopped early: no new best validation perplexity in {} epochs (--patience)\n",
               s.train.patience);
  // The model as training left it (what d2l translates with), and the one of the best validation
  // perplexity when that is another.
  const fs::path best = best_model_folder(out);
  const DecodeOptions greedy{.max_steps = s.train.steps,
                             .context = ComputeContext{.threads = s.train.threads}};
  const bool best_is_last =
      !summary.history.empty() && summary.history.back().valid_perplexity == summary.best_valid_perplexity;
  if (!d.valid_raw.empty()) {
    report_bleu(run.model(), d.text, d.valid_raw, greedy, "validation (last model)");
    if (fs::exists(best / "config.json") && !best_is_last) {
      LoadedSeq2Seq loaded = load_seq2seq(best);
      report_bleu(*loaded.model, loaded.text, d.valid_raw, greedy, "validation (best model)");
    }
  }
  std::vector<std::string> show = f.show;
  if (show.empty() && s.data == "fra-eng") show = {"go .", "i lost .", "he's calm .", "i'm home ."};
  if (!show.empty()) print_translations(run.model(), d.text, show, greedy);
  fmt::print("model saved in {} (best: {})\n", checkpoint_folder(out).string(), best.string());
  return 0;
}

void add_train(CLI::App& parent, const CommonOptions& common) {
  auto* cmd = parent.add_subcommand("train", "Train an encoder-decoder on sentence pairs");
  auto f = std::make_shared<TranslateTrainFlags>();
  TranslationSettings& s = f->settings;
  TrainOptions& t = s.train;
  t.out_dir = "runs/translate";
  cmd->add_option("--data", s.data, "Pairs (source<TAB>target per line): a file or a dataset name")
      ->capture_default_str();
  cmd->add_option("--valid", s.valid, "Validation pairs (default: split off the end of --data)");
  cmd->add_option("--valid-pairs", s.valid_pairs,
                  "Pairs held out from the end of --data (< 0: --valid-fraction)")
      ->capture_default_str();
  cmd->add_option("--valid-fraction", s.valid_fraction,
                  "Fraction of --data's pairs held out when --valid-pairs < 0")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  cmd->add_option("--max-pairs", s.max_pairs, "Use only the first N pairs of --data (0 = all)")
      ->capture_default_str();
  cmd->add_option("--min-freq", s.min_freq, "Tokens seen fewer times become <unk>")->capture_default_str();
  cmd->add_flag("--vocab-with-valid", s.vocab_with_valid,
                "Build the vocabularies from the training and validation pairs (d2l 1.0 does)");
  cmd->add_option("--bucket-pool", s.bucket_pool,
                  "Batches per length-sorted pool: 1 = shuffled batches as d2l; e.g. 50 trains pairs of like "
                  "length together (less padding, ~10% faster on fra-eng, but 1-2 BLEU lower after 2 epochs)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--long", f->long_sequences, "Sides longer than --steps: truncate (d2l) or drop the pair")
      ->check(CLI::IsMember({"truncate", "drop"}))
      ->capture_default_str();
  cmd->add_option("--cell", f->cell, "Recurrent cell: rnn, gru or lstm")
      ->check(CLI::IsMember({"rnn", "gru", "lstm"}))
      ->capture_default_str();
  cmd->add_option("--nonlinearity", f->nonlinearity, "rnn cell activation: tanh or relu")
      ->check(CLI::IsMember({"tanh", "relu"}))
      ->capture_default_str();
  cmd->add_option("--layers", s.model.num_layers, "Recurrent layers in the encoder and the decoder")
      ->capture_default_str();
  cmd->add_option("--hidden", s.model.hidden_size, "Hidden units per layer (per direction in the encoder)")
      ->capture_default_str();
  cmd->add_option("--embed", s.model.embedding_size, "Embedding size of both vocabularies")
      ->capture_default_str();
  cmd->add_option("--dropout", s.model.dropout, "Dropout between recurrent layers and on attention weights")
      ->capture_default_str();
  cmd->add_flag("--bidirectional", s.model.bidirectional,
                "Bidirectional encoder (the decoder gets 2 x --hidden)");
  cmd->add_option("--attention", f->attention, "Decoder attention: none or bahdanau")
      ->check(CLI::IsMember({"none", "bahdanau"}))
      ->capture_default_str();
  cmd->add_option("--batch", t.batch, "Pairs per minibatch")->capture_default_str();
  cmd->add_option("--steps", t.steps, "Longest source and target in tokens, <eos> included")
      ->capture_default_str();
  cmd->add_option("--optimizer", f->optimizer, "sgd, adam or adamw")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))
      ->capture_default_str();
  cmd->add_option("--lr", t.lr, "Learning rate")->capture_default_str();
  cmd->add_option("--momentum", t.momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--weight-decay", t.weight_decay, "Weight decay (< 0: the optimizer's default)")
      ->capture_default_str();
  cmd->add_option("--clip", t.clip, "Clip gradients to this global L2 norm (0 = off)")->capture_default_str();
  cmd->add_option("--lr-schedule", f->lr_schedule, "constant, step or cosine (per epoch)")
      ->check(CLI::IsMember({"constant", "step", "cosine"}))
      ->capture_default_str();
  cmd->add_option("--lr-gamma", t.lr_gamma, "Factor per epoch of the step schedule")->capture_default_str();
  cmd->add_option("--epochs", t.epochs, "Epochs to train")->capture_default_str();
  cmd->add_option("--time-budget", t.time_budget_s, "Stop after this many seconds (0 = no limit)")
      ->capture_default_str();
  cmd->add_option("--patience", t.patience,
                  "Stop after this many epochs without a better validation perplexity (0 = off)")
      ->capture_default_str();
  cmd->add_option("--seed", t.seed, "Random seed (same seed, machine and threads: same bits)")
      ->capture_default_str();
  cmd->add_option("--out", t.out_dir, "Output folder (checkpoints, metrics.csv, perplexity.svg)")
      ->capture_default_str();
  cmd->add_option("--resume", f->resume, "Continue the run in this folder (its run.json gives the settings)");
  cmd->add_flag("--force", f->force, "Replace the run already in --out");
  cmd->add_option("--show", f->show,
                  "A sentence to translate after training (repeatable; fra-eng: d2l's four)");
  cmd->footer(
      "Examples:\n  recur translate train --data fra-eng --max-pairs 641 --valid-pairs 129 "
      "--vocab-with-valid --out runs/d2l-mt\n"
      "  recur translate train --data pairs.tsv --attention bahdanau --steps 12 --epochs 20 --out runs/mt");
  cmd->callback([f, cmd, &common] {
    const ComputeContext context = apply_common(common);
    if (cmd->count("--epochs") > 0) f->overrides.epochs = f->settings.train.epochs;
    if (cmd->count("--time-budget") > 0) f->overrides.time_budget_s = f->settings.train.time_budget_s;
    if (cmd->count("--patience") > 0) f->overrides.patience = f->settings.train.patience;
    int status = 0;
    try {
      status = train_translation(*f, context);
    } catch (const OptionError& e) {
      throw ValueError(with_flag_name(e));
    }
    if (status != 0) std::exit(status);
  });
}

// An SVG heat map of attention weights: one row per produced token, one column per source token.
void write_attention_svg(const fs::path& path, const std::vector<std::string>& source,
                         const std::vector<std::string>& target,
                         const std::vector<std::vector<float>>& weights) {
  Heatmap map{.title = "Attention weights", .x_label = "source", .y_label = "translation"};
  map.columns = source;
  map.rows = target;
  for (const auto& row : weights) map.values.emplace_back(row.begin(), row.end());
  write_svg_heatmap(map, path);
}

void add_run(CLI::App& parent, const CommonOptions& common) {
  auto* cmd =
      parent.add_subcommand("run", "Translate text, one sentence per line (standard input or --input)");
  struct Flags {
    std::string model = "runs/translate";
    std::string input;
    std::string attention_svg;
    DecodeFlags decode;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("--model", f->model, "Model folder, or a run folder (its best/ model)")
      ->capture_default_str();
  cmd->add_option("--input", f->input, "Read sentences from this file (default: standard input)");
  cmd->add_option("--attention-svg", f->attention_svg,
                  "Write the attention weights of the first sentence as an SVG heat map (attention models)");
  add_decode_flags(*cmd, f->decode);
  cmd->footer("Example:\n  echo \"i'm home .\" | recur translate run --model runs/d2l-mt --beam 4");
  cmd->callback([f, &common] {
    const ComputeContext context = apply_common(common);
    LoadedSeq2Seq loaded = load_seq2seq(find_model_folder(f->model));
    if (!f->attention_svg.empty() && loaded.model->config().attention == AttentionKind::kNone)
      throw ValueError("--attention-svg needs a model trained with --attention bahdanau");
    DecodeOptions options = decode_options(f->decode, loaded.text, context);
    const SpecialIds ids = special_ids(loaded.text.target);
    std::ifstream file;
    if (!f->input.empty()) {
      check_regular_file(f->input, "input file");
      file.open(f->input);
      if (!file) throw IoError("cannot open input file '" + f->input + "'");
    }
    std::istream& in = f->input.empty() ? std::cin : file;
    // A file is read in batches; standard input line by line, so each answer comes as its line does.
    const size_t batch = f->input.empty() ? 1 : static_cast<size_t>(f->decode.batch);
    std::vector<std::string> lines;
    bool first = true;
    auto flush = [&] {
      std::vector<std::vector<int32_t>> sources;
      std::vector<size_t> kept;  // lines that give tokens (an empty line gives an empty answer)
      for (size_t i = 0; i < lines.size(); ++i)
        if (lines[i].find_first_not_of(" \t\r") != std::string::npos) {
          sources.push_back(encode_source_sentence(lines[i], loaded.text.source, loaded.text.steps));
          kept.push_back(i);
        }
      options.keep_attention = first && !f->attention_svg.empty();
      const auto out = translate(*loaded.model, sources, ids.bos, ids.eos, options);
      std::vector<std::string> answers(lines.size());
      for (size_t k = 0; k < kept.size(); ++k)
        answers[kept[k]] = detokenize_translation(out[k].tokens, loaded.text.target);
      if (options.keep_attention && !out.empty()) {
        std::vector<std::string> source_tokens = token_strings(sources[0], loaded.text.source);
        std::vector<std::string> target_tokens = token_strings(out[0].tokens, loaded.text.target);
        if (out[0].finished) target_tokens.emplace_back(kEosToken);
        write_attention_svg(f->attention_svg, source_tokens, target_tokens, out[0].attention);
        fmt::print(stderr, "attention weights of \"{}\" written to {}\n", lines[kept[0]], f->attention_svg);
      }
      if (!kept.empty()) first = false;
      for (const auto& a : answers) fmt::print("{}\n", a);
      std::fflush(stdout);
      lines.clear();
    };
    for (std::string line; std::getline(in, line);) {
      lines.push_back(std::move(line));
      if (lines.size() >= batch) flush();
    }
    if (!lines.empty()) flush();
  });
}

void add_eval(CLI::App& parent, const CommonOptions& common) {
  auto* cmd = parent.add_subcommand("eval", "Corpus BLEU-4 of a model's translations of test pairs");
  struct Flags {
    std::string model = "runs/translate";
    std::string test;
    int64_t max_pairs = 0;
    DecodeFlags decode;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("--model", f->model, "Model folder, or a run folder (its best/ model)")
      ->capture_default_str();
  cmd->add_option("--test", f->test, "Test pairs (source<TAB>target per line): a file or a dataset name")
      ->required();
  cmd->add_option("--max-pairs", f->max_pairs, "Use only the first N pairs (0 = all)")->capture_default_str();
  add_decode_flags(*cmd, f->decode);
  cmd->footer("Example:\n  recur translate eval --model runs/mt --test split/test.tsv --beam 4");
  cmd->callback([f, &common] {
    const ComputeContext context = apply_common(common);
    LoadedSeq2Seq loaded = load_seq2seq(find_model_folder(f->model));
    const auto pairs = read_translation_pairs(resolve_dataset(f->test), f->max_pairs);
    report_bleu(*loaded.model, loaded.text, pairs, decode_options(f->decode, loaded.text, context), f->test);
  });
}

}  // namespace

void add_translate_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd =
      app.add_subcommand("translate", "Sequence to sequence: train, run and evaluate translation models");
  cmd->require_subcommand(1);
  add_train(*cmd, common);
  add_run(*cmd, common);
  add_eval(*cmd, common);
}

}  // namespace recur::cli
