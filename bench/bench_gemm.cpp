// Throughput of kernels::gemm<float> (OpenBLAS sgemm) in GFLOP/s (2*M*N*K per call) for the shapes the
// recurrent layers use, plus a large square sgemm as the machine's ceiling, and of the recurrent
// step's own kernel kernels::packed_gemm<float> (one thread, on the SIMD target RECUR_SIMD picks),
// whole and as one thread's half of a product split over two threads by rows or by columns.
// Prints which OpenBLAS kernels ran. Threads: --threads N, else RECUR_THREADS, else all cores.
//   bench_gemm --threads 1 --benchmark_min_time=0.1
//   RECUR_SIMD=avx2 bench_gemm --benchmark_filter=packed
//   bench_gemm --benchmark_filter=packed_gemm_half --benchmark_repetitions=7
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
#include "kernels/packed_gemm.h"
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

// C[M, N] += A[M, K] op(B), op(B) packed once (kernels/packed_gemm.h): the recurrent product of one
// time step. T = 1: forward, h W_hh^T (W_hh [N, K] packed transposed); T = 0: backward, dgates W_hh.
void bm_packed_gemm(benchmark::State& state) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  const Trans trans = state.range(3) != 0 ? Trans::kYes : Trans::kNo;
  std::vector<float> A(static_cast<size_t>(M * K)), B(static_cast<size_t>(K * N)),
      C(static_cast<size_t>(M * N));
  recur::Rng rng(1);
  for (float& a : A) a = static_cast<float>(rng.uniform(-1, 1));
  for (float& b : B) b = static_cast<float>(rng.uniform(-1, 1));
  recur::kernels::PackedMatrix<float> packed;
  recur::kernels::pack_matrix(trans, K, N, B.data(), trans == Trans::kYes ? K : N, packed);
  for (auto _ : state) {
    recur::kernels::packed_gemm(M, A.data(), K, packed, 1.0f, C.data(), N);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP"] =
      benchmark::Counter(2.0 * static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K) *
                             1e-9 * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

// One thread's share of a recurrent product split over two threads, the same FLOPs either way:
// columns [0, N/2) of all M rows (the scans' column split, packed_gemm_columns: it streams half of
// op(B) per call) against all N columns of M/2 rows (row blocks: all of op(B)). W_hh is packed
// transposed, as forward packs it.
void bm_packed_gemm_half(benchmark::State& state) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  const bool by_columns = state.range(3) != 0;
  std::vector<float> A(static_cast<size_t>(M * K)), B(static_cast<size_t>(K * N)),
      C(static_cast<size_t>(M * N));
  recur::Rng rng(1);
  for (float& a : A) a = static_cast<float>(rng.uniform(-1, 1));
  for (float& b : B) b = static_cast<float>(rng.uniform(-1, 1));
  recur::kernels::PackedMatrix<float> packed;
  recur::kernels::pack_matrix(Trans::kYes, K, N, B.data(), K, packed);
  for (auto _ : state) {
    if (by_columns) {
      recur::kernels::packed_gemm_columns(M, A.data(), K, packed, 0, N / 2, 1.0f, C.data(), N);
    } else {
      recur::kernels::packed_gemm(M / 2, A.data(), K, packed, 1.0f, C.data(), N);
    }
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP"] =
      benchmark::Counter(static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K) * 1e-9 *
                             static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
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
// Shapes as {M, K, N, T}:
//   32x256 . 256x1024 T=1     forward step, LSTM B=32 H=256
//   32x1024 . 1024x256 T=0    backward step, the same
//   50x512 . 512x2048 T=1     forward step, LSTM B=50 H=512
//   25x512 . 512x2048 T=1     the same, one of two row blocks
//   50x512 . 512x512 T=1|0    forward and backward step, RNN B=50 H=512 (config C; 25 rows: a row block)
//   512x32 . 32x96 T=1        forward step, GRU B=1024 H=32, one of two row blocks
//   512x96 . 96x32 T=0        backward step, the same
BENCHMARK(bm_packed_gemm)
    ->Name("packed_gemm")
    ->ArgNames({"M", "K", "N", "T"})
    ->Args({32, 256, 1024, 1})
    ->Args({32, 1024, 256, 0})
    ->Args({50, 512, 2048, 1})
    ->Args({25, 512, 2048, 1})
    ->Args({50, 512, 512, 1})
    ->Args({50, 512, 512, 0})
    ->Args({25, 512, 512, 1})
    ->Args({512, 32, 96, 1})
    ->Args({512, 96, 32, 0})
    ->Unit(benchmark::kMicrosecond);

// {M, K, N, by columns}: LSTM B=50 H=512 (W_hh^T 4 MiB), GRU B=50 H=512, LSTM B=32 H=256.
BENCHMARK(bm_packed_gemm_half)
    ->Name("packed_gemm_half")
    ->ArgNames({"M", "K", "N", "cols"})
    ->Args({50, 512, 2048, 0})
    ->Args({50, 512, 2048, 1})
    ->Args({50, 512, 1536, 0})
    ->Args({50, 512, 1536, 1})
    ->Args({32, 256, 1024, 0})
    ->Args({32, 256, 1024, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) { return recur::bench::run_benchmarks(argc, argv, "bench_gemm"); }
