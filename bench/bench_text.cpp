// Text pipeline speed on the shipped corpora: tokenizing, counting unigrams to trigrams (vocabulary,
// packed-key counts, sorting: all of compute_corpus_stats), and training / evaluating a trigram model.
// The file is read once outside the timed loop. Datasets are found through RECUR_DATA.
//   RECUR_DATA=/work/shared/data bench_text --benchmark_min_time=0.3
// Recorded on the 2-core dev container (2.6 GHz, Release, -march=native), CPU time per run:
//   count 1- to 3-grams  tinyshakespeare (1.1 MB): chars 61 ms, words 46 ms
//                        wikitext-2/test (1.3 MB): chars 77 ms, words 44 ms
//   tokenize only: 2-3 ms per file; trigram train + eval on the same file: 82-97 ms
#include <benchmark/benchmark.h>

#include <string>

#include "recur/core/error.h"
#include "recur/data/dataset.h"
#include "recur/text/corpus_stats.h"
#include "recur/text/ngram_model.h"
#include "recur/text/text_file.h"
#include "recur/text/tokenizer.h"

namespace {

// Dataset index -> name; the benchmark argument picks one.
constexpr const char* kCorpora[] = {"tinyshakespeare", "wikitext-2"};

bool load(benchmark::State& state, std::string& text) {
  const char* name = kCorpora[state.range(0)];
  try {
    text = recur::read_text_file(recur::resolve_dataset(name));
  } catch (const recur::Error& e) {
    state.SkipWithError(e.what());
    return false;
  }
  state.SetLabel(name);
  return true;
}

void set_rates(benchmark::State& state, size_t bytes, int64_t tokens) {
  const auto n = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens) * n, benchmark::Counter::kIsRate);
  state.counters["tokens"] = static_cast<double>(tokens);
}

void bm_tokenize(benchmark::State& state) {
  std::string text;
  if (!load(state, text)) return;
  const auto level = static_cast<recur::TokenLevel>(state.range(1));
  int64_t tokens = 0;
  for (auto _ : state) {
    const recur::TokenizedText t = recur::tokenize_text(text, recur::PreprocessMode::raw, level);
    tokens = t.num_tokens();
    benchmark::DoNotOptimize(t.tokens().data());
  }
  set_rates(state, text.size(), tokens);
}

// Tokenize, then count 1-, 2- and 3-grams with their top 10 and sorted counts.
void bm_count_unigrams_to_trigrams(benchmark::State& state) {
  std::string text;
  if (!load(state, text)) return;
  const auto level = static_cast<recur::TokenLevel>(state.range(1));
  int64_t tokens = 0;
  for (auto _ : state) {
    const recur::TokenizedText t = recur::tokenize_text(text, recur::PreprocessMode::raw, level);
    const recur::CorpusStats stats = recur::compute_corpus_stats(t.tokens(), {.max_order = 3, .top_k = 10});
    tokens = stats.num_tokens;
    benchmark::DoNotOptimize(stats.ngrams.data());
  }
  set_rates(state, text.size(), tokens);
}

void bm_ngram_train_and_eval(benchmark::State& state) {
  std::string text;
  if (!load(state, text)) return;
  const recur::NgramOptions options{.order = 3, .smoothing = recur::Smoothing::add_k, .k = 0.01};
  int64_t tokens = 0;
  for (auto _ : state) {
    const recur::NgramModel model = recur::NgramModel::train(text, options);
    const recur::PerplexityReport report = model.evaluate(text);
    tokens = report.num_tokens;
    benchmark::DoNotOptimize(report.perplexity);
  }
  set_rates(state, text.size(), tokens);
}

// Arguments: {corpus, level} with level 0 = character, 1 = word.
void corpus_args(benchmark::internal::Benchmark* b) {
  for (int64_t corpus = 0; corpus < 2; ++corpus)
    for (int64_t level = 0; level < 2; ++level) b->Args({corpus, level});
  b->ArgNames({"corpus", "word"})->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(bm_tokenize)->Apply(corpus_args);
BENCHMARK(bm_count_unigrams_to_trigrams)->Apply(corpus_args);
BENCHMARK(bm_ngram_train_and_eval)->Args({0})->Args({1})->ArgNames({"corpus"})->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
