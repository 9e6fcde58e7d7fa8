// `recur bench translate`: tokens/s of the translation training step on real pairs, and
// sentences/s of greedy translation, measured as bench/compare_translate.py measures PyTorch.
#include <fmt/core.h>

#include <chrono>
#include <memory>
#include <optional>

#include "commands.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"
#include "recur/data/dataset.h"
#include "recur/lm/language_model.h"
#include "recur/lm/run.h"  // find_model_folder
#include "recur/optim/grad_clip.h"
#include "recur/optim/optimizer.h"
#include "recur/seq2seq/decoding.h"
#include "recur/seq2seq/seq2seq_checkpoint.h"
#include "recur/seq2seq/seq2seq_trainer.h"
#include "recur/seq2seq/translation_data.h"

namespace recur::cli {

namespace {

struct TranslateBenchOptions {
  std::string data;
  int64_t max_pairs = 0;
  int64_t min_freq = 2;
  std::string cell = "gru";
  int layers = 2;
  int64_t embed = 256, hidden = 256;
  std::string attention = "none";
  double dropout = 0.2;
  int64_t batch = 128, steps = 12;
  int64_t bucket_pool = 1;  // as translate train's --bucket-pool
  double seconds = 10, lr = 0.005, clip = 1;
  int64_t warmup = 2;
  std::string mode = "train";  // train | greedy
  int64_t sentences = 0;       // greedy: sentences translated (0 = all pairs read)
  uint64_t seed = 42;
  std::string model;  // greedy: a trained model folder (its weights and vocabularies)
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void bench_translate(const TranslateBenchOptions& o, const ComputeContext& context) {
  check(!o.data.empty(), "bench translate: --data is required (a pairs file or dataset name)");
  const auto pairs = read_translation_pairs(resolve_dataset(o.data), o.max_pairs);
  std::optional<LoadedSeq2Seq> loaded;
  if (!o.model.empty()) {
    check(o.mode == "greedy", "bench translate: --model is for --mode greedy");
    loaded = load_seq2seq(find_model_folder(o.model));
  }
  const TranslationVocabs vocabs =
      loaded ? TranslationVocabs{.source = loaded->text.source, .target = loaded->text.target}
             : build_translation_vocabs(pairs, o.min_freq, o.steps, LongSequences::kTruncate);
  const EncodedPairs encoded = encode_translation_pairs(pairs, vocabs, o.steps, LongSequences::kTruncate);
  std::unique_ptr<Seq2SeqModel> built;
  if (!loaded) {
    built = std::make_unique<Seq2SeqModel>(Seq2SeqConfig{.cell = parse_cell_type(o.cell),
                                                         .num_layers = o.layers,
                                                         .hidden_size = o.hidden,
                                                         .embedding_size = o.embed,
                                                         .dropout = o.dropout,
                                                         .attention = parse_attention(o.attention),
                                                         .source_vocab_size = vocabs.source.size(),
                                                         .target_vocab_size = vocabs.target.size()});
    Rng rng(o.seed);
    built->reset_parameters(rng);
  }
  Seq2SeqModel& model = loaded ? *loaded->model : *built;
  const SpecialIds ids = special_ids(vocabs.target);
  fmt::print(
      "pairs={} source_vocab={} target_vocab={} cell={} layers={} embed={} hidden={} attention={} batch={} "
      "steps={} bucket_pool={} threads={}\n",
      encoded.pairs.size(), vocabs.source.size(), vocabs.target.size(), o.cell, o.layers, o.embed, o.hidden,
      o.attention, o.batch, o.steps, o.bucket_pool, context.threads);
  if (o.mode == "greedy") {
    std::vector<std::vector<int32_t>> sources;
    const size_t n = o.sentences > 0
                         ? std::min<size_t>(static_cast<size_t>(o.sentences), encoded.pairs.size())
                         : encoded.pairs.size();
    for (size_t i = 0; i < n; ++i) sources.push_back(encoded.pairs[i].source);
    const DecodeOptions options{.max_steps = o.steps, .beam = 1, .batch = o.batch, .context = context};
    (void)translate(model, std::span(sources).first(std::min<size_t>(sources.size(), 4)), ids.bos, ids.eos,
                    options);
    const auto t0 = Clock::now();
    int64_t translated = 0;
    do {
      translated += static_cast<int64_t>(translate(model, sources, ids.bos, ids.eos, options).size());
    } while (seconds_since(t0) < o.seconds);
    const double dt = seconds_since(t0);
    fmt::print("sentences={} seconds={:.3f}\nsentences_per_s={:.1f}\n", translated, dt,
               static_cast<double>(translated) / dt);
    return;
  }
  // The trainer's step (src/seq2seq/seq2seq_trainer.cpp) on the batches of one epoch.
  TranslationBatcher batcher(encoded.pairs, o.batch, ids.pad, ids.bos, o.bucket_pool);
  const int64_t num_batches = batcher.plan_epoch(o.seed);
  auto optimizer = make_optimizer<float>("adam", {.lr = o.lr});
  optimizer->set_threads(context.threads);
  auto& params = model.parameters();
  Graph<float> g(context);
  TranslationBatch batch;
  Rng dropout_rng(o.seed + 1);
  int64_t step = 0, tokens = 0;
  auto train_step = [&] {
    batcher.fill_batch(step % num_batches, batch);
    g.clear();
    params.zero_grads();
    Var loss = model.loss(g, batch_view(batch), &dropout_rng, true);
    check_finite(g.item(loss), "training loss", fmt::format("bench step {}", step));
    g.backward(loss);
    (void)clip_grad_norm(params.grads(), o.clip);
    optimizer->step(params);
    ++step;
    return batch.source_tokens + batch.target_tokens;
  };
  for (int64_t i = 0; i < o.warmup; ++i) (void)train_step();
  const auto t0 = Clock::now();
  int64_t timed = 0;
  do {
    tokens += train_step();
    ++timed;
  } while (seconds_since(t0) < o.seconds);
  const double dt = seconds_since(t0);
  fmt::print("timed_steps={} seconds={:.3f}\ntokens_per_s={:.1f}\n", timed, dt,
             static_cast<double>(tokens) / dt);
}

}  // namespace

void add_bench_translate_command(CLI::App& bench, const CommonOptions& common) {
  auto o = std::make_shared<TranslateBenchOptions>();
  auto* cmd = bench.add_subcommand(
      "translate",
      "Tokens/s of the translation training step (non-pad source + target tokens), or greedy sentences/s");
  cmd->add_option("--data", o->data, "Pairs (source<TAB>target): a file or a dataset name")->required();
  cmd->add_option("--max-pairs", o->max_pairs, "Use only the first N pairs (0 = all)")->capture_default_str();
  cmd->add_option("--min-freq", o->min_freq, "Vocabulary threshold")->capture_default_str();
  cmd->add_option("--cell", o->cell, "gru, lstm, rnn_tanh or rnn_relu")->capture_default_str();
  cmd->add_option("--layers", o->layers, "Recurrent layers")->capture_default_str();
  cmd->add_option("--embed", o->embed, "Embedding size")->capture_default_str();
  cmd->add_option("--hidden", o->hidden, "Hidden size")->capture_default_str();
  cmd->add_option("--attention", o->attention, "none or bahdanau")->capture_default_str();
  cmd->add_option("--dropout", o->dropout, "Dropout (training)")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Pairs per batch")->capture_default_str();
  cmd->add_option("--steps", o->steps, "Longest sequence kept")->capture_default_str();
  cmd->add_option("--bucket-pool", o->bucket_pool,
                  "train: batches per length-sorted pool (1 = shuffled batches)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--seconds", o->seconds, "Timed seconds (after warm-up)")->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Untimed steps first")->capture_default_str();
  cmd->add_option("--mode", o->mode, "train or greedy")
      ->check(CLI::IsMember({"train", "greedy"}))
      ->capture_default_str();
  cmd->add_option("--sentences", o->sentences, "greedy: sentences to translate (0 = all)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->add_option("--model", o->model, "greedy: a trained model folder (default: random weights)");
  cmd->footer(
      "Example:\n  recur bench translate --data split/train.tsv --batch 128 --steps 12 --layers 2 --embed "
      "256 "
      "--hidden 256 --threads 2");
  cmd->callback([o, &common] { bench_translate(*o, apply_common(common)); });
}

}  // namespace recur::cli
