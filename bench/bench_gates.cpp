// The fused gate kernels alone (src/kernels/gates.h), float32, one thread: time per activation
// (per_act, e.g. 2.2ns: one hidden unit of one batch row, B*H per call) of each cell's forward
// and backward step kernel at the shapes of bench_rnn's configurations and of batch-1 inference:
//   A  batch 1024, hidden 32        B  batch 32, hidden 256        C  batch 50, hidden 512
//   I  batch 1,    hidden 512 (src/lm/inference.cpp)
// Each benchmark runs on every SIMD target this build and CPU support, named after it, e.g.
// gru_forward/A/avx2. Backward runs with dy, as for a layer's output.
//   bench_gates --benchmark_filter='gru.*/A/' --benchmark_repetitions=5
//               --benchmark_enable_random_interleaving=true
// The buffers stay in cache (A's GRU step: about 1 MiB), as between the step's GEMMs. They are
// std::vectors like the scan's caches: large blocks start 16 bytes past a 64-byte boundary, so
// AVX-512 loads straddle cache lines (the memory-bound backward kernels ran 1.3 to 1.6 times
// faster on 64-byte-aligned buffers, AMD Zen 4). The forward kernels activate their gates in
// place, so later iterations see activated values again (the kernels have no data-dependent
// branches); backward reads gates in (0, 1), as activated, so the gradients it carries in place
// (dh, dc) stay bounded.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/gates.h"
#include "recur/core/rng.h"
// Without simd.h (a checkout from before the run-time dispatch, built for old-vs-new comparisons)
// the benchmarks run once, on what the build was compiled for, named "build".
#if __has_include("recur/core/simd.h")
#include "recur/core/simd.h"
#define RECUR_BENCH_SIMD_TARGETS 1
#endif

namespace {

using recur::kernels::RnnActivation;

struct Shape {
  const char* name;
  int64_t B, H;
};

constexpr Shape kShapes[] = {{"A", 1024, 32}, {"B", 32, 256}, {"C", 50, 512}, {"I", 1, 512}};

enum class Kernel { kRnnForward, kRnnBackward, kGruForward, kGruBackward, kLstmForward, kLstmBackward };

// Random values in [low, high): pre-activations, states and gradients in [-2, 2).
std::vector<float> random_values(recur::Rng& rng, int64_t n, double low = -2, double high = 2) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(rng.uniform(low, high));
  return v;
}

void bm_gate(benchmark::State& state, Kernel kernel, Shape shape, const std::string& target) {
#ifdef RECUR_BENCH_SIMD_TARGETS
  recur::set_simd_target(target);
#endif
  const int64_t B = shape.B, H = shape.H;
  recur::Rng rng(1);
  // Gates for the widest cell (LSTM, 4 blocks); the others use the front of each buffer.
  auto gates = random_values(rng, B * 4 * H), hh = random_values(rng, B * 4 * H);
  const auto activated = random_values(rng, B * 4 * H, 0.05, 0.95);
  auto dgates = random_values(rng, B * 4 * H), dgates_hh = random_values(rng, B * 4 * H);
  auto rows = random_values(rng, B * H), rows2 = random_values(rng, B * H), rows3 = random_values(rng, B * H);
  auto h = random_values(rng, B * H), dy = random_values(rng, B * H), dh = random_values(rng, B * H);
  auto bias = random_values(rng, 4 * H), db = random_values(rng, 5 * H);
  for (auto _ : state) {
    switch (kernel) {
      case Kernel::kRnnForward:
        recur::kernels::rnn_step_forward(RnnActivation::kTanh, B, H, gates.data(), bias.data(), h.data(), H);
        break;
      case Kernel::kRnnBackward:
        recur::kernels::rnn_step_backward(RnnActivation::kTanh, B, H, rows.data(), H, dy.data(), H, dh.data(),
                                          dgates.data(), db.data());
        break;
      case Kernel::kGruForward:
        recur::kernels::gru_step_forward(B, H, gates.data(), hh.data(), bias.data(), bias.data() + 3 * H,
                                         rows.data(), H, h.data(), H, rows2.data());
        break;
      case Kernel::kGruBackward:
        recur::kernels::gru_step_backward(B, H, activated.data(), rows.data(), rows2.data(), H, dy.data(), H,
                                          dh.data(), dgates.data(), dgates_hh.data(), db.data(),
                                          db.data() + 3 * H);
        break;
      case Kernel::kLstmForward:
        recur::kernels::lstm_step_forward(B, H, gates.data(), bias.data(), rows.data(), rows2.data(),
                                          rows3.data(), h.data(), H);
        break;
      case Kernel::kLstmBackward:
        recur::kernels::lstm_step_backward(B, H, activated.data(), rows.data(), rows2.data(), dy.data(), H,
                                           dh.data(), rows3.data(), dgates.data(), db.data());
        break;
    }
    benchmark::ClobberMemory();
  }
  state.counters["per_act"] =
      benchmark::Counter(static_cast<double>(B * H),
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

}  // namespace

int main(int argc, char** argv) {
  const std::pair<Kernel, const char*> kernels[] = {
      {Kernel::kRnnForward, "rnn_tanh_forward"}, {Kernel::kRnnBackward, "rnn_tanh_backward"},
      {Kernel::kGruForward, "gru_forward"},      {Kernel::kGruBackward, "gru_backward"},
      {Kernel::kLstmForward, "lstm_forward"},    {Kernel::kLstmBackward, "lstm_backward"}};
#ifdef RECUR_BENCH_SIMD_TARGETS
  const std::vector<std::string> targets = recur::supported_simd_targets();
#else
  const std::vector<std::string> targets = {"build"};  // a build without run-time dispatch
#endif
  for (const auto& [kernel, kernel_name] : kernels)
    for (const Shape& shape : kShapes)
      for (const std::string& target : targets) {
        const std::string name = std::string(kernel_name) + "/" + shape.name + "/" + target;
        benchmark::RegisterBenchmark(name.c_str(), bm_gate, kernel, shape, target);
      }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
