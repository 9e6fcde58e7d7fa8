// Throughput of kernels::gemm<float> (OpenBLAS sgemm) in GFLOP/s (2*M*N*K per call) for the shapes the
// recurrent layers use, plus a large square sgemm as the machine's ceiling. Prints which OpenBLAS kernels
// ran. Threads: --threads N, else RECUR_THREADS, else all cores.
//   bench_gemm --threads 1 --benchmark_min_time=0.1
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_threads.h"
#include "kernels/gemm.h"
#include "recur/core/rng.h"
#include "recur/core/threads.h"

namespace {

using recur::kernels::Trans;

// C[M, N] = A[M, K] * B[K, N], all row-major and packed.
void bm_sgemm(benchmark::State& state) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  std::vector<float> A(static_cast<size_t>(M * K));  // [M, K]
  std::vector<float> B(static_cast<size_t>(K * N));  // [K, N]
  std::vector<float> C(static_cast<size_t>(M * N));  // [M, N]
  recur::Rng rng(1);
  for (float& a : A) a = static_cast<float>(rng.uniform(-1, 1));
  for (float& b : B) b = static_cast<float>(rng.uniform(-1, 1));
  for (auto _ : state) {
    recur::kernels::gemm<float>(recur::bench::bench_context().threads, Trans::kNo, Trans::kNo, M, N, K, 1.0f,
                                A.data(), K, B.data(), N, 0.0f, C.data(), N);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  // kIsRate divides by the measured (real, see UseRealTime) time: shown as GFLOP=x/s, i.e. GFLOP/s.
  state.counters["GFLOP"] =
      benchmark::Counter(2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K) *
                             1e-9 * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

// The same product through OpenBLAS's own thread pool (openblas_set_num_threads = --threads),
// which recur does not use (recur/threads.h): the ceiling both ways, for comparison.
void bm_sgemm_openblas_threads(benchmark::State& state) {
  openblas_set_num_threads(recur::bench::bench_context().threads);
  bm_sgemm(state);
  openblas_set_num_threads(1);
}

// Wall-clock time: worker threads do not show in the calling thread's CPU time.
// Shapes as {M, K, N}:
//   32x256 . 256x1024    recurrent step, LSTM B=32 H=256: h[B, H] . W_hh^T[H, 4H]
//   1024x32 . 32x128     input projection over the sequence, T*B=1024 rows, I=32, LSTM H=32 (4H=128)
//   50x512 . 512x2048    recurrent step, LSTM B=50 H=512
//   1024x28 . 28x96      input projection, T*B=1024 rows, 28 inputs, GRU H=32 (3H=96)
//   2048^3               large square sgemm: the peak this machine reaches
BENCHMARK(bm_sgemm)
    ->ArgNames({"M", "K", "N"})
    ->Args({32, 256, 1024})
    ->Args({1024, 32, 128})
    ->Args({50, 512, 2048})
    ->Args({1024, 28, 96})
    ->Args({2048, 2048, 2048})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_sgemm_openblas_threads)
    ->ArgNames({"M", "K", "N"})
    ->Args({2048, 2048, 2048})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) { return recur::bench::run_benchmarks(argc, argv, "bench_gemm"); }
