// Training throughput of the recurrent layers: one minibatch = forward + backward of the stack on a
// one-hot input (ids -> one_hot -> Rnn -> sum of the outputs), for RNN (tanh), GRU and LSTM, through
// the fused layers and, for A and B, through the from-scratch cells (ScratchRnn) to show what fusing
// buys. float32. Reports tokens/s (T*B per minibatch) and GFLOP/s counting the GEMM work only:
//   per layer and direction, with GH = gates * H and in = the layer's input width,
//   forward   2 T B GH (in + H)                  input projection + recurrent steps
//   backward  2 T B GH (in + 2H)                 dW_ih, dW_hh, dh_prev
//             + 2 T B GH in for layers > 0       dx, the gradient into the layer below
// Layer 0's input (one-hot, a constant) needs no gradient, as in a character language model.
//   A  batch 1024, 32 steps, hidden 32,  1 layer,  vocabulary 28
//   B  batch 32,   35 steps, hidden 256, 1 layer,  vocabulary 28
//   C  batch 50,   50 steps, hidden 512, 2 layers, vocabulary 65
// Threads: --threads N, else RECUR_THREADS, else OpenBLAS's default. Wall-clock time (OpenBLAS's
// worker threads do not show in the calling thread's CPU time).
//   bench_rnn --threads 2 --benchmark_filter=fused --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "recur/graph.h"
#include "recur/nn/rnn.h"
#include "recur/nn/scratch_cells.h"
#include "recur/ops.h"
#include "recur/rng.h"
#include "recur/threads.h"

namespace {

using recur::CellType;

struct BenchConfig {
  const char* name;
  int64_t batch, steps, hidden;
  int layers;
  int64_t vocab;
};

constexpr BenchConfig kConfigs[] = {
    {"A", 1024, 32, 32, 1, 28},
    {"B", 32, 35, 256, 1, 28},
    {"C", 50, 50, 512, 2, 65},
};

// GEMM floating-point operations of one forward + backward (see the header comment).
double gemm_flops(const BenchConfig& c, CellType cell) {
  const double TB = static_cast<double>(c.steps * c.batch), H = static_cast<double>(c.hidden);
  const double GH = recur::gate_count(cell) * H;
  double flops = 0;
  for (int l = 0; l < c.layers; ++l) {
    const double in = l == 0 ? static_cast<double>(c.vocab) : H;
    flops += 2 * TB * GH * (in + H);       // forward
    flops += 2 * TB * GH * (in + 2 * H);   // backward: dW_ih, dW_hh, dh_prev
    if (l > 0) flops += 2 * TB * GH * in;  // backward: dx into the layer below
  }
  return flops;
}

void bm_rnn(benchmark::State& state, BenchConfig c, CellType cell, bool fused) {
  recur::ParameterStore<float> store;
  recur::Rnn<float> rnn(
      store, {.cell = cell, .input_size = c.vocab, .hidden_size = c.hidden, .num_layers = c.layers});
  const recur::ScratchRnn<float> scratch(rnn);
  recur::Rng rng(1);
  rnn.reset_parameters(rng);
  std::vector<int32_t> ids(static_cast<size_t>(c.steps * c.batch));  // [T*B] time-major
  for (int32_t& id : ids) id = static_cast<int32_t>(rng.below(static_cast<uint64_t>(c.vocab)));

  recur::Graph<float> g;
  for (auto _ : state) {
    recur::Var x = recur::reshape(g, recur::one_hot(g, std::span<const int32_t>(ids), c.vocab),
                                  recur::Shape{c.steps, c.batch, c.vocab});
    const recur::RnnOutputs out = fused ? rnn.forward(g, x) : scratch.forward(g, x);
    g.backward(recur::sum(g, out.output));
    benchmark::DoNotOptimize(store.grads().data());
    g.clear();
    store.zero_grads();
  }
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["tokens"] =
      benchmark::Counter(static_cast<double>(c.steps * c.batch) * iterations, benchmark::Counter::kIsRate);
  state.counters["GFLOP"] =
      benchmark::Counter(gemm_flops(c, cell) * 1e-9 * iterations, benchmark::Counter::kIsRate);
}

// A thread count from the command line or the environment; throws std::invalid_argument unless an integer.
int parse_threads(const char* text) {
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  if (end == text || *end != '\0')
    throw std::invalid_argument(std::string("--threads / RECUR_THREADS expects an integer, got '") + text +
                                "'");
  return static_cast<int>(n);
}

// Removes "--threads N" / "--threads=N" from argv (before Google Benchmark sees it) and returns N.
std::optional<int> take_threads_flag(int& argc, char** argv) {
  std::optional<int> threads;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = parse_threads(argv[++i]);
    } else if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = parse_threads(argv[i] + 10);
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  return threads;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<int> threads;
  try {
    threads = take_threads_flag(argc, argv);
    if (const char* env = std::getenv("RECUR_THREADS"); !threads && env && *env) threads = parse_threads(env);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "bench_rnn: %s\n", e.what());
    return 2;
  }
  if (threads) recur::set_num_threads(*threads);  // <= 0: all cores

  const std::string core = recur::blas_core_name();
  const std::string thread_count = std::to_string(recur::num_threads());
  std::printf("OpenBLAS core: %s, threads: %s\n", core.c_str(), thread_count.c_str());
  benchmark::AddCustomContext("openblas_core", core);
  benchmark::AddCustomContext("openblas_threads", thread_count);

  const std::pair<CellType, const char*> cells[] = {
      {CellType::kRnnTanh, "rnn_tanh"}, {CellType::kGru, "gru"}, {CellType::kLstm, "lstm"}};
  for (bool fused : {true, false}) {
    for (const BenchConfig& c : kConfigs) {
      if (!fused && c.layers > 1) continue;  // the from-scratch path only for A and B
      for (const auto& [cell, cell_text] : cells) {
        const std::string name = std::string(fused ? "fused/" : "scratch/") + cell_text + "/" + c.name;
        benchmark::RegisterBenchmark(name.c_str(), bm_rnn, c, cell, fused)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
