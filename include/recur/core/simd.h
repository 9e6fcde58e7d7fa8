// Which SIMD instruction set recur's kernels run on. The kernels are compiled once per target
// (Google Highway, src/kernels/) and the best one the CPU supports is chosen at run time, so one
// binary is fast on AVX-512, AVX2 and ARM machines alike. RECUR_SIMD narrows the choice, so that
// the narrower paths can be tested and measured on a wide machine.
//
// Target names: "avx512", "avx2", "sse4" (x86-64), "neon" (64-bit ARM), "scalar" (one lane, any
// CPU). A build with RECUR_NATIVE=ON compiles only its build machine's target.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace recur {

// The target the kernels run on now, e.g. "avx2". Applies RECUR_SIMD first (see below).
[[nodiscard]] std::string simd_target();

// Targets this build compiled and this CPU can run, best first (the last is "scalar").
[[nodiscard]] std::vector<std::string> supported_simd_targets();

// Makes `name` (or "best") the kernels' target for the rest of the process. Throws ValueError
// naming the supported targets when `name` is unknown or this CPU or build cannot run it. Not to
// be called while kernels run on other threads.
void set_simd_target(std::string_view name);

// Applies the environment variable RECUR_SIMD (a target name, or unset/empty/"best" for the best
// supported) once per process; later calls do nothing. Every kernel entry point calls it, and the
// command-line tool calls it at start so that a bad value is reported before any work. Throws
// ValueError "RECUR_SIMD=avx9: ..." naming the supported targets.
void apply_simd_environment();

// What else the CPU decides within the current target, for benchmarks to print next to it: on AVX2,
// the packed GEMM's register tile ("avx2_tile=6x16" on Intel, "avx2_tile=3x32" elsewhere; see
// src/kernels/packed_gemm.h); empty on other targets.
[[nodiscard]] std::string simd_kernel_details();

}  // namespace recur
