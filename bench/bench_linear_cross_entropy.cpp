// The language model's head: linear_cross_entropy (fused) against linear then softmax_cross_entropy,
// forward + backward (a training step's share), the forward alone with gradients on (the part of
// the step before backward), and the forward in no-grad mode (evaluation). x, W and b are
// parameter leaves (gradients added into external buffers, as the trainer's are); the Graph is
// reused across iterations like a training loop's. Threads: --threads N, else RECUR_THREADS; the
// kernels' SIMD target (recorded in the output as "simd"): the best, else RECUR_SIMD.
//   OPENBLAS_CORETYPE=SkylakeX bench_linear_cross_entropy --threads 1 --benchmark_min_time=0.5
//   RECUR_SIMD=avx2 bench_linear_cross_entropy --threads 1 --benchmark_filter=fused
#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>
#include <span>
#include <vector>

#include "bench_threads.h"
#include "recur/autograd/graph.h"
#include "recur/autograd/ops.h"
#include "recur/core/rng.h"
#include "recur/core/simd.h"

namespace {

using namespace recur;

enum class Mode { kFused, kUnfused, kFusedForward, kUnfusedForward, kFusedNoGrad, kUnfusedNoGrad };

template <Mode kMode>
void bm_head(benchmark::State& state) {
  const int64_t N = state.range(0), I = state.range(1), V = state.range(2);
  Rng rng(1);
  auto filled = [&](int64_t n, double range) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& e : v) e = static_cast<float>(rng.uniform(-range, range));
    return v;
  };
  std::vector<float> x = filled(N * I, 1), w = filled(V * I, 0.3), b = filled(V, 0.1);
  std::vector<float> dx(x.size()), dw(w.size()), db(b.size());
  std::vector<int32_t> targets(static_cast<size_t>(N));
  for (auto& t : targets) t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(V)));
  Graph<float> g(recur::bench::bench_context());
  constexpr bool kNoGrad = kMode == Mode::kFusedNoGrad || kMode == Mode::kUnfusedNoGrad;
  constexpr bool kFused =
      kMode == Mode::kFused || kMode == Mode::kFusedForward || kMode == Mode::kFusedNoGrad;
  constexpr bool kBackward = kMode == Mode::kFused || kMode == Mode::kUnfused;
  g.set_grad_enabled(!kNoGrad);
  for (auto _ : state) {
    g.clear();
    Var xv = g.parameter({x.data(), Shape{N, I}}, {dx.data(), Shape{N, I}});
    Var wv = g.parameter({w.data(), Shape{V, I}}, {dw.data(), Shape{V, I}});
    Var bv = g.parameter({b.data(), Shape{V}}, {db.data(), Shape{V}});
    Var loss = kFused ? linear_cross_entropy(g, xv, wv, bv, std::span<const int32_t>(targets))
                      : softmax_cross_entropy(g, linear(g, xv, wv, bv), std::span<const int32_t>(targets));
    if constexpr (kBackward) g.backward(loss);
    benchmark::DoNotOptimize(g.item(loss));
  }
  state.counters["rows/s"] = benchmark::Counter(
      static_cast<double>(N) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// {N, I, V}: char LM A (T*B = 32 x 1024, H = 32, V = 28), B (35 x 50, H = 256, V = 28 ->
// 1750 rows), C (50 x 50, H = 512, V = 65), word level (35 x 20, H = 200, V = 13777).
void shapes(benchmark::internal::Benchmark* bm) {
  bm->ArgNames({"N", "I", "V"})
      ->Args({32768, 32, 28})
      ->Args({1750, 256, 28})
      ->Args({2500, 512, 65})
      ->Args({700, 200, 13777})
      ->UseRealTime()  // helper threads do not show in the caller's CPU time
      ->Unit(benchmark::kMicrosecond);
}
BENCHMARK(bm_head<Mode::kFused>)->Name("fused")->Apply(shapes);
BENCHMARK(bm_head<Mode::kUnfused>)->Name("unfused")->Apply(shapes);
BENCHMARK(bm_head<Mode::kFusedForward>)->Name("fused_forward")->Apply(shapes);
BENCHMARK(bm_head<Mode::kUnfusedForward>)->Name("unfused_forward")->Apply(shapes);
BENCHMARK(bm_head<Mode::kFusedNoGrad>)->Name("fused_nograd")->Apply(shapes);
BENCHMARK(bm_head<Mode::kUnfusedNoGrad>)->Name("unfused_nograd")->Apply(shapes);

}  // namespace

int main(int argc, char** argv) {
  try {
    benchmark::AddCustomContext("simd", recur::simd_target());  // applies RECUR_SIMD
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_linear_cross_entropy: %s\n", e.what());
    return 2;
  }
  return recur::bench::run_benchmarks(argc, argv, "bench_linear_cross_entropy");
}
