// What every Google Benchmark program here does first: take the thread count from `--threads N`
// (or RECUR_THREADS; all cores when neither is given), keep it as the program's ComputeContext, and
// say which kernels run with how many threads.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "recur/core/context.h"
#include "recur/core/simd.h"
#include "recur/core/threads.h"

namespace recur::bench {

// The benchmark program's context, set once by setup_threads before any benchmark runs (the
// registered benchmark functions take no arguments, so they read it here; the library itself
// keeps no such setting).
inline ComputeContext& bench_context() {
  static ComputeContext context = make_compute_context(0);
  return context;
}

// A thread count from the command line or the environment; throws std::invalid_argument unless an integer.
inline int parse_threads(const char* text) {
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  if (end == text || *end != '\0')
    throw std::invalid_argument(std::string("--threads / RECUR_THREADS expects an integer, got '") + text +
                                "'");
  return static_cast<int>(n);
}

// Removes "--threads N" / "--threads=N" from argv (before Google Benchmark sees it) and returns N.
inline std::optional<int> take_threads_flag(int& argc, char** argv) {
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

// Applies --threads / RECUR_THREADS and records the OpenBLAS core and thread count in the output.
// Returns false (after printing why) when the thread count is malformed.
inline bool setup_threads(int& argc, char** argv, const char* program) {
  std::optional<int> threads;
  try {
    threads = take_threads_flag(argc, argv);
    if (const char* env = std::getenv("RECUR_THREADS"); !threads && env && *env) threads = parse_threads(env);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return false;
  }
  try {
    bench_context() = make_compute_context(std::max(threads.value_or(0), 0));  // <= 0: all cores
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return false;
  }
  const std::string core = blas_core_name();
  const std::string thread_count = std::to_string(bench_context().threads);
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  const std::string details = simd_kernel_details();
  std::printf("OpenBLAS core: %s, threads: %s, OPENBLAS_CORETYPE=%s; recur simd: %s %s\n", core.c_str(),
              thread_count.c_str(), coretype ? coretype : "(unset)", simd_target().c_str(), details.c_str());
  benchmark::AddCustomContext("openblas_core", core);
  benchmark::AddCustomContext("openblas_threads", thread_count);
  benchmark::AddCustomContext("openblas_coretype", coretype ? coretype : "(unset)");
  return true;
}

// The whole main() of a benchmark program: thread flag, Google Benchmark's flags, run.
inline int run_benchmarks(int argc, char** argv, const char* program) {
  if (!setup_threads(argc, argv, program)) return 2;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace recur::bench
