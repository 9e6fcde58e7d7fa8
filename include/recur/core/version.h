// What this build of recur is: its version and what it runs on (for `recur --version` and for
// benchmark reports, which must name the kernels they ran).
#pragma once

#include <string>

namespace recur {

// The project version, e.g. "0.1.0".
[[nodiscard]] const char* version();

// Three lines: the version, the SIMD target in use with the supported ones, and the BLAS library
// with its configuration and the core type (kernel set) it selected, e.g.
//   recur 0.1.0
//   simd: avx2 (supported: avx512, avx2, sse4, scalar; RECUR_SIMD chooses)
//   blas: OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64, core SkylakeX
[[nodiscard]] std::string version_report();

}  // namespace recur
