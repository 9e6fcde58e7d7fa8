// Thread count for the numeric kernels (OpenBLAS's GEMM threads). Every command takes --threads.
#pragma once

namespace recur {

// Sets OpenBLAS's thread count; n <= 0 means "all cores". OpenBLAS keeps this setting process-wide,
// so recur sets it once from the caller's options rather than hiding it in a global of its own.
void set_num_threads(int n);
[[nodiscard]] int num_threads();
// Name of the BLAS core (kernel set) OpenBLAS selected, e.g. "Haswell" or "SkylakeX".
[[nodiscard]] const char* blas_core_name();

}  // namespace recur
