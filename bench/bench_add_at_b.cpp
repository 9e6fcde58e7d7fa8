// Throughput of the weight-gradient kernel kernels::add_at_b<float> (C += A^T B) against the same
// product through kernels::gemm<float> (OpenBLAS sgemm, trans_a, beta = 1), in GFLOP/s (2*M*N*K per
// call). Threads (OpenBLAS only; add_at_b is single-threaded): --threads N, else RECUR_THREADS.
//   OPENBLAS_CORETYPE=SkylakeX bench_add_at_b --threads 1 --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <vector>

#include "bench_threads.h"
#include "kernels/add_at_b.h"
#include "kernels/gemm.h"
#include "recur/core/rng.h"

namespace {

using recur::kernels::Trans;

// A [K, M], B [K, N], C [M, N], row-major and packed; C accumulates across iterations.
template <bool kBlas>
void bm_at_b(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  std::vector<float> A(static_cast<size_t>(K * M)), B(static_cast<size_t>(K * N));
  std::vector<float> C(static_cast<size_t>(M * N));
  recur::Rng rng(1);
  for (float& a : A) a = static_cast<float>(rng.uniform(-1, 1));
  for (float& b : B) b = static_cast<float>(rng.uniform(-1, 1));
  for (auto _ : state) {
    if constexpr (kBlas) {
      recur::kernels::gemm<float>(recur::bench::bench_context().threads, Trans::kYes, Trans::kNo, M, N, K,
                                  1.0f, A.data(), M, B.data(), N, 1.0f, C.data(), N);
    } else {
      recur::kernels::add_at_b<float>(M, N, K, A.data(), M, B.data(), N, C.data(), N);
    }
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP"] =
      benchmark::Counter(2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K) *
                             1e-9 * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

// Shapes as {M, N, K}:
//   96 x 32, K=512      GRU H=32 (3H=96) dW_hh over a 512-row block
//   96 x 32, K=32768    the same over a whole sequence x batch in one call
//   28 x 32, K=512      output layer dW (V=28) over a 512-row block
//   2048 x 512, K=25    LSTM H=512 (4H=2048) dW_hh, one time step of batch 25
//   1024 x 65, K=512    LSTM H=256 dW_ih for a 65-symbol one-hot input (the column edge)
//   2048 x 512, K=512   LSTM H=512 dW_hh over a 512-row block (A packed)
//   2048 x 512, K=2450  LSTM H=512 dW_hh over a whole sequence (bench layer config C, T 50 x B 50)
//   512 x 512, K=2450   RNN H=512, the same
void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K"})
      ->Args({96, 32, 512})
      ->Args({96, 32, 32768})
      ->Args({28, 32, 512})
      ->Args({2048, 512, 25})
      ->Args({1024, 65, 512})
      ->Args({2048, 512, 512})
      ->Args({2048, 512, 2450})
      ->Args({512, 512, 2450})
      ->UseRealTime()  // OpenBLAS worker threads do not show in the caller's CPU time
      ->Unit(benchmark::kMicrosecond);
}
BENCHMARK(bm_at_b<false>)->Name("add_at_b")->Apply(shapes);
BENCHMARK(bm_at_b<true>)->Name("gemm_at_b")->Apply(shapes);

}  // namespace

int main(int argc, char** argv) { return recur::bench::run_benchmarks(argc, argv, "bench_add_at_b"); }
