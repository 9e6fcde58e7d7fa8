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

#include "bench_threads.h"
#include "recur/autograd/graph.h"
#include "recur/autograd/ops.h"
#include "recur/core/rng.h"
#include "recur/core/threads.h"
#include "recur/nn/rnn.h"
#include "recur/nn/scratch_cells.h"

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

  recur::Graph<float> g(recur::bench::bench_context());
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

}  // namespace

int main(int argc, char** argv) {
  if (!recur::bench::setup_threads(argc, argv, "bench_rnn")) return 2;

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
